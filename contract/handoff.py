"""Why a conversation goes to a person: the hand-off reasons, defined once for the bot and the gateway.

The bot's ``handoff`` payload (``actions/handoff.py``) carries one of ``BOT_REASONS``; the gateway hands off by
itself for ``GATEWAY_REASONS`` (Rasa down, an agent barging in, a language the bot does not speak) and accepts
any of ``HANDOFF_REASONS`` (``handoff/events.py``). A new reason goes here first; tests/contract checks that the
customer texts, the summary's wording and the queue priority cover every one of them.
"""

from __future__ import annotations

BOT_REASONS = (
    "three_strikes",
    "low_confidence",
    "customer_request",
    "frustration",
    "technical_issue",
    "fast_lane",
    "policy",
    "backend_unavailable",
)
GATEWAY_REASONS = ("bot_unavailable", "barge_in", "language")
HANDOFF_REASONS = (*BOT_REASONS, *GATEWAY_REASONS)
