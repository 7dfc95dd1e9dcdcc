"""Escalation prediction wired into live conversations (fake Rasa's tracker, cold-start rule)."""

from __future__ import annotations

import asyncio

from handoff.domain.escalation_risk import THRESHOLD
from handoff.domain.routing import choose_agent
from handoff.domain.states import EventType
from handoff.settings import Settings
from handoff.storage import agents as agent_store
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage.escalation_model import MODEL_PATH
from handoff.usecases import escalation
from handoff.usecases.conversations import metadata_for
from tests.handoff.helpers import FakeRasa, Running


async def _events(gateway: Running, sid: str, type_: str) -> list[dict]:  # type: ignore[type-arg]
    await gateway.gw.idle()
    async with gateway.gw.db.read() as s:
        return [e.data for e in await event_store.events_for(s, sid) if e.type == type_]


def _offers(customer) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [m for m in customer.of("bot_uttered") if m.get("text") == escalation.OFFER_TEXT]


def test_settings_default_to_the_predictor_module() -> None:
    assert Settings().prediction_threshold == THRESHOLD
    assert Settings().prediction_model_path == MODEL_PATH
    env = {"HANDOFF_PREDICTION_THRESHOLD": "0.8", "HANDOFF_PREDICTION_MODEL": "/tmp/m.joblib"}
    assert Settings.from_env(env).prediction_threshold == 0.8
    assert Settings.from_env(env).prediction_model_path == "/tmp/m.joblib"


async def test_bot_turns_are_recorded_and_a_calm_chat_gets_no_offer(gateway: Running, rasa: FakeRasa) -> None:
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    for text in ("hello", "buttons"):
        before = len(customer.of("bot_uttered"))
        await customer.say(text)
        await customer.wait_for("bot_uttered", count=before + 1)
        await gateway.gw.idle()
    turns = await _events(gateway, sid, "bot_turn")
    assert [t["turn"] for t in turns] == [1, 2]
    assert turns[0] == {"turn": 1, "tier": "anonymous", "intent": "inform", "confidence": 0.93, "strikes": 0,
                        "sentiment": 0.0, "model": "model-a"}  # the model Rasa's GET /status reported
    assert rasa.tracker_calls[0][1]["include_events"] == "NONE"
    assert not _offers(customer) and not await _events(gateway, sid, "early_offer")


async def test_offer_once_then_accepting_goes_to_the_lead(gateway: Running, rasa: FakeRasa) -> None:
    l2 = await gateway.add_agent("lena@example.com", role="l2", skills=["general"])
    lead = await gateway.add_agent("omar@example.com", role="lead", skills=["general"])
    for agent in (l2, lead):
        await gateway.agent_client(agent)  # online
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    await gateway.gw.idle()
    assert not _offers(customer)

    rasa.slots["strikes"] = 2.0  # the cold-start rule fires
    for text in ("it did not work", "still nothing"):
        await customer.say(text)
        await customer.wait_for("bot_uttered", lambda m, t=text: m.get("text") == f"echo: {t}")
        await gateway.gw.idle()
    offers = _offers(customer)
    assert len(offers) == 1, "offered exactly once per case"
    assert [(q["title"], q["payload"]) for q in offers[0]["quick_replies"]] == [
        ("Yes, a person please", "/request_human"),
        ("No, keep going", "/keep_going"),
    ]
    [offer] = await _events(gateway, sid, "early_offer")
    assert offer["probability"] >= THRESHOLD and offer["source"] == "rule" and offer["turn"] == 2

    await customer.say("/request_human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "assigned")
    await customer.wait_for("agent_joined", lambda d: d["name"] == lead.name)
    async with gateway.gw.db.read() as s:
        [handoff] = await handoff_store.handoffs_for(s, sid)
    assert handoff.agent_id == lead.id and handoff.reason == "customer_request"
    assert "senior" in handoff.skills and handoff.priority in ("high", "urgent")
    [queued] = await _events(gateway, sid, "queued")
    assert queued["predicted"] is True and queued["probability"] == offer["probability"]


async def test_declining_is_answered_by_the_gateway_and_not_sent_to_rasa(gateway: Running, rasa: FakeRasa) -> None:
    rasa.slots["strikes"] = 2.0
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    await customer.say("it did not work")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == escalation.OFFER_TEXT)
    sent = len(rasa.messages)
    await customer.say("/keep_going")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == escalation.DECLINED_TEXT)
    assert len(rasa.messages) == sent
    assert len(await _events(gateway, sid, "early_offer_declined")) == 1
    await customer.say("still broken")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "echo: still broken")
    await gateway.gw.idle()
    assert len(_offers(customer)) == 1
    # Rasa hears of the decline with every later message (the bot's three-strike rule respects it); not before.
    assert "person_declined" not in rasa.messages[sent - 1]["metadata"]
    assert rasa.messages[-1]["message"] == "still broken"
    assert rasa.messages[-1]["metadata"]["person_declined"] is True
    assert rasa.messages[-1]["metadata"]["conversation_id"] == sid  # alongside the usual metadata


async def test_a_decline_counts_until_the_next_hand_off(gateway: Running) -> None:
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None
    assert "person_declined" not in metadata_for(conv, "secret")
    assert metadata_for(conv, "secret", person_declined=True)["person_declined"] is True
    async with gateway.gw.db.write() as s:
        assert not await event_store.early_offer_declined_this_case(s, sid)
        await event_store.add_event(s, sid, EventType.EARLY_OFFER_DECLINED, "customer")
    async with gateway.gw.db.write() as s:
        assert await event_store.early_offer_declined_this_case(s, sid)
        await event_store.add_event(s, sid, EventType.QUEUED, "bot")  # a new case starts with the next hand-off
    async with gateway.gw.db.read() as s:
        assert not await event_store.early_offer_declined_this_case(s, sid)


async def test_a_tracker_failure_never_disturbs_the_chat(gateway: Running, rasa: FakeRasa) -> None:
    rasa.tracker_down = True
    rasa.slots["strikes"] = 2.0
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    for text in ("hello", "again"):
        before = len(customer.of("bot_uttered"))
        await customer.say(text)
        await customer.wait_for("bot_uttered", count=before + 1)
    await gateway.gw.idle()
    assert [m.get("text") for m in customer.of("bot_uttered")] == ["Hi! How can I help?", "echo: again"]
    assert not await _events(gateway, sid, "bot_turn")
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "bot"
    await rasa.stop()  # Rasa gone entirely: the usual outage path, no prediction noise
    await customer.say("anyone?")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    await asyncio.sleep(0)


async def test_choose_agent_prefers_seniors_only_for_senior_work(gateway: Running) -> None:
    l2 = await gateway.add_agent("lena@example.com", role="l2", skills=["general", "billing"])
    lead = await gateway.add_agent("omar@example.com", role="lead", skills=["general", "technical"])
    async with gateway.gw.db.write() as s:
        for a in (l2, lead):
            await agent_store.set_agent_status(s, a.id, "online")
        agents = await agent_store.agents_with_load(s)
    assert choose_agent(agents, ["billing"]).id == l2.id  # type: ignore[union-attr]
    assert choose_agent(agents, ["general"]).id == l2.id  # type: ignore[union-attr]
    assert choose_agent(agents, ["general", "senior"]).id == lead.id  # type: ignore[union-attr]
    # Seniority is a preference, the skill a requirement: billing work still needs a billing agent.
    assert choose_agent(agents, ["billing", "senior"]).id == l2.id  # type: ignore[union-attr]
    only_l2 = [a for a in agents if a.id == l2.id]
    assert choose_agent(only_l2, ["general", "senior"]).id == l2.id  # type: ignore[union-attr]
