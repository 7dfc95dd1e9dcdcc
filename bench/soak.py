"""Soak: N minutes of mixed traffic through a real gateway process in front of the real bot, with periodic faults.

Customers chat with the trained bot (password resets) or ask for a person; agents (auto-assigned) reply and
resolve; every few minutes the gateway is SIGKILLed and started again on its SQLite file, and agent sockets are
dropped now and then. Clients reconnect like the widget and the console do (customers with ``last_seq``, agents
reload the conversation) and retry unacknowledged sends with the same ``client_id``.

The ledger check at the end: every acknowledged message (customer and agent) is in the transcript exactly once,
in order, and was delivered to its recipient (seen live or on replay). ``reports/soak/soak.json`` + ``soak.md``.

    python -m bench.soak --minutes 5        (or SOAK_MINUTES=5 make soak)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench.common import environment
from bot.launcher import ROOT, BotServers, GatewayProcess, start_bot_servers, start_gateway_process

OUT = ROOT / "reports" / "soak"
AGENTS = (("lena@example.com", "lena-demo-pass"), ("omar@example.com", "omar-demo-pass"))
BOT_WAIT = 30.0
EMAILS = ("ana.ortiz@example.com", "ben.carter@example.com", "chloe.nguyen@megacorp.example")


@dataclass
class Stack:
    """The gateway process of the moment (it changes at every restart)."""

    workdir: Path
    servers: BotServers
    env: dict[str, str]
    gateway: GatewayProcess | None = None
    up: asyncio.Event = field(default_factory=asyncio.Event)
    restarts: int = 0

    def start(self) -> None:
        """Start (or restart) the gateway on the same SQLite file and secrets."""
        self.gateway = start_gateway_process(self.workdir, self.servers, **self.env)
        self.up.set()

    @property
    def url(self) -> str:
        """Current base URL."""
        assert self.gateway is not None
        return self.gateway.url

    @property
    def db(self) -> Path:
        """The gateway's SQLite file."""
        return self.workdir / "handoff.db"


@dataclass
class Ledger:
    """What clients were told was stored (acks) and what they saw, per conversation."""

    customer_acks: dict[str, dict[int, str]] = field(default_factory=dict)
    agent_acks: dict[str, dict[int, str]] = field(default_factory=dict)
    customer_seen: dict[str, set[int]] = field(default_factory=dict)
    customer_replayed: dict[str, set[int]] = field(default_factory=dict)
    agent_seen: dict[str, set[int]] = field(default_factory=dict)
    agent_reloaded: dict[str, set[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def bump(self, key: str, n: int = 1) -> None:
        """Count an occurrence."""
        self.counts[key] = self.counts.get(key, 0) + n


class Customer:
    """A widget: reconnects to the current gateway with ``last_seq``; retries a send with the same client id."""

    def __init__(self, stack: Stack, ledger: Ledger) -> None:
        """Not connected."""
        self.stack, self.ledger = stack, ledger
        self.sio: socketio.AsyncClient | None = None
        self.sid: str | None = None
        self.state = "bot"
        self.new = asyncio.Event()
        self.seen: dict[int, dict[str, Any]] = {}

    def _on_message(self, data: Any, replayed: bool) -> None:
        if not isinstance(data, dict) or "seq" not in data or self.sid is None:
            return
        self.seen[data["seq"]] = data
        (self.ledger.customer_replayed if replayed else self.ledger.customer_seen).setdefault(self.sid, set()).add(
            data["seq"]
        )
        self.new.set()

    async def connect(self) -> None:
        """(Re)connect and bind the session, replaying what was missed."""
        while True:
            await self.stack.up.wait()
            sio = socketio.AsyncClient(reconnection=False)
            confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            sio.on("bot_uttered", lambda d: self._on_message(d, False))
            sio.on("history", lambda d: [self._on_message(m, True) for m in (d or {}).get("messages", [])])

            def on_state(d: Any) -> None:
                self.state = d.get("state", self.state) if isinstance(d, dict) else self.state
                self.new.set()

            def on_confirm(d: Any, confirmed: asyncio.Future[str] = confirmed) -> None:
                if not confirmed.done():
                    confirmed.set_result(str(d))

            sio.on("conversation_state", on_state)
            sio.on("session_confirm", on_confirm)
            try:
                await sio.connect(self.stack.url, transports=["websocket"], auth={"protocol": "frontline.1"}, wait_timeout=5)
                last = max(self.seen, default=0)
                await sio.emit("session_request", {"session_id": self.sid, "last_seq": last})
                self.sid = await asyncio.wait_for(confirmed, 10)
                self.sio = sio
                return
            except (socketio.exceptions.ConnectionError, asyncio.TimeoutError, OSError):
                await sio.disconnect()
                await asyncio.sleep(0.5)

    async def say(self, text: str) -> dict[str, Any]:
        """Send until acknowledged (same client id on every try); returns the ack."""
        client_id = uuid.uuid4().hex
        tries = 0
        while True:
            tries += 1
            if self.sio is None or not self.sio.connected:
                self.ledger.bump("customer_reconnects")
                await self.connect()
            assert self.sio is not None
            try:
                ack = await self.sio.call("user_uttered", {"message": text, "session_id": self.sid, "client_id": client_id},
                                          timeout=15)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError):
                ack = None
            if isinstance(ack, dict) and "seq" in ack:
                assert self.sid is not None
                previous = self.ledger.customer_acks.setdefault(self.sid, {}).get(ack["seq"])
                if previous is not None and previous != text:
                    self.ledger.errors.append(f"{self.sid}: seq {ack['seq']} acked for two texts")
                self.ledger.customer_acks[self.sid][ack["seq"]] = text
                self.ledger.bump("customer_acked")
                self.ledger.bump("customer_retries", tries - 1)
                return ack
            if isinstance(ack, dict):
                self.ledger.bump("customer_error_acks")
            await asyncio.sleep(0.5)
            if self.sio is not None and self.sio.connected and not isinstance(ack, dict):
                await self.sio.disconnect()

    async def answer_after(self, seq: int, timeout: float) -> bool:
        """Wait for any message after ``seq`` (bot or agent), reconnecting when the gateway went away."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(s > seq for s in self.seen):
                return True
            if self.sio is None or not self.sio.connected:
                self.ledger.bump("customer_reconnects")
                await self.connect()
                continue
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        return False

    async def close(self) -> None:
        """Disconnect."""
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


async def customer_loop(stack: Stack, ledger: Ledger, stop: asyncio.Event, rng: random.Random) -> None:
    """One customer after another: bot password resets and hand-offs to agents."""
    while not stop.is_set():
        c = Customer(stack, ledger)
        await c.connect()
        ledger.bump("conversations")
        try:
            if rng.random() < 0.5:
                ledger.bump("bot_conversations")
                for text in ("hello", "I forgot my password", rng.choice(EMAILS), "yes, it worked"):
                    ack = await c.say(text)
                    if not await c.answer_after(ack["seq"], BOT_WAIT):
                        ledger.bump("bot_reply_timeouts")
            else:
                ledger.bump("handoff_conversations")
                ack = await c.say("I want to talk to a person")
                await c.answer_after(ack["seq"], BOT_WAIT)
                for i in range(4):
                    if stop.is_set() or c.state == "resolved":
                        break
                    ack = await c.say(f"customer message {i}: {rng.choice(['my invoice', 'the app', 'my login'])}")
                    await c.answer_after(ack["seq"], 20)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
        finally:
            await c.close()


class Agent:
    """A console: replies to its customers, resolves after a few replies, reloads conversations on reconnect."""

    def __init__(self, stack: Stack, ledger: Ledger, email: str, password: str, rng: random.Random) -> None:
        """Not connected."""
        self.stack, self.ledger, self.email, self.password, self.rng = stack, ledger, email, password, rng
        self.sio: socketio.AsyncClient | None = None
        self.token = ""
        self.mine: set[str] = set()
        self.replies: dict[str, int] = {}
        self.todo: asyncio.Queue[str] = asyncio.Queue()

    async def _http(self, method: str, path: str, body: Any = None) -> Any:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            async with http.request(method, f"{self.stack.url}{path}", json=body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=15)) as r:
                return await r.json() if r.status == 200 else None

    async def connect(self) -> None:
        """(Re)connect, then reload my conversations (the console's replay)."""
        while True:
            await self.stack.up.wait()
            try:
                if not self.token:
                    body = await self._http("POST", "/api/login", {"email": self.email, "password": self.password})
                    self.token = body["token"]
                sio = socketio.AsyncClient(reconnection=False)
                sio.on("assigned", self._on_assigned, namespace="/agents")
                sio.on("customer_message", self._on_customer, namespace="/agents")
                sio.on("queue_snapshot", self._on_snapshot, namespace="/agents")
                await sio.connect(self.stack.url, namespaces=["/agents"], transports=["websocket"],
                                  auth={"token": self.token}, wait_timeout=5)
                # A console (re)connects away; this agent takes work, so it goes online every time.
                await sio.call("presence", {"status": "online"}, namespace="/agents", timeout=15)
                self.sio = sio
                for cid in list(self.mine):
                    await self.reload(cid)
                return
            except (socketio.exceptions.ConnectionError, aiohttp.ClientError, asyncio.TimeoutError, OSError, TypeError):
                await asyncio.sleep(0.5)

    def _on_assigned(self, data: Any) -> None:
        cid = data["conversation_id"]
        self.mine.add(cid)
        for m in data.get("conversation", {}).get("messages", []):
            if m.get("sender") == "customer":
                self.ledger.agent_reloaded.setdefault(cid, set()).add(m["seq"])
        self.todo.put_nowait(cid)

    def _on_snapshot(self, data: Any) -> None:
        for c in data.get("mine", []) or []:
            if c["id"] not in self.mine:
                self.mine.add(c["id"])
                self.todo.put_nowait(c["id"])

    def _on_customer(self, data: Any) -> None:
        cid = data["conversation_id"]
        self.ledger.agent_seen.setdefault(cid, set()).add(data["message"]["seq"])
        if cid in self.mine:
            self.todo.put_nowait(cid)

    async def reload(self, cid: str) -> None:
        """GET the conversation (what the console does after reconnecting)."""
        detail = await self._http("GET", f"/api/conversations/{cid}")
        if detail is None:
            return
        self.ledger.bump("agent_reloads")
        for m in detail["messages"]:
            if m["sender"] == "customer":
                self.ledger.agent_reloaded.setdefault(cid, set()).add(m["seq"])
        if detail["conversation"]["state"] not in ("assigned", "escalated_l3"):
            self.mine.discard(cid)

    async def call(self, event: str, data: dict[str, Any]) -> Any:
        """Emit until answered (reconnecting); returns the ack."""
        while True:
            if self.sio is None or not self.sio.connected:
                self.ledger.bump("agent_reconnects")
                await self.connect()
            assert self.sio is not None
            try:
                return await self.sio.call(event, data, namespace="/agents", timeout=15)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError):
                await asyncio.sleep(0.5)
                if self.sio.connected:
                    await self.sio.disconnect()

    async def work(self, stop: asyncio.Event) -> None:
        """Reply to customers (each chat three times, then resolve it)."""
        await self.connect()
        while not stop.is_set():
            try:
                cid = await asyncio.wait_for(self.todo.get(), 1.0)
            except asyncio.TimeoutError:
                if self.sio is None or not self.sio.connected:
                    self.ledger.bump("agent_reconnects")
                    await self.connect()
                continue
            if cid not in self.mine:
                continue
            await asyncio.sleep(self.rng.uniform(0.1, 0.5))
            n = self.replies.get(cid, 0)
            if n >= 3:
                ack = await self.call("resolve", {"conversation_id": cid, "resolution_code": "solved"})
                if isinstance(ack, dict) and ack.get("ok"):
                    self.ledger.bump("resolved")
                    self.mine.discard(cid)
                continue
            text = f"agent reply {n} to {cid[:6]}"
            ack = await self.call("agent_message", {"conversation_id": cid, "text": text, "client_id": f"{cid}-{n}"})
            if isinstance(ack, dict) and "seq" in ack:
                self.ledger.agent_acks.setdefault(cid, {})[ack["seq"]] = text
                self.ledger.bump("agent_acked")
                self.replies[cid] = n + 1
                # Work the chat to its end, as an agent does: otherwise chats whose customer went quiet keep
                # the agents at capacity and, after a few minutes, nothing new gets assigned.
                self.todo.put_nowait(cid)
            elif isinstance(ack, dict) and ack.get("code") in ("invalid_state", "forbidden", "not_found"):
                self.mine.discard(cid)

    async def drop(self) -> None:
        """The agent's connection drops (it comes back within the grace period)."""
        if self.sio is not None and self.sio.connected:
            self.ledger.bump("agent_drops")
            await self.sio.eio.disconnect(abort=True)

    async def close(self) -> None:
        """Disconnect."""
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


async def chaos(stack: Stack, agents: list[Agent], ledger: Ledger, stop: asyncio.Event, kill_every: float,
                rng: random.Random) -> None:
    """SIGKILL + restart the gateway every ``kill_every`` seconds; drop an agent socket in between."""
    next_kill = time.monotonic() + kill_every
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(20, 40))
            return
        except asyncio.TimeoutError:
            pass
        if time.monotonic() >= next_kill:
            assert stack.gateway is not None
            stack.up.clear()
            stack.gateway.process.send_signal(signal.SIGKILL)
            stack.gateway.process.wait(10)
            ledger.bump("gateway_kills")
            with sqlite3.connect(stack.db) as db:  # acked but not yet relayed when the process died
                ledger.bump("pending_at_kills", db.execute(
                    "SELECT count(*) FROM messages WHERE status LIKE 'pending%'").fetchone()[0])
            db.close()
            await asyncio.to_thread(stack.start)
            next_kill = time.monotonic() + kill_every
        else:
            await rng.choice(agents).drop()


def check(stack: Stack, ledger: Ledger) -> dict[str, Any]:
    """The ledger against the transcript in the database."""
    problems: list[str] = list(ledger.errors)
    with sqlite3.connect(stack.db) as db:
        rows = db.execute("SELECT conversation_id, seq, sender, text, client_id, status FROM messages "
                          "ORDER BY conversation_id, seq").fetchall()
    db.close()
    by_conv: dict[str, list[tuple[int, str, str, str | None, str]]] = {}
    for cid, seq, sender, text, client_id, status in rows:
        by_conv.setdefault(cid, []).append((seq, sender, text or "", client_id, status))
    result: dict[str, int] = {"stored_messages": len(rows), "conversations_stored": len(by_conv)}
    for cid, messages in by_conv.items():
        seqs = [m[0] for m in messages]
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append(f"{cid}: seqs not contiguous")
        client_ids = [m[3] for m in messages if m[3]]
        if len(client_ids) != len(set(client_ids)):
            problems.append(f"{cid}: a client id stored twice")
        if any(m[4].startswith("pending") for m in messages):
            problems.append(f"{cid}: message still pending at the end")
    stored = {(cid, m[0]): m for cid, messages in by_conv.items() for m in messages}
    for kind, acks, sender in (("customer", ledger.customer_acks, "customer"), ("agent", ledger.agent_acks, "agent")):
        ok = 0
        for cid, by_seq in acks.items():
            for seq, text in by_seq.items():
                m = stored.get((cid, seq))
                if m is None or m[1] != sender or m[2] != text:
                    problems.append(f"{cid}: acked {kind} seq {seq} not stored as sent")
                    continue
                same = [x for x in by_conv[cid] if x[1] == sender and x[2] == text and x[3] == m[3]]
                if len(same) != 1:
                    problems.append(f"{cid}: {kind} seq {seq} stored {len(same)} times")
                    continue
                ok += 1
        result[f"{kind}_acked_and_stored_once"] = ok
    # Delivery to customers: every non-customer message was seen live or replayed.
    live = replayed = missing = 0
    for cid, messages in by_conv.items():
        for seq, sender, *_ in messages:
            if sender == "customer":
                continue
            if seq in ledger.customer_seen.get(cid, set()):
                live += 1
            elif seq in ledger.customer_replayed.get(cid, set()):
                replayed += 1
            else:
                missing += 1
    result |= {"to_customer_live": live, "to_customer_replayed": replayed, "to_customer_missing": missing}
    # Delivery to agents: every customer message of a conversation an agent handled, live or on reload.
    a_live = a_reload = a_missing = 0
    handled = set(ledger.agent_acks)
    for cid in handled:
        first_agent = min((seq for seq, sender, *_ in by_conv.get(cid, []) if sender == "agent"), default=None)
        if first_agent is None:
            continue
        for seq, sender, _text, _cid, status in by_conv[cid]:
            if sender != "customer" or seq < first_agent:
                continue
            if seq in ledger.agent_seen.get(cid, set()):
                a_live += 1
            elif seq in ledger.agent_reloaded.get(cid, set()):
                a_reload += 1
            elif status == "human":
                a_missing += 1
    result |= {"to_agent_live": a_live, "to_agent_reloaded": a_reload, "to_agent_missing": a_missing}
    if missing:
        problems.append(f"{missing} messages never reached their customer")
    if a_missing:
        problems.append(f"{a_missing} customer messages never reached the agent")
    return {"ledger": result, "problems": problems[:50], "problem_count": len(problems)}


async def final_replay(stack: Stack, ledger: Ledger) -> None:
    """Every customer comes back once more with ``last_seq`` (what a widget does when reopened)."""
    for cid in list(ledger.customer_acks):
        c = Customer(stack, ledger)
        c.sid = cid
        seen = ledger.customer_seen.get(cid, set()) | ledger.customer_replayed.get(cid, set())
        c.seen = {s: {} for s in seen}
        await c.connect()
        await asyncio.sleep(0.05)
        await c.close()


async def wait_quiet(stack: Stack, timeout: float = 120) -> None:
    """Until no customer message is left unrelayed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(stack.db) as db:
            n = db.execute("SELECT count(*) FROM messages WHERE status LIKE 'pending%'").fetchone()[0]
        db.close()
        if n == 0:
            return
        await asyncio.sleep(0.5)


async def run(minutes: float, customers: int, kill_every: float, seed: int) -> dict[str, Any]:
    """Start everything, run the traffic and the faults, stop, check."""
    workdir = OUT / "work"
    if workdir.exists():
        for p in sorted(workdir.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    (workdir / "bot").mkdir(parents=True)
    servers = await asyncio.to_thread(start_bot_servers, workdir / "bot")
    env = {"TOKEN_SECRET": secrets.token_hex(16), "IDENTITY_SECRET": secrets.token_hex(16), "RASA_TIMEOUT": "30",
           "HANDOFF_AGENT_GRACE_SECONDS": "60", "HANDOFF_LOG_LEVEL": "WARNING", "HANDOFF_RATE_LIMIT_EVENTS": "1000"}
    stack = Stack(workdir, servers, env)
    ledger = Ledger()
    rng = random.Random(seed)
    started = time.monotonic()
    try:
        await asyncio.to_thread(stack.start)
        stop = asyncio.Event()
        agents = [Agent(stack, ledger, e, p, random.Random(seed + i)) for i, (e, p) in enumerate(AGENTS)]
        tasks = [asyncio.create_task(a.work(stop)) for a in agents]
        tasks += [asyncio.create_task(customer_loop(stack, ledger, stop, random.Random(seed * 100 + i)))
                  for i in range(customers)]
        tasks.append(asyncio.create_task(chaos(stack, agents, ledger, stop, kill_every, rng)))
        await asyncio.sleep(minutes * 60)
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=90)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                ledger.errors.append(f"task failed: {t.exception()!r}")
        await wait_quiet(stack)
        await final_replay(stack, ledger)
        for a in agents:
            for cid in list(ledger.agent_acks):
                await a.reload(cid) if a.token else None
            await a.close()
        report = check(stack, ledger)
    finally:
        if stack.gateway is not None:
            stack.gateway.stop()
        servers.stop()
    return {
        "minutes": minutes,
        "customers": customers,
        "kill_every_seconds": kill_every,
        "seed": seed,
        "wall_seconds": round(time.monotonic() - started, 1),
        "counts": dict(sorted(ledger.counts.items())),
        **report,
        "passed": report["problem_count"] == 0,
        "environment": environment(),
    }


def markdown(result: dict[str, Any]) -> str:
    """The human summary."""
    lines = [
        "# Soak run",
        "",
        f"{result['minutes']} min, {result['customers']} concurrent customers, 2 agents, gateway SIGKILL every "
        f"{result['kill_every_seconds']:.0f} s. **{'PASSED' if result['passed'] else 'FAILED'}** "
        f"({result['problem_count']} problems).",
        "",
        "| count | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in result["counts"].items()],
        "",
        "| ledger | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in result["ledger"].items()],
    ]
    if result["problems"]:
        lines += ["", "Problems:", *[f"- {p}" for p in result["problems"]]]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, run, write the reports."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds between gateway SIGKILLs")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args.minutes, args.customers, args.kill_every, args.seed))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(result, indent=2))
    (OUT / "soak.md").write_text(markdown(result))
    print(markdown(result))
    raise SystemExit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
