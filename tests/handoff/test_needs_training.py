"""Needs training lists loops, repeated questions, corrected misreads and avoidable hand-offs, from real chats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handoff.analytics.friction import Said, analyse
from handoff.domain import auth
from tests.handoff.helpers import TOKEN_SECRET, Client, FakeRasa, Running

ASK_INVOICE = "Which charge is it? Tell me the invoice number (it starts with INV-)."
NO_REFUNDS = "I don't see any refunds on your account."
T0 = datetime(2026, 3, 2, 9, 0)


def _scripted(rasa: FakeRasa) -> None:
    """The bot of the issue: a form that will not let go, and a refund request read as a refund status question."""
    default = rasa.script

    def script(message: str) -> list[dict[str, Any]]:
        if message.startswith(("I don't know the number", "forget it", "cancel")):
            return [{"text": ASK_INVOICE}]
        if message == "I'd like my money back for the last charge":
            return [{"text": NO_REFUNDS}]
        return default(message)

    rasa.script = script  # type: ignore[method-assign]


async def _chat(gateway: Running, *texts: str) -> tuple[Client, str]:
    c = await gateway.customer()
    for text in texts:
        before = len(c.of("bot_uttered"))
        await c.say(text)
        await c.wait_for("bot_uttered", count=before + 1)
    return c, c.of("session_confirm")[-1]


async def _needs_training(gateway: Running, token: str) -> dict[str, Any]:
    body: dict[str, Any] = await gateway.get_json("/api/nlu_misses?window=1d", token)
    return body


async def test_every_kind_is_listed_with_the_customers_words_and_the_conversation(
    gateway: Running, rasa: FakeRasa
) -> None:
    _scripted(rasa)
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 3600)

    _, looped = await _chat(
        gateway, "why was I charged twice", "I don't know the number", "forget it, card 4111 1111 1111 1111", "cancel"
    )
    _, misread = await _chat(gateway, "I'd like my money back for the last charge", "that's not what I asked")
    _, repeated = await _chat(gateway, "why did my bill go up this month", "why did my bill go up this month??")
    _, calm = await _chat(gateway, "hello", "buttons")

    avoidable_ids = []
    for code, avoidable in (("solved", True), ("workaround", False)):
        customer, sid = await _chat(gateway, "how do I change my plan")
        await customer.say("human")
        await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
        await agent.call("claim", {"conversation_id": sid})
        result = await agent.call(
            "resolve", {"conversation_id": sid, "resolution_code": code, **({"avoidable": True} if avoidable else {})}
        )
        assert result["ok"] is True
        avoidable_ids.append(sid)

    body = await _needs_training(gateway, token)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for f in body["findings"]:
        by_kind.setdefault(f["kind"], []).append(f)
    assert body["findings_by_kind"] == {
        "loop": 1, "repeated_question": 1, "corrected_misread": 1, "avoidable_handoff": 1,
        "coaching_note": 0, "context_loss": 0,  # tests/handoff/test_designer_access.py lists these
    }

    [loop] = by_kind["loop"]
    assert loop["conversation_id"] == looped and loop["count"] == 3 and loop["detail"] == ASK_INVOICE
    assert loop["examples"][0] == "I don't know the number" and loop["examples"][2] == "cancel"
    assert loop["examples"][1].startswith("forget it, card") and "4111" not in str(body), "redacted"

    [correction] = by_kind["corrected_misread"]
    assert correction["conversation_id"] == misread
    assert correction["examples"] == ["I'd like my money back for the last charge"]
    assert correction["correction"] == "that's not what I asked" and correction["bot_answer"] == NO_REFUNDS

    [repeat] = by_kind["repeated_question"]
    assert repeat["conversation_id"] == repeated and repeat["count"] == 2
    assert repeat["examples"] == ["why did my bill go up this month", "why did my bill go up this month??"]

    [avoid] = by_kind["avoidable_handoff"]
    assert avoid["conversation_id"] == avoidable_ids[0] and avoid["resolution_code"] == "solved"
    assert avoid["examples"] == ["how do I change my plan", "human"]

    listed = {f["conversation_id"] for f in body["findings"]}
    assert calm not in listed and avoidable_ids[1] not in listed


def _said(*turns: tuple[str, str]) -> list[Said]:
    return [Said(i + 1, sender, text, T0 + timedelta(seconds=i)) for i, (sender, text) in enumerate(turns)]


def test_what_is_not_a_finding() -> None:
    quiet = _said(
        ("customer", "yes"),
        ("bot", "Did it work?"),
        ("customer", "yes"),  # short answers repeat; not a question
        ("bot", "Did it work?"),  # twice is not a loop
        ("customer", "/affirm"),
        ("bot", "Great!"),
        ("customer", "no, I meant the other account"),  # after a button: nothing the NLU misread
    )
    assert analyse("c1", quiet) == []
    # A correction that does not follow a bot answer is not one.
    assert analyse("c2", _said(("customer", "reset my password"), ("customer", "wrong answer"))) == []


def test_corrections_are_recognised_in_the_usual_wordings() -> None:
    for said in ("That's not what I asked!", "no, I meant my invoice", "wrong answer", "that\u2019s not what i meant",
                 "you misunderstood me", "I didn't ask for that"):
        turns = _said(("customer", "refund please"), ("bot", "Here is your refund status."), ("customer", said))
        assert [f.kind for f in analyse("c", turns)] == ["corrected_misread"], said
    turns = _said(("customer", "refund please"), ("bot", "Here is your refund status."), ("customer", "thanks"))
    assert analyse("c", turns) == []
