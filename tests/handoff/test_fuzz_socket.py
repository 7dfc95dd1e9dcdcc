"""Fuzzing every Socket.IO event of both namespaces with hostile payloads (Hypothesis).

Properties: every call is acknowledged, with an error that has a reason or with a valid success; nothing is logged at
ERROR by any library; the gateway keeps serving; a bystander conversation set up before the fuzz still works afterwards,
in order, and none of the fuzzed data shows up in it.

Hypothesis runs in a worker thread and submits each call to the test's event loop, which keeps serving the gateway and
the clients in between (the pattern of ``asyncio.run_coroutine_threadsafe``).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from handoff.domain import auth
from handoff.domain import events as ev
from handoff.storage import agents as agent_store
from tests.handoff.helpers import TOKEN_SECRET, Client, FakeRasa, Running
from tests.handoff.hostile import (
    FUZZ_SETTINGS,
    RELAXED,
    ErrorRecords,
    any_char,
    bystanders,
    bystanders_still_work,
    credential_text,
    deep,
    gateway_serves,
    identity_claims,
    junk,
    nasty_text,
    nest,
    non_ascii_text,
    payloads,
    report,
    scalars,
    text_ok,
    weighted,
    wire_size,
)

CUSTOMER = ev.INCOMING[ev.CUSTOMER_NS]
AGENT = ev.INCOMING[ev.AGENT_NS]
OWN, TARGET, BOT = "\x00<own session>", "\x00<target conversation>", "\x00<bot conversation>"
VALIDATION = {"invalid_payload", "missing_fields", "invalid_type", "too_large", "invalid_value", "unknown_event"}
RESERVED = ["connect", "disconnect", "connect_error", "message", "error", "*", "on_connect", "trigger_event", "_fail"]
SUCCESS_KEYS: dict[str, set[str]] = {
    "session_request": {"session_id"},
    "resume": {"session_id"},
    "user_uttered": {"id", "seq"},
    "typing": {"ok"},
    "csat": {"ok", "score"},
    "presence": {"ok", "status"},
    "snapshot": {"ok"},
    "claim": {"ok", "conversation_id", "state"},
    "agent_message": {"id", "seq"},
    "note": {"ok", "id"},
    "transfer": {"ok"},
    "escalate_l3": {"ok", "state", "escalation_id", "priority"},
    "return_l2": {"ok", "state", "to_agent_id"},
    "resolve": {"ok", "state"},
    "handback": {"ok", "state"},
    "watch": {"ok", "conversation"},
    "unwatch": {"ok"},
    "barge_in": {"ok", "conversation_id", "state"},
    "flag_context_loss": {"ok", "handoff_id"},
}

ids = weighted((st.sampled_from([TARGET, TARGET, BOT]), 3), (nasty_text, 1))
# customData / metadata: identity claims (non-ASCII signatures and ids, forged or signed), as objects or JSON strings.
custom_data = weighted(
    (identity_claims, 2),
    (identity_claims.map(json.dumps), 1),
    (st.dictionaries(nasty_text, scalars, max_size=4), 1),
    (st.none(), 1),
)
customer_overrides = {
    "session_id": weighted((st.sampled_from([OWN, None]), 3), (nasty_text, 1)),
    "customData": custom_data,
    "metadata": custom_data,
}
agent_overrides = {"conversation_id": ids, "to_team": st.sampled_from(["billing", "technical", "general"]) | nasty_text}


def _args(payload: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """Emit arguments: one payload (most often), none at all, an explicit null, or several."""
    return weighted((payload.map(lambda p: (p,)), 8), (st.just(()), 1), (st.just((None,)), 1), (st.tuples(payload, junk), 1))


def calls(schemas: dict[str, tuple[ev.Field, ...]], overrides: dict[str, Any], other_ns: dict[str, Any]) -> Any:
    """(event, args): known events with hostile payloads, plus unknown, reserved and other-namespace event names."""
    known = st.one_of([st.tuples(st.just(e), _args(payloads(schemas[e], overrides))) for e in sorted(schemas)])
    unknown_names = st.sampled_from(RESERVED + sorted(set(other_ns) - set(schemas))) | st.text(any_char, max_size=80)
    unknown = st.tuples(unknown_names, _args(junk | deep))
    return weighted((known, 8), (unknown, 1))


def _substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_substitute(v, names) for v in value)
    return value


def _as_received(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments as the server decodes them: the client sends JSON, and JSON joins a high and a low surrogate
    written one after the other into one character (``"\\ud800\\udc00"`` is U+10000), valid text.

    The docstring spells the escapes with two backslashes: a lone surrogate in a docstring is not valid UTF-8, and
    Python 3.13 encodes docstrings when it compiles them (it strips their indentation).
    """
    try:
        return tuple(json.loads(json.dumps(list(args))))
    except (TypeError, ValueError):  # binary attachments and the like travel as they are
        return args


def _valid(schema: tuple[ev.Field, ...], args: tuple[Any, ...], max_bytes: int) -> bool:
    """An independent reading of the schema: would a correct validator accept these arguments?"""
    args = _as_received(args)
    if len(args) > 1:
        return False
    data = args[0] if args else None
    if data is None and all(not f.required for f in schema):
        data = {}
    if not isinstance(data, dict):
        return False
    for f in schema:
        value = data.get(f.name)
        if value is None:
            if f.required:
                return False
            continue
        if (isinstance(value, bool) and bool not in f.types) or not isinstance(value, f.types):
            return False
        if isinstance(value, str) and f.non_empty and not value.strip():
            return False
        if isinstance(value, list) and not (value and all(isinstance(v, str) for v in value)):
            return False
        if f.choices is not None and value not in f.choices:
            return False
        if f.minimum is not None and isinstance(value, int) and value < f.minimum:
            return False
        if f.maximum is not None and isinstance(value, int) and value > f.maximum:
            return False
        if isinstance(value, str) and f.max_len is not None and len(value) > f.max_len:
            return False
        if not text_ok(value):
            return False
        if (f.message_limit or f.max_len is None) and _size(value) > max_bytes:
            return False
    return True


def _size(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return len(text.encode("utf-8"))


class Fuzzer:
    """Sends generated calls from a worker thread through the test's event loop and checks every ack."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Client, ns: str, gw: Running) -> None:
        self.loop = loop
        self.max_frame = gw.settings.max_payload_bytes * 0.9
        max_bytes = gw.settings.max_message_bytes
        self.client = client
        self.ns = ns
        self.max_bytes = max_bytes
        self.names: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.errors = 0
        self.successes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()  # valid payloads the gateway refused (state, ownership, ...)
        self.after_success: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}
        self.reconnect: Callable[[], Awaitable[Client]] = self._missing_reconnect

    async def _missing_reconnect(self) -> Client:
        raise AssertionError("the connection was lost")

    def run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)  # type: ignore[arg-type]

    def send(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.client.sio.connected:  # an earlier example broke the connection (and failed): start clean
            self.client = self.run(self.reconnect())
        args = _substitute(args, self.names)
        if wire_size(event, *args) > self.max_frame:
            reject()  # over the transport limit the server closes the socket: test_oversize_frame covers that
        ack = self.run(self.client.sio.call(event, args, namespace=self.ns, timeout=5))
        assert self.client.sio.connected, f"{event} {args!r} dropped the connection"
        self.counts[event if event in ev.INCOMING[self.ns] else "<unknown, reserved or foreign event>"] += 1
        assert isinstance(ack, dict), (event, args, ack)
        if "error" in ack:
            assert isinstance(ack["error"], str) and ack["error"].strip(), ack
            assert isinstance(ack.get("code"), str) and ack["code"] != "internal_error", (event, args, ack)
            schema = ev.INCOMING[self.ns].get(event)
            if schema is None:
                assert ack["code"] in VALIDATION, (event, ack)
            elif not _valid(schema, args, self.max_bytes):
                assert ack["code"] in VALIDATION | {"empty_message"}, (event, args, ack)
            else:
                self.refusals[f"{event}: {ack['code']}"] += 1
            self.errors += 1
            return
        schema = ev.INCOMING[self.ns].get(event)
        assert schema is not None, f"unknown event {event!r} succeeded: {ack}"
        assert _valid(schema, args, self.max_bytes), f"invalid payload accepted: {event} {args!r} -> {ack}"
        assert SUCCESS_KEYS[event] <= set(ack), (event, ack)
        self.successes[event] += 1
        if event in self.after_success:
            self.run(self.after_success[event](ack))


# The inputs behind the bugs this fuzzing found: always tried first (Hypothesis' explicit examples).
CUSTOMER_REGRESSIONS: list[tuple[str, tuple[Any, ...]]] = [
    ("resume", ({"session_id": OWN, "last_seq": 2**63},)),  # OverflowError in the SQLite query
    ("session_request", ({"session_id": OWN, "last_seq": 2**64},)),
    ("user_uttered", ({"message": "hi \ud800"},)),  # UnicodeEncodeError sizing the message
    ("user_uttered", ({"message": "hi", "customData": {"name": "\udfff"}},)),
    ("user_uttered", ({"message": "hi", "customData": {"avatar": b"\x89PNG"}},)),  # binary: TypeError in json.dumps
    ("user_uttered", ({"message": "hi\x00there"},)),  # NUL: PostgreSQL refuses it
    ("user_uttered", ({"message": "hi", "metadata": nest(40)},)),  # deeper than MAX_DEPTH
    ("disconnect", ("client namespace disconnect",)),  # reached on_disconnect: rate limiter reset
    ("connect", ({"HTTP_HOST": "x"}, {"token": "x"})),  # reached on_connect: AttributeError / refused in a handler
    # Non-ASCII signatures: hmac.compare_digest raised TypeError (internal_error and a traceback).
    ("user_uttered", ({"message": "hi", "customData": {"customer_id": "cus_1002", "signature": "é"}},)),
    ("user_uttered", ({"message": "hi", "metadata": json.dumps({"customer_id": "\ud800", "signature": "ab"})},)),
]
AGENT_REGRESSIONS: list[tuple[str, tuple[Any, ...]]] = [
    ("disconnect", ("transport close",)),  # the agent was marked offline while connected
    ("connect", ()),
    ("transfer", ({"conversation_id": TARGET, "to_agent_id": 2**63},)),
    ("agent_message", ({"conversation_id": "\ud800", "text": "hi"},)),  # UnicodeEncodeError in the lookup
    ("note", ({"conversation_id": TARGET, "text": "\udc00x"},)),
    # A high then a low surrogate: JSON joins them into one valid character, so this is accepted (the oracle used
    # to judge the Python string, two lone surrogates, and called the acceptance a bug).
    ("agent_message", ({"conversation_id": TARGET, "text": "hi", "client_id": "\ud800\udc00x"},)),
    ("escalate_l3", ({"conversation_id": TARGET, "repro_steps": "a", "logs": "b", "environment": "c",
                      "timestamps": ["\ud800"], "impact_scope": "one_customer", "impact_urgency": "low"},)),
]


async def _fuzz(fuzzer: Fuzzer, strategy: Any, examples: int, explicit: list[tuple[str, tuple[Any, ...]]]) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(call=strategy)
    def run(call: tuple[str, tuple[Any, ...]]) -> None:
        fuzzer.send(*call)

    for call in explicit:
        run = example(call=call)(run)
    await asyncio.to_thread(run)


async def test_customer_events_survive_hostile_payloads(
    gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa
) -> None:
    gw = await gateway_factory(**RELAXED)
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        fuzz = Client("/")
        await fuzz.connect(gw.url)
        gw.clients.append(fuzz)
        await fuzz.session()
        fuzzer = Fuzzer(asyncio.get_running_loop(), fuzz, ev.CUSTOMER_NS, gw)
        fuzzer.names = {OWN: fuzz.of("session_confirm")[-1]}

        async def rebound(ack: dict[str, Any]) -> None:
            fuzzer.names[OWN] = ack["session_id"]

        fuzzer.after_success = {"session_request": rebound, "resume": rebound}

        async def reconnect() -> Client:
            again = await gw.customer()
            fuzzer.names[OWN] = again.of("session_confirm")[-1]
            return again

        fuzzer.reconnect = reconnect
        await _fuzz(fuzzer, calls(CUSTOMER, customer_overrides, AGENT), 1000, CUSTOMER_REGRESSIONS)
        await gw.gw.idle()
        # Every failure was also announced as an error event, with its code and the event name.
        await fuzz.wait_for("error", count=fuzzer.errors)
        assert all(set(e) == {"code", "message", "event"} for e in fuzz.of("error"))
        assert fuzz.sio.connected
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gateway_serves(gw)
        await gw.gw.idle()
    assert not errors.records, errors.describe()
    report("customer namespace /", fuzzer.counts, fuzzer.successes)
    assert all(fuzzer.counts[e] >= 25 for e in CUSTOMER), fuzzer.counts  # about 150 each
    assert fuzzer.successes["user_uttered"] >= 10 and fuzzer.successes["session_request"] >= 10, fuzzer.successes


async def test_agent_events_survive_hostile_payloads(
    gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa
) -> None:
    gw = await gateway_factory(**RELAXED)
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        # A lead: Max gets his own conversations by taking them over from the bot, which is lead work.
        max_ = await gw.add_agent("max@example.com", name="Max Fuzz", skills=["general"], role="lead")
        fuzz = await gw.agent_client(max_)
        await fuzz.call("presence", {"status": "away"})
        fuzzer = Fuzzer(asyncio.get_running_loop(), fuzz, ev.AGENT_NS, gw)

        # The fuzzer's own conversations: one assigned to it (its valid actions land there), one with the bot.
        # When a valid action ends the assignment (or takes over the bot conversation), a new one takes its place.
        async def new_bot(ack: Any = None) -> None:
            fuzzer.names[BOT] = (await gw.customer()).of("session_confirm")[-1]

        async def new_target(ack: Any = None) -> None:
            target_id = (await gw.customer()).of("session_confirm")[-1]
            taken = await fuzzer.client.call("barge_in", {"conversation_id": target_id})
            assert taken["ok"] and taken["state"] == "assigned", taken
            fuzzer.names[TARGET] = target_id

        async def reconnect() -> Client:
            fuzzer.client = await gw.agent_client(max_)
            await new_target()
            return fuzzer.client

        fuzzer.reconnect = reconnect
        await new_bot()
        await new_target()
        fuzzer.after_success = {
            "barge_in": new_bot,
            **{e: new_target for e in ("resolve", "handback", "escalate_l3", "transfer")},
        }
        await _fuzz(fuzzer, calls(AGENT, agent_overrides, CUSTOMER), 1200, AGENT_REGRESSIONS)
        await gw.gw.idle()
        await fuzz.wait_for("error", count=fuzzer.errors)
        assert fuzz.sio.connected
        # No event made the gateway believe a connected agent went away.
        async with gw.gw.db.read() as s:
            assert (await agent_store.get_agent(s, max_.id)).status != "offline"  # type: ignore[union-attr]
        assert max_.id in gw.gw.agent_sids
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gateway_serves(gw)
        await gw.gw.idle()
    assert not errors.records, errors.describe()
    report("agent namespace /agents", fuzzer.counts, fuzzer.successes)
    assert all(fuzzer.counts[e] >= 25 for e in AGENT), fuzzer.counts  # about 80 each
    assert fuzzer.successes["agent_message"] >= 5 and fuzzer.successes["note"] >= 5, fuzzer.successes


# Agent socket credentials: names of real tokens, literals, or ("splice", name, where, text, overwrite).
agent_tokens = weighted(
    (st.sampled_from(["valid", "expired", "forged"]), 2),
    (credential_text, 3),
    (st.sampled_from(["abc.é", "é.é", "x.\u00e9", "\U0001f600.\U0001f600"]), 1),
    (st.tuples(st.just("splice"), st.sampled_from(["valid", "forged"]), st.integers(0, 300), non_ascii_text, st.booleans()),
     3),
)
# Socket.IO's CONNECT carries a JSON object (or nothing): a bare number or binary data makes python-socketio's own
# packet code fail (library errors; test_malformed_socketio_packets covers undecodable packets).
json_junk = junk.map(lambda v: json.loads(json.dumps(v, default=lambda b: b.decode("latin-1"))))
agent_auth = weighted(
    (agent_tokens.map(lambda t: ("token", t)), 6),
    (agent_tokens.map(lambda t: ("bare", t)), 1),
    (st.dictionaries(nasty_text, json_junk, max_size=3) | st.dictionaries(st.just("token"), json_junk, min_size=1), 1),
)


async def test_agent_connect_survives_hostile_credentials(
    gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa
) -> None:
    """Every connection to /agents with a bad credential is refused with a reason; the valid one connects; no ERROR."""
    gw = await gateway_factory(**RELAXED)
    loop = asyncio.get_running_loop()
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        max_ = await gw.add_agent("max@example.com", name="Max Fuzz", skills=["general"])
        real = {
            "valid": auth.issue_token(TOKEN_SECRET, max_.id, max_.role, 3600),
            "expired": auth.issue_token(TOKEN_SECRET, max_.id, max_.role, 60, now=0),
            "forged": auth.issue_token("not-the-secret", max_.id, "lead", 3600),
        }
        outcomes: Counter[str] = Counter()

        def credential(generated: Any) -> tuple[Any, bool]:
            """(auth data to send, whether it must be accepted)."""
            if not (isinstance(generated, tuple) and generated[0] in ("token", "bare")):
                return generated, False
            kind, token = generated
            if isinstance(token, tuple):
                _, name, at, text, overwrite = token
                at %= len(real[name]) + 1
                token = real[name][:at] + text + real[name][at + len(text) if overwrite else at :]
            else:
                token = real.get(token, token)
            # Only {"token": <valid>} opens the namespace; the bare token string is no auth object.
            return ({"token": token} if kind == "token" else token), kind == "token" and token == real["valid"]

        async def attempt(auth_data: Any, accept: bool) -> None:
            c = Client("/agents")
            refusal: list[Any] = []
            c.sio.on("connect_error", lambda data: refusal.append(data), namespace="/agents")
            try:
                await c.sio.connect(gw.url, namespaces=["/agents"], transports=["websocket"], auth=auth_data, wait_timeout=5)
            except socketio.exceptions.ConnectionError:
                assert not accept, auth_data
                assert refusal and isinstance(refusal[0], dict) and refusal[0].get("message"), (auth_data, refusal)
                outcomes["refused"] += 1
                return
            assert accept, f"connected with {auth_data!r}"
            outcomes["accepted"] += 1
            # As consoles do: leaving before the connect work ran is a race of its own (a KeyError in enter_room).
            await c.wait_for("queue_snapshot")
            await c.close()

        @settings(FUZZ_SETTINGS, max_examples=200)
        @given(generated=agent_auth)
        @example(generated=("token", "abc.é"))  # was a TypeError in on_connect, logged by engine.io, no reason
        @example(generated=("token", ("splice", "valid", 300, "é", True)))
        @example(generated=("token", "valid"))
        def run(generated: Any) -> None:
            auth_data, accept = credential(generated)
            if wire_size(auth_data) > 60_000:
                reject()
            asyncio.run_coroutine_threadsafe(attempt(auth_data, accept), loop).result(timeout=30)

        await asyncio.to_thread(run)
        await gw.gw.idle()
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gateway_serves(gw)
        await gw.gw.idle()
    assert not errors.records, errors.describe()
    print(f"\nagent connect credentials: {dict(outcomes)}")
    assert outcomes["refused"] >= 100 and outcomes["accepted"] >= 1, outcomes


async def test_oversize_frame_closes_only_that_connection(
    gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa
) -> None:
    """Over the transport limit (max_payload_bytes) the server drops the socket; nobody else notices."""
    gw = await gateway_factory(**RELAXED)
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        big = await gw.customer()
        await big.emit("user_uttered", {"message": "x" * (gw.settings.max_payload_bytes + 1000)})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while big.sio.connected and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert not big.sio.connected
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gateway_serves(gw)
        await gw.gw.idle()
    assert not errors.records, errors.describe()


# Raw Socket.IO packets no client library would send (the leading "4", Engine.IO's message type, is added by send()).
MALFORMED = [
    '2["user_uttered",' + "[" * 30000 + "]" * 30000 + "]",  # deeper than the JSON decoder's stack
    "2[",
    "2",
    "2[]",
    "2[1]",
    '2{"a":1}',
    '25-["user_uttered",{"_placeholder":true,"num":7}]',
    '2/nope,["user_uttered",{"message":"hi"}]',
    "3",
    '30["x"]',
    "9",
    '0/agents,{"token":"forged"}',
    "1",
]


async def test_malformed_socketio_packets_leave_the_gateway_serving(
    gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa
) -> None:
    """Packets python-socketio cannot decode never reach a handler; the gateway and other conversations carry on.

    python-socketio raises on them and engine.io logs that at ERROR ("message async handler error"): a library
    behaviour, so only the gateway's own loggers must stay quiet here.
    """
    gw = await gateway_factory(**RELAXED)
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        for raw in MALFORMED:
            sender = await gw.customer()
            await sender.sio.eio.send(raw)
            await asyncio.sleep(0.05)
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gateway_serves(gw)
        await gw.gw.idle()
    assert not [r for r in errors.records if not r.name.startswith(("engineio", "socketio"))], errors.describe()
