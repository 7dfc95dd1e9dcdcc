"""What every agent operation starts with: may this agent act on this conversation, and taking it off their sockets.

``Refused`` carries the code and the reason back to the agent (the namespace and the REST views turn it into an
error); the rule itself is ``handoff.domain.access``.
"""

from __future__ import annotations

import logging

from handoff.domain import access
from handoff.domain import events as ev
from handoff.domain.records import AgentRecord, ConversationRecord
from handoff.storage import conversations as conversation_store
from handoff.usecases.gateway import Gateway, agent_room

log = logging.getLogger(__name__)


class Refused(Exception):
    """An agent action that is not allowed; ``code`` and ``message`` go back to the agent."""

    def __init__(self, code: str, message: str) -> None:
        """Keep code and message."""
        super().__init__(message)
        self.code = code
        self.message = message


def require(agent: AgentRecord, action: str, conv: ConversationRecord) -> None:
    """Refuse (``forbidden``, with the reason) what ``handoff.domain.access`` does not allow this agent."""
    reason = access.refusal(agent, action, conv)
    if reason is not None:
        log.info("agent %s (%s) refused %s: %s", agent.id, agent.role, action, reason)
        raise Refused("forbidden", reason)


async def conversation(gw: Gateway, conversation_id: str) -> ConversationRecord:
    """The conversation, whoever asks (``not_found`` when there is none)."""
    async with gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, conversation_id)
    if conv is None:
        raise Refused("not_found", f"conversation {conversation_id} not found")
    return conv


async def readable(gw: Gateway, agent: AgentRecord, conversation_id: str, action: str = access.READ) -> ConversationRecord:
    """The conversation, if the agent may see it (transcript, customer panel, watch, note)."""
    conv = await conversation(gw, conversation_id)
    require(agent, action, conv)
    return conv


async def owned(gw: Gateway, agent: AgentRecord, conversation_id: str, action: str) -> ConversationRecord:
    """The conversation, if this agent may do ``action`` on it: its owner, or a lead."""
    conv = await readable(gw, agent, conversation_id)  # outside the agent's scope: not even its state is told
    if conv.state not in ("assigned", "escalated_l3"):
        raise Refused("invalid_state", f"conversation is {conv.state}; claim it first")
    require(agent, action, conv)
    return conv


async def release(gw: Gateway, conv: ConversationRecord, actor: AgentRecord, state: str) -> None:
    """Take a conversation off the sockets of the agent who owned it (``conv`` as it was before the action).

    Every socket of the owner, on every gateway, leaves the room (with Redis the manager forwards each leave to the
    gateway holding the socket), and the owner's consoles are told. A lead acting on someone else's conversation
    keeps the room if they were watching it (and was never in it otherwise).
    """
    owner = conv.assigned_agent_id
    if owner is None:
        return
    await gw.leave_agent(owner, conv.id)
    await gw.to_agents(
        ev.CONVERSATION_REMOVED,
        {"conversation_id": conv.id, "state": state, "by": actor.name, "by_agent_id": actor.id},
        agent_room(owner),
    )
