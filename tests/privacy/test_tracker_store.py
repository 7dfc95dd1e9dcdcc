"""Rasa reached directly (make shell, the REST channel): its tracker store still never keeps a customer's secret."""

from __future__ import annotations

import secrets
import sqlite3

import aiohttp
import pytest
from rasa.shared.core.events import BotUttered, UserUttered

from bot.tracker_store import redacted
from tests.servers import BotServers

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
    bot = BotUttered(f"echo {CARD}")
    assert redacted(bot) is bot


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
