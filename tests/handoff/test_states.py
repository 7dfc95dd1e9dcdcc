"""The conversation's states and moves (handoff/domain/states.py): one table; the store refuses what it does not allow."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from handoff.domain.states import EventType, MessageStatus, Move, State, moves_from
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage.rows import StoreError
from tests.handoff.helpers import Running
from tests.handoff.test_import_rules import ROOT, gateway_modules, import_graph

# The event types rows were stored with: renaming one orphans the rows already written and the queries over them.
STORED_EVENT_TYPES = {
    "created", "engaged", "identity_verified", "follow_up_requested", "language_vote", "language_detected", "bot_turn",
    "nlu_miss", "recontact", "early_offer", "early_offer_declined", "queued", "assigned", "l3_claimed", "escalated_l3",
    "resolved", "handback", "reopened", "queue_ack", "first_reply", "transferred", "context_loss", "watched",
    "sla_warning", "sla_breach", "stale_alert", "csat", "presence", "l3_returned", "l3_sla_warning", "l3_sla_breach",
}


def test_every_state_is_reached_and_left_by_some_move() -> None:
    reached = {m.transition.to for m in Move}
    left = {state for m in Move for state in m.transition.allowed_from}
    assert reached == set(State) and left == set(State)


def test_the_moves_each_state_allows() -> None:
    assert moves_from("bot") == [Move.HAND_OFF]
    assert moves_from("queued") == [Move.CLAIM]
    assert set(moves_from("assigned")) == {Move.TRANSFER, Move.ESCALATE_L3, Move.RESOLVE, Move.HAND_BACK}
    assert set(moves_from("escalated_l3")) == {Move.CLAIM_L3, Move.RETURN_TO_L2, Move.RESOLVE}
    assert set(moves_from("resolved")) == {Move.HAND_OFF, Move.REOPEN}
    assert moves_from("no such state") == []


def test_states_are_the_strings_the_database_and_clients_carry() -> None:
    assert State.ESCALATED_L3 == "escalated_l3" and str(State.QUEUED) == "queued"
    assert f"{State.BOT}" == "bot"


def test_the_table_imports_nothing_from_the_gateway() -> None:
    assert import_graph()["handoff.domain.states"] == set()


async def test_the_store_refuses_a_move_the_state_does_not_allow(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    _, sid = await gateway.queued_customer()
    async with gateway.gw.db.read() as s:
        before = len(await event_store.events_for(s, sid))
    for move in (Move.RESOLVE, Move.HAND_BACK, Move.REOPEN, Move.HAND_OFF, Move.TRANSFER):
        with pytest.raises(StoreError) as refused:
            async with gateway.gw.db.write() as s:
                await conversation_store.transition(s, sid, move, actor="test")
        assert refused.value.code == "invalid_state" and "conversation is queued" in str(refused.value)
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
        assert conv is not None and conv.state == "queued"
        assert len(await event_store.events_for(s, sid)) == before


async def test_an_allowed_move_writes_the_state_and_its_event(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com")
    _, sid = await gateway.queued_customer()
    async with gateway.gw.db.write() as s:
        await handoff_store.claim(s, sid, lena.id, is_postgres=False)
    async with gateway.gw.db.write() as s:
        conv = await conversation_store.transition(s, sid, Move.ESCALATE_L3, actor="agent:1", reason="l3", data={"l3": {}})
    assert conv.state == "escalated_l3"
    async with gateway.gw.db.read() as s:
        events = await event_store.events_for(s, sid)
    assert [e.type for e in events][-2:] == ["assigned", "escalated_l3"]
    assert events[-1].data["from"] == "assigned" and events[-1].data["to"] == "escalated_l3"


def test_event_types_are_the_stored_strings_each_once() -> None:
    assert {member.value for member in EventType} == STORED_EVENT_TYPES
    assert len(EventType.__members__) == len(EventType), "two event types share a value (one is an alias)"
    assert str(EventType.SLA_BREACH) == "sla_breach" and f"{EventType.QUEUED}" == "queued"
    assert all(isinstance(move.transition.event, EventType) for move in Move)


def test_message_statuses_are_the_stored_strings() -> None:
    assert [status.value for status in MessageStatus] == ["done", "human", "pending"]
    assert message_store.pending_status("gw1") == "pending:gw1"


def _from_the_enum(node: ast.expr) -> str | None:
    """The member's value for ``EventType.X`` or ``"move"`` for the table's ``<move>.transition.event``; else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "EventType":
        return EventType[node.attr].value if node.attr in EventType.__members__ else None
    if isinstance(node, ast.Attribute) and node.attr == "event":
        inner = node.value
        return "move" if isinstance(inner, ast.Attribute) and inner.attr == "transition" else None
    return None


def _is_event_type(node: ast.expr) -> bool:
    """``Event.type`` / ``e.type`` or the ``type_`` a row's type is unpacked into."""
    return (isinstance(node, ast.Attribute) and node.attr == "type") or (isinstance(node, ast.Name) and node.id == "type_")


def _has_string(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_has_string(element) for element in node.elts)
    return False


def event_type_uses(source: str, name: str) -> tuple[list[str], set[str]]:
    """Where ``source`` stores or compares an event type as a string literal, and the types its add_event calls write."""
    literals: list[str] = []
    written: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called == "add_event":
                arg: Any = node.args[2] if len(node.args) > 2 else None
                arg = next((k.value for k in node.keywords if k.arg == "type_"), arg)
                value = _from_the_enum(arg) if arg is not None else None
                if value is None:
                    literals.append(f"{where}: add_event's type is not an EventType member")
                written.add(value or "")
            elif called == "in_" and isinstance(func, ast.Attribute) and _is_event_type(func.value):
                if any(_has_string(a) for a in node.args):
                    literals.append(f"{where}: Event.type.in_ over string literals")
            elif called == "Event" and any(k.arg == "type" and _has_string(k.value) for k in node.keywords):
                literals.append(f"{where}: an Event row built with a literal type")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_event_type(side) for side in sides) and any(_has_string(side) for side in sides):
                literals.append(f"{where}: an event type compared with a string literal")
    return literals, written


def test_every_event_type_in_the_gateway_comes_from_the_enum() -> None:
    literals: list[str] = []
    written: set[str] = set()
    for path in gateway_modules().values():
        found, types = event_type_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        literals += found
        written |= types
    assert literals == []
    # Every member is written somewhere (by an add_event call or a move of the table), and nothing else is.
    written.discard("move")
    assert written | {move.transition.event.value for move in Move} == STORED_EVENT_TYPES


def test_the_scan_finds_a_literal_event_type() -> None:
    snippet = (
        "async def f(s, e, rows):\n"
        "    await event_store.add_event(s, 'c1', 'queued', 'bot')\n"
        "    await add_event(s, 'c1', type_=EventType.NO_SUCH, actor='bot')\n"
        "    ok = e.type == 'sla_breach' or e.type in ('csat',)\n"
        "    q = select(Event).where(Event.type.in_(('queued', 'first_reply')))\n"
        "    await event_store.add_event(s, 'c1', EventType.CSAT, 'customer')\n"
    )
    literals, written = event_type_uses(snippet, "snippet.py")
    places = sorted(line.split(": ", 1)[0] for line in literals)
    assert places == ["snippet.py:2", "snippet.py:3", "snippet.py:4", "snippet.py:4", "snippet.py:5"]
    assert "csat" in written


class _Session:
    """Stands in for the database session: add_event only adds a row to it."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def add(self, row: Any) -> None:
        self.rows.append(row)


async def test_add_event_stores_the_plain_string_and_refuses_an_unknown_type() -> None:
    session: Any = _Session()
    await event_store.add_event(session, "c1", EventType.SLA_BREACH, "system", "high")
    assert [type(row.type) for row in session.rows] == [str] and session.rows[0].type == "sla_breach"
    with pytest.raises(ValueError):
        await event_store.add_event(session, "c1", "sla_braech", "system")  # type: ignore[arg-type]
    assert len(session.rows) == 1
