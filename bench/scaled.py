"""Scaled-mode benchmark: gateways on PostgreSQL + Redis, measured beside their baselines in the same run.

Starts everything itself on loopback (a stub Rasa that hands every conversation off, one or two
``python -m handoff`` processes on a throwaway PostgreSQL database and a private Redis channel, and a bare
python-socketio relay as the baseline), measures, stops everything, writes ``reports/bench/scaled.json``:

1. Throughput of one vs two gateways on Redis: N human conversations, every customer sends M messages
   (awaiting acks); two agents receive them. One gateway: everybody on it. Two gateways: customers on one,
   their agent on the other (every message crosses Redis). Messages/s and the ratio.
2. Human relay latency customer -> agent at high concurrency (1,000 claimed conversations, each customer
   writing every 10 s: a steady 100 messages/s), the gateway vs the bare relay under the same load (p50/p95/p99).
3. Idle widgets held by one gateway: connected sockets that sent ``session_request``; gateway RSS growth per
   connection (KB).
The load generator (this process) reports its own CPU beside the servers'. Usage:
``python -m bench.scaled [--quick]``. PostgreSQL on 127.0.0.1:5432 and Redis on :6379 are needed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import socketio
from redis import asyncio as aioredis

from bench.common import machine_cpu_seconds, process_cpu_seconds, run_benchmark, stats, within
from bot.launcher import GATEWAY_PYTHON, GATEWAY_TREE, ROOT, free_port, wait_until_up

REPORT = ROOT / "reports" / "bench" / "scaled.json"
PG_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = PG_DSN.split("@", 1)[1].rsplit("/", 1)[0]
PG_USER = PG_DSN.split("//", 1)[1].split("@", 1)[0]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "bench-agent-pass"
CONNECT_TIMEOUT = 30


def rss_kb(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Cpu:
    """CPU seconds of this load generator and of the server processes during one phase."""

    pids: dict[str, int]
    phases: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure the block."""
        own, wall = time.process_time(), time.perf_counter()
        busy, total = machine_cpu_seconds()
        before = {k: process_cpu_seconds(p) for k, p in self.pids.items()}
        try:
            yield
        finally:
            busy_after, total_after = machine_cpu_seconds()
            result: dict[str, float | None] = {
                "wall_s": round(time.perf_counter() - wall, 3),
                "load_generator_cpu_s": round(time.process_time() - own, 3),
                # Everything on the machine (PostgreSQL and Redis too): near 100 %, the machine is the limit.
                "machine_cpu_busy_pct": round(100 * (busy_after - busy) / max(total_after - total, 1e-9), 1),
            }
            for key, pid in self.pids.items():
                after = process_cpu_seconds(pid)
                b = before[key]
                result[f"{key}_cpu_s"] = round(after - b, 3) if after is not None and b is not None else None
            self.phases[name] = result


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    """Stub Rasa, gateways, bare relay, and the throwaway database and Redis channel."""

    workdir: Path
    database: str
    channel: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def spawn(self, name: str, args: list[str], env: dict[str, str], health: str, cwd: Path = ROOT) -> str:
        """Start a process (from ``cwd``) on a free port and wait for its health URL."""
        port = free_port()
        log = self.workdir / f"{name}.log"
        full = [a.replace("{port}", str(port)) for a in args]
        process = subprocess.Popen(
            full, cwd=cwd, env={**env, "HANDOFF_PORT": str(port)}, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}{health}", process, log)
        self.urls[name] = url
        return url

    def stop(self) -> None:
        """Terminate every process."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def start_stack(workdir: Path, gateways: int) -> Stack:
    """Database, stub Rasa, agents, ``gateways`` gateways and the bare relay."""
    database = f"handoff_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    channel = f"handoff-bench-{uuid.uuid4().hex[:8]}"
    python = GATEWAY_PYTHON
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}/{database}",
        "REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL": channel,
        "IDENTITY_SECRET": secrets.token_hex(16),
        "TOKEN_SECRET": secrets.token_hex(16),
        "VOUCH_SECRET": secrets.token_hex(16),
        "RASA_TOKEN": secrets.token_hex(16),
        "HANDOFF_AUTO_ASSIGN": "0",
        "HANDOFF_RATE_LIMIT_EVENTS": "1000000",
        # Every simulated customer connects from 127.0.0.1: lift the per-IP limits too.
        "HANDOFF_IP_CONNECTIONS": "1000000",
        "HANDOFF_IP_RATE_LIMIT_EVENTS": "1000000",
        "HANDOFF_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(workdir, database, channel, env)
    stack.spawn("rasa", [python, "-m", "bench.stub_rasa", "{port}"], env, "/")
    env["RASA_URL"] = stack.urls["rasa"]
    for i in range(2):
        subprocess.run(
            [python, "-m", "handoff", "agents", "add", "--email", f"bench{i}@example.com", "--name", f"Bench {i}",
             "--password", PASSWORD, "--role", "lead", "--capacity", "100000"],
            cwd=GATEWAY_TREE, env=env, check=True, capture_output=True,
        )
    for i in range(gateways):  # one after the other: the first one runs the migrations
        stack.spawn(f"gateway{i}", [python, "-m", "handoff"], env, "/healthz", cwd=GATEWAY_TREE)
    stack.spawn("bare", [python, "-m", "bench.echo_server", "{port}"], env, "/healthz")
    return stack


async def drop_stack(stack: Stack) -> None:
    """Stop processes, drop the database, delete the Redis keys."""
    stack.stop()
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{stack.database}"')
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{stack.channel}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# ---------------------------------------------------------------- clients


class Agent:
    """An agent socket that timestamps every customer message (or bare ``relayed`` message) it receives."""

    def __init__(self, namespace: str = "/agents", event: str = "customer_message") -> None:
        """Not connected yet."""
        self.ns = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, float] = {}
        self.queued: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.sio.on(event, self._message, namespace=namespace)
        self.sio.on("handoff_queued", self._queued, namespace=namespace)

    async def _message(self, data: dict[str, Any]) -> None:
        text = data["message"]["text"] if "message" in data else data["text"]
        self.received[text] = time.perf_counter()
        self.changed.set()

    async def _queued(self, data: dict[str, Any]) -> None:
        self.queued[data["conversation_id"]] = time.perf_counter()
        self.changed.set()

    async def connect(self, url: str, email: str | None = None) -> None:
        """Log in (gateway) and connect with the websocket transport."""
        auth = None
        if email:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{url}/api/login", json={"email": email, "password": PASSWORD}) as r:
                    r.raise_for_status()
                    auth = {"token": (await r.json())["token"]}
        await self.sio.connect(url, namespaces=[self.ns], transports=["websocket"], auth=auth,
                               wait_timeout=CONNECT_TIMEOUT)

    async def wait(self, done: Callable[[], bool], timeout: float) -> None:
        """Until ``done()`` holds."""
        deadline = time.perf_counter() + timeout
        while not done():
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise asyncio.TimeoutError
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


async def connect_all(clients: list[socketio.AsyncClient], urls: list[str], batch: int = 200) -> None:
    """Connect clients (websocket, raised connect timeout) in batches so the listen backlog keeps up."""
    for start in range(0, len(clients), batch):
        await asyncio.gather(
            *(
                c.connect(urls[(start + i) % len(urls)], transports=["websocket"], auth={"protocol": "frontline.1"},
                          wait_timeout=CONNECT_TIMEOUT)
                for i, c in enumerate(clients[start : start + batch])
            )
        )


async def new_session(client: socketio.AsyncClient) -> str:
    """session_request -> the server-issued id (the ack carries it)."""
    result = await client.call("session_request", {"session_id": None}, timeout=30)
    return str(result["session_id"])


async def human_conversations(customer_urls: list[str], agents: list[tuple[Agent, str]], n: int) -> list[
    tuple[socketio.AsyncClient, str, Agent]
]:
    """N customers (round-robin over ``customer_urls``) handed off and claimed by agents (round-robin)."""
    customers = [socketio.AsyncClient(reconnection=False) for _ in range(n)]
    await connect_all(customers, customer_urls)
    sids = []
    for start in range(0, n, 200):
        sids += await asyncio.gather(*(new_session(c) for c in customers[start : start + 200]))
    for start in range(0, n, 200):
        await asyncio.gather(
            *(
                c.call("user_uttered", {"message": "a person please", "session_id": s}, timeout=60)
                for c, s in zip(customers[start : start + 200], sids[start : start + 200], strict=True)
            )
        )
    first = agents[0][0]
    await first.wait(lambda: all(s in first.queued for s in sids), 120)
    result = []
    for i, (customer, sid) in enumerate(zip(customers, sids, strict=True)):
        agent = agents[i % len(agents)][0]
        claim = await agent.sio.call("claim", {"conversation_id": sid}, namespace="/agents", timeout=60)
        if not claim.get("ok"):
            raise RuntimeError(f"claim failed: {claim}")
        result.append((customer, sid, agent))
    return result


async def talk(
    conversations: list[tuple[socketio.AsyncClient, str, Agent]], per: int, bare: bool = False, interval: float = 0.0
) -> dict[str, Any]:
    """Every customer sends ``per`` messages (awaiting each ack); until the agents received all of them.

    ``interval`` 0: as fast as the acks come back (saturation). Otherwise each customer writes every ``interval``
    seconds from a random start within the first interval (a steady offered load of N / interval messages/s).
    """
    sent: dict[str, tuple[float, Agent]] = {}
    pacing = random.Random(7)
    offsets = [pacing.uniform(0, interval) for _ in conversations]
    origin = time.perf_counter()

    async def one(j: int, customer: socketio.AsyncClient, sid: str, agent: Agent) -> None:
        for k in range(per):
            if interval:
                await asyncio.sleep(max(0.0, origin + offsets[j] + k * interval - time.perf_counter()))
            text = f"message {k} from customer {j}"  # plain words: ids would be redacted as secrets
            sent[text] = (time.perf_counter(), agent)
            try:
                if bare:
                    await customer.call("msg", {"text": text}, timeout=60)
                else:
                    ack = await customer.call("user_uttered", {"message": text, "session_id": sid}, timeout=60)
                    if "seq" not in ack:
                        raise RuntimeError(f"refused: {ack}")
            except socketio.exceptions.TimeoutError as exc:
                state = "still connected" if customer.connected else "disconnected"
                raise RuntimeError(f"customer {j} (conversation {sid}, {state}): no ack for message {k} in 60 s") from exc

    start = time.perf_counter()
    await asyncio.gather(*(one(j, c, s, a) for j, (c, s, a) in enumerate(conversations)))
    agents = {id(a): a for _, _, a in conversations}.values()
    for agent in agents:
        await agent.wait(lambda a=agent: all(t in a.received for t, (_, ag) in sent.items() if ag is a), 120)
    last = max(at for t, (_, ag) in sent.items() for at in [ag.received[t]])
    latencies = [(ag.received[t] - at) * 1000 for t, (at, ag) in sent.items()]
    elapsed = last - start
    return {
        "conversations": len(conversations),
        "offered_messages_per_second": round(len(conversations) / interval, 1) if interval else None,
        "messages": len(sent),
        "elapsed_s": round(elapsed, 3),
        "messages_per_second": round(len(sent) / elapsed, 1),
        "latency_ms": stats(latencies),
    }


async def disconnect(conversations: list[tuple[socketio.AsyncClient, str, Agent]]) -> None:
    """Close the customers' sockets."""
    await asyncio.gather(*(c.disconnect() for c, _, _ in conversations), return_exceptions=True)


# ---------------------------------------------------------------- phases


async def throughput(stack: Stack, gateways: list[str], n: int, per: int, interval: float = 0.0) -> dict[str, Any]:
    """Two agents; with two gateways every customer talks to an agent on the other gateway (through Redis).

    One gateway: everybody on it. Two: agent i on gateway i, customer j on gateway j % 2, served by agent
    (j + 1) % 2.
    """
    agents = [Agent(), Agent()]
    for i, a in enumerate(agents):
        await a.connect(gateways[i % len(gateways)], f"bench{i}@example.com")
    try:
        order = [(agents[1], ""), (agents[0], "")] if len(gateways) == 2 else [(a, "") for a in agents]
        conversations = await human_conversations(gateways, order, n)
        try:
            return await talk(conversations, per, interval=interval)
        finally:
            await disconnect(conversations)
    finally:
        for a in agents:
            await a.sio.disconnect()


async def handoff_notify(customer_url: str, agent_url: str, samples: int) -> dict[str, Any]:
    """One customer at a time asks for a person on one gateway; an agent on the other gets ``handoff_queued``.

    The stub Rasa hands off at once, so this is the gateways' part: store, queue, summary, Redis, agent socket.
    """
    agent = Agent()
    await agent.connect(agent_url, "bench0@example.com")
    customer = socketio.AsyncClient(reconnection=False)
    await customer.connect(customer_url, transports=["websocket"], auth={"protocol": "frontline.1"},
                           wait_timeout=CONNECT_TIMEOUT)
    latencies = []
    try:
        for _ in range(samples):
            sid = await new_session(customer)
            start = time.perf_counter()
            await customer.call("user_uttered", {"message": "a person please", "session_id": sid}, timeout=30)
            await agent.wait(lambda sid=sid: sid in agent.queued, 30)  # type: ignore[misc]
            latencies.append((agent.queued[sid] - start) * 1000)
    finally:
        await customer.disconnect()
        await agent.sio.disconnect()
    return {"samples": samples, "customer_on": "gateway0", "agent_on": "gateway1", "latency_ms": stats(latencies)}


async def bare_relay(url: str, n: int, per: int, interval: float) -> dict[str, Any]:
    """The same load on the bare python-socketio relay."""
    agent = Agent(namespace="/", event="relayed")
    await agent.connect(url)
    await agent.sio.call("join", {}, timeout=10)
    customers = [socketio.AsyncClient(reconnection=False) for _ in range(n)]
    await connect_all(customers, [url])
    conversations = [(c, uuid.uuid4().hex[:12], agent) for c in customers]
    try:
        return await talk(conversations, per, bare=True, interval=interval)
    finally:
        await disconnect(conversations)
        await agent.sio.disconnect()


async def idle_connections(stack: Stack, url: str, pid: int, n: int) -> dict[str, Any]:
    """N idle widgets (connected + session_request) held by one gateway; its RSS growth per connection."""
    await asyncio.sleep(1)
    before = rss_kb(pid)
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(n)]
    start = time.perf_counter()
    await connect_all(clients, [url])
    for i in range(0, n, 200):
        await asyncio.gather(*(new_session(c) for c in clients[i : i + 200]))
    connect_s = time.perf_counter() - start
    await asyncio.sleep(2)
    after = rss_kb(pid)
    held = sum(1 for c in clients if c.connected)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    return {
        "connections": n,
        "held": held,
        "connect_and_session_s": round(connect_s, 1),
        "gateway_rss_before_mb": round(before / 1024, 1),
        "gateway_rss_after_mb": round(after / 1024, 1),
        "kb_per_connection": round((after - before) / max(held, 1), 1),
    }


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """All phases; each stack is dropped at the end."""
    result: dict[str, Any] = {}
    stack = await start_stack(workdir, 2)
    try:
        g0, g1 = stack.urls["gateway0"], stack.urls["gateway1"]
        cpu = Cpu({name: p.pid for name, p in stack.processes.items()})
        with cpu.phase("throughput, one gateway"):
            one = await within(300, "one gateway", throughput(stack, [g0], args.conversations, args.messages))
        with cpu.phase("throughput, two gateways"):
            two = await within(300, "two gateways", throughput(stack, [g0, g1], args.conversations, args.messages))
        result["throughput"] = {
            "one_gateway": one,
            "two_gateways": two,
            "ratio": round(two["messages_per_second"] / one["messages_per_second"], 2),
            "target": ">= 1.6",
        }
        with cpu.phase("relay at high concurrency, gateway"):
            gw = await within(
                900, "relay", throughput(stack, [g0], args.concurrency, args.relay_messages, args.relay_interval)
            )
        with cpu.phase("relay at high concurrency, bare python-socketio"):
            bare = await within(
                600, "bare relay", bare_relay(stack.urls["bare"], args.concurrency, args.relay_messages, args.relay_interval)
            )
        result["relay"] = {
            "gateway": gw,
            "bare_python_socketio": bare,
            "p99_ratio": round(gw["latency_ms"]["p99"] / bare["latency_ms"]["p99"], 2),
            "target": "<= 1.5",
        }
        with cpu.phase("hand-off notify across gateways"):
            result["handoff_notify"] = await within(300, "hand-off notify", handoff_notify(g0, g1, args.handoffs))
        with cpu.phase("idle connections"):
            result["idle"] = await within(
                600, "idle", idle_connections(stack, g1, stack.processes["gateway1"].pid, args.idle)
            )
        result["idle"]["target_kb"] = 60
        result["cpu"] = cpu.phases
    finally:
        await drop_stack(stack)
    return result


def table(r: dict[str, Any]) -> str:
    """Markdown summary."""
    t, rel, idle, notify = r["throughput"], r["relay"], r["idle"], r["handoff_notify"]["latency_ms"]
    lines = [
        "| measure | value | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| human relay throughput, two gateways on Redis vs one (msgs/s) | {t['two_gateways']['messages_per_second']}"
        f" | {t['one_gateway']['messages_per_second']} | {t['ratio']} | >= 1.6 |",
        f"| relay p99 at {rel['gateway']['conversations']} conversations, "
        f"{rel['gateway']['offered_messages_per_second']} msgs/s offered, vs bare python-socketio (ms) | "
        f"{rel['gateway']['latency_ms']['p99']} | {rel['bare_python_socketio']['latency_ms']['p99']} | "
        f"{rel['p99_ratio']} | <= 1.5 |",
        f"| relay p50 (ms) | {rel['gateway']['latency_ms']['p50']} | {rel['bare_python_socketio']['latency_ms']['p50']}"
        f" | | |",
        f"| hand-off notify, customer on gateway0 -> agent on gateway1, p50 / p99 (ms) | {notify['p50']} / "
        f"{notify['p99']} | | | |",
        f"| idle widgets held by one gateway / memory per connection (KB) | {idle['held']} / "
        f"{idle['kb_per_connection']} | | | 5,000 at <= 60 KB |",
        "",
        "| phase | wall s | machine CPU busy % (all cores) | load generator CPU s | gateway0 CPU s | gateway1 CPU s "
        "| bare CPU s |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {p['wall_s']} | {p.get('machine_cpu_busy_pct')} | {p['load_generator_cpu_s']} | "
            f"{p.get('gateway0_cpu_s')} | {p.get('gateway1_cpu_s')} | {p.get('bare_cpu_s')} |"
            for name, p in r["cpu"].items()
        ),
        "",
        f"Machine: {r['machine']['cpus']} x {r['machine']['cpu']}, {r['machine']['memory_gb']} GB; load generator, "
        f"gateways, PostgreSQL and Redis on loopback on this machine. Commit {r['git']['commit'][:10]}"
        f"{' (dirty)' if r['git']['dirty'] else ''}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start, measure, stop, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaled", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200, help="throughput: concurrent conversations")
    parser.add_argument("--messages", type=int, default=20, help="throughput: messages per conversation")
    parser.add_argument("--concurrency", type=int, default=1000, help="relay latency: concurrent conversations")
    parser.add_argument("--relay-interval", type=float, default=10.0,
                        help="relay latency: seconds between two messages of one customer (people type slowly)")
    parser.add_argument("--relay-messages", type=int, default=3, help="relay latency: messages per conversation")
    parser.add_argument("--idle", type=int, default=5000, help="idle widgets held by one gateway")
    parser.add_argument("--handoffs", type=int, default=100, help="hand-off notify samples (one at a time)")
    parser.add_argument("--quick", action="store_true", help="small counts (under a few minutes)")
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if args.quick:
        args.conversations, args.messages, args.concurrency, args.idle, args.handoffs = 50, 10, 200, 1000, 30
    config = {
        "conversations": args.conversations,
        "messages_per_conversation": args.messages,
        "relay_concurrency": args.concurrency,
        "relay_interval_s": args.relay_interval,
        "relay_messages_per_conversation": args.relay_messages,
        "idle_connections": args.idle,
        "handoff_notify_samples": args.handoffs,
        "database": "PostgreSQL (throwaway database)",
        "socketio_manager": "BufferedRedisManager (python-socketio AsyncRedisManager with an outbox)",
        "transport": "Socket.IO websocket",
        "bot": "stub Rasa (hands every conversation off)",
    }
    return run_benchmark("scaled", "scaled", argv, lambda tmp: asyncio.run(measure(args, tmp)), config, table, args.out)


if __name__ == "__main__":
    sys.exit(main())
