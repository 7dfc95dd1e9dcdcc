"""Rasa reached directly (make shell, the REST channel): its tracker store still never keeps a customer's secret."""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

import aiohttp
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.launcher import ROOT, BotServers
from bot.tracker_store import RedactingSQLTrackerStore, redacted

CARD = "5555 5555 5555 4444"
KEY = "sk_live_51TrackerStoreKey9876zyx"


def test_user_events_are_copied_redacted_and_others_left_alone() -> None:
    event = UserUttered(
        f"my card {CARD} and key {KEY}", {"name": "inform", "confidence": 0.9},
        [{"entity": "card", "value": CARD, "start": 8, "end": 27}],
        {"text": f"my card {CARD}", "intent": {"name": "inform", "confidence": 0.9}, "entities": [{"value": CARD}]},
        timestamp=12.5, input_channel="rest", message_id="m1", metadata={"channel": "test"},
    )
    stored = redacted(event)
    assert isinstance(stored, UserUttered) and stored is not event
    assert CARD not in str(stored.as_dict()) and KEY not in str(stored.as_dict())
    assert stored.text == "my card [REDACTED CARD ending 4444] and key [REDACTED]"
    assert stored.intent_name == "inform" and stored.timestamp == 12.5 and stored.message_id == "m1"
    assert event.text.startswith(f"my card {CARD}"), "the conversation in memory is untouched"
    action = ActionExecuted("action_listen")
    assert redacted(action) is action, "events that carry only names are written as they are"


def test_slot_and_bot_events_are_copied_redacted() -> None:
    slot = SlotSet("error_details", f"it says card {CARD} declined, key {KEY}", timestamp=3.0)
    stored = redacted(slot)
    assert isinstance(stored, SlotSet) and stored.key == "error_details" and stored.timestamp == 3.0
    assert CARD not in str(stored.as_dict()) and KEY not in str(stored.as_dict())
    assert "[REDACTED CARD ending 4444]" in stored.value
    assert slot.value.startswith("it says card 5555"), "the slot in memory is untouched"
    assert redacted(SlotSet("verified", True)).value is True
    bot = BotUttered(f"You said {CARD}", {"buttons": [{"title": KEY, "payload": "/x"}]})
    stored_bot = redacted(bot)
    assert isinstance(stored_bot, BotUttered)
    assert CARD not in str(stored_bot.as_dict()) and KEY not in str(stored_bot.as_dict())
    assert bot.text == f"You said {CARD}"


@pytest.mark.rasa
async def test_real_rasa_tracker_store_keeps_redacted_text(bot_servers: BotServers) -> None:
    sender = f"privacy-{secrets.token_hex(6)}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{bot_servers.rasa_url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": f"my card is {CARD}, my password is Tr0ub4dor&3"},
                             params={"token": bot_servers.token}) as r:
            assert r.status == 200
    with sqlite3.connect(bot_servers.backend_db.parent / "tracker.db") as db:
        rows = [row[0] for row in db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'",
                                             (sender,))]
    db.close()
    assert len(rows) == 1
    assert "[REDACTED CARD ending 4444]" in rows[0] and "password is [REDACTED]" in rows[0]
    assert CARD not in rows[0] and "Tr0ub4dor&3" not in rows[0]


@pytest.mark.rasa
async def test_real_rasa_tracker_store_keeps_redacted_slots(bot_servers: BotServers) -> None:
    """A from_text slot holds the customer's answer as typed; its row is written redacted."""
    sender = f"privacy-slot-{secrets.token_hex(6)}"
    answer = f"the error shows my card {CARD} and the key {KEY}"
    async with aiohttp.ClientSession() as http:
        for message in ("the app crashes every time I open it", answer, answer):
            async with http.post(f"{bot_servers.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": sender, "message": message},
                                 params={"token": bot_servers.token}) as r:
                assert r.status == 200
    with sqlite3.connect(bot_servers.backend_db.parent / "tracker.db") as db:
        rows = [(kind, data) for kind, data in db.execute(
            "SELECT type_name, data FROM events WHERE sender_id = ?", (sender,))]
    db.close()
    slot_rows = [data for kind, data in rows if kind == "slot" and "REDACTED CARD ending 4444" in data]
    assert slot_rows, "the answer was kept in a slot (redacted)"
    assert not [data for _, data in rows if CARD in data or KEY in data]


# ---------------------------------------------------------------- the tracker kept between messages

def _store(path: Any, **options: Any) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=Domain.load(str(ROOT / "domain.yml")), dialect="sqlite", db=str(path),
                                    **options)


def _turn(tracker: DialogueStateTracker, text: str) -> None:
    """What a message adds: the user's words, the bot's answer, listening again."""
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 0.99}, message_id=secrets.token_hex(16)))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered("Hi!"))
    tracker.update(ActionExecuted("action_listen"))


async def _started(store: RedactingSQLTrackerStore, sender: str) -> DialogueStateTracker:
    """A conversation as Rasa stores it after its first message, then read back from the database."""
    tracker = store.init_tracker(sender)
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    _turn(tracker, "hello")
    await store.save(tracker)
    loaded = await store.retrieve(sender)
    assert loaded is not None
    return loaded


def _as_stored(tracker: DialogueStateTracker | None) -> list[dict[str, Any]]:
    assert tracker is not None
    return [event.as_dict() for event in tracker.events]


async def test_the_saved_tracker_is_handed_back_and_equals_a_reload(tmp_path: Any) -> None:
    store, fresh = _store(tmp_path / "t.db"), _store(tmp_path / "t.db", cached_conversations=0)
    tracker = await _started(store, "kept")
    for text in ("thanks", "one more thing", "hello again"):
        _turn(tracker, text)
        await store.save(tracker)
        again = await store.retrieve("kept")
        assert again is tracker, "the next message gets the same tracker, not one rebuilt from every row"
        assert _as_stored(again) == _as_stored(await fresh.retrieve("kept"))


async def test_another_servers_write_or_an_unsaved_turn_means_a_reload(tmp_path: Any) -> None:
    store, other = _store(tmp_path / "t.db"), _store(tmp_path / "t.db")
    tracker = await _started(store, "shared")
    await store.save(tracker)
    theirs = await other.retrieve("shared")
    assert theirs is not None
    _turn(theirs, "answered by the other Rasa server")
    await other.save(theirs)
    mine = await store.retrieve("shared")
    assert mine is not tracker and _as_stored(mine) == _as_stored(theirs)

    assert mine is not None
    await store.save(mine)
    _turn(mine, "a turn that failed before it was saved")
    reloaded = await store.retrieve("shared")
    assert reloaded is not mine and _as_stored(reloaded) == _as_stored(theirs)


async def test_a_redacted_save_is_never_handed_back_unredacted(tmp_path: Any) -> None:
    store = _store(tmp_path / "t.db")
    tracker = await _started(store, "secret")
    _turn(tracker, f"my card is {CARD}")
    await store.save(tracker)
    again = await store.retrieve("secret")
    assert again is not tracker
    assert CARD not in str(_as_stored(again)) and "[REDACTED CARD ending 4444]" in str(_as_stored(again))


async def test_message_ids_and_token_offsets_are_stored_as_they_are(tmp_path: Any) -> None:
    """Rasa's own parts of the parse data are not the customer's words: written unchanged, the event not rebuilt."""
    message_id = secrets.token_hex(16)
    intent = {"name": "greet", "confidence": 0.99}
    event = UserUttered("hello", intent, [], {"intent": intent, "entities": [], "text": "hello",
                                              "message_id": message_id, "metadata": {}, "text_tokens": [(0, 5)]},
                        message_id=message_id)
    assert redacted(event) is event, "nothing of the customer's to hide: the event is written as it is"
    store = _store(tmp_path / "t.db")
    tracker = store.init_tracker("ids")
    tracker.update(event)
    await store.save(tracker)
    with sqlite3.connect(tmp_path / "t.db") as db:
        (row,) = db.execute("SELECT data FROM events WHERE sender_id = 'ids'").fetchone()
    db.close()
    assert f'"message_id": "{message_id}"' in row and "[REDACTED]" not in row


async def test_only_the_most_recent_conversations_are_kept(tmp_path: Any) -> None:
    store = _store(tmp_path / "t.db", cached_conversations=2)
    trackers = [await _started(store, f"c{i}") for i in range(3)]
    for tracker in trackers:
        await store.save(tracker)
    assert await store.retrieve("c0") is not trackers[0], "the least recently used one was dropped"
    assert await store.retrieve("c2") is trackers[2]
    off = _store(tmp_path / "t.db", cached_conversations=0)
    tracker = await _started(off, "off")
    await off.save(tracker)
    assert await off.retrieve("off") is not tracker
    with pytest.raises(ValueError):
        _store(tmp_path / "t.db", cached_conversations=-1)


async def test_the_kept_trackers_hold_at_most_cached_events_together(tmp_path: Any) -> None:
    store = _store(tmp_path / "t.db", cached_events=20)
    short = await _started(store, "short")  # 6 events
    long = await _started(store, "long")
    for text in ("one", "two", "three", "four"):
        _turn(long, text)  # 22 events: more than the budget alone
    await store.save(long)
    assert await store.retrieve("long") is not long, "a conversation longer than the budget is not kept"
    assert await store.retrieve("short") is short
    middle = await _started(store, "middle")
    _turn(middle, "more")
    await store.save(middle)  # 6 + 10 events: within the budget
    assert await store.retrieve("short") is short and await store.retrieve("middle") is middle
    last = await _started(store, "last")
    _turn(last, "more")
    await store.save(last)  # 16 + 10: the least recently used goes
    assert await store.retrieve("short") is not short and await store.retrieve("last") is last
    assert store._kept_events <= 20


async def test_a_first_save_that_a_reload_would_read_differently_is_not_kept(tmp_path: Any) -> None:
    """Rasa reads back only the latest session: a tracker holding the events before it is not what a reload gives."""
    store = _store(tmp_path / "t.db")
    tracker = store.init_tracker("two-sessions")
    tracker.update(ActionExecuted("action_session_start", timestamp=1.0))
    tracker.update(SessionStarted(timestamp=2.0))
    tracker.update(ActionExecuted("action_listen", timestamp=3.0))
    await store.save(tracker)
    again = await store.retrieve("two-sessions")
    assert again is not tracker and len(again.events) == 2
