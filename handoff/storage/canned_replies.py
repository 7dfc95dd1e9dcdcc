"""Canned reply rows: reusable replies, stored per team."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import CannedReplyRecord
from handoff.storage.models import CannedReply, utcnow
from handoff.storage.rows import to_record


async def canned_replies(s: AsyncSession, team: str | None = None) -> list[CannedReplyRecord]:
    """Canned replies, optionally of one team."""
    stmt = select(CannedReply).order_by(CannedReply.team, CannedReply.id)
    if team:
        stmt = stmt.where(CannedReply.team == team)
    return [to_record(CannedReplyRecord, r) for r in await s.scalars(stmt)]


async def add_canned_reply(s: AsyncSession, team: str, title: str, text: str) -> CannedReplyRecord:
    """Store a canned reply for a team."""
    row = CannedReply(team=team, title=title, text=text, created_at=utcnow())
    s.add(row)
    await s.flush()
    return to_record(CannedReplyRecord, row)
