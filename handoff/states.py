"""The conversation's states, the hand-off's statuses and every allowed move between states, defined once.

A conversation is with the bot, waiting in the queue, with an agent, with L3, or resolved. Every change of its
state is one of the ``Move``s below, applied by ``store.transition`` (the only writer of a conversation's
state), which refuses a move from a state the table does not allow and records the move's event. The widget and the
console mirror the state names in ``widget/src/shared/protocol.js`` (tests/browser/test_protocol_mirror.py).

Pure: no I/O, no imports from the rest of the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class _Named(str, Enum):
    """A name the database, the events and the clients carry as a plain string."""

    def __str__(self) -> str:
        return str(self.value)


class State(_Named):
    """Where a conversation is."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ESCALATED_L3 = "escalated_l3"
    RESOLVED = "resolved"


class HandoffStatus(_Named):
    """Where one hand-off (a stay with the humans) is; it closes as resolved, escalated or handed back."""

    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    ESCALATED_L3 = "escalated_l3"
    HANDED_BACK = "handed_back"


# Waiting for a person or with one: the bot stays out of it.
WITH_PEOPLE = (State.QUEUED, State.ASSIGNED, State.ESCALATED_L3)
# With an agent (L2 or L3): what the customer writes is delivered to people, not to the bot.
WITH_AN_AGENT = (State.ASSIGNED, State.ESCALATED_L3)
# A hand-off still in progress (an L3 escalation stays open until someone resolves it).
OPEN_HANDOFF = (HandoffStatus.OPEN, HandoffStatus.ASSIGNED, HandoffStatus.ESCALATED_L3)


@dataclass(frozen=True)
class Transition:
    """One kind of state change: the event it writes, the state it leads to, the states it may start from."""

    event: str
    to: State
    allowed_from: tuple[State, ...]


class Move(Enum):
    """Every state change a conversation can go through."""

    HAND_OFF = Transition("queued", State.QUEUED, (State.BOT, State.RESOLVED))
    CLAIM = Transition("assigned", State.ASSIGNED, (State.QUEUED,))
    CLAIM_L3 = Transition("l3_claimed", State.ESCALATED_L3, (State.ESCALATED_L3,))
    TRANSFER = Transition("queued", State.QUEUED, (State.ASSIGNED,))
    ESCALATE_L3 = Transition("escalated_l3", State.ESCALATED_L3, (State.ASSIGNED,))
    RESOLVE = Transition("resolved", State.RESOLVED, (State.ASSIGNED, State.ESCALATED_L3))
    HAND_BACK = Transition("handback", State.BOT, (State.ASSIGNED,))
    REOPEN = Transition("reopened", State.BOT, (State.RESOLVED,))

    @property
    def transition(self) -> Transition:
        """The move's row of the table."""
        value: Transition = self.value
        return value

    def allowed(self, current: str) -> bool:
        """Whether a conversation in ``current`` may make this move."""
        return current in self.transition.allowed_from


def moves_from(state: str) -> list[Move]:
    """The moves a conversation in ``state`` can make (the console's actions follow the same table)."""
    return [m for m in Move if m.allowed(state)]
