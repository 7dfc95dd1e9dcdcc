"""The per-message store path leaves nothing for the cyclic garbage collector.

Under load, garbage in reference cycles is what makes Python's collector pause the gateway (a thousand
conversations paused it 200-360 ms every few seconds). Storing a message, setting its status and counting a
queue position must free everything by reference counting alone.
"""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path

from handoff.storage import conversations as conversation_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage import migrate
from handoff.storage.db import Database


async def test_storing_messages_creates_no_reference_cycles(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'garbage.db'}")
    try:
        await migrate.upgrade(db)
        async with db.write() as s:
            await conversation_store.create_conversation(s, "c1")

        async def one_message() -> None:
            async with db.write() as s:
                m = await message_store.append_customer_message(s, "c1", "hello", None, "pending")
                await message_store.set_message_status(s, m.id, "done")
                await message_store.append_message(s, "c1", "bot", "hi there")
            async with db.read() as s:
                await handoff_store.queue_position(s, "c1")

        for _ in range(20):  # warm up: compiled-statement caches fill once
            await one_message()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(50):
                await one_message()
            gc.collect()
            ours = Counter(
                type(o).__module__ + "." + type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.split(".")[0] in ("sqlalchemy", "handoff")
            )
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert ours == Counter(), f"objects left in reference cycles: {ours.most_common(10)}"
    finally:
        await db.dispose()
