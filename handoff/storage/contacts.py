"""Contact rows: the business backend's customer records (tier, plan, MRR), never supplied by the client."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import ContactRecord
from handoff.storage.models import Contact, utcnow
from handoff.storage.rows import to_record


async def upsert_contact(
    s: AsyncSession,
    *,
    id: str,
    email: str,
    name: str,
    tier: str,
    plan: str,
    mrr: float,
    renewal_date: date | None,
    status: str,
) -> None:
    """Insert or update a contact record."""
    row = await s.get(Contact, id)
    if row is None:
        row = Contact(id=id, created_at=utcnow())
        s.add(row)
    row.email, row.name, row.tier, row.plan = email, name, tier, plan
    row.mrr, row.renewal_date, row.status = mrr, renewal_date, status


async def get_contact(s: AsyncSession, customer_id: str) -> ContactRecord | None:
    """The contact record, or None."""
    row = await s.get(Contact, customer_id)
    return to_record(ContactRecord, row) if row else None


async def average_mrr(s: AsyncSession) -> float:
    """Average MRR over paying contacts (0 when there are none)."""
    value = (await s.execute(select(func.avg(Contact.mrr)).where(Contact.mrr > 0))).scalar()
    return float(value or 0.0)

