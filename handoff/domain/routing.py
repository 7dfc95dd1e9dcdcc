"""Skills a hand-off needs and the choice of agent for auto-assignment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from handoff.domain.language import language_of_skills
from handoff.domain.records import AgentRecord

TECHNICAL_INTENTS = ("technical_issue",)
TEAMS = ("general", "billing", "technical", "l3")
# Added to a hand-off's skills when the customer accepted the early offer of a person (escalation prediction):
# leads (or agents listing the skill) are preferred, anyone able to take the work still can.
SENIOR = "senior"


def skills_for(reason: str, intents: Iterable[str | None]) -> list[str]:
    """Billing intents -> billing; technical issues -> technical; otherwise general."""
    seen = [i for i in intents if i]
    if reason == "technical_issue" or any(i in TECHNICAL_INTENTS for i in seen):
        return ["technical"]
    if any(i.startswith("billing_") for i in seen):
        return ["billing"]
    return ["general"]


def can_handle(agent: AgentRecord, skills: Sequence[str]) -> bool:
    """An agent handles a skill it lists; ``general`` work goes to anyone; ``lang:xx`` only to agents speaking xx.

    This is auto-assignment's rule: any agent may still claim a conversation from the queue by hand.
    """
    language = language_of_skills(skills)
    if language is not None and language not in agent.languages:
        return False
    needed = {s for s in skills if not s.startswith("lang:")} - {"general", SENIOR}
    return not needed or bool(needed & set(agent.skills))


def speakers(agents: Iterable[AgentRecord], language: str) -> list[AgentRecord]:
    """Online L2/lead agents who speak ``language`` (busy or not)."""
    return [a for a in agents if a.status == "online" and a.role in ("l2", "lead") and language in a.languages]


def choose_agent(agents: Iterable[AgentRecord], skills: Sequence[str]) -> AgentRecord | None:
    """Least-loaded online L2/lead agent with free capacity; seniors first for ``senior`` work, then skill matches."""
    candidates = [
        a
        for a in agents
        if a.status == "online" and a.role in ("l2", "lead") and a.load < a.capacity and can_handle(a, skills)
    ]
    if not candidates:
        return None
    wanted = {s for s in skills if not s.startswith("lang:")} - {SENIOR}
    senior_work = SENIOR in skills

    def senior(a: AgentRecord) -> bool:
        return a.role == "lead" or SENIOR in a.skills

    return min(
        candidates,
        key=lambda a: (
            0 if not senior_work or senior(a) else 1,
            0 if wanted & set(a.skills) else 1,
            a.load / max(a.capacity, 1),
            a.load,
            a.id,
        ),
    )


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def within_business_hours(spec: str, tz: str, now_utc: datetime) -> bool:
    """Whether ``now_utc`` falls in ``spec`` (e.g. ``mon-fri 09:00-17:00; sat 10:00-14:00``) in ``tz``."""
    local = now_utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    for segment in spec.split(";"):
        parts = segment.split()
        if len(parts) != 2:
            continue
        days, hours = parts
        first, _, last = days.lower().partition("-")
        start_day, end_day = _DAYS.index(first), _DAYS.index(last or first)
        if start_day <= end_day:
            in_days = start_day <= local.weekday() <= end_day
        else:
            in_days = local.weekday() >= start_day or local.weekday() <= end_day
        start, _, end = hours.partition("-")
        if in_days and _minutes(start) <= minute < _minutes(end):
            return True
    return False


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)
