"""The console's new fields in Chromium: hand back with what is still open, resolve as avoidable, Needs training.

The gateway is the real process (``python -m handoff``, seeded demo agents and contacts); Rasa is the tests' scripted
fake (tests/handoff/helpers.py) in a thread, so this runs without the trained model: the bot's side is not under test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.launcher import start_gateway_process
from tests.browser.conftest import Gateway
from tests.browser.ui import console, customer, open_widget, resolve_avoidable, say, session_id
from tests.handoff.helpers import RASA_TOKEN, VOUCH_SECRET, FakeRasa


class ThreadedRasa:
    """The scripted fake Rasa on its own event loop in a thread (the Playwright tests are synchronous)."""

    def __init__(self) -> None:
        """Not started."""
        self.rasa = FakeRasa()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeRasa:
        """Listen on a free port."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.rasa.start(), self.loop).result(10)
        return self.rasa

    def __exit__(self, *exc: object) -> None:
        """Close the server and the loop."""
        asyncio.run_coroutine_threadsafe(self.rasa.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    """A scripted Rasa ("human" hands off; trigger_intent calls recorded)."""
    with ThreadedRasa() as rasa:
        yield rasa


@pytest.fixture(scope="module")
def fake_gateway(fake_rasa: FakeRasa, widget_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """``python -m handoff`` on the fake Rasa; nothing is assigned automatically (the agent claims)."""
    servers = SimpleNamespace(rasa_url=fake_rasa.url, token=RASA_TOKEN, vouch_secret=VOUCH_SECRET)
    started = start_gateway_process(
        tmp_path_factory.mktemp("gateway-fake-rasa"),
        servers,  # type: ignore[arg-type]
        HANDOFF_WIDGET_DIST=str(widget_dist),
        HANDOFF_AUTO_ASSIGN="0",
    )
    try:
        yield Gateway(started.url, started.process, started.log)
    finally:
        started.stop()


@pytest.fixture
def new_context(chromium: Browser) -> Iterator[Any]:
    """``new_context()`` opens a browser context; all are closed after the test."""
    opened: list[BrowserContext] = []

    def new() -> BrowserContext:
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


def _queued(page: Page, first: str) -> str:
    open_widget(page)
    say(page, first)
    say(page, "human")
    expect(page.locator("#hw-subtitle")).to_have_text("Connecting you to a person…")
    return session_id(page)


def _claim(agent: Page, name: str) -> None:
    agent.locator(".qitem").filter(has_text=name).locator(".qitem__open").click()
    agent.locator(".conv__head").get_by_role("button", name="Claim", exact=True).click()
    expect(agent.get_by_role("button", name="Resolve…")).to_be_visible()


def test_handback_open_question_resolve_avoidable_and_needs_training(
    fake_gateway: Gateway, fake_rasa: FakeRasa, new_context: Any
) -> None:
    agent = console(new_context(), fake_gateway)  # signs in away: nobody online

    ana = customer(new_context(), fake_gateway, "cus_1001")
    ana_id = _queued(ana, "how do I change my plan")
    # Nobody online: a place in the queue and no wait estimate, in the banner and in the notice alike.
    banner = ana.locator(".hw-banner--queue")
    expect(banner).to_contain_text("You are #1 in the queue; a person will pick up here when one joins.")
    expect(banner).not_to_contain_text("min")
    notice = ana.locator(".hw-msg--system, .hw-notice").filter(has_text="passed your conversation")
    expect(notice).to_contain_text("a***@example.com")
    expect(notice).not_to_contain_text("leave your email")

    # Resolve, marked avoidable.
    _claim(agent, "Ana Ortiz")
    resolve_avoidable(agent, "solved")

    # Hand back with what is still open: it reaches the bot as an entity, with the agent's name.
    ben = customer(new_context(), fake_gateway, "cus_1002")
    _queued(ben, "am I getting the refund or not??")
    _claim(agent, "Ben Carter")
    agent.get_by_role("button", name="Hand back to bot…").click()
    dialog = agent.locator("dialog")
    dialog.locator("#coaching-note").fill("Refund requests are not refund status questions.")
    expect(dialog.get_by_label("What's still open for the customer")).to_have_attribute("maxlength", "500")
    dialog.get_by_label("What's still open for the customer").fill("Whether the refund is approved: finance, by Friday.")
    dialog.get_by_role("button", name="Hand back", exact=True).click()
    expect(ben.locator(".hw-msg--bot").last).to_contain_text("Welcome back", timeout=10_000)
    triggers = [body for kind, body, _ in fake_rasa.api_calls if kind == "trigger_intent"]
    assert triggers[-1]["entities"] == {
        "open_question": "Whether the refund is approved: finance, by Friday.",
        "agent_name": "Lena Park",
    }

    # Needs training lists the avoidable hand-off with Ana's words and opens her conversation.
    agent.get_by_role("link", name="Needs training").click()
    finding = agent.locator(".nt-finding[data-kind='avoidable_handoff']")
    expect(finding).to_have_count(1)
    expect(finding.locator(".nt-kind")).to_have_text("Avoidable hand-off")
    expect(finding.locator(".nt-examples")).to_contain_text("how do I change my plan")
    finding.get_by_role("button", name=f"Open conversation {ana_id[:8]}…").click()
    expect(agent.locator(".conv__head")).to_contain_text("Ana Ortiz")
    expect(agent.locator(".conv__head")).to_contain_text("Resolved")
    assert not agent.errors, agent.errors  # type: ignore[attr-defined]
