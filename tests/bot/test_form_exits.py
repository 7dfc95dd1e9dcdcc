"""End to end with the real bot: every form can be left, and no question is asked more than twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.launcher import BotServers
from tests.bot.test_conversations import handoff_of, new_sender, say, texts, tracker

pytestmark = pytest.mark.rasa

ASK_CHARGE = "Which charge is it?"


def buttons(replies: list[dict[str, Any]]) -> list[str]:
    return [b.get("title", "") for reply in replies for b in reply.get("buttons") or []]


async def signed_in(servers: BotServers, customer: str) -> tuple[str, dict[str, Any]]:
    sender = new_sender()
    return sender, {"channel": "test", "customer": servers.customer(sender, customer)}


async def test_cancel_leaves_the_charge_form(bot_servers: BotServers) -> None:
    sender, meta = await signed_in(bot_servers, "cus_1004")
    replies = await say(bot_servers, sender, "i think you charged me for something wrong", meta)
    assert ASK_CHARGE in texts(replies)
    replies = await say(bot_servers, sender, "cancel", meta)
    assert "I've stopped that" in texts(replies) and ASK_CHARGE not in texts(replies)
    state = await tracker(bot_servers, sender)
    assert state["active_loop"] in ({}, None) or not state["active_loop"].get("name")
    replies = await say(bot_servers, sender, "what's my latest invoice", meta)
    assert "Your latest invoice is INV-1071" in texts(replies)


async def test_another_question_inside_the_charge_form_is_answered(bot_servers: BotServers) -> None:
    sender, meta = await signed_in(bot_servers, "cus_1004")
    await say(bot_servers, sender, "there's a charge on my card i don't recognise", meta)
    replies = await say(bot_servers, sender, "hmm actually can you just show me my most recent bill", meta)
    assert "Your latest invoice is INV-1071" in texts(replies), replies
    assert ASK_CHARGE not in texts(replies)


async def test_i_dont_know_lists_the_charges_and_a_pick_refunds_the_duplicate(bot_servers: BotServers) -> None:
    sender, meta = await signed_in(bot_servers, "cus_1004")
    await say(bot_servers, sender, "I got billed twice I think", meta)
    replies = await say(bot_servers, sender, "i don't know the number", meta)
    assert "most recent charges" in texts(replies), replies
    assert any(title.startswith("INV-1071") for title in buttons(replies))
    payload = next(b["payload"] for r in replies for b in r.get("buttons") or [] if b["title"].startswith("INV-1071"))
    replies = await say(bot_servers, sender, payload, meta)
    assert "I've refunded the duplicate charge" in texts(replies), replies


async def test_two_unusable_answers_end_the_question_with_choices(bot_servers: BotServers) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, "i need to see my invoice")
    assert "email address" in texts(replies)
    await say(bot_servers, sender, "the usual one")
    replies = await say(bot_servers, sender, "same as always")
    assert "I don't want to keep asking" in texts(replies), replies
    assert "Talk to a person" in buttons(replies)
    assert "email address on your account" not in texts(replies)
    state = await tracker(bot_servers, sender)
    assert state["slots"]["strikes"] == 1.0 and state["slots"]["strike_kinds"] == ["form_loop"]


async def test_an_emoji_is_not_a_strike(bot_servers: BotServers) -> None:
    sender = new_sender()
    for _ in range(3):
        replies = await say(bot_servers, sender, "🤔")
        assert handoff_of(replies) is None, replies
    state = await tracker(bot_servers, sender)
    assert not state["slots"].get("strikes")
