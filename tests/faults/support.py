"""What the fault tests share: an action server of their own, agent logins, a lock on a SQLite file, a ledger."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bot.launcher import BOT_PYTHON, ROOT, BotServers, spawn_action_server, wait_until_up
from tests.handoff.helpers import Client, wait_until

BOT = 30.0  # seconds a real bot reply may take (cold NLU, action server round trip)
LENA = ("lena@example.com", "lena-demo-pass")
OMAR = ("omar@example.com", "omar-demo-pass")  # a lead: reads any conversation, bot-only ones too


def kill_action_server(servers: BotServers) -> None:
    """SIGKILL the action server of the pair (a crash, not a clean shutdown); Rasa keeps running."""
    actions = servers.processes[0]
    actions.kill()
    actions.wait(20)


def restart_action_server(servers: BotServers) -> None:
    """Start the action server again on its port (the session's teardown then stops the new process)."""
    if servers.processes[0].poll() is None:
        return
    log = servers.backend_db.parent / "actions.log"
    process = spawn_action_server(servers.actions_url, servers.backend_db, servers.actions_token, servers.vouch_secret,
                                  log)
    servers.processes[0] = process
    wait_until_up(f"{servers.actions_url}/health", process, log, seconds=120)


@contextmanager
def backend_restored(servers: BotServers) -> Iterator[Path]:
    """Back the demo business database up, let the block break it, then put it back as it was."""
    db = servers.backend_db
    subprocess.run([BOT_PYTHON, "-m", "actions.backend", "seed"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "DEMO_BACKEND_DB": str(db)})
    backup = db.with_suffix(".backup")
    with sqlite3.connect(db) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    source.close()
    target.close()
    try:
        yield db
    finally:
        db.unlink(missing_ok=True)
        shutil.copyfile(backup, db)
        backup.unlink()


async def login(url: str, email: str, password: str) -> str:
    """``POST /api/login`` -> the agent's token."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/login", json={"email": email, "password": password}) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])


async def rest(url: str, token: str, path: str) -> dict[str, Any]:
    """GET an agent REST resource."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())


async def agent_console(url: str, token: str) -> Client:
    """An agent console on ``/agents`` (after its first queue snapshot)."""
    agent = Client("/agents")
    await agent.connect(url, {"token": token})
    await agent.wait_for("queue_snapshot")
    await agent.call("presence", {"status": "online"})  # a console signs in away
    return agent


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("released", flush=True)
"""


@asynccontextmanager
async def sqlite_write_lock(path: Path) -> AsyncIterator[subprocess.Popen[str]]:
    """Another process holds a write transaction (``BEGIN IMMEDIATE``) on ``path`` until the block ends.

    The event loop keeps running while the holder waits for its lock (the gateway under test may be writing).
    """
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert (await asyncio.to_thread(holder.stdout.readline)).strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.write("release\n")
            holder.stdin.flush()
            await asyncio.to_thread(holder.wait, 30)


__all__ = ["wait_until"]
