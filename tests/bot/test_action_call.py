"""bot.action_call: the action server gets the very bytes Rasa's own code would send, however the conversation went.

Rasa's body is ``RemoteAction._action_call_format`` as Rasa ships it (bot.action_call.RASA_ACTION_CALL_FORMAT) and its
text ``json.dumps`` of it, as aiohttp's default serialiser writes it. The conversations are random sequences over the
project's domain (tests/bot/random_conversations.py) with the events Rasa changes in place (entities added to the
latest message, reverts that make an earlier message the latest), asked after every few events, so an event's kept
text is used many calls after it was made.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    EntitiesAdded,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import action_call
from tests.bot.random_conversations import random_events

ROOT = Path(__file__).resolve().parents[2]
SELECTIVE = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=True)


@pytest.fixture(scope="module")
def domain() -> Domain:
    action_call.install()
    return Domain.load(str(ROOT / "domain.yml"))


def _both(action: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> tuple[dict[str, Any], dict[str, Any]]:
    return action_call.action_call_format(action, tracker, domain), action_call.RASA_ACTION_CALL_FORMAT(
        action, tracker, domain)


def _assert_same(ours: dict[str, Any], rasas: dict[str, Any], where: Any) -> None:
    assert ours == rasas, where
    assert action_call.to_json(ours) == json.dumps(rasas), where


@pytest.mark.parametrize("seed", range(30))
def test_every_body_is_rasas_after_every_few_events(domain: Domain, seed: int) -> None:
    rng = random.Random(seed)
    tracker = DialogueStateTracker(f"call-{seed}", domain.slots)
    actions = [RemoteAction(name, SELECTIVE) for name in ("action_handoff", "validate_password_reset_form")]
    actions.append(RemoteAction("action_session_start", EndpointConfig("http://127.0.0.1:1/webhook")))
    for step, event in enumerate(random_events(domain, rng, 90)):
        tracker.update(event)
        if rng.random() < 0.4:
            continue
        ours, rasas = _both(rng.choice(actions), tracker, domain)
        _assert_same(ours, rasas, (seed, step))
        if rng.random() < 0.2:  # the next call is made on a copy, as the processor's are
            tracker = tracker.copy()


def _parsed(text: str, domain: Domain) -> UserUttered:
    """A user message as Rasa's processor makes it: its entities (when there are some) are the very list in its
    parse data, so entities added later change its dict."""
    parse_data: Any = {"intent": {"name": domain.intents[0], "confidence": 0.9}, "text": text,
                       "entities": [{"entity": "email", "value": "ben@example.com", "start": 0, "end": 5}]}
    return UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data)


def test_a_kept_message_changed_after_a_revert_is_written_anew(domain: Domain) -> None:
    """A revert makes the earlier message the latest; entities added then change it after its text was kept."""
    tracker = DialogueStateTracker("revert", domain.slots)
    action = RemoteAction("action_handoff", SELECTIVE)
    for event in (ActionExecuted("action_listen"), _parsed("first", domain), ActionExecuted("action_listen"),
                  _parsed("second", domain)):
        tracker.update(event)
    _assert_same(*_both(action, tracker, domain), "the first message is settled and kept")
    first = tracker.events[1]
    assert action_call._KEPT in first.__dict__
    tracker.update(UserUtteranceReverted())
    assert tracker.latest_message is first
    tracker.update(EntitiesAdded([{"entity": "email", "value": "ana@example.com"}]))
    assert len(first.as_dict()["parse_data"]["entities"]) == 2, "Rasa changed the kept message in place"
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(_parsed("third", domain))
    _assert_same(*_both(action, tracker, domain), "the changed message is written again")
    tracker.update(Restarted())
    _assert_same(*_both(action, tracker, domain), "after a restart")


def test_a_body_whose_words_spell_the_mark_is_written_whole(domain: Domain) -> None:
    tracker = DialogueStateTracker("mark", domain.slots)
    for event in (ActionExecuted("action_listen"), UserUttered(action_call._MARK, {"name": domain.intents[0]}),
                  SlotSet(domain.slots[0].name, action_call._MARK), ActionExecuted("action_listen"),
                  UserUttered("again", {"name": domain.intents[0]})):
        tracker.update(event)
    _assert_same(*_both(RemoteAction("action_handoff", SELECTIVE), tracker, domain), "the mark in the words")


def test_other_requests_are_written_by_json_dumps() -> None:
    for value in ({"tracker": {"events": [{"event": "action"}]}}, [1, 2.5, "é", None], {"next_action": "x"}, "text",
                  {"tracker": "not a dict"}, {"a": float("nan")}):
        assert action_call.to_json(value) == json.dumps(value)


async def test_the_action_server_receives_rasas_bytes(domain: Domain) -> None:
    """Through Rasa's own RemoteAction.run and aiohttp, as ``rasa run`` calls the action server."""
    received: list[bytes] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Hop": "1"},
                                  enable_selective_domain=True)
        tracker = DialogueStateTracker("wire", domain.slots)
        for event in random_events(domain, random.Random(3), 60):
            tracker.update(event)
        action = RemoteAction("validate_password_reset_form", endpoint)
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        for _ in range(2):  # the second call sends the kept texts
            await action.run(CollectingOutputChannel(), nlg, tracker, domain)
            assert received[-1] == json.dumps(action_call.RASA_ACTION_CALL_FORMAT(action, tracker, domain)).encode()
    finally:
        await runner.cleanup()


async def test_the_session_is_configured_as_rasas() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", headers={"X-Hop": "1"},
                              basic_auth={"username": "u", "password": "p"})
    async with action_call.session(endpoint) as ours, action_call.RASA_SESSION(endpoint) as rasas:
        assert dict(ours.headers) == dict(rasas.headers) == {"X-Hop": "1"}
        assert ours.auth == rasas.auth == aiohttp.BasicAuth("u", "p")
        assert ours.timeout == rasas.timeout
        assert ours.json_serialize is action_call.to_json
