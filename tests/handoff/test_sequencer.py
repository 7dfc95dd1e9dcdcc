"""Sequencer: jobs of one conversation in order, and a bound on jobs running at once over all conversations."""

from __future__ import annotations

import asyncio

from handoff.usecases.sequencer import Sequencer


async def test_jobs_of_a_conversation_run_in_order_and_at_most_max_running_at_once() -> None:
    sequencer = Sequencer(max_running=3)
    running = 0
    peak = 0
    done: dict[str, list[int]] = {}

    def job(key: str, n: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01 * (3 - n))  # later jobs are quicker: order must come from the chain
            done.setdefault(key, []).append(n)
            running -= 1

        return run

    for n in range(3):
        for k in range(10):
            sequencer.submit(f"c{k}", job(f"c{k}", n))
    await sequencer.drain()
    assert peak == 3
    assert done == {f"c{k}": [0, 1, 2] for k in range(10)}


async def test_a_failing_job_frees_its_slot() -> None:
    sequencer = Sequencer(max_running=1)
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("fine")

    sequencer.submit("a", boom)
    sequencer.submit("b", fine)
    await asyncio.wait_for(sequencer.drain(), 5)
    assert ran == ["fine"]
