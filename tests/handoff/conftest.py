"""Fixtures: a fake Rasa and a real gateway on a temporary SQLite file."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.launcher import ROOT
from tests.handoff.helpers import FakeRasa, Running, make_settings, start_gateway


@pytest.fixture
async def gateway_factory(tmp_path: Path, rasa: FakeRasa) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start gateways (same SQLite file unless told otherwise); all are stopped at the end."""
    started: list[Running] = []

    async def factory(**overrides: Any) -> Running:
        settings = make_settings(tmp_path / "handoff.db", rasa.url, **overrides)
        running = await start_gateway(settings)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def gateway(gateway_factory: Callable[..., Awaitable[Running]]) -> Running:
    """One running gateway."""
    return await gateway_factory()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the training data, the domain and the hold-outs (labels never touch the checkout)."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "tests" / "nlu", root / "tests" / "nlu")
    shutil.copy(ROOT / "domain.yml", root / "domain.yml")
    return root
