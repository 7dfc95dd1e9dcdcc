"""Note rows: agents' private notes on a conversation (never shown to the customer)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import NoteRecord
from handoff.storage.models import Note, utcnow
from handoff.storage.rows import to_record


async def add_note(s: AsyncSession, conversation_id: str, agent_id: int, text: str) -> NoteRecord:
    """Store a private note."""
    row = Note(conversation_id=conversation_id, agent_id=agent_id, text=text, created_at=utcnow())
    s.add(row)
    await s.flush()
    return to_record(NoteRecord, row)


async def notes_for(s: AsyncSession, conversation_id: str) -> list[NoteRecord]:
    """Notes of a conversation, oldest first."""
    rows = await s.scalars(select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id))
    return [to_record(NoteRecord, r) for r in rows]
