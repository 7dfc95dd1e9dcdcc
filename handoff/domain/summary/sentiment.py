"""The customer's mood: a sentiment trend whose label agrees with the frustration the turns show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.handoff_payload import HandoffPayload
from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn
from handoff.domain.summary.line import Line
from handoff.domain.summary.reading import two_places


def sentiment_of(handoff: HandoffPayload, turns: Sequence[Turn], reason: str) -> tuple[dict[str, Any], Line]:
    """Sentiment trend whose label agrees with the frustration flag (a sarcastic "great, thanks" is not improving)."""
    flagged = ev.frustrated(turns)
    flagged_at = {t.index for t in flagged}
    scored = [t for t in turns if t.sentiment is not None or t.frustration is not None or t.index in flagged_at]

    def mood(t: Turn) -> float:
        """Sentiment, but never above minus the frustration of a flagged turn (VADER reads sarcasm as praise)."""
        value = t.sentiment if t.sentiment is not None else 0.0
        if t.index in flagged_at:
            value = min(value, -max(t.frustration or 0.0, ev.FRUSTRATED_SCORE))
        return round(value, 2)

    if scored:
        trend = [mood(t) for t in scored]
    else:
        trend = [round(x, 2) for x in handoff.sentiment.trend]
    sentiments = [t.sentiment for t in turns if t.sentiment is not None]
    latest = sentiments[-1] if sentiments else two_places(handoff.sentiment.latest)
    frustration = two_places(handoff.frustration)
    if frustration is None:
        values = [t.frustration for t in turns if t.frustration is not None]
        frustration = max(values) if values else None
    now = (
        reason == "frustration"
        or (frustration is not None and frustration >= ev.FRUSTRATED_SCORE)
        or bool(scored and scored[-1].index in flagged_at)
    )
    delta = trend[-1] - trend[0] if len(trend) >= 2 else 0.0
    direction = "unknown" if not trend else "worsening" if delta <= -0.2 else "improving" if delta >= 0.2 else "stable"
    if now:
        label = "frustrated"
        if direction == "improving":
            direction = "stable"  # still frustrated at the hand-off: not getting better
    elif flagged:
        label = "was frustrated earlier"
    elif not trend:
        label = "no signal"
    else:
        label = "negative" if trend[-1] <= -0.3 else "positive" if trend[-1] >= 0.3 else "neutral"
    data = {
        # The mood of the last scored turn: a flagged turn's sentiment never reads as positive.
        "latest": trend[-1] if scored and trend else latest,
        "vader_latest": latest,
        "trend": trend,
        "direction": direction,
        "frustration": frustration,
        "frustrated": now,
        "label": label,
    }
    if label == "no signal":
        return data, Line("sentiment", "Sentiment", "no signal", certain=False)
    scores = [t.frustration for t in flagged if t.frustration is not None and t.frustration >= ev.FRUSTRATED_SCORE]
    detail = (
        (f"frustration {max(scores):.2f}, {ev.numbers(flagged)}" if scores else f"said so in {ev.numbers(flagged)}")
        if flagged
        else "the bot's reason for the hand-off"
        if now
        else f"sentiment {trend[-1]:.2f}"
    )
    support = flagged or ([t for t in scored if mood(t) == min(trend)] if direction == "worsening" else scored[-1:])
    if now and not flagged and reason == "frustration":
        support = list(turns[-1:])
    return data, Line("sentiment", "Sentiment", f"{label}, {direction} ({detail})", support)
