"""The stock rasa-webchat widget (npm ``rasa-webchat`` 1.0.1, unchanged) on a page of its own, talking to the gateway.

The real bundle (``make stock-webchat`` puts it in tests/browser/vendor/; nothing is downloaded here) runs in Chromium
on its own origin, served by a small HTTP server on 127.0.0.1, against a gateway that allows that origin and relays to
the real Rasa bot. The widget only renders ``bot_uttered`` payloads whose keys are exactly Rasa's, so every message it
shows proves the shape; the page also records every socket event the widget receives (its ``onSocketEvent`` prop).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.launcher import ROOT, BotServers, start_gateway_process
from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Gateway

HERE = Path(__file__).parent
BUNDLE = HERE / "vendor" / "rasa-webchat-1.0.1.js"
PAGE = HERE / "stock_webchat.html"
LEAD = ("omar@example.com", "omar-demo-pass")  # seeded in demo mode; a lead reads any transcript (L2: its queue)
BOT_TIMEOUT = 30_000  # ms: a real Rasa turn (with the action server) on a loaded machine
# What Rasa 3.6's socketio channel sends (rasa/core/channels/socketio.py): the only key sets the widget may see.
RASA_SHAPES = [{"text"}, {"text", "quick_replies"}, {"text", "buttons"}, {"attachment"}]

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def bundle() -> bytes:
    """rasa-webchat's standalone UMD bundle, put there by the Makefile (never fetched by a test)."""
    if not BUNDLE.is_file():
        pytest.fail(
            f"{BUNDLE.relative_to(ROOT)} is missing: run `make stock-webchat` (a prerequisite of `make test`), "
            "which fetches rasa-webchat 1.0.1 with npm and checks its integrity"
        )
    return BUNDLE.read_bytes()


@pytest.fixture(scope="module")
def site(bundle: bytes) -> Iterator[str]:
    """The customer's site on an origin of its own (the gateway serves only its own pages)."""
    files = {"/": (PAGE.read_bytes(), "text/html; charset=utf-8"), "/rasa-webchat.js": (bundle, "text/javascript")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(self.path.split("?", 1)[0])
            if found is None:
                self.send_error(404)
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stock_gateway(bot_servers: BotServers, site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway on the real bot that lets the site's origin in, as a deployment embedding rasa-webchat would."""
    started = start_gateway_process(tmp_path_factory.mktemp("stock-gateway"), bot_servers, HANDOFF_ALLOWED_ORIGINS=site)
    try:
        yield Gateway(started.url, started.process, started.log)
    finally:
        started.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (its own localStorage) in the session's Chromium: one Playwright per process (a second
    sync_playwright() inside the first fails)."""
    opened = browser.new_context(viewport={"width": 1100, "height": 820})
    opened.set_default_timeout(10_000)
    yield opened
    opened.close()


def open_site(context: BrowserContext, site: str, gateway: Gateway, init: str | None = None) -> Page:
    """The site with rasa-webchat pointed at the gateway, chat opened (the init payload goes when it opens)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    query = f"?gateway={gateway.url}" + (f"&init={init}" if init else "")
    page.goto(f"{site}/{query}")
    open_chat(page)
    return page


def open_chat(page: Page) -> None:
    """Click the launcher unless the conversation is open already (rasa-webchat remembers it)."""
    expect(page.locator(".rw-launcher, .rw-conversation-container").first).to_be_visible()
    if page.locator(".rw-conversation-container").count() == 0:
        page.locator(".rw-launcher").click()
    expect(page.locator(".rw-new-message")).to_be_visible()


def say(page: Page, text: str) -> None:
    """Type and send like a customer."""
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-send").click()


def bot_says(page: Page, text: str) -> None:
    """Wait until the widget shows a bot (or agent) message containing ``text``."""
    expect(page.locator(".rw-response").filter(has_text=text).first).to_be_visible(timeout=BOT_TIMEOUT)


def received(page: Page) -> list[tuple[str, Any]]:
    """Every socket event the widget received so far, with its payload."""
    return [(name, payload) for name, payload in page.evaluate("window.socketEvents")]


def session_id(page: Page, timeout: float = 10.0) -> str:
    """The session id rasa-webchat keeps in localStorage (written on the gateway's session_confirm)."""
    deadline = time.monotonic() + timeout
    while True:
        stored = json.loads(page.evaluate("localStorage.getItem('chat_session')") or "{}")
        if stored.get("session_id") or time.monotonic() > deadline:
            assert stored.get("session_id"), stored
            return str(stored["session_id"])
        time.sleep(0.1)


def assert_stock_only(page: Page) -> None:
    """Nothing but bot_uttered reached the widget (of what the page watches), each in one of Rasa's shapes."""
    events = received(page)
    assert {name for name, _ in events} <= {"bot_uttered"}, events
    shapes = [set(payload) for name, payload in events if name == "bot_uttered"]
    assert all(shape in RASA_SHAPES for shape in shapes), shapes


def wait_state(gateway: Gateway, token: str, conversation_id: str, state: str) -> dict[str, Any]:
    """Poll the REST API until the conversation is in ``state``; return its detail."""
    deadline = time.monotonic() + BOT_TIMEOUT / 1000
    while True:
        detail = gateway.get(f"/api/conversations/{conversation_id}", token)
        if detail["conversation"]["state"] == state or time.monotonic() > deadline:
            assert detail["conversation"]["state"] == state, detail["conversation"]
            return detail
        time.sleep(0.2)


def test_stock_webchat_talks_to_the_bot_and_to_a_person_and_survives_a_reload(
    stock_gateway: Gateway, site: str, context: BrowserContext, shots: Any
) -> None:
    page = open_site(context, site, stock_gateway, init="/greet")
    # The init payload reached the bot: its greeting with three quick replies, rendered as buttons.
    bot_says(page, "I'm the support assistant")
    replies = page.locator(".rw-replies .rw-reply")
    expect(replies).to_have_text(["Reset my password", "A billing question", "Talk to a person"])
    sid = session_id(page)

    # Clicking a quick reply sends its payload; the bot answers it.
    before = page.locator(".rw-response").count()
    replies.filter(has_text="Reset my password").click()
    expect(page.locator(".rw-response")).to_have_count(before + 1, timeout=BOT_TIMEOUT)
    token = stock_gateway.login(AGENT_EMAIL, AGENT_PASSWORD)
    lead = stock_gateway.login(*LEAD)
    customer_said = [
        m["text"] for m in stock_gateway.get(f"/api/conversations/{sid}", lead)["messages"] if m["sender"] == "customer"
    ]
    assert customer_said == ["/greet", "/reset_password"]

    # A hand-off: the bot's answer and the gateway's notice, both as plain text the stock widget shows.
    say(page, "I want to talk to a human")
    bot_says(page, "passed your conversation")
    wait_state(stock_gateway, lead, sid, "queued")

    # A person claims it and answers: the stock widget shows both as bot messages.
    status, claimed = stock_gateway.post(f"/api/conversations/{sid}/claim", {}, token)
    assert status == 200 and claimed["state"] == "assigned", claimed
    bot_says(page, "Lena Park from our support team has joined the conversation.")
    status, _ = stock_gateway.post(
        f"/api/conversations/{sid}/messages", {"text": "Hi, Lena here. I'll reset it for you now."}, token
    )
    assert status == 200
    bot_says(page, "Hi, Lena here. I'll reset it for you now.")
    shots(page, "27-stock-webchat")
    assert_stock_only(page)

    # Reload: rasa-webchat shows what it kept, asks for the same session id and stays in the same conversation.
    page.reload()
    open_chat(page)
    bot_says(page, "Hi, Lena here. I'll reset it for you now.")
    expect(page.locator(".rw-response").filter(has_text="Hi, Lena here.")).to_have_count(1)  # no replay on top
    assert session_id(page) == sid
    stock_gateway.post(f"/api/conversations/{sid}/messages", {"text": "Done: check your inbox."}, token)
    bot_says(page, "Done: check your inbox.")
    say(page, "Got it, thank you!")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        texts = [m.get("text") for m in stock_gateway.get(f"/api/conversations/{sid}", token)["messages"]]
        if "Got it, thank you!" in texts:
            break
        time.sleep(0.2)
    assert "Got it, thank you!" in texts
    assert_stock_only(page)
    assert not page.errors  # type: ignore[attr-defined]


def test_stock_webchat_without_an_init_payload_gets_no_error(
    stock_gateway: Gateway, site: str, context: BrowserContext
) -> None:
    """rasa-webchat sends ``user_uttered`` with ``message: null`` when it opens: an empty init payload, not an error."""
    page = open_site(context, site, stock_gateway)
    session_id(page)
    time.sleep(1.0)  # the init payload went on session_confirm; any answer (or error) would be here by now
    assert received(page) == []
    expect(page.locator(".rw-response")).to_have_count(0)
    say(page, "hello")
    bot_says(page, "I'm the support assistant")
    expect(page.locator(".rw-replies .rw-reply")).to_have_count(3)
    assert_stock_only(page)
    assert not page.errors  # type: ignore[attr-defined]
