"""What the gateway tells a queued customer: the queue notice and the acknowledgement of a message while waiting.

Pure text and rules (no I/O), so each sentence is consistent with the others: with no agent online (or outside
business hours) there is no wait estimate anywhere; a customer whose address is known is never asked for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contract.redact import mask_email

# At most one acknowledgement per conversation in this many seconds, unless the queue position changed.
ACK_INTERVAL_SECONDS = 60.0
# Asking for a person while already queued ("just get me a real human please"); linear-time alternation.
ASKS_FOR_PERSON = re.compile(
    r"\b(?:human|person|people|agent|someone|somebody|representative|operator)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Availability:
    """Whether a person can answer now; ``why`` says why not (shown to the customer)."""

    open: bool
    why: str = ""


def availability(online_agents: int, business_open: bool) -> Availability:
    """Outside business hours, or with nobody online, no one can pick up now."""
    if not business_open:
        return Availability(False, "outside our business hours")
    if online_agents == 0:
        return Availability(False, "no agent is online right now")
    return Availability(True)


def queue_notice(
    available: Availability,
    position: int | None,
    minutes: int | None,
    known_email: str | None,
    *,
    on_account: bool = True,
) -> str:
    """The notice when the conversation enters the queue.

    With someone available: position and estimate. Otherwise no estimate: the customer keeps their place, a person
    picks up here when one joins, and the follow-up goes to the address we have (masked: ``on_account`` for a
    verified customer's, else the one they left earlier) or to one they leave now.
    """
    if available.open:
        if position is None:
            return "I've passed your conversation to a member of our support team."
        return (
            f"I've passed your conversation to a member of our support team. You're number {position} in the queue"
            + (f" (about {minutes} min)." if minutes is not None else ".")
        )
    where = "the address on your account" if on_account else "the address you left"
    follow_up = (
        f"If no one gets to you in time, we'll follow up at {where} ({mask_email(known_email)})."
        if known_email
        else "If you can't wait, leave your email address here and we'll follow up."
    )
    return (
        f"I've passed your conversation to our support team, but {available.why}, so I can't give you a wait time. "
        f"You keep your place in the queue, and a person will pick up right here when one joins. {follow_up}"
    )


def asks_for_person(text: str) -> bool:
    """Whether a message asks for a person (a keyword check: the customer is already in line for one)."""
    return bool(ASKS_FOR_PERSON.search(text))


def ack_text(text: str, position: int | None, available: Availability) -> str:
    """The acknowledgement of a message written while queued."""
    if position is None:
        place = "You keep your place in the queue."
    elif available.open:
        place = f"You're #{position} in the queue."
    else:
        place = f"You're #{position} in the queue, and a person will pick up right here when one joins."
    if asks_for_person(text):
        return f"You're already in line for a person: {place[0].lower()}{place[1:]}"
    return f"Got it, your message is with our team. {place}"


def should_ack(last_ack: tuple[float, int | None] | None, now: float, position: int | None) -> bool:
    """One acknowledgement per ``ACK_INTERVAL_SECONDS`` per conversation, unless the position changed since the last.

    ``last_ack`` is (when, position) of the previous acknowledgement in this queue stay, None if there was none.
    """
    if last_ack is None:
        return True
    at, previous = last_ack
    return previous != position or now - at >= ACK_INTERVAL_SECONDS
