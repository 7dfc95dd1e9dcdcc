"""Did a retrain help real conversations: containment and escalation per intent, for each model version.

The gateway learns the loaded model from Rasa's ``GET /status`` (its health check), stamps each bot turn with it,
and ``/api/training/versions`` compares the versions per intent (a fake Rasa stands in for the bot).
"""

from __future__ import annotations

import aiohttp

from handoff.domain import auth
from handoff.domain.records import AgentRecord
from tests.handoff.helpers import HANDOFF_PAYLOAD, TOKEN_SECRET, FakeRasa, Running, wait_until


def _token(agent: AgentRecord) -> str:
    return auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 600)


async def _chat(gateway: Running, *messages: str) -> str:
    customer = await gateway.customer()
    for text in messages:
        await customer.say(text)
        await customer.wait_for("bot_uttered", count=len(customer.of("bot_uttered")) + 1)
    await gateway.gw.idle()  # the bot turn's event is written in the background
    return str(customer.of("session_confirm")[-1])


async def test_each_model_version_is_compared_per_intent(gateway: Running, rasa: FakeRasa) -> None:
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    await wait_until(lambda: gateway.gw.rasa.model_id == "model-a")

    rasa.latest_intent = "billing_invoice"
    rasa.handoff_payload = {**HANDOFF_PAYLOAD, "intent": "billing_invoice"}
    await _chat(gateway, "where is my invoice")
    await _chat(gateway, "where is my invoice", "human")
    rasa.latest_intent = "greet"  # small talk only: the conversation has no topic
    await _chat(gateway, "hello")

    rasa.model_id = "model-b"  # a retrain loaded a new model
    await gateway.gw.rasa.check_health()
    assert gateway.gw.rasa.model_id == "model-b"
    rasa.latest_intent = "billing_invoice"
    await _chat(gateway, "I need last month's invoice")

    report = await gateway.get_json("/api/training/versions?window=1d", _token(dana))
    assert [(m["model"], m["current"]) for m in report["models"]] == [("model-a", False), ("model-b", True)]
    assert report["models"][0]["engaged"] == 3 and report["models"][1]["engaged"] == 1
    invoice = next(i for i in report["intents"] if i["intent"] == "billing_invoice")
    before, after = invoice["by_model"]["model-a"], invoice["by_model"]["model-b"]
    assert (before["engaged"], before["escalated"], before["containment"]) == (2, 1, 0.5)
    assert (after["engaged"], after["escalated"], after["containment"], after["escalation_rate"]) == (1, 0, 1.0, 0.0)
    assert "greet" not in [i["intent"] for i in report["intents"]]

    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {_token(lena)}"}
        async with http.get(f"{gateway.url}/api/training/versions", headers=headers) as resp:
            assert resp.status == 403 and "designers" in (await resp.json())["error"]
        async with http.get(f"{gateway.url}/api/training/versions?window=forever", headers={
            "Authorization": f"Bearer {_token(dana)}"
        }) as resp:
            assert resp.status == 400


async def test_the_health_check_learns_no_model_without_the_token(gateway_factory, rasa: FakeRasa) -> None:  # type: ignore[no-untyped-def]
    gateway = await gateway_factory(rasa_token="a-wrong-token-0123456789")
    await wait_until(lambda: bool(rasa.status_calls))
    assert gateway.gw.rasa.model_id is None
    assert gateway.gw.rasa.healthy == {rasa.url}, "a refused status is an answering server"
