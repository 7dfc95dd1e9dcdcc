"""The conversation's states and moves (handoff/states.py): one table, and the store refuses what it does not allow."""

from __future__ import annotations

import pytest

from handoff import store
from handoff.states import Move, State, moves_from
from tests.handoff.helpers import Running
from tests.handoff.test_import_rules import import_graph


def test_every_state_is_reached_and_left_by_some_move() -> None:
    reached = {m.transition.to for m in Move}
    left = {state for m in Move for state in m.transition.allowed_from}
    assert reached == set(State) and left == set(State)


def test_the_moves_each_state_allows() -> None:
    assert moves_from("bot") == [Move.HAND_OFF]
    assert moves_from("queued") == [Move.CLAIM]
    assert set(moves_from("assigned")) == {Move.TRANSFER, Move.ESCALATE_L3, Move.RESOLVE, Move.HAND_BACK}
    assert set(moves_from("escalated_l3")) == {Move.CLAIM_L3, Move.RESOLVE}
    assert set(moves_from("resolved")) == {Move.HAND_OFF, Move.REOPEN}
    assert moves_from("no such state") == []


def test_states_are_the_strings_the_database_and_clients_carry() -> None:
    assert State.ESCALATED_L3 == "escalated_l3" and str(State.QUEUED) == "queued"
    assert f"{State.BOT}" == "bot"


def test_the_table_imports_nothing_from_the_gateway() -> None:
    assert import_graph()["handoff.states"] == set()


async def test_the_store_refuses_a_move_the_state_does_not_allow(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    _, sid = await gateway.queued_customer()
    async with gateway.gw.db.read() as s:
        before = len(await store.events_for(s, sid))
    for move in (Move.RESOLVE, Move.HAND_BACK, Move.REOPEN, Move.HAND_OFF, Move.TRANSFER):
        with pytest.raises(store.StoreError) as refused:
            async with gateway.gw.db.write() as s:
                await store.transition(s, sid, move, actor="test")
        assert refused.value.code == "invalid_state" and "conversation is queued" in str(refused.value)
    async with gateway.gw.db.read() as s:
        conv = await store.get_conversation(s, sid)
        assert conv is not None and conv.state == "queued"
        assert len(await store.events_for(s, sid)) == before


async def test_an_allowed_move_writes_the_state_and_its_event(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com")
    _, sid = await gateway.queued_customer()
    async with gateway.gw.db.write() as s:
        await store.claim(s, sid, lena.id, is_postgres=False)
    async with gateway.gw.db.write() as s:
        conv = await store.transition(s, sid, Move.ESCALATE_L3, actor="agent:1", reason="l3", data={"l3": {}})
    assert conv.state == "escalated_l3"
    async with gateway.gw.db.read() as s:
        events = await store.events_for(s, sid)
    assert [e.type for e in events][-2:] == ["assigned", "escalated_l3"]
    assert events[-1].data["from"] == "assigned" and events[-1].data["to"] == "escalated_l3"
