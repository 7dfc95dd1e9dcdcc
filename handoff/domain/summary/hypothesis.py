"""Why it went wrong: the bot's hypothesis when the turns and steps bear it out, else one derived from them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from contract.handoff_payload import HandoffPayload
from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn
from handoff.domain.summary.line import Line
from handoff.domain.summary.reading import clean_text
from handoff.domain.summary.topic import Topic

# Identifiers and amounts in the bot's prose: each must be something the customer said or a step found.
PROSE_FACT = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?|\b[A-Z]{2,5}-\d{2,}\b|\b[A-Z]\d{3,4}\b")
FAILED_OUTCOMES = ("failed", "error", "blocked", "not found", "declined")
# A bot hypothesis that blames email delivery; one about understanding; one about scope.
DELIVERY = re.compile(r"not reaching|not received|not arriving|never arriv|spam|junk|outdated address", re.IGNORECASE)
UNDERSTANDING = re.compile(r"could not understand|did not understand|not understood", re.IGNORECASE)
SCOPE = re.compile(r"outside what|out of scope", re.IGNORECASE)
# Steps that send the customer an email or a link.
LINK_STEP = re.compile(r"link|e-?mail|verification|reset", re.IGNORECASE)


def failed_steps(steps: list[dict[str, Any]]) -> list[int]:
    """Indices of the steps whose outcome was a failure."""
    return [i for i, s in enumerate(steps) if s["outcome"].lower() in FAILED_OUTCOMES]


def _unsure_step_line(steps: list[dict[str, Any]], failed: list[int], turns: Sequence[Turn]) -> Line:
    name = steps[failed[-1]]["step"] if failed else "step the bot offered"
    reports = [t for t in turns if t.intent in ("deny", "step_failed") or not t.understood]
    return Line(
        "hypothesis",
        "Hypothesis",
        f"Not sure why: the {name} did not work and the customer did not say why "
        "(ask whether the email arrived and what the link showed)",
        reports,
        failed,
        certain=False,
    )


def hypothesis_for(
    handoff: HandoffPayload,
    topic: Topic,
    turns: Sequence[Turn],
    entities: Mapping[str, list[str]],
    steps: list[dict[str, Any]],
    reason: str,
) -> Line | None:
    """The hypothesis the turns and steps support: the bot's when they bear it out, else one derived from them."""
    given = clean_text(handoff.hypothesis, 300)
    failed = failed_steps(steps)
    link_steps = [i for i, s in enumerate(steps) if LINK_STEP.search(s["step"])]
    link_failed = [i for i in failed if i in link_steps]
    page = ev.find(turns, ev.PAGE_ERROR)
    no_mail = ev.find(turns, ev.NO_EMAIL)

    # The customer describes the page the link opens: the email arrived, whatever the bot assumed.
    if page and (link_steps or (given and DELIVERY.search(given))):
        name = steps[(link_failed or link_steps)[-1]]["step"] if link_steps else "link"
        text = (
            f'The {name} reaches the customer but the page it opens fails ("{ev.quote(page[-1].text, 80)}"); '
            "suspect a broken or expired link page, not email delivery"
        )
        short = f"suspect the {name} opens a broken or expired page (the link itself arrives)"
        return Line("hypothesis", "Hypothesis", text, page, link_failed or link_steps, short=short)
    if given:
        if DELIVERY.search(given):
            if no_mail:
                return Line("hypothesis", "Hypothesis", given, no_mail, link_failed)
            return _unsure_step_line(steps, link_failed or failed, turns)
        if UNDERSTANDING.search(given):
            unclear = ev.not_understood(turns)
            if unclear:
                return Line("hypothesis", "Hypothesis", "The bot could not understand the request; read the "
                            "customer's own words", unclear)
        elif ev.LOCK_WORDS[0].search(given):
            locked_steps = [i for i, s in enumerate(steps) if ev.LOCK_WORDS[0].search(f"{s['step']} {s['detail']}")]
            locked_turns = ev.find(turns, ev.LOCK_WORDS)
            if locked_steps or locked_turns:
                return Line("hypothesis", "Hypothesis", given, locked_turns, [*locked_steps, *failed])
        elif SCOPE.search(given):
            outside = ev.confirmed(turns, ("out_of_scope",))
            if outside:
                return Line("hypothesis", "Hypothesis", given, outside)
        else:
            named = {*PROSE_FACT.findall(given), *(c for c in entities.get("error_code") or [] if c in given)}
            said = [t for c in sorted(named) for t in ev.mentioning(turns, c)]
            if said:
                return Line("hypothesis", "Hypothesis", given, said)
            if steps or reason == "backend_unavailable":
                # What the bot's own checks found (a charge lookup, an account hold): the steps are the evidence.
                return Line("hypothesis", "Hypothesis", given, (), failed or list(range(len(steps))))
            return Line("hypothesis", "Hypothesis", f"Unchecked guess of the bot: {given}", (), certain=False)
    codes = entities.get("error_code") or []
    said_codes = [t for c in codes for t in ev.mentioning(turns, c)]
    if codes and said_codes:
        return Line("hypothesis", "Hypothesis",
                    f"error code {codes[0]} points to a server-side fault rather than user error", said_codes)
    if topic.intent in ("reset_password", "account_locked") and failed:
        locked_steps = [i for i, s in enumerate(steps) if ev.LOCK_WORDS[0].search(f"{s['step']} {s['detail']}")]
        locked_turns = ev.find(turns, ev.LOCK_WORDS)
        if locked_steps or locked_turns:
            return Line("hypothesis", "Hypothesis",
                        "account lockout or security hold is blocking the self-service reset",
                        locked_turns, [*failed, *locked_steps])
    if link_failed and no_mail:
        name = steps[link_failed[-1]]["step"]
        return Line("hypothesis", "Hypothesis",
                    f"The {name} email is not reaching the customer; suspect spam filtering or an outdated address",
                    no_mail, link_failed)
    if link_failed:
        return _unsure_step_line(steps, link_failed, turns)
    twice = [t for t in topic.turns if re.search(r"twice|double|duplicate|two times", t.text, re.IGNORECASE)]
    if topic.intent == "billing_charge_dispute" and twice:
        return Line("hypothesis", "Hypothesis", "possible duplicate charge; check the charge history", twice)
    if reason == "backend_unavailable":
        return Line("hypothesis", "Hypothesis",
                    "the business backend was unreachable; the request itself may be routine", (), failed)
    return None
