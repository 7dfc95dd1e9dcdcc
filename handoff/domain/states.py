"""Conversation states, hand-off statuses, stored event types, message statuses and the allowed moves, defined once.

A conversation is with the bot, waiting in the queue, with an agent, with L3, or resolved. Every change of its
state is one of the ``Move``s below, applied by ``storage.conversations.transition`` (the only writer of a conversation's
state), which refuses a move from a state the table does not allow and records the move's event. The widget and the
console mirror the state names and the event types in ``widget/src/shared/protocol.js``
(tests/browser/test_protocol_mirror.py).

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


class EventType(_Named):
    """What a stored lifecycle event (a row of ``events``) records; the metrics, the reports and the console read them.

    The values are the stored strings: renaming one orphans every row already written and the queries over them.
    """

    # A conversation's life with the bot.
    CREATED = "created"  # the conversation started (the cohort the metrics follow)
    ENGAGED = "engaged"  # the customer wrote their first message
    IDENTITY_VERIFIED = "identity_verified"  # a verified customer identity was bound to the conversation
    FOLLOW_UP_REQUESTED = "follow_up_requested"  # no agent available: the customer left an email to follow up on
    LANGUAGE_VOTE = "language_vote"  # one customer message that is evidence of a language
    LANGUAGE_DETECTED = "language_detected"  # the conversation's decided language changed
    BOT_TURN = "bot_turn"  # one bot turn's features (the early offer decides on them, the prediction learns from them)
    NLU_MISS = "nlu_miss"  # the bot did not understand a message (fallback or low confidence)
    RECONTACT = "recontact"  # the customer asked what is happening with their case
    EARLY_OFFER = "early_offer"  # the bot offered a person before the customer asked for one
    EARLY_OFFER_DECLINED = "early_offer_declined"  # the customer declined that offer
    # The moves of the table below (each written by storage.conversations.transition or storage.handoffs.claim).
    QUEUED = "queued"  # handed off to the queue (from the bot or a resolved chat) or transferred back to it
    ASSIGNED = "assigned"  # an agent claimed the queued conversation (or was auto-assigned it)
    L3_CLAIMED = "l3_claimed"  # an L3 agent took an L3 escalation
    ESCALATED_L3 = "escalated_l3"  # an agent escalated to L3
    L3_RETURNED = "l3_returned"  # L3 returned the escalation to the L2 agent, with root cause and resolution
    RESOLVED = "resolved"  # an agent resolved the conversation
    HANDBACK = "handback"  # an agent handed the conversation back to the bot
    REOPENED = "reopened"  # the customer wrote again after a resolution: back with the bot
    # With the people.
    QUEUE_ACK = "queue_ack"  # the customer was told their place in the queue
    FIRST_REPLY = "first_reply"  # an agent's first reply to an escalation (carries the hand-off delay)
    TRANSFERRED = "transferred"  # an agent handed the conversation to another agent
    CONTEXT_LOSS = "context_loss"  # an agent flagged having to ask the customer again
    WATCHED = "watched"  # an agent started following the conversation live (e.g. to barge in)
    SLA_WARNING = "sla_warning"  # a waiting hand-off neared its SLA deadline (priority raised)
    SLA_BREACH = "sla_breach"  # a waiting hand-off passed its SLA deadline
    STALE_ALERT = "stale_alert"  # a conversation sat too long with the bot (l1_stale), an agent (l2_stale) or L3 (l3_stale)
    L3_SLA_WARNING = "l3_sla_warning"  # an L3 escalation neared its deadline to be claimed (priority raised)
    L3_SLA_BREACH = "l3_sla_breach"  # an L3 escalation passed its deadline to be claimed
    CSAT = "csat"  # the customer's rating after a resolution (one per resolution)
    # Not of a conversation (no conversation id).
    PRESENCE = "presence"  # an agent's status changed (online, away, offline)


class MessageStatus(_Named):
    """Where a stored message is on its way to its reader (``messages.status``)."""

    DONE = "done"  # delivered: relayed to the bot, or a message of the bot, an agent or the system
    HUMAN = "human"  # a customer message while people have the conversation: publishing it was the delivery
    PENDING = "pending"  # acknowledged, not relayed to the bot yet; stored as "pending:<gateway instance>"


# Waiting for a person or with one: the bot stays out of it.
WITH_PEOPLE = (State.QUEUED, State.ASSIGNED, State.ESCALATED_L3)
# With an agent (L2 or L3): what the customer writes is delivered to people, not to the bot.
WITH_AN_AGENT = (State.ASSIGNED, State.ESCALATED_L3)
# A hand-off still in progress (an L3 escalation stays open until someone resolves it).
OPEN_HANDOFF = (HandoffStatus.OPEN, HandoffStatus.ASSIGNED, HandoffStatus.ESCALATED_L3)


@dataclass(frozen=True)
class Transition:
    """One kind of state change: the event it writes, the state it leads to, the states it may start from."""

    event: EventType
    to: State
    allowed_from: tuple[State, ...]


class Move(Enum):
    """Every state change a conversation can go through."""

    HAND_OFF = Transition(EventType.QUEUED, State.QUEUED, (State.BOT, State.RESOLVED))
    CLAIM = Transition(EventType.ASSIGNED, State.ASSIGNED, (State.QUEUED,))
    CLAIM_L3 = Transition(EventType.L3_CLAIMED, State.ESCALATED_L3, (State.ESCALATED_L3,))
    TRANSFER = Transition(EventType.QUEUED, State.QUEUED, (State.ASSIGNED,))
    ESCALATE_L3 = Transition(EventType.ESCALATED_L3, State.ESCALATED_L3, (State.ASSIGNED,))
    RETURN_TO_L2 = Transition(EventType.L3_RETURNED, State.ASSIGNED, (State.ESCALATED_L3,))
    RESOLVE = Transition(EventType.RESOLVED, State.RESOLVED, (State.ASSIGNED, State.ESCALATED_L3))
    HAND_BACK = Transition(EventType.HANDBACK, State.BOT, (State.ASSIGNED,))
    REOPEN = Transition(EventType.REOPENED, State.BOT, (State.RESOLVED,))

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
