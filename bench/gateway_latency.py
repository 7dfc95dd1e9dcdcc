"""Gateway benchmark: added latency over a direct Rasa call, hand-off notify latency, human relay throughput.

Starts its own stack on loopback (the real action server and Rasa server with the trained model, and the
gateway as a separate ``python -m handoff`` process on a temporary SQLite file), measures, stops everything,
prints a markdown table and writes ``reports/bench/gateway.json`` (machine, versions, git commit, numbers).

1. Bot reply latency: the same first messages, alternately through the gateway (Socket.IO client, websocket,
   ``user_uttered`` -> first ``bot_uttered``) and straight to Rasa's REST webhook; p50/p95/p99 and the ratio.
2. Hand-off notify latency: a customer says "I want to talk to a human" -> the agent socket gets
   ``handoff_queued`` (end to end, and the gateway's part: from the bot's hand-off text to the agent).
3. Human relay: N conversations claimed by one agent; every customer sends M messages (each awaits its ack);
   messages/s until the agent has received all of them, and the per-message relay latency.

Every loop is bounded by counts and by a deadline. Usage: ``python -m bench.gateway_latency [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench.common import process_cpu_seconds, run_benchmark, stats, within
from bot.launcher import (
    GATEWAY_PYTHON,
    GATEWAY_TREE,
    ROOT,
    BotServers,
    GatewayProcess,
    start_bot_servers,
    start_gateway_process,
)

REPORT = ROOT / "reports" / "bench" / "gateway.json"
SEED = ROOT / "actions" / "backend" / "seed.json"
# First messages that the bot answers without handing off (a fresh conversation for each sample).
MESSAGES = (
    "hello",
    "I forgot my password",
    "what's my latest invoice",
    "I want to update my payment method",
    "I'd like to open an account",
)
HUMAN = "I want to talk to a human"
AGENT_EMAIL, AGENT_PASSWORD = "bench-agent@example.com", "bench-agent-pass"


# ---------------------------------------------------------------- numbers


@dataclass
class CpuMeter:
    """CPU seconds used during one phase by this load generator and by the servers."""

    pids: dict[str, int]
    phases: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure the block."""
        own, others = time.process_time(), {k: process_cpu_seconds(p) for k, p in self.pids.items()}
        wall = time.perf_counter()
        try:
            yield
        finally:
            result: dict[str, float | None] = {
                "wall_s": round(time.perf_counter() - wall, 3),
                "load_generator_cpu_s": round(time.process_time() - own, 3),
            }
            for key, pid in self.pids.items():
                before, after = others[key], process_cpu_seconds(pid)
                result[f"{key}_cpu_s"] = round(after - before, 3) if before is not None and after is not None else None
            self.phases[name] = result


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    """Bot servers plus a gateway subprocess."""

    servers: BotServers
    gateway: GatewayProcess

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return self.gateway.url

    def stop(self) -> None:
        """Terminate the gateway, then the bot servers."""
        self.gateway.stop()
        self.servers.stop()


def start_stack(workdir: Path) -> Stack:
    """Rasa + action server, then ``python -m handoff`` seeded with a high-capacity agent."""
    servers = start_bot_servers(workdir)
    try:
        gateway = start_gateway_process(
            workdir,
            servers,
            HANDOFF_SEED_PATH=str(SEED),
            # Hand-offs wait in the queue (the relay phase claims them itself).
            HANDOFF_AUTO_ASSIGN="0",
            # One load-generator socket sends far more than a person would: lift the per-connection flood limit.
            HANDOFF_RATE_LIMIT_EVENTS="1000000",
            # All load-generator sockets come from 127.0.0.1: lift the per-IP connection and event limits.
            HANDOFF_IP_CONNECTIONS="1000000",
            HANDOFF_IP_RATE_LIMIT_EVENTS="1000000",
        )
    except BaseException:
        servers.stop()
        raise
    stack = Stack(servers, gateway)
    try:
        env = {**os.environ, "DATABASE_URL": gateway.database_url}
        subprocess.run(
            [GATEWAY_PYTHON, "-m", "handoff", "agents", "add", "--email", AGENT_EMAIL, "--name", "Bench Agent",
             "--password", AGENT_PASSWORD, "--role", "lead", "--skills", "general,billing,technical",
             "--capacity", "1000"],
            cwd=GATEWAY_TREE, env=env, check=True, capture_output=True,
        )
    except BaseException:
        stack.stop()
        raise
    return stack


# ---------------------------------------------------------------- clients


class Customer:
    """A customer socket that can start fresh conversations and timestamps what it receives."""

    def __init__(self) -> None:
        """Not connected yet."""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirms: asyncio.Queue[str] = asyncio.Queue()
        self.replies: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("bot_uttered", self._reply)

    async def _confirm(self, sid: str) -> None:
        await self.confirms.put(sid)

    async def _reply(self, data: dict[str, Any]) -> None:
        await self.replies.put((time.perf_counter(), data))

    async def connect(self, url: str) -> None:
        """Websocket transport only."""
        await self.sio.connect(url, transports=["websocket"], auth={"protocol": "frontline.1"}, wait_timeout=10)

    async def new_conversation(self) -> str:
        """A fresh server-issued session."""
        await self.sio.emit("session_request", {"session_id": None})
        return await asyncio.wait_for(self.confirms.get(), 10)

    def drain(self) -> None:
        """Forget replies of earlier conversations."""
        while not self.replies.empty():
            self.replies.get_nowait()

    async def next_bot_reply(self, timeout: float) -> float:
        """perf_counter time of the next bot (not system) ``bot_uttered``."""
        deadline = time.perf_counter() + timeout
        while True:
            at, data = await asyncio.wait_for(self.replies.get(), max(0.01, deadline - time.perf_counter()))
            if (data.get("metadata") or {}).get("sender") == "bot":
                return at


class Agent:
    """An agent socket on ``/agents`` that timestamps hand-offs and customer messages."""

    def __init__(self) -> None:
        """Not connected yet."""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queued: dict[str, float] = {}
        self.received: dict[tuple[str, str], float] = {}
        self.changed = asyncio.Event()
        self.sio.on("handoff_queued", self._queued, namespace="/agents")
        self.sio.on("customer_message", self._message, namespace="/agents")

    async def _queued(self, data: dict[str, Any]) -> None:
        self.queued[data["conversation_id"]] = time.perf_counter()
        self.changed.set()

    async def _message(self, data: dict[str, Any]) -> None:
        self.received[(data["conversation_id"], data["message"].get("text") or "")] = time.perf_counter()
        self.changed.set()

    async def connect(self, url: str) -> None:
        """Log in over REST, then open the socket with the token."""
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/login", json={"email": AGENT_EMAIL, "password": AGENT_PASSWORD}) as r:
                r.raise_for_status()
                token = (await r.json())["token"]
        await self.sio.connect(url, namespaces=["/agents"], transports=["websocket"], auth={"token": token}, wait_timeout=10)

    async def wait(self, done: Callable[[], bool], timeout: float) -> None:
        """Until ``done()`` holds (or raise TimeoutError)."""
        deadline = time.perf_counter() + timeout
        while not done():
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise asyncio.TimeoutError
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def call(self, event: str, data: dict[str, Any]) -> Any:
        """Emit with an ack."""
        return await self.sio.call(event, data, namespace="/agents", timeout=30)


# ---------------------------------------------------------------- phases


async def bot_latency(stack: Stack, samples: int, warmup: int) -> dict[str, Any]:
    """Same first messages via the gateway and directly to Rasa, interleaved."""
    customer = Customer()
    await customer.connect(stack.url)
    via_gateway: list[float] = []
    direct: list[float] = []
    webhook = f"{stack.servers.rasa_url}/webhooks/rest/webhook"
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(warmup + samples):
                text = MESSAGES[i % len(MESSAGES)]
                sid = await customer.new_conversation()
                customer.drain()
                start = time.perf_counter()
                await customer.sio.emit("user_uttered", {"message": text, "session_id": sid})
                gateway_ms = (await customer.next_bot_reply(30) - start) * 1000
                # The same message to Rasa's REST webhook, as the gateway sends it (new conversation, metadata).
                body = {
                    "sender": f"bench-{secrets.token_hex(12)}",
                    "message": text,
                    "metadata": {"channel": "widget", "conversation_id": None, "customer": None},
                }
                start = time.perf_counter()
                async with http.post(webhook, json=body, params={"token": stack.servers.token}) as response:
                    response.raise_for_status()
                    replies = await response.json()
                direct_ms = (time.perf_counter() - start) * 1000
                if not replies:
                    raise RuntimeError(f"Rasa gave no reply to {text!r}")
                if i >= warmup:
                    via_gateway.append(gateway_ms)
                    direct.append(direct_ms)
    finally:
        await customer.sio.disconnect()
    g, d = stats(via_gateway), stats(direct)
    return {
        "messages": list(MESSAGES),
        "gateway_ms": g,
        "direct_rasa_ms": d,
        "ratio": {q: round(float(g[q]) / float(d[q]), 3) for q in ("p50", "p95", "p99")},
        "added_ms": {q: round(float(g[q]) - float(d[q]), 2) for q in ("p50", "p95", "p99")},
    }


async def handoff_notify(stack: Stack, agent: Agent, samples: int) -> dict[str, Any]:
    """Customer asks for a person -> the agent's ``handoff_queued``."""
    customer = Customer()
    await customer.connect(stack.url)
    total: list[float] = []
    gateway_part: list[float] = []
    try:
        for _ in range(samples):
            sid = await customer.new_conversation()
            customer.drain()
            start = time.perf_counter()
            await customer.sio.emit("user_uttered", {"message": HUMAN, "session_id": sid})
            bot_text_at = await customer.next_bot_reply(30)
            await agent.wait(lambda sid=sid: sid in agent.queued, 30)  # type: ignore[misc]
            total.append((agent.queued[sid] - start) * 1000)
            gateway_part.append((agent.queued[sid] - bot_text_at) * 1000)
    finally:
        await customer.sio.disconnect()
    return {"message": HUMAN, "end_to_end_ms": stats(total), "after_bot_reply_ms": stats(gateway_part)}


async def relay(stack: Stack, agent: Agent, conversations: int, per_conversation: int) -> dict[str, Any]:
    """N claimed conversations; every customer sends M messages (awaiting acks); the agent receives them all."""
    customers = [Customer() for _ in range(conversations)]
    await asyncio.gather(*(c.connect(stack.url) for c in customers))
    try:
        sids = [await c.new_conversation() for c in customers]
        await asyncio.gather(
            *(c.sio.emit("user_uttered", {"message": HUMAN, "session_id": s}) for c, s in zip(customers, sids, strict=True))
        )
        await agent.wait(lambda: all(s in agent.queued for s in sids), 120)
        for sid in sids:
            result = await agent.call("claim", {"conversation_id": sid})
            if not result.get("ok"):
                raise RuntimeError(f"claim failed: {result}")
        sent: dict[tuple[str, str], float] = {}

        async def talk(customer: Customer, sid: str) -> None:
            for k in range(per_conversation):
                text = f"relay {k} {sid[:8]}"
                sent[(sid, text)] = time.perf_counter()
                ack = await customer.sio.call("user_uttered", {"message": text, "session_id": sid}, timeout=30)
                if "seq" not in ack:
                    raise RuntimeError(f"message refused: {ack}")

        expected = conversations * per_conversation
        start = time.perf_counter()
        await asyncio.gather(*(talk(c, s) for c, s in zip(customers, sids, strict=True)))
        await agent.wait(lambda: sum(1 for key in sent if key in agent.received) >= expected, 60)
        last = max(agent.received[key] for key in sent)
        elapsed = last - start
        latencies = [(agent.received[key] - at) * 1000 for key, at in sent.items()]
    finally:
        await asyncio.gather(*(c.sio.disconnect() for c in customers), return_exceptions=True)
    return {
        "conversations": conversations,
        "messages_per_conversation": per_conversation,
        "messages": expected,
        "elapsed_s": round(elapsed, 3),
        "messages_per_second": round(expected / elapsed, 1),
        "relay_latency_ms": stats(latencies),
    }


# ---------------------------------------------------------------- report


def table(result: dict[str, Any]) -> str:
    """The numbers as a markdown table."""
    lat, notify, rel = result["bot_latency"], result["handoff_notify"], result["relay"]
    g, d = lat["gateway_ms"], lat["direct_rasa_ms"]

    def row(name: str, s: dict[str, Any]) -> str:
        return f"| {name} | {s['p50']} | {s['p95']} | {s['p99']} | {s['n']} |"

    rows = [
        "| measure (ms unless noted) | p50 | p95 | p99 | n |",
        "|---|---|---|---|---|",
        row("bot reply through the gateway (Socket.IO)", g),
        row("bot reply, direct POST to Rasa REST webhook", d),
        f"| ratio gateway / direct | {lat['ratio']['p50']} | {lat['ratio']['p95']} | {lat['ratio']['p99']} | |",
        f"| added by the gateway | {lat['added_ms']['p50']} | {lat['added_ms']['p95']} | {lat['added_ms']['p99']} | |",
        row("hand-off notify: customer sends -> agent gets handoff_queued", notify["end_to_end_ms"]),
        row("hand-off notify, gateway part: bot's hand-off text -> agent", notify["after_bot_reply_ms"]),
        row(f"human relay customer -> agent ({rel['conversations']} conversations)", rel["relay_latency_ms"]),
    ]
    cpu = result["cpu"]
    lines = [
        "\n".join(rows),
        "",
        f"Human relay throughput: **{rel['messages_per_second']} messages/s** customer -> agent "
        f"({rel['conversations']} concurrent conversations x {rel['messages_per_conversation']} messages, "
        f"{rel['elapsed_s']} s).",
        "",
        "| phase | wall s | load generator CPU s | gateway CPU s | Rasa CPU s | action server CPU s |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {p['wall_s']} | {p['load_generator_cpu_s']} | {p.get('gateway_cpu_s')} | "
            f"{p.get('rasa_cpu_s')} | {p.get('actions_cpu_s')} |"
            for name, p in cpu.items()
        ),
        "",
        f"Machine: {result['machine']['cpus']} x {result['machine']['cpu']}, {result['machine']['memory_gb']} GB; "
        f"everything (load generator, gateway, Rasa, action server) on loopback on this machine. "
        f"Commit {result['git']['commit'][:10]}{' (dirty)' if result['git']['dirty'] else ''}.",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """All three phases, each under its deadline."""
    meter = CpuMeter(
        {
            "gateway": stack.gateway.process.pid,
            "actions": stack.servers.processes[0].pid,
            "rasa": stack.servers.processes[1].pid,
        }
    )
    agent = Agent()
    await agent.connect(stack.url)
    try:
        with meter.phase("bot latency"):
            latency = await within(120, "bot latency", bot_latency(stack, args.samples, args.warmup))
        with meter.phase("hand-off notify"):
            notify = await within(60, "hand-off notify", handoff_notify(stack, agent, args.handoffs))
        with meter.phase("human relay"):
            relayed = await within(120, "human relay", relay(stack, agent, args.conversations, args.messages))
    finally:
        await agent.sio.disconnect()
    return {"bot_latency": latency, "handoff_notify": notify, "relay": relayed, "cpu": meter.phases}


def main(argv: list[str] | None = None) -> int:
    """Start the stack, measure, stop, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="bot-latency pairs (gateway + direct)")
    parser.add_argument("--warmup", type=int, default=10, help="pairs sent first and not counted")
    parser.add_argument("--handoffs", type=int, default=30, help="hand-off notify samples")
    parser.add_argument("--conversations", type=int, default=50, help="concurrent human conversations")
    parser.add_argument("--messages", type=int, default=40, help="messages per human conversation")
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.warmup, args.handoffs, args.conversations, args.messages = 10, 2, 5, 5, 5
    config = {
        "samples": args.samples,
        "warmup": args.warmup,
        "handoffs": args.handoffs,
        "conversations": args.conversations,
        "messages_per_conversation": args.messages,
        "database": "SQLite (WAL) in a temporary folder",
        "transport": "Socket.IO websocket",
    }

    def measure(tmp: Path) -> dict[str, Any]:
        wall = time.perf_counter()
        print("starting Rasa, the action server and the gateway on loopback...", flush=True)
        stack = start_stack(tmp)
        try:
            print(f"stack up in {time.perf_counter() - wall:.0f}s; measuring...", flush=True)
            return asyncio.run(run(args, stack))
        finally:
            stack.stop()

    return run_benchmark("gateway", "gateway_latency", argv, measure, config, table, args.out)


if __name__ == "__main__":
    sys.exit(main())
