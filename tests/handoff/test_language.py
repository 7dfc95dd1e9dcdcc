"""Language routing through the real gateway (Socket.IO clients, real lingua models, a fake Rasa for the bot)."""

from __future__ import annotations

from handoff.storage import conversations as conversation_store
from tests.handoff.helpers import FakeRasa, Running, wait_until

SPANISH_HANDOFF = "Lo siento, el asistente solo habla inglés. Te paso con una persona de nuestro equipo que habla español."


def _texts(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.get("text") for m in client.of("bot_uttered")]


async def test_spanish_customer_is_answered_in_spanish_and_routed_to_a_spanish_speaker(
    gateway: Running, rasa: FakeRasa
) -> None:
    english = await gateway.add_agent("eve@example.com", name="Eve", languages=["en"])
    spanish = await gateway.add_agent("sol@example.com", name="Sol", languages=["en", "es"])
    eve = await gateway.agent_client(english)
    sol = await gateway.agent_client(spanish)
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]

    await customer.say("hola, necesito ayuda con mi pago")  # one message: not yet enough evidence
    await customer.wait_for("bot_uttered", lambda d: d.get("text", "").startswith("echo:"))
    await customer.say("me cobraron dos veces por la misma factura")
    await customer.wait_for("bot_uttered", lambda d: d.get("text") == SPANISH_HANDOFF)
    assigned = await sol.wait_for("assigned", lambda d: d["conversation_id"] == sid)
    assert assigned["by"] == "auto"
    await customer.wait_for("agent_joined", lambda d: d["name"] == "Sol")

    # The second message never reached the bot: the gateway answered it itself.
    assert [m["message"] for m in rasa.messages] == ["hola, necesito ayuda con mi pago"]
    assert not [d for d in eve.of("assigned") if d["conversation_id"] == sid]
    queued = await eve.wait_for("handoff_queued", lambda d: d["conversation_id"] == sid)
    assert queued["handoff"]["reason"] == "language"
    assert "lang:es" in queued["handoff"]["skills"]
    assert queued["summary"]["language"] == {"code": "es", "name": "Spanish", "messages": 2}
    assert "Language: Spanish (detected from 2 messages)" in queued["summary_text"]
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.language == "es" and conv.assigned_agent_id == spanish.id


async def test_no_speaker_online_says_so_in_spanish_and_anyone_may_claim(gateway: Running, rasa: FakeRasa) -> None:
    english = await gateway.add_agent("eve@example.com", name="Eve", languages=["en"])
    eve = await gateway.agent_client(english)
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]

    await customer.say("¿cómo cambio mi correo electrónico? la aplicación se cierra cuando inicio sesión")
    await customer.wait_for("bot_uttered", lambda d: d.get("text") == SPANISH_HANDOFF)
    await customer.wait_for("bot_uttered", lambda d: "no hay nadie conectado que hable español" in d.get("text", ""))
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    assert rasa.messages == []
    # Not auto-assigned to the English-only agent ...
    snapshot = await eve.wait_for("queue_snapshot", lambda d: any(i["conversation_id"] == sid for i in d["queue"]))
    item = next(i for i in snapshot["queue"] if i["conversation_id"] == sid)
    assert item["reason"] == "language"
    assert not eve.of("assigned")
    # ... who may still claim it by hand.
    claimed = await eve.call("claim", {"conversation_id": sid})
    assert "error" not in claimed, claimed
    await customer.wait_for("agent_joined", lambda d: d["name"] == "Eve")


async def test_english_with_a_spanish_name_stays_with_the_bot(gateway: Running, rasa: FakeRasa) -> None:
    spanish = await gateway.add_agent("sol@example.com", name="Sol", languages=["en", "es"])
    sol = await gateway.agent_client(spanish)
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    messages = [
        "my name is José García and my invoice is wrong",
        "Danke, that worked",
        "hola",
        "the payment to Señor Pérez failed twice",
    ]
    for text in messages:
        await customer.say(text)
        await customer.wait_for("bot_uttered", lambda d, t=text: d.get("text") == f"echo: {t}")
    assert [m["message"] for m in rasa.messages] == messages
    assert not any(t and "habla" in t for t in _texts(customer))
    assert not sol.of("handoff_queued") and not sol.of("assigned")
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "bot" and conv.language == "en"


async def test_hostile_non_ascii_text_goes_through(gateway: Running, rasa: FakeRasa) -> None:
    customer = await gateway.customer()
    hostile = ["😡" * 1000, "\u202e\u200b" * 600, "ñ" * 2000, "Ünïcödé " * 300, "<script>x</script> ¿¡ " * 150]
    for text in hostile:
        ack = await customer.say(text)
        assert "seq" in ack, ack
    await wait_until(lambda: len(rasa.messages) == len(hostile), timeout=5)
    sid = customer.of("session_confirm")[-1]
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "bot"
