"""Agent rows: accounts (password hashes stay here), presence, and each agent's load."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import AgentRecord
from handoff.domain.states import WITH_AN_AGENT, EventType
from handoff.storage.events import add_event
from handoff.storage.models import Agent, Conversation, utcnow
from handoff.storage.rows import to_record


async def create_agent(
    s: AsyncSession,
    *,
    email: str,
    name: str,
    password_hash: str,
    role: str = "l2",
    team: str = "general",
    skills: Sequence[str] = ("general",),
    languages: Sequence[str] = ("en",),
    capacity: int = 3,
) -> AgentRecord:
    """Create (or update, by email) an agent."""
    row = (await s.scalars(select(Agent).where(Agent.email == email.lower()))).first()
    if row is None:
        row = Agent(email=email.lower(), status="offline", created_at=utcnow())
        s.add(row)
    row.name, row.password_hash, row.role, row.team = name, password_hash, role, team
    row.skills, row.languages, row.capacity = list(skills), list(languages), capacity
    await s.flush()
    return to_record(AgentRecord, row)


async def agent_credentials(s: AsyncSession, email: str) -> tuple[AgentRecord, str] | None:
    """The agent and its password hash, for login."""
    row = (await s.scalars(select(Agent).where(Agent.email == email.lower()))).first()
    return (to_record(AgentRecord, row), row.password_hash) if row else None


async def get_agent(s: AsyncSession, agent_id: int) -> AgentRecord | None:
    """The agent, or None."""
    row = await s.get(Agent, agent_id)
    return to_record(AgentRecord, row) if row else None


async def set_agent_status(s: AsyncSession, agent_id: int, status: str) -> None:
    """Online / away / offline, with last_seen_at."""
    row = await s.get(Agent, agent_id)
    if row is None:
        return
    if row.status != status:
        await add_event(s, None, EventType.PRESENCE, f"agent:{agent_id}", status, {"agent_id": agent_id})
    row.status = status
    row.last_seen_at = utcnow()


async def agents_with_load(s: AsyncSession) -> list[AgentRecord]:
    """Every agent with its number of assigned conversations."""
    loads = dict(
        (
            await s.execute(
                select(Conversation.assigned_agent_id, func.count())
                .where(Conversation.state.in_([state.value for state in WITH_AN_AGENT]))
                .group_by(Conversation.assigned_agent_id)
            )
        ).all()
    )
    rows = await s.scalars(select(Agent).order_by(Agent.id))
    return [to_record(AgentRecord, r, load=int(loads.get(r.id, 0))) for r in rows]


async def count_online_agents(s: AsyncSession) -> int:
    """How many agents are online."""
    return int((await s.execute(select(func.count()).select_from(Agent).where(Agent.status == "online"))).scalar_one())

