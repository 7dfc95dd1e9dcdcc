"""Why a conversation goes to a person and what the customer's problem is, defined once for the bot and the gateway.

The bot's ``handoff`` payload (:mod:`contract.handoff_payload`, built by ``actions/handoff.py``) carries one of
``BOT_REASONS``; the gateway hands off by itself for ``GATEWAY_REASONS`` (Rasa down, an agent barging in, a language
the bot does not speak) and accepts any of ``HANDOFF_REASONS`` (``handoff/domain/events.py``). A new reason goes here first;
tests/contract checks that the customer texts, the summary's wording and the queue priority cover every one of them.

``PROBLEM_SENTENCES`` states the customer's problem per topic (intent): the bot starts the payload's ``problem`` with
it, and the gateway's summary (``handoff/domain/summary/``) says it when the bot's sentence is not borne out by the turns.
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

PROBLEM_SENTENCES: dict[str, str] = {
    "reset_password": "Customer can't log in and needs a password reset",
    "account_locked": "Customer's account is locked",
    "create_account": "Customer can't finish creating an account",
    "update_account": "Customer needs a change to their account",
    "close_account": "Customer wants to close their account",
    "billing_invoice": "Customer has a question about an invoice",
    "billing_charge_dispute": "Customer disputes a charge",
    "billing_refund": "Customer asked about a refund",
    "billing_payment_method": "Customer can't update their payment method",
    "technical_issue": "Customer reports a technical problem",
    "request_human": "Customer asked for a person before saying what it is about",
    "out_of_scope": "Customer's request is outside what the bot handles",
}
# The bot's sentence when the customer named no topic it knows.
UNKNOWN_PROBLEM = "Customer needs help the assistant could not identify"
