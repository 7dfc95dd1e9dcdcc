"""Rasa reached directly (make shell, the REST channel): its tracker store still never keeps a customer's secret."""

from __future__ import annotations

import secrets
import sqlite3

import aiohttp
import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.launcher import BotServers
from bot.tracker_store import redacted

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
