"""The widget's embedding API (issue 16): the async snippet's queue, open/close/toggle, update on login and logout,
on/off events, locales and string overrides, CSS-variable theming, and the precompressed bundle.

The tests drive the API demo page (/assets/api.html): its snippet queues init and six listeners before widget.js
(loaded async) arrives, and its buttons make one call each. The queue test holds widget.js back to queue more.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from bot.launcher import ROOT
from tests.browser.conftest import Gateway
from tests.browser.ui import BOT_TIMEOUT, WIDGET_HOST, open_page, open_widget, say

pytestmark = pytest.mark.rasa

SRC = ROOT / "widget" / "src" / "widget"


def api_page(page_context: Any, gateway: Gateway, query: str = "") -> Page:
    page = open_page(page_context, f"{gateway.url}/assets/api.html{query}")
    expect(page.locator(".hw-launcher")).to_be_visible()
    return page


def logged(page: Page, event: str) -> list[dict[str, Any]]:
    """The details of every ``event`` the API page's listeners logged, oldest first."""
    texts = page.locator(f"#event-log li[data-event='{event}'] code").all_inner_texts()
    return [json.loads(t) for t in texts]


def wait_logged(page: Page, event: str, count: int = 1) -> list[dict[str, Any]]:
    expect(page.locator(f"#event-log li[data-event='{event}']")).to_have_count(count, timeout=BOT_TIMEOUT)
    return logged(page, event)


def storage(page: Page) -> dict[str, Any]:
    """The widget's localStorage records, by the part of the key after the gateway."""
    rows = page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.startsWith('helpdesk-widget.'))"
        ".map(([k, v]) => [k.split('.').pop(), JSON.parse(v)])"
    )
    return dict(rows)


def string_tables() -> dict[str, dict[str, str]]:
    """The strings as written in strings.js: {locale: {key: text}} from the `key: "text",` lines of each table."""
    text = (SRC / "strings.js").read_text(encoding="utf-8")
    tables = dict(re.findall(r"^const (\w+) = \{\n(.*?)\n\};", text, flags=re.S | re.M))
    entry = re.compile(r'^  (\w+): ("(?:[^"\\]|\\.)*"),$', flags=re.M)
    return {name: {k: json.loads(v) for k, v in entry.findall(body)} for name, body in tables.items()}


def shown_texts(page: Page) -> list[str]:
    """Every text node, label, placeholder and title in the widget (open panel and launcher)."""
    return list(
        page.evaluate(
            """host => { const root = document.querySelector(host).shadowRoot, out = [];
                 const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
                 while (walker.nextNode()) { if (walker.currentNode.parentElement.tagName !== 'STYLE')
                   out.push(walker.currentNode.textContent.trim()); }
                 for (const n of root.querySelectorAll('*')) for (const a of ['aria-label', 'placeholder', 'title', 'alt'])
                   if (n.getAttribute(a)) out.push(n.getAttribute(a));
                 return out.filter(Boolean); }""",
            WIDGET_HOST,
        )
    )


# ---------------------------------------------------------------- the snippet's queue


def test_calls_queued_before_the_script_loads_are_replayed(gateway: Gateway, contexts: Any) -> None:
    context = contexts(viewport={"width": 1280, "height": 800})
    held: list[Route] = []
    context.route("**/widget.js", lambda route: held.append(route))  # the script "is still downloading"
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{gateway.url}/assets/api.html?locale=de", wait_until="domcontentloaded")  # "load" waits for widget.js
    page.wait_for_function("() => window.HelpdeskWidget && window.HelpdeskWidget.q")
    # The page's snippet queued init and six listeners; a site's later code queues more through the same stub.
    page.evaluate(
        """() => { HelpdeskWidget("on", "open", e => (window.seen = window.seen || []).push(e));
                   HelpdeskWidget("open");
                   HelpdeskWidget("no-such-call"); }"""
    )
    queued = page.evaluate("() => Array.from(HelpdeskWidget.q, args => args[0])")
    assert queued == ["init", *["on"] * 7, "open", "no-such-call"]
    assert page.evaluate("HelpdeskWidget.loaded === undefined")
    expect(page.locator(WIDGET_HOST)).to_have_count(0)
    assert held, "widget.js was requested"

    held[0].continue_()
    # Replayed in order: init (German, url = where widget.js came from), the listeners, open.
    expect(page.locator(".hw-panel")).to_be_visible()
    expect(page.locator("#hw-title")).to_have_text("Northwind Cloud Support")
    expect(page.locator("#hw-input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    assert page.evaluate("window.seen") == [{"restored": False}]
    assert wait_logged(page, "open") == [{"restored": False}]  # the listener queued before load heard it too
    assert page.evaluate("HelpdeskWidget.loaded") is True
    # The snippet's call style keeps working after load, next to the methods.
    page.evaluate("HelpdeskWidget('close')")
    expect(page.locator(".hw-panel")).to_be_hidden()
    page.evaluate("HelpdeskWidget.open()")
    expect(page.locator(".hw-panel")).to_be_visible()
    # The connection works with the default url: a message goes out and is stored.
    say(page, "Hallo, ich brauche Hilfe", wait_bot=False)
    expect(page.locator(".hw-msg--customer[data-seq]")).to_have_count(1)
    assert errors == []


# ---------------------------------------------------------------- open, close, toggle, on, off


def test_open_close_toggle_and_listeners_on_and_off(gateway: Gateway, contexts: Any) -> None:
    page = api_page(contexts(viewport={"width": 1280, "height": 800}), gateway)
    panel = page.locator(".hw-panel")
    expect(panel).to_be_hidden()
    page.locator("#call-open").click()
    expect(panel).to_be_visible()
    page.locator("#call-open").click()  # already open: no second event
    page.locator("#call-close").click()
    expect(panel).to_be_hidden()
    page.locator("#call-toggle").click()
    expect(panel).to_be_visible()
    page.locator("#call-toggle").click()
    expect(panel).to_be_hidden()
    assert logged(page, "open") == [{"restored": False}, {"restored": False}]
    assert logged(page, "close") == [{}, {}]
    # The host page's close button kept its focus (the widget takes it back only from inside itself).
    assert page.evaluate("document.activeElement.id") == "call-toggle"

    # off: the same calls, nothing logged; on again: logged again.
    page.locator("#listen").uncheck()
    page.locator("#call-open").click()
    expect(panel).to_be_visible()
    page.locator("#call-close").click()
    expect(panel).to_be_hidden()
    assert len(logged(page, "open")) == 2 and len(logged(page, "close")) == 2
    page.locator("#listen").check()
    page.locator(".hw-launcher").click()  # the customer's own click is an event too
    wait_logged(page, "open", 3)
    # The panel was open: after a reload it is open again, and says so.
    page.reload()
    expect(panel).to_be_visible()
    assert wait_logged(page, "open") == [{"restored": True}]
    assert page.errors == []  # type: ignore[attr-defined]


def test_message_handoff_agent_joined_and_resolved_events(gateway: Gateway, contexts: Any, shots: Any) -> None:
    page = api_page(contexts(viewport={"width": 1280, "height": 800}), gateway)
    open_widget(page)
    say(page, "?? qwx zzv")
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"#event-log li[data-event='message'] code\")]"
        ".some(n => JSON.parse(n.textContent).sender === 'bot')",
        timeout=BOT_TIMEOUT,
    )
    messages = logged(page, "message")
    mine = [m for m in messages if m["sender"] == "customer"]
    assert [m["text"] for m in mine] == ["?? qwx zzv"] and isinstance(mine[0]["seq"], int), messages
    assert {m["sender"] for m in messages} == {"customer", "bot"}, messages
    say(page, "I want to talk to a human")
    assert wait_logged(page, "handoff") == [{"state": "queued"}]
    conversation = page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.endsWith('.anon')).map(([, v]) => JSON.parse(v))[0].session_id"
    )
    token = gateway.login()
    assert gateway.post(f"/api/conversations/{conversation}/claim", {}, token)[0] == 200
    assert wait_logged(page, "agent-joined") == [{"name": "Lena Park"}]
    before = len(logged(page, "message"))
    assert gateway.post(f"/api/conversations/{conversation}/messages", {"text": "Lena here, hello!"}, token)[0] == 200
    page.wait_for_function("n => document.querySelectorAll(\"#event-log li[data-event='message']\").length > n", arg=before)
    agent_said = [m for m in logged(page, "message") if m["sender"] == "agent"]
    assert agent_said[-1]["text"] == "Lena here, hello!" and agent_said[-1]["agent_name"] == "Lena Park"
    assert gateway.post(f"/api/conversations/{conversation}/resolve", {"resolution_code": "other"}, token)[0] == 200
    assert wait_logged(page, "resolved") == [{}]
    assert len(logged(page, "handoff")) == 1, "one hand-off: queued -> assigned is an agent joining, not a new one"
    expect(page.locator(".hw-csat")).to_be_visible()
    page.locator("#event-log li").last.scroll_into_view_if_needed()
    shots(page, "27-widget-api-page-events")
    assert page.errors == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- update: login and logout


def test_update_login_then_logout_drops_the_signed_in_session(gateway: Gateway, contexts: Any) -> None:
    page = api_page(contexts(viewport={"width": 1280, "height": 800}), gateway)
    page.locator("#call-open").click()
    page.locator("#call-login").click()
    expect(page.locator("#api-status")).to_contain_text("Signed in as Ana Ortiz")
    expect(page.locator(".hw-panel")).to_be_visible()  # rebuilt for Ana, and still open
    say(page, "I forgot my password")
    # Signed in: the bot knows her email and sends the link without asking.
    expect(page.locator(".hw-msg--bot").last).to_contain_text("password reset link", timeout=BOT_TIMEOUT)
    ana_session = storage(page)["cus_1001"]["session_id"]
    assert "cus_1001" in storage(page)

    page.locator("#call-logout").click()
    expect(page.locator("#api-status")).to_contain_text("Signed out")
    expect(page.locator(".hw-welcome")).to_be_visible()
    expect(page.locator(".hw-log [data-seq], .hw-log [data-pending]")).to_have_count(0)
    page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.endsWith('.anon') && JSON.parse(localStorage[k]).session_id)"
    )
    records = storage(page)
    assert "cus_1001" not in records, "the signed-in record is forgotten"
    assert records["anon"]["session_id"] != ana_session

    # The next person on this browser: a reload shows a fresh conversation, nothing of Ana's.
    page.reload()
    open_widget(page)
    expect(page.locator(".hw-welcome")).to_be_visible()
    expect(page.locator(".hw-log [data-seq]")).to_have_count(0)
    say(page, "hello", wait_bot=False)
    expect(page.locator(".hw-msg--customer[data-seq]")).to_have_count(1)
    expect(page.locator(".hw-log")).not_to_contain_text("password reset link")
    assert storage(page)["anon"]["session_id"] != ana_session
    assert page.errors == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- locale and strings


def test_locales_and_string_overrides(gateway: Gateway, contexts: Any) -> None:
    page = api_page(contexts(viewport={"width": 1280, "height": 800}), gateway, "?locale=es")
    launcher = page.locator(".hw-launcher")
    expect(launcher).to_have_attribute("aria-label", "Abrir el chat con Northwind Cloud Support")
    open_widget(page)
    expect(page.locator("#hw-input")).to_have_attribute("placeholder", "Escribe tu mensaje…")
    expect(page.locator("#hw-subtitle")).to_have_text("Asistente virtual · responde al instante")
    expect(page.locator(".hw-welcome__text")).to_contain_text("Soy el asistente virtual")
    expect(page.locator(".hw-welcome .hw-chip")).to_have_text(
        ["Olvidé mi contraseña", "Una pregunta sobre mi factura", "Hablar con una persona"]
    )
    expect(page.locator(".hw-root")).to_have_attribute("lang", "es")

    page.locator("#call-locale-de").click()
    expect(page.locator(".hw-root")).to_have_attribute("lang", "de")
    expect(page.locator(".hw-panel")).to_be_visible()  # rebuilt in German, still open
    expect(page.locator("#hw-input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    expect(page.locator("#hw-subtitle")).to_have_text("Virtueller Assistent · antwortet sofort")
    expect(page.locator(".hw-launcher")).to_have_attribute("aria-label", "Chat mit Northwind Cloud Support schließen")
    # Every string the widget shows comes from the table: no English left in the German widget.
    tables = string_tables()
    english = {text for key, text in tables["en"].items() if text and text != tables["de"][key]}
    leftovers = [t for t in shown_texts(page) if t in english]
    assert leftovers == [], leftovers

    # A starter shown in German still sends what the (English) bot understands, and shows the German title.
    page.locator(".hw-welcome .hw-chip").first.click()
    expect(page.locator(".hw-msg--customer .hw-bubble").last).to_have_text("Ich habe mein Passwort vergessen")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("email address", timeout=BOT_TIMEOUT)

    # A site overrides single strings; the rest stays German.
    page.locator("#call-strings").click()
    expect(page.locator(".hw-panel")).to_be_visible()
    expect(page.locator("#hw-input")).to_have_attribute("placeholder", "Ask Northwind anything…")
    expect(page.locator("#hw-subtitle")).to_have_text("Northwind assistant · answers in seconds")
    expect(page.locator(".hw-footer")).to_have_text("Chats werden gespeichert, damit wir Ihnen besser helfen können.")
    expect(page.locator(".hw-msg--customer .hw-bubble").first).to_have_text("Ich habe mein Passwort vergessen")
    assert page.errors == []  # type: ignore[attr-defined]


def test_every_locale_has_every_string_and_no_text_is_hard_coded() -> None:
    tables = string_tables()
    assert set(tables) == {"en", "es", "de"}
    assert len(tables["en"]) > 50
    for name, table in tables.items():
        assert list(table) == list(tables["en"]), f"{name}: not the same keys as en"
        for key, text in table.items():
            placeholders = set(re.findall(r"\{\w+\}", text))
            assert placeholders == set(re.findall(r"\{\w+\}", tables["en"][key])), (name, key)
    # Text shown or read out is looked up, never written into the modules.
    literal = re.compile(r"""(?:\btext|placeholder|"aria-label"|\balt|\btitle|textContent)\s*[:=]\s*["'`][^"'`]*[A-Za-z]""")
    for path in SRC.glob("*.js"):
        if path.name != "strings.js":
            assert literal.findall(path.read_text(encoding="utf-8")) == [], path.name


# ---------------------------------------------------------------- theming


def test_css_variables_position_and_launcher_text(gateway: Gateway, contexts: Any, shots: Any) -> None:
    page = api_page(contexts(viewport={"width": 1280, "height": 800}), gateway)
    launcher = page.locator(".hw-launcher")

    def style(selector: str, prop: str, value: str) -> None:
        expect(page.locator(selector).first).to_have_css(prop, value)  # polls: the launcher's colour has a transition

    style(".hw-launcher", "background-color", "rgb(37, 83, 216)")
    page.locator("#call-theme").click()  # :root { --helpdesk-brand: #b42318; --helpdesk-radius: 4px }
    style(".hw-launcher", "background-color", "rgb(180, 35, 24)")
    page.locator("#call-open").click()
    style(".hw-panel", "border-top-left-radius", "4px")
    style(".hw-header", "background-color", "rgb(180, 35, 24)")
    say(page, "I forgot my password")
    style(".hw-msg--customer .hw-bubble", "background-color", "rgb(180, 35, 24)")
    # Set on the widget's own element, a variable wins over the page's.
    page.evaluate("document.querySelector('.helpdesk-widget-host').style.setProperty('--helpdesk-brand', 'rgb(0, 110, 60)')")
    style(".hw-launcher", "background-color", "rgb(0, 110, 60)")
    page.evaluate("document.querySelector('.helpdesk-widget-host').style.removeProperty('--helpdesk-brand')")

    page.locator("#call-launcher-text").click()
    expect(launcher).to_contain_text("Chat with us")
    page.locator("#call-close").click()
    page.locator("#call-left").click()
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 40 and box["width"] > 120, box
    launcher.click()
    panel = page.locator(".hw-panel").bounding_box()
    assert panel is not None and panel["x"] < 40, panel
    expect(page.locator(".hw-log")).to_contain_text("I forgot my password")  # rebuilt in place, same conversation
    shots(page, "26-widget-api-themed-left")
    page.keyboard.press("Escape")
    expect(page.locator(".hw-panel")).to_be_hidden()
    page.evaluate("HelpdeskWidget('update', { position: 'right' })")  # the left panel covers the page's buttons
    expect(page.locator(WIDGET_HOST)).to_have_attribute("data-position", "right")
    box = launcher.bounding_box()
    assert box is not None and box["x"] + box["width"] > 1280 - 40, box
    assert page.errors == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the precompressed bundle


def test_widget_bundle_is_precompressed_next_to_it(widget_dist: Path) -> None:
    plain = (widget_dist / "widget.js").read_bytes()
    assert gzip.decompress((widget_dist / "widget.js.gz").read_bytes()) == plain
    node = shutil.which("node")
    assert node is not None, "node is needed to build the widget"
    script = (
        "const z = require('zlib'), fs = require('fs');"
        "process.stdout.write(String(z.brotliDecompressSync(fs.readFileSync(process.argv[1])).equals(fs.readFileSync(process.argv[2]))))"
    )
    result = subprocess.run(
        [node, "-e", script, str(widget_dist / "widget.js.br"), str(widget_dist / "widget.js")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "true"
    assert len((widget_dist / "widget.js.br").read_bytes()) < len(plain) / 3
