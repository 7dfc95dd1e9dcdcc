"""Hypothesis strategies for hostile and malformed input, shared by the Socket.IO and REST fuzz tests."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import fields
from typing import Any

import aiohttp
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from handoff.domain import events as ev
from handoff.domain.identity import sign
from handoff.settings import Settings
from tests.handoff.helpers import IDENTITY_SECRET, Client, Running

# Characters that break naive code: NUL, lone UTF-16 surrogates, bidi overrides, zero-width, BOM, escapes,
# line separators, format strings, markup, SQL and path fragments, astral-plane emoji.
NASTY = (
    "\x00",
    "\ud800",
    "\udfff",
    "\udc00x",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\x1b[31m",
    "\x7f",
    "\r\n",
    "\u0085",
    "\u2028",
    "\t",
    "%s%n",
    "{0}",
    "{{",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "../../etc/passwd",
    "\\",
    '"',
    "\U0001f600",
    "\U000e0041",
    "\ufffd",
    "\uffff",
)

# Each example is a network round trip against a shared, stateful gateway: shrinking would replay thousands of
# them (minutes), so failing examples are reported as generated.
FUZZ_SETTINGS = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
    print_blob=True,
)

# Anything, including surrogates and control characters.
any_char = st.characters(codec=None, categories=None, exclude_categories=())
nasty_text: st.SearchStrategy[str] = st.one_of(
    st.text(any_char, max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(any_char, max_size=4), min_size=1, max_size=8).map("".join),
    st.sampled_from(["", " ", "\t\n ", "\u3000", "null", "None", "true", "0", "-1", "NaN", "[]", "{}"]),
    # Huge strings around the 4096-byte message limit, some in multi-byte characters (fewer characters than bytes).
    st.sampled_from([("x", 5000), ("é", 2500), ("\U0001f600", 1300), ("\x00", 800), (" ", 5000)]).flatmap(
        lambda t: st.integers(t[1] // 5, t[1]).map(lambda n: t[0] * n)
    ),
)
numbers: st.SearchStrategy[Any] = st.one_of(
    st.integers(-10, 10),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**31, 2**31 - 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars: st.SearchStrategy[Any] = st.one_of(st.none(), st.booleans(), numbers, nasty_text, st.binary(max_size=16))
_keys = st.text(any_char, max_size=12) | st.sampled_from(NASTY)
# Two levels of lists and objects (deeper nesting comes from ``deep``); st.recursive would triple generation time.
_level1 = st.lists(scalars, max_size=4) | st.dictionaries(_keys, scalars, max_size=4)
junk: st.SearchStrategy[Any] = st.one_of(
    scalars,
    scalars,
    _level1,
    st.lists(_level1 | scalars, max_size=3),
    st.dictionaries(_keys, _level1 | scalars, max_size=3),
)



def wire_size(*args: Any) -> int:
    """About how many bytes a Socket.IO client puts on the wire for these arguments (JSON, ASCII escapes)."""
    return len(json.dumps(args, default=lambda b: {"_placeholder": True, "num": 0}, separators=(",", ":")))


def text_ok(value: Any) -> bool:
    """No NUL, no lone surrogate, no binary, nothing nested deeper than the gateway allows."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > ev.MAX_DEPTH or (isinstance(item, (bytes, float)) and not _finite(item)):
            return False
        if isinstance(item, str):
            if "\x00" in item or any("\ud800" <= c <= "\udfff" for c in item):
                return False
        elif isinstance(item, dict):
            stack.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, (list, tuple)):
            stack.extend((part, depth + 1) for part in item)
    return True


def _finite(item: Any) -> bool:
    return isinstance(item, float) and math.isfinite(item)


def nest(depth: int, leaf: Any = "deep") -> Any:
    """``depth`` levels of alternating lists and objects around ``leaf``."""
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


deep = st.tuples(st.integers(20, 300), scalars).map(lambda t: nest(*t))


def _valid_value(f: ev.Field) -> st.SearchStrategy[Any]:
    """Values the schema of ``f`` accepts (content still hostile: NUL, surrogates, RTL, ...)."""
    if f.choices:
        return st.sampled_from(f.choices)
    strategies: list[st.SearchStrategy[Any]] = []
    for t in f.types:
        if t is str:
            limit = min(f.max_len if f.max_len is not None else 200, 60)
            strategies.append(
                weighted(
                    (st.text(st.characters(codec="utf-8"), min_size=1, max_size=limit), 2),
                    (st.text(any_char, min_size=1, max_size=limit), 1),
                    (st.lists(st.sampled_from(NASTY), min_size=1, max_size=3).map("".join), 1),
                )
            )
        elif t is int:
            low, high = f.minimum if f.minimum is not None else -5, f.maximum or 2**70
            # Mostly in range; sometimes just past the bounds or far beyond any database column.
            edges = [low - 1, low, high, high + 1, 2**31, 2**63, 2**64, -(2**63) - 1]
            strategies.append(weighted((st.integers(low, high), 3), (st.sampled_from(edges), 1)))
        elif t is bool:
            strategies.append(st.booleans())
        elif t is dict:
            strategies.append(st.dictionaries(nasty_text, scalars, max_size=4))
        elif t is list:
            strategies.append(st.lists(st.text(any_char, min_size=1, max_size=20), min_size=1, max_size=4))
        elif t is type(None):
            strategies.append(st.none())
    return st.one_of(strategies)


def near_valid(fields: tuple[ev.Field, ...], overrides: dict[str, st.SearchStrategy[Any]] | None = None) -> Any:
    """A valid-looking object with up to two fields replaced by junk, deep nesting or nothing, plus unexpected keys."""
    overrides = overrides or {}
    good = {f.name: overrides.get(f.name, _valid_value(f)) for f in fields}
    valid = st.fixed_dictionaries(
        {f.name: good[f.name] for f in fields if f.required},
        optional={f.name: good[f.name] for f in fields if not f.required},
    )
    names = [f.name for f in fields] or ["conversation_id"]
    bad = st.one_of(junk, deep, st.just(_MISSING))
    corruptions = st.lists(st.tuples(st.sampled_from(names), bad), max_size=2)
    extra = st.dictionaries(nasty_text, junk, max_size=2)
    return st.tuples(valid, corruptions, extra).map(_apply)


def _apply(t: tuple[dict[str, Any], list[tuple[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    payload, corruptions, extra = t
    payload = {**extra, **payload}
    for name, value in corruptions:
        if value is _MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def payloads(fields: tuple[ev.Field, ...], overrides: dict[str, st.SearchStrategy[Any]] | None = None) -> Any:
    """Payloads for an event with ``fields``: mostly near-valid objects, else junk of any shape."""
    return weighted((near_valid(fields, overrides), 6), (junk, 1), (deep, 1), (st.lists(junk, max_size=3), 1))


def weighted(*choices: tuple[st.SearchStrategy[Any], int]) -> st.SearchStrategy[Any]:
    """Draw from the strategies in proportion to their weights (``one_of`` is skewed towards the cheap ones)."""
    return _weighted(tuple(s for s, _ in choices), tuple(w for _, w in choices))


@st.composite
def _weighted(draw: st.DrawFn, strategies: tuple[st.SearchStrategy[Any], ...], weights: tuple[int, ...]) -> Any:
    k = draw(st.sampled_from(range(sum(weights))))  # uniform, unlike st.integers (which favours the ends)
    for strategy, weight in zip(strategies, weights, strict=True):
        if k < weight:
            return draw(strategy)
        k -= weight
    raise AssertionError("unreachable")


# Credentials are ASCII by design (hex, base64url); text outside ASCII in one used to reach hmac.compare_digest, which
# raises TypeError on non-ASCII str ("Bearer abc.é" was a 500, a signature "é" an internal_error with a traceback).
non_ascii_text = st.text(
    st.characters(codec="utf-8", min_codepoint=0x80, exclude_categories=("Cs", "Cc")), min_size=1, max_size=6
)
_hex64 = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
credential_text: st.SearchStrategy[str] = weighted(
    (non_ascii_text, 3),
    (st.tuples(_hex64, st.integers(0, 63), non_ascii_text).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]), 2),
    (st.sampled_from(["é", "abc.é", "é.é", "ß" * 64, "\U0001f600" * 64, "\uff41\uff42", "\u0130", "\ud800", "\udfffx"]), 2),
    (st.text(any_char, max_size=70), 1),
    (_hex64, 1),
)


def _signed(claims: dict[str, str]) -> dict[str, str]:
    """The claims with a correct signature (UTF-8 claims, as the host page signs them)."""
    fields_ = {k: claims.get(k, "") for k in ("customer_id", "email", "name")}
    try:
        return {**claims, "signature": sign(IDENTITY_SECRET, fields_["customer_id"], fields_["email"], fields_["name"])}
    except UnicodeEncodeError:  # a lone surrogate: nobody can sign that
        return claims


_claim_text = weighted((st.text(st.characters(codec="utf-8", exclude_characters="|\x00"), min_size=1, max_size=20), 2),
                       (non_ascii_text, 2), (credential_text, 1))
_claims = st.fixed_dictionaries(
    {"customer_id": _claim_text}, optional={"email": _claim_text, "name": _claim_text, "signature": credential_text}
)
# Identity claims in customData: forged signatures outside ASCII, non-ASCII ids, and correctly signed ones (verified).
identity_claims: st.SearchStrategy[Any] = weighted(
    (_claims, 3),
    (_claims.map(_signed), 1),
    # A signed claim spoiled by text outside ASCII (unsigned when a lone surrogate made it unsignable).
    (st.tuples(_claims.map(_signed), non_ascii_text).map(lambda t: {**t[0], "signature": t[0].get("signature", "") + t[1]}),
     1),
)


class ErrorRecords(logging.Handler):
    """Collects every record at ERROR or above, whatever the logger (handoff, socketio, engineio, aiohttp, asyncio)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorRecords:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def describe(self) -> list[str]:
        """One line per record, with the exception type if any."""
        return [
            f"{r.name} {r.levelname}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}"
            for r in self.records
        ]


def report(title: str, counts: Counter[str], successes: Counter[str] | None = None) -> None:
    """Print the payload counts (visible with ``pytest -s``; the tests also assert minimums)."""
    print(f"\n{title}: {sum(counts.values())} payloads")
    for key, n in sorted(counts.items()):
        ok = f" ({successes[key]} accepted)" if successes is not None and successes[key] else ""
        print(f"  {key}: {n}{ok}")


# Many events and connections from one client IP are the point here: lift the limits (whichever this version has).
RELAXED = {
    k: v
    for k, v in {"rate_limit_events": 10**6, "ip_rate_limit_events": 10**6, "ip_connections": 10**6}.items()
    if k in {f.name for f in fields(Settings)}
}

BYSTANDER_AGENT: dict[str, int] = {}


async def bystanders(gw: Running) -> tuple[Client, Client, str]:
    """A customer chatting with an agent (assigned conversation) before any fuzzing."""
    lena = await gw.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    BYSTANDER_AGENT["id"] = lena.id
    agent = await gw.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer = await gw.customer()
    conversation_id = customer.of("session_confirm")[-1]
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
    await customer.wait_for("agent_joined")
    await agent.call("agent_message", {"conversation_id": conversation_id, "text": "Hi, Lena here."})
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Hi, Lena here.")
    return customer, agent, conversation_id


async def bystanders_still_work(gw: Running, customer: Client, agent: Client, conversation_id: str) -> None:
    """Messages both ways arrive in order, and the transcript holds exactly the bystanders' own messages."""
    before = [m.get("text") for m in (await gw.gw.conversation_detail(conversation_id))["messages"]]
    seqs = []
    for i in range(3):
        ack = await customer.say(f"still there? {i}")
        seqs.append(ack["seq"])
        reply = await agent.call("agent_message", {"conversation_id": conversation_id, "text": f"yes {i}"})
        seqs.append(reply["seq"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    got = await agent.wait_for(
        "customer_message",
        lambda d: d["conversation_id"] == conversation_id and "still there" in d["message"]["text"],
        count=3,
    )
    assert got["message"]["text"] == "still there? 2"
    from_customer = [
        d["message"]["text"] for d in agent.of("customer_message") if d["conversation_id"] == conversation_id
    ]
    assert from_customer[-3:] == [f"still there? {i}" for i in range(3)]
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "yes 2")
    to_customer = [m.get("text") for m in customer.of("bot_uttered")]
    assert to_customer[-3:] == [f"yes {i}" for i in range(3)]
    transcript = [m.get("text") for m in (await gw.gw.conversation_detail(conversation_id))["messages"]]
    expected_new = [t for i in range(3) for t in (f"still there? {i}", f"yes {i}")]
    assert transcript == before + expected_new, transcript
    assert not customer.of("error") and not agent.of("error")
    assert all(e in ev.OUTGOING for e, _ in customer.received), {e for e, _ in customer.received}
    # Still Lena's, still assigned, and no note, event or hand-off of anyone else's making.
    detail = await gw.gw.conversation_detail(conversation_id)
    assert detail["conversation"]["state"] == "assigned" and not detail["notes"]
    assert len(detail["handoffs"]) == 1
    lena = detail["conversation"]["assigned_agent_id"]
    assert lena == BYSTANDER_AGENT["id"]
    assert {e["actor"] for e in detail["events"]} <= {"customer", "bot", "system", f"agent:{lena}"}, detail["events"]


async def gateway_serves(gw: Running) -> None:
    """A new customer can chat, and the health check answers."""
    fresh = await gw.customer()
    await fresh.say("hello")
    assert (await fresh.wait_for("bot_uttered"))["text"] == "Hi! How can I help?"
    async with aiohttp.ClientSession() as http:
        assert (await http.get(f"{gw.url}/healthz")).status == 200
