"""Which agent may see and act on which conversation: the one rule behind the REST views and the agent socket.

The rule (docs/security.md, "Agents: who sees what"):

=================  ====================================  =========================================  ===========
action             l2                                    l3                                         lead
=================  ====================================  =========================================  ===========
read, watch, note  queued, assigned to them, or their    escalated to L3, assigned to them, or      every
                   team's (``conversation.team``)        their team's                               conversation
claim              not an L3 escalation (the store       an L3 escalation (the store refuses a      every
                   refuses what is not queued)           claimed one)
agent_message,     assigned to them                      assigned to them                           every
typing, transfer,
escalate_l3,
return_l2, resolve,
handback,
flag_context_loss
barge_in           never                                 never                                      every
=================  ====================================  =========================================  ===========

A ``designer`` (conversation designer) is none of these: no conversation action, no queue, no agent socket; the
Needs training page, its read-only transcripts of the conversations it links to, labelling and retraining.

A conversation's team is the team of the agent who claimed it, or the team it was transferred to; it stays after a
resolve, a hand-back or an L3 escalation, so the team can follow up. The state checks (claim only a queued
conversation, resolve only an assigned one...) stay with each operation: this module answers "may this agent",
they answer "can this conversation".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from handoff.domain import events as ev
from handoff.domain.records import AgentRecord, ConversationRecord
from handoff.domain.states import State

Conversation = ConversationRecord | Mapping[str, Any]
Rule = Callable[[AgentRecord, str, int | None, str | None], bool]

READ = "read"  # REST transcript (GET /api/conversations/{id}), customer panel, list entries


def _fields(conv: Conversation) -> tuple[str, int | None, str | None]:
    if isinstance(conv, ConversationRecord):
        return conv.state, conv.assigned_agent_id, conv.team
    return str(conv["state"]), conv.get("assigned_agent_id"), conv.get("team")


def _sees(agent: AgentRecord, state: str, owner: int | None, team: str | None) -> bool:
    if owner == agent.id or (team is not None and team == agent.team):
        return True
    return state == ("escalated_l3" if agent.role == "l3" else "queued")


def _owns(agent: AgentRecord, state: str, owner: int | None, team: str | None) -> bool:
    return owner == agent.id


def _claims(agent: AgentRecord, state: str, owner: int | None, team: str | None) -> bool:
    return (state == State.ESCALATED_L3) == (agent.role == "l3")


def _never(agent: AgentRecord, state: str, owner: int | None, team: str | None) -> bool:
    return False


# action -> (rule for l2 and l3 agents, what a refused agent is told); leads may do everything.
ACTIONS: dict[str, tuple[Rule, str]] = {
    READ: (_sees, "this conversation is outside your queue, your team and your assignments"),
    ev.WATCH: (_sees, "this conversation is outside your queue, your team and your assignments"),
    ev.NOTE: (_sees, "this conversation is outside your queue, your team and your assignments"),
    ev.CLAIM: (_claims, "L3 escalations are claimed by L3 agents and leads; L2 work by L2 agents and leads"),
    ev.AGENT_MESSAGE: (_owns, "this conversation is assigned to another agent"),
    ev.TYPING: (_owns, "this conversation is assigned to another agent"),
    ev.TRANSFER: (_owns, "this conversation is assigned to another agent"),
    ev.ESCALATE_L3: (_owns, "this conversation is assigned to another agent"),
    ev.RETURN_L2: (_owns, "this conversation is assigned to another agent"),
    ev.RESOLVE: (_owns, "this conversation is assigned to another agent"),
    ev.HANDBACK: (_owns, "this conversation is assigned to another agent"),
    ev.FLAG_CONTEXT_LOSS: (_owns, "only the agent handling the conversation flags what the summary missed"),
    ev.BARGE_IN: (_never, "only leads take a conversation over from the bot"),
}


DESIGNER = "designer"
# What a designer is told on every agent route and event: their work is the Needs training page.
DESIGNER_REFUSAL = (
    "conversation designers work on the Needs training page only: no queue, conversations, notes, customers or "
    "agents' scorecards"
)
# Who labels training data and retrains the bot.
TRAINERS = frozenset({DESIGNER, "lead"})


def can(agent: AgentRecord, action: str, conv: Conversation) -> bool:
    """Whether ``agent`` may do ``action`` (a key of :data:`ACTIONS`) on ``conv``; unknown actions are refused.

    A designer may do none of them: a designer reads transcripts only through :func:`transcript_refusal`.
    """
    if action not in ACTIONS or agent.role == DESIGNER:
        return False
    if agent.role == "lead":
        return True
    rule, _ = ACTIONS[action]
    return rule(agent, *_fields(conv))


def refusal(agent: AgentRecord, action: str, conv: Conversation) -> str | None:
    """None when allowed, else the reason the agent is told."""
    if can(agent, action, conv):
        return None
    if agent.role == DESIGNER:
        return DESIGNER_REFUSAL
    return ACTIONS[action][1] if action in ACTIONS else f"unknown action {action!r}"


def snapshot_for(role: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The queue snapshot cut to what agents of ``role`` may read (by role only: one copy serves a role's room).

    L2 agents get the queue but neither the live bot conversations nor the L3 list; L3 agents the L3 list only.
    """
    if role == "lead":
        return snapshot
    if role == DESIGNER:
        return dict(snapshot, queue=[], live=[], l3=[], agents=[])
    cut = dict(snapshot, live=[])
    if role == "l3":
        cut["queue"] = []
    else:
        cut["l3"] = []
    return cut


def role_room(role: str) -> str:
    """Agents' room of one role (snapshots and hand-off notices are cut by role)."""
    return f"role:{role}"


def staff_refusal(agent: AgentRecord) -> str | None:
    """None for the agents who work conversations (l2, l3, lead); the reason for a designer."""
    return DESIGNER_REFUSAL if agent.role == DESIGNER else None


def training_refusal(agent: AgentRecord) -> str | None:
    """None for who labels messages and retrains the bot (designers and leads), else the reason."""
    return None if agent.role in TRAINERS else "labelling and retraining are for conversation designers and leads"


def transcript_refusal(agent: AgentRecord, linked: bool) -> str | None:
    """The Needs training page's read-only transcript: leads any; everyone else one linked from an inbox item."""
    if agent.role == "lead" or linked:
        return None
    return "this conversation is not linked from the Needs training page"
