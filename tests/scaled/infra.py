"""Throwaway PostgreSQL databases and Redis servers/prefixes for the scaled-mode tests (always cleaned up)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.handoff.helpers import Client, Running, wait_until

PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def pg_up() -> bool:
    """Whether the local PostgreSQL accepts connections."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def redis_up(port: int = 6379) -> bool:
    """Whether a Redis answers on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# Scaled mode is tested for real: a missing PostgreSQL or Redis fails the test with how to start it (never a skip).
needs_pg = pytest.mark.usefixtures("postgresql_running")
needs_redis = pytest.mark.usefixtures("redis_running")
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


async def create_database() -> str:
    """CREATE DATABASE with a random name; returns its SQLAlchemy asyncpg URL."""
    name = f"handoff_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(url: str) -> None:
    """Drop the database of ``url`` (terminating leftover connections first)."""
    name = url.rsplit("/", 1)[-1]
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def free_port() -> int:
    """An unused TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OwnRedis:
    """A private redis-server on a free port, so a test can kill and restart it without touching the shared one."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Connection URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) on the same port; wait until it answers PING."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server not installed"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_up(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("own redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL (a crash, not a clean shutdown)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@contextmanager
def own_redis(workdir: Path) -> Iterator[OwnRedis]:
    """A private Redis for one test, killed at the end."""
    r = OwnRedis(free_port(), workdir)
    r.start()
    try:
        yield r
    finally:
        r.kill()


async def live_chat(a: Running, b: Running) -> tuple[Client, Client, str]:
    """A customer on gateway A, auto-assigned to an agent (Lena) on gateway B; both sides confirmed."""
    lena = await b.add_agent("lena@example.com", name="Lena Park")
    agent = await b.agent_client(lena)
    customer = await a.customer()
    await customer.say("human")
    await customer.wait_for("agent_joined")
    sid = str(customer.of("session_confirm")[-1])
    await agent.wait_for("assigned", lambda d: d["conversation_id"] == sid)
    return customer, agent, sid


__all__ = ["live_chat", "wait_until"]
