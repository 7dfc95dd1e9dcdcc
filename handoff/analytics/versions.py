"""Did a retrain help real conversations? Containment and escalation per intent, for each model version.

Each ``bot_turn`` event names the Rasa model that answered (``handoff.usecases.escalation``); a conversation belongs
to the model of its first bot turn and to its intent (``handoff.analytics.metrics.conversation_facts``). For every
model version seen in the window, oldest first, and every intent: engaged conversations, containment and escalation
rate, so the designer reads the same intent before and after a retrain side by side. Small counts are shown as
they are (with n), never smoothed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.analytics.metrics import ConversationFacts, conversation_facts, load_events
from handoff.domain.records import EventRecord, iso


def _rates(facts: list[ConversationFacts]) -> dict[str, Any]:
    engaged = [f for f in facts if f.engaged]
    escalated = sum(1 for f in engaged if f.escalations)
    n = len(engaged)
    return {
        "engaged": n,
        "escalated": escalated,
        "containment": round((n - escalated) / n, 4) if n else None,
        "escalation_rate": round(escalated / n, 4) if n else None,
    }


def by_version(
    events: list[EventRecord], *, since: datetime, until: datetime, current: str | None = None
) -> dict[str, Any]:
    """Model versions (oldest first) and, per intent, each version's containment and escalation rate."""
    facts = [
        f for f in conversation_facts([e for e in events if e.created_at < until]) if since <= f.created_at < until
    ]
    first_seen: dict[str, datetime] = {}
    cells: dict[tuple[str, str], list[ConversationFacts]] = defaultdict(list)
    per_model: dict[str, list[ConversationFacts]] = defaultdict(list)
    for f in facts:
        first_seen[f.model] = min(first_seen.get(f.model, f.created_at), f.created_at)
        cells[(f.intent, f.model)].append(f)
        per_model[f.model].append(f)
    models = sorted(first_seen, key=lambda m: (m == "unknown", first_seen[m]))
    intents = sorted({intent for intent, _ in cells})
    return {
        "window": {"since": iso(since), "until": iso(until)},
        "models": [
            {"model": m, "first_seen": iso(first_seen[m]), "current": m == current, **_rates(per_model[m])}
            for m in models
        ],
        "intents": [
            {"intent": intent, "by_model": {m: _rates(cells[(intent, m)]) for m in models if (intent, m) in cells}}
            for intent in intents
        ],
    }


async def versions_for(s: AsyncSession, since: datetime, until: datetime, current: str | None) -> dict[str, Any]:
    """Load the window's events and compare the model versions."""
    events, _ = await load_events(s, since, until)
    return by_version(events, since=since, until=until, current=current)
