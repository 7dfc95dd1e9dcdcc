"""Seed data: contacts from the business backend's seed file and canned replies; the demo agents in demo mode only.

Seeding never overwrites: a demo agent whose password was changed keeps it, and nothing is created twice.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from handoff.domain import auth
from handoff.storage import agents as agent_store
from handoff.storage import canned_replies as canned_reply_store
from handoff.storage import contacts as contact_store
from handoff.storage.db import Database

DEMO_AGENTS: tuple[dict[str, Any], ...] = (
    {
        "email": "lena@example.com",
        "name": "Lena Park",
        "password": "lena-demo-pass",
        "role": "l2",
        "team": "billing",
        "skills": ["billing", "general"],
        "languages": ["en", "es"],
    },
    {
        "email": "omar@example.com",
        "name": "Omar Haddad",
        "password": "omar-demo-pass",
        "role": "lead",
        "team": "technical",
        "skills": ["technical", "general"],
        "languages": ["en", "fr"],
    },
    {
        # An L3 engineer: the L3 queue (escalations with the definition of ready), returns to L2 with the root cause.
        "email": "sam@example.com",
        "name": "Sam Okafor",
        "password": "sam-demo-pass",
        "role": "l3",
        "team": "l3",
        "skills": ["technical"],
        "languages": ["en"],
    },
    {
        # A conversation designer: the Needs training page only (labels, retrains), no conversations or agents' data.
        "email": "dana@example.com",
        "name": "Dana Reyes",
        "password": "dana-demo-pass",
        "role": "designer",
        "team": "design",
        "skills": [],
        "languages": ["en"],
    },
)

CANNED: tuple[tuple[str, str, str], ...] = (
    (
        "general",
        "Greeting",
        "Hi, I'm here to help. I've read what you told the assistant, so no need to repeat it.",
    ),
    ("billing", "Refund timing", "Refunds reach your card within 5-10 business days after we issue them."),
    ("technical", "Need logs", "Could you share the exact error message and the time it happened?"),
)


async def load_contacts(db: Database, path: Path, today: date | None = None) -> int:
    """Upsert contacts from the seed file (dates are relative to ``today``)."""
    today = today or date.today()
    data = json.loads(path.read_text(encoding="utf-8"))
    customers = data.get("customers", [])
    async with db.write() as s:
        for c in customers:
            renewal = c.get("renewal_in_days")
            await contact_store.upsert_contact(
                s,
                id=str(c["id"]),
                email=str(c.get("email", "")),
                name=str(c.get("name", "")),
                tier=str(c.get("tier", "free")),
                plan=str(c.get("plan", "free")),
                mrr=float(c.get("mrr") or 0.0),
                renewal_date=today + timedelta(days=int(renewal)) if renewal is not None else None,
                status=str(c.get("status", "active")),
            )
    return len(customers)


async def seed(db: Database, path: Path, demo_agents: bool) -> list[dict[str, Any]]:
    """Contacts + canned replies, and the demo agents that do not exist yet; returns the credentials it created."""
    if path.exists():
        await load_contacts(db, path)
    created: list[dict[str, Any]] = []
    async with db.write() as s:
        for a in DEMO_AGENTS if demo_agents else ():
            if await agent_store.agent_credentials(s, a["email"]) is not None:
                continue
            created.append({"email": a["email"], "password": a["password"], "role": a["role"]})
            await agent_store.create_agent(
                s,
                email=a["email"],
                name=a["name"],
                password_hash=auth.hash_password(a["password"]),
                role=a["role"],
                team=a["team"],
                skills=a["skills"],
                languages=a.get("languages", ["en"]),
            )
        if not await canned_reply_store.canned_replies(s):
            for team, title, text in CANNED:
                await canned_reply_store.add_canned_reply(s, team, title, text)
    return created
