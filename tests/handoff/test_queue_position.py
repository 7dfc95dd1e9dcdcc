"""A customer's place in the queue, counted in SQL, agrees with the queue the agents see."""

from __future__ import annotations

import random
from datetime import timedelta

from handoff.storage import conversations as conversation_store
from handoff.storage import handoffs as handoff_store
from handoff.storage.models import utcnow
from tests.handoff.helpers import Running


async def test_counted_position_matches_the_queue_order(gateway: Running) -> None:
    await check_queue_positions(gateway)


async def check_queue_positions(gateway: Running) -> None:
    """30 hand-offs of mixed priority and deadline (one claimed) plus a bot-only chat; every position agrees."""
    gw = gateway.gw
    pick = random.Random(5)
    now = utcnow()
    ids = []
    ana = await gateway.add_agent("ana@example.com")
    async with gw.db.write() as s:
        for i in range(30):
            conv = await conversation_store.create_conversation(s, f"conv-{i:02d}-" + "x" * 24)
            ids.append(conv.id)
            rank = pick.randint(0, 3)
            await handoff_store.create_handoff(
                s,
                conv.id,
                reason="customer_request",
                priority=("urgent", "high", "normal", "low")[rank],
                priority_rank=rank,
                # Ties on rank and deadline too: then the older hand-off goes first.
                sla_deadline=now + timedelta(minutes=pick.choice([5, 15, 15, 30])),
                skills=[],
                summary={"problem": f"problem {i}"},
            )
        # One that an agent already has, and one still with the bot: neither has a place.
        await handoff_store.claim(s, ids[7], ana.id, is_postgres=not gw.db.is_sqlite)
        bot_only = await conversation_store.create_conversation(s, "bot-only-" + "y" * 24)

    expected = {item.conversation_id: item.position for item in await gw.queue_items()}
    assert len(expected) == 29 and ids[7] not in expected
    for conversation_id in ids:
        position = await gw.queue_position(conversation_id)
        assert (position or {}).get("position") == expected.get(conversation_id), conversation_id
    assert await gw.queue_position(bot_only.id) is None
