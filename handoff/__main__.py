"""``python -m handoff`` (serve), ``migrate``, ``seed``, ``agents add``, ``events``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from handoff import auth, events, migrate, seed, store
from handoff.app import create_app
from handoff.db import Database
from handoff.models import AGENT_ROLES
from handoff.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m handoff", description="Handoff gateway")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gateway (default)")
    m = sub.add_parser("migrate", help="apply database migrations")
    m.add_argument("--revision", default="head")
    m.add_argument("--downgrade", action="store_true", help="downgrade to --revision (default base)")
    sub.add_parser("seed", help="load demo contacts, two demo agents and canned replies")
    sub.add_parser("events", help="print the Socket.IO protocol as JSON")
    agents = sub.add_parser("agents", help="manage agents").add_subparsers(dest="agents_command", required=True)
    add = agents.add_parser("add", help="create or update an agent")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--role", choices=AGENT_ROLES, default="l2")
    add.add_argument("--team", default="general")
    add.add_argument("--skills", default="general", help="comma separated, e.g. billing,technical")
    add.add_argument("--capacity", type=int, default=3)
    return p


async def _with_db(settings: Settings, action: str, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        if action == "migrate":
            if args.downgrade:
                await migrate.downgrade(db, "base" if args.revision == "head" else args.revision)
            else:
                await migrate.upgrade(db, args.revision)
            print(f"database at {settings.database_url.split('@')[-1]} migrated")
            return 0
        await migrate.upgrade(db)
        if action == "seed":
            creds = await seed.seed(db, Path(settings.seed_path))
            print("Demo agents (log in at POST /api/login):")
            for c in creds:
                print(f"  {c['email']}  password: {c['password']}  role: {c['role']}")
            return 0
        if action == "agents add":
            if len(args.password) < 8:
                print("error: password must have at least 8 characters", file=sys.stderr)
                return 2
            async with db.write() as s:
                agent = await store.create_agent(
                    s,
                    email=args.email,
                    name=args.name,
                    password_hash=auth.hash_password(args.password),
                    role=args.role,
                    team=args.team,
                    skills=[x.strip() for x in args.skills.split(",") if x.strip()],
                    capacity=args.capacity,
                )
            print(f"agent {agent.id} {agent.email} ({agent.role}, skills {', '.join(agent.skills)}) saved")
            return 0
    finally:
        await db.dispose()
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = args.command or "serve"
    if command == "serve":
        print(f"handoff gateway on http://{settings.host}:{settings.port} (customers: /, agents: /agents)")
        web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
        return 0
    if command == "events":
        print(json.dumps(events.describe(), indent=2))
        return 0
    action = "agents add" if command == "agents" else command
    return asyncio.run(_with_db(settings, action, args))


if __name__ == "__main__":
    sys.exit(main())
