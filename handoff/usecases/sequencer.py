"""Per-conversation ordering: jobs of one conversation run one after another, in submission order.

At most ``max_running`` jobs run at once over all conversations; the others wait their turn. A burst (a
thousand customers asking for a person within seconds) otherwise fills the event loop with hand-offs, and
everything else waits behind them, even engine.io's ping replies: clients then give up on their connection.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Sequencer:
    """Chains background jobs per key; different keys run concurrently, up to ``max_running`` at once."""

    def __init__(self, max_running: int = 64) -> None:
        """No job yet."""
        self._slots = asyncio.Semaphore(max_running)
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def submit(self, key: str, job: Job) -> asyncio.Task[None]:
        """Run ``job`` after every job already submitted for ``key``."""
        previous = self._tails.get(key)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                async with self._slots:
                    await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job failed for conversation %s", key)

        task = asyncio.get_running_loop().create_task(run())
        self._tails[key] = task

        def _done(t: asyncio.Task[None]) -> None:
            if self._tails.get(key) is t:
                del self._tails[key]

        task.add_done_callback(_done)
        return task

    def lock(self, key: str) -> asyncio.Lock:
        """A lock shared by everyone touching ``key`` right now (persist-then-emit sections)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def drain(self) -> None:
        """Wait for every pending job (used at shutdown and in tests)."""
        while self._tails:
            await asyncio.gather(*list(self._tails.values()), return_exceptions=True)

    def cancel_all(self) -> None:
        """Cancel pending jobs (shutdown)."""
        for task in list(self._tails.values()):
            task.cancel()
