"""The conversation designer: the Needs training page, its linked transcripts, labels and retrains; nothing else.

Refused on the server (REST 403 with the reason, the agent socket refuses the connection), not only hidden in the UI.
Labels go into a copy of the checkout's training data; the retrain runs a stand-in for ``bot.retrain``.
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from handoff.domain import auth
from handoff.domain.records import AgentRecord
from tests.handoff.helpers import RASA_TOKEN, TOKEN_SECRET, Client, Running, wait_until


async def _rest(gateway: Running, agent: AgentRecord, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 600)}"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, gateway.url + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


async def _handed_back_with_note(gateway: Running, lena: AgentRecord) -> str:
    """A conversation Lena handed back with a coaching note (an inbox item); she wrote the customer a message."""
    customer, conversation_id = await gateway.queued_customer()
    agent = await gateway.agent_client(lena)
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"] is True
    await agent.call("agent_message", {"conversation_id": conversation_id, "text": "Lena here, checking"})
    await agent.call("note", {"conversation_id": conversation_id, "text": "private: customer sounded upset"})
    done = await agent.call(
        "handback", {"conversation_id": conversation_id, "coaching_note": "the bot should offer the refund form"}
    )
    assert done["ok"] is True, done
    await customer.close()
    return conversation_id


async def test_a_designer_is_refused_every_agent_route_and_the_agent_socket(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    handed_back = await _handed_back_with_note(gateway, lena)
    _, queued = await gateway.queued_customer()

    refused = [
        ("GET", "/api/conversations"),
        ("GET", f"/api/conversations/{handed_back}"),
        ("GET", f"/api/conversations/{handed_back}/customer"),
        ("GET", "/api/handoffs"),
        ("GET", "/api/queue"),
        ("GET", "/api/canned_replies"),
        ("GET", "/api/metrics?group_by=agent"),
        ("GET", "/api/metrics/series"),
        ("POST", f"/api/conversations/{queued}/claim"),
        ("POST", f"/api/conversations/{queued}/messages"),
        ("POST", f"/api/conversations/{queued}/notes"),
        ("POST", f"/api/conversations/{queued}/barge_in"),
        ("POST", f"/api/conversations/{handed_back}/context_loss"),
    ]
    for method, path in refused:
        body = {"text": "hello"} if method == "POST" else None
        status, data = await _rest(gateway, dana, method, path, body)
        assert (status, data.get("code")) == (403, "forbidden"), (method, path, status, data)
        assert "Needs training" in data["error"]
    # The same routes still serve the agents who work conversations.
    assert (await _rest(gateway, lena, "GET", "/api/queue"))[0] == 200
    # What a designer does get: who they are, the Needs training page, the retrain status.
    assert (await _rest(gateway, dana, "GET", "/api/me"))[1]["role"] == "designer"
    assert (await _rest(gateway, dana, "GET", "/api/nlu_misses"))[0] == 200
    assert (await _rest(gateway, dana, "GET", "/api/training/retrain"))[1]["status"] == "idle"

    # The agent socket: no connection at all (no queue snapshot, no presence, no events).
    client = Client("/agents")
    token = auth.issue_token(TOKEN_SECRET, dana.id, dana.role, 600)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(gateway.url, {"token": token})
    await client.close()
    # Lena's token, made the same way, connects (she is online since _handed_back_with_note): the role is refused.
    assert (await gateway.agent_client(lena)).of("queue_snapshot")


async def test_a_designer_reads_only_transcripts_the_inbox_links_to_without_agents_private_data(
    gateway_factory: Any,
) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", role="l2", team="general", skills=["general"])
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", team="technical", skills=["general"])
    handed_back = await _handed_back_with_note(gateway, lena)
    _, queued = await gateway.queued_customer()  # in the queue, in no inbox item

    status, inbox = await _rest(gateway, dana, "GET", "/api/nlu_misses")
    notes = [f for f in inbox["findings"] if f["kind"] == "coaching_note"]
    assert [(f["conversation_id"], f["detail"]) for f in notes] == [(handed_back, "the bot should offer the refund form")]
    assert notes[0]["examples"] == ["human"]  # what the customer told the bot before the hand-off
    assert "Lena" not in json.dumps(inbox)

    status, transcript = await _rest(gateway, dana, "GET", f"/api/training/conversations/{handed_back}")
    assert status == 200, transcript
    assert set(transcript) == {"conversation_id", "state", "messages"}
    said = [(m["sender"], m["text"]) for m in transcript["messages"]]
    assert ("customer", "human") in said and ("agent", "Lena here, checking") in said
    # What the customer saw, nothing more: no agent ids or names beside the messages, no private notes, no events.
    assert all(set(m) == {"seq", "sender", "text", "at"} for m in transcript["messages"])
    assert "upset" not in json.dumps(transcript) and "refund form" not in json.dumps(transcript)

    status, refused = await _rest(gateway, dana, "GET", f"/api/training/conversations/{queued}")
    assert (status, refused["code"]) == (403, "forbidden")
    assert (await _rest(gateway, omar, "GET", f"/api/training/conversations/{queued}"))[0] == 200  # leads: any


async def test_designers_and_leads_label_into_the_training_project_and_agents_cannot(
    gateway_factory: Any, project: Path
) -> None:
    gateway = await gateway_factory(training_project=str(project))
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", team="technical", skills=["general"])

    status, intents = await _rest(gateway, dana, "GET", "/api/training/intents")
    assert status == 200 and "account_locked" in intents["intents"] and "handback" not in intents["intents"]
    body = {"text": "my login code never arrives", "intent": "account_locked"}
    assert (await _rest(gateway, lena, "POST", "/api/training/labels", body))[0] == 403
    assert (await _rest(gateway, lena, "GET", "/api/training/intents"))[0] == 403
    status, written = await _rest(gateway, dana, "POST", "/api/training/labels", body)
    assert (status, written["file"], written["added"]) == (201, "data/nlu/password.yml", True)
    assert "    - my login code never arrives\n" in (project / "data" / "nlu" / "password.yml").read_text()
    assert (await _rest(gateway, omar, "POST", "/api/training/labels", body))[:1] == (200,)  # already there

    status, error = await _rest(gateway, dana, "POST", "/api/training/labels", {**body, "text": "two\nlines"})
    assert (status, error["code"]) == (400, "invalid_text") and "one line" in error["error"]
    status, error = await _rest(gateway, dana, "POST", "/api/training/labels", {"text": "x y z", "intent": "Bad-Name",
                                                                                   "new_intent": True})
    assert (status, error["code"]) == (400, "invalid_intent")

    # A message in a language the bot does not speak stays out of the English training data (it goes to people).
    spanish = {"text": "no me llega el correo para cambiar la contraseña", "intent": "reset_password"}
    status, error = await _rest(gateway, dana, "POST", "/api/training/labels", spanish)
    assert (status, error["code"]) == (400, "wrong_language") and "Spanish" in error["error"], error
    assert "no me llega" not in (project / "data" / "nlu" / "password.yml").read_text()
    mixed = {"text": "gracias, the reset link worked this time", "intent": "thank"}  # English with a foreign word
    assert (await _rest(gateway, dana, "POST", "/api/training/labels", mixed))[0] == 201


def _fake_retrain(tmp_path: Path, exit_code: int, seconds: float) -> Path:
    """A stand-in for ``<bot python> -m bot.retrain``: records its arguments and environment, prints a report."""
    report = {"accepted": exit_code == 0, "before": {"fingerprint": "old", "holdouts": {}, "story_failures": 0},
              "after": {"fingerprint": "new", "holdouts": {}, "story_failures": 0},
              "worse": [] if exit_code == 0 else ["holdout in scope accuracy: 0.900 -> 0.800"],
              "loaded_into": ["http://rasa"] if exit_code == 0 else []}
    script = tmp_path / f"fake-python-{exit_code}"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args"\n'
        f'echo "$RASA_URLS $RASA_TOKEN" > "{tmp_path}/env"\n'
        f"sleep {seconds}\n"
        "echo 'some log line'\n"
        f"echo '{json.dumps(report)}'\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


async def test_one_retrain_at_a_time_with_its_report_and_verdict(
    gateway_factory: Any, project: Path, tmp_path: Path
) -> None:
    (project / "config.yml").write_text("")
    gateway = await gateway_factory(training_project=str(project), bot_python=str(_fake_retrain(tmp_path, 0, 1.0)))
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    assert (await _rest(gateway, lena, "POST", "/api/training/retrain", {}))[0] == 403

    status, run = await _rest(gateway, dana, "POST", "/api/training/retrain", {})
    assert (status, run["status"], run["started_by"]) == (202, "running", "Dana")
    status, again = await _rest(gateway, dana, "POST", "/api/training/retrain", {})
    assert (status, again["code"]) == (409, "retrain_running")

    async def finished() -> bool:
        return (await _rest(gateway, dana, "GET", "/api/training/retrain"))[1]["status"] != "running"

    for _ in range(100):
        if await finished():
            break
        await asyncio.sleep(0.1)
    status, run = await _rest(gateway, dana, "GET", "/api/training/retrain")
    assert (run["status"], run["exit_code"], run["report"]["loaded_into"]) == ("done", 0, ["http://rasa"])
    assert (tmp_path / "args").read_text().split() == ["-m", "bot.retrain", "--json", "--project", str(project)]
    assert (tmp_path / "env").read_text().split() == [gateway.gw.settings.rasa_url, RASA_TOKEN]


async def test_a_refused_candidate_says_which_figures_got_worse(
    gateway_factory: Any, project: Path, tmp_path: Path
) -> None:
    gateway = await gateway_factory(training_project=str(project), bot_python=str(_fake_retrain(tmp_path, 3, 0)))
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", team="technical", skills=["general"])
    assert (await _rest(gateway, omar, "POST", "/api/training/retrain", {}))[0] == 202
    runs: list[Any] = []

    async def done() -> bool:
        runs.append((await _rest(gateway, omar, "GET", "/api/training/retrain"))[1])
        return bool(runs[-1]["status"] != "running")

    await wait_until(done, timeout=20, interval=0.1)
    assert runs[-1]["status"] == "refused"
    assert runs[-1]["report"]["worse"] == ["holdout in scope accuracy: 0.900 -> 0.800"]


async def test_a_hand_back_says_why_and_only_known_reasons_are_taken(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    agent = await gateway.agent_client(lena)
    _, conversation_id = await gateway.queued_customer()
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"] is True
    refused = await agent.call(
        "handback", {"conversation_id": conversation_id, "coaching_note": "", "handback_reason": "tired"}
    )
    assert refused["code"] == "invalid_value", refused
    done = await agent.call(
        "handback", {"conversation_id": conversation_id, "coaching_note": "", "handback_reason": "solved"}
    )
    assert done["ok"] is True, done
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 600)
    events = (await gateway.get_json(f"/api/conversations/{conversation_id}", token))["events"]
    assert next(e for e in events if e["type"] == "handback")["data"]["handback_reason"] == "solved"

    # A wrong escalation is an inbox item even without a note; a solved hand-back without one is not.
    _, wrongly = await gateway.queued_customer()
    assert (await agent.call("claim", {"conversation_id": wrongly}))["ok"] is True
    done = await agent.call("handback", {"conversation_id": wrongly, "coaching_note": "",
                                         "handback_reason": "wrong_escalation"})
    assert done["ok"] is True, done
    inbox = await gateway.get_json("/api/nlu_misses", token)
    items = [(f["conversation_id"], f["handback_reason"]) for f in inbox["findings"] if f["kind"] == "coaching_note"]
    assert items == [(wrongly, "wrong_escalation")]


async def test_had_to_ask_again_is_an_inbox_item_linked_to_its_conversation(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    dana = await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    agent = await gateway.agent_client(lena)
    _, conversation_id = await gateway.queued_customer()
    assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"] is True
    flagged = await agent.call(
        "flag_context_loss", {"conversation_id": conversation_id, "note": "had to ask for the invoice number again"}
    )
    assert flagged["ok"] is True, flagged
    await gateway.gw.idle()
    inbox = (await _rest(gateway, dana, "GET", "/api/nlu_misses"))[1]
    assert inbox["findings_by_kind"]["context_loss"] == 1
    [item] = [f for f in inbox["findings"] if f["kind"] == "context_loss"]
    assert (item["conversation_id"], item["detail"], item["examples"]) == (
        conversation_id, "had to ask for the invoice number again", ["human"])
    assert (await _rest(gateway, dana, "GET", f"/api/training/conversations/{conversation_id}"))[0] == 200
