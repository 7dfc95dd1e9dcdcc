"""The console's new fields in Chromium: hand back with what is still open, resolve as avoidable, Needs training,
and "Did it help? By model version" (containment per intent before and after a model change).

The gateway is the real process (``python -m handoff``, seeded demo agents and contacts); Rasa is the tests' scripted
fake (tests/handoff/helpers.py) in a thread, so this runs without the trained model: the bot's side is not under test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.launcher import start_gateway_process
from tests.browser.conftest import Gateway
from tests.browser.ui import console, customer, open_page, open_widget, resolve_avoidable, say, session_id
from tests.handoff.helpers import RASA_TOKEN, VOUCH_SECRET, Client, FakeRasa

DESIGNER = ("dana@example.com", "dana-demo-pass", "Dana Reyes")  # seeded in demo mode (handoff/usecases/seed.py)
MODEL_A = "3f9c1e7a52b84d0c9e61a7f2b5d8c4e0"  # what Rasa's GET /status calls model_id: a hex fingerprint
MODEL_B = "b71d04c2e8a94f3b8c5e2d6a0f1b9e73"


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


# --- "Did it help? By model version": real conversations answered by two model versions -------------------------


@pytest.fixture(scope="module")
def versions_rasa() -> Iterator[ThreadedRasa]:
    """A fake Rasa of its own serving MODEL_A; its thread's loop also runs the test's Socket.IO customers."""
    threaded = ThreadedRasa()
    threaded.rasa.model_id = MODEL_A
    with threaded:
        yield threaded


@pytest.fixture(scope="module")
def versions_gateway(
    versions_rasa: ThreadedRasa, widget_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """``python -m handoff`` on that fake, asking it for its model every 0.2 s (a retrain is seen at once)."""
    rasa = versions_rasa.rasa
    servers = SimpleNamespace(rasa_url=rasa.url, token=RASA_TOKEN, vouch_secret=VOUCH_SECRET)
    started = start_gateway_process(
        tmp_path_factory.mktemp("gateway-model-versions"),
        servers,  # type: ignore[arg-type]
        HANDOFF_WIDGET_DIST=str(widget_dist),
        HANDOFF_AUTO_ASSIGN="0",
        RASA_HEALTH_INTERVAL="0.2",
    )
    try:
        yield Gateway(started.url, started.process, started.log)
    finally:
        started.stop()


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _serve(rasa: FakeRasa, model: str) -> None:
    """Rasa now has ``model`` loaded; return once the gateway's health check has read it (two probes later)."""
    rasa.model_id = model
    seen = len(rasa.status_calls)
    _until(lambda: len(rasa.status_calls) >= seen + 2, f"the gateway to ask Rasa for its model ({model[:8]})")


class Customers:
    """Customers on the gateway's Socket.IO (websocket, our widget's protocol), run on the fake Rasa's loop."""

    def __init__(self, threaded: ThreadedRasa, gateway: Gateway, designer_token: str) -> None:
        """None connected yet."""
        self.threaded, self.gateway, self.token = threaded, gateway, designer_token
        self.clients: list[Client] = []

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.threaded.loop).result(30)

    def cell(self, intent: str, model: str) -> dict[str, Any]:
        """What GET /api/training/versions says of ``intent`` under ``model`` (the designer's view)."""
        report = self.gateway.get("/api/training/versions?window=7d", self.token)
        row = next((i for i in report["intents"] if i["intent"] == intent), {"by_model": {}})
        return dict(row["by_model"].get(model, {}))

    def start(self, model: str, intent: str, text: str, n: int) -> list[Client]:
        """``n`` customers each write ``text``; Rasa reads it as ``intent``. Waits until every bot turn is recorded."""
        self.threaded.rasa.latest_intent = intent  # what the tracker answers, read after each bot turn
        before = self.cell(intent, model).get("engaged", 0)

        async def one() -> Client:
            c = Client("/")
            await c.connect(self.gateway.url)
            await c.session()
            await c.say(text)
            await c.wait_for("bot_uttered")
            return c

        started = [self.run(one()) for _ in range(n)]
        self.clients += started
        _until(lambda: self.cell(intent, model).get("engaged") == before + n, f"{n} {intent} turns of {model[:8]}")
        return started

    def escalate(self, clients: list[Client], model: str, intent: str) -> None:
        """These customers ask for a person (the fake bot hands off); waits until the hand-offs are counted."""
        before = self.cell(intent, model)["escalated"]

        async def one(c: Client) -> None:
            await c.say("human")
            await c.wait_for("conversation_state", lambda d: d["state"] == "queued")

        for c in clients:
            self.run(one(c))
        _until(lambda: self.cell(intent, model)["escalated"] == before + len(clients), f"{intent} hand-offs")

    def close(self) -> None:
        for c in self.clients:
            self.run(c.close())


def test_did_it_help_by_model_version(
    versions_gateway: Gateway, versions_rasa: ThreadedRasa, new_context: Any, shots: Any
) -> None:
    email, password, name = DESIGNER
    designer = open_page(new_context(), f"{versions_gateway.url}/console")
    designer.locator("#login-email").fill(email)
    designer.locator("#login-password").fill(password)
    designer.get_by_role("button", name="Sign in").click()
    expect(designer.locator(".me")).to_contain_text(f"{name} · Conversation designer")
    section = designer.get_by_role("region", name="Did it help? By model version")
    expect(section.locator("#nt-versions-empty")).to_have_text(
        "No conversations answered by a known model version in this window."
    )

    rasa = versions_rasa.rasa
    customers = Customers(versions_rasa, versions_gateway, versions_gateway.login(email, password))
    try:
        # Model A: 5 password-reset conversations, 3 handed to a person; 2 invoice questions the bot kept.
        _serve(rasa, MODEL_A)
        reset_a = customers.start(MODEL_A, "reset_password", "my password reset mail never turns up", 5)
        customers.escalate(reset_a[:3], MODEL_A, "reset_password")
        customers.start(MODEL_A, "billing_invoice", "where do I download my latest invoice", 2)
        # A retrain is loaded. Model B: 5 password resets, 1 handed off; 1 invoice question.
        _serve(rasa, MODEL_B)
        reset_b = customers.start(MODEL_B, "reset_password", "my password reset mail never turns up", 5)
        customers.escalate(reset_b[:1], MODEL_B, "reset_password")
        customers.start(MODEL_B, "billing_invoice", "where do I download my latest invoice", 1)
    finally:
        customers.close()
    report = versions_gateway.get("/api/training/versions?window=7d", customers.token)
    assert [m["model"] for m in report["models"]] == [MODEL_A, MODEL_B]

    # Another window reloads the section: now with both versions, oldest first, the current one marked.
    section.get_by_label("Conversations started in the").select_option("7d")
    table = section.get_by_role("table")
    heads = table.locator("thead th")
    expect(heads).to_have_count(4)
    first_seen = [
        datetime.fromisoformat(m["first_seen"].replace("Z", "+00:00")).astimezone().date().isoformat()
        for m in report["models"]
    ]
    expect(heads.nth(1)).to_have_text(f"{MODEL_A[:8]}first seen {first_seen[0]}")
    expect(heads.nth(2)).to_have_text(f"{MODEL_B[:8]} (current)first seen {first_seen[1]}")
    expect(heads.nth(3)).to_have_text(f"Did it help? ({MODEL_B[:8]} vs {MODEL_A[:8]})")
    expect(table.get_by_role("rowheader")).to_have_text(["reset_password", "billing_invoice", "All intents"])

    # Containment · escalation rate · n, per intent; containment went from 40% to 80%: better.
    reset = table.locator("tbody tr[data-intent='reset_password'] td")
    expect(reset).to_have_text(["40% · 60% · n=5", "80% · 20% · n=5", "▲ better (+40 pts)"])
    expect(reset.nth(2).locator(".chip")).to_have_class("chip chip--ok")
    # One invoice question under B: too few to call it either way.
    invoice = table.locator("tbody tr[data-intent='billing_invoice'] td")
    expect(invoice).to_have_text(["100% · 0% · n=2", "100% · 0% · n=1", "n < 5: too few to tell"])
    expect(table.locator("tbody tr[data-intent='billing_invoice'] td[data-verdict='few']")).to_have_count(1)
    overall = table.locator("tfoot td")
    expect(overall).to_have_text(["57% · 43% · n=7", "83% · 17% · n=6", "▲ better (+26 pts)"])
    shots(designer, "53-console-model-versions", full_page=True)
    assert not designer.errors, designer.errors  # type: ignore[attr-defined]
