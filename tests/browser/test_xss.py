"""Hostile text everywhere user text is shown: names, notes and the hand-off summary, in the widget and the console.

test_widget.py covers messages both ways (HTML, script, javascript: and SVG payloads). Here the payloads go into
the *other* surfaces too: the customer's signed identity name (host page -> widget -> gateway -> console), an agent's
display name (widget header, transcript labels, team list, notes), internal notes, and the hand-off summary (a lead
takes over, so the summary quotes the customer's first words). The corpus adds Markdown links, HTML entities and
bidi controls: RLO (U+202E) and the isolates (U+2066-2069, with an unmatched PDI trying to escape its isolation).
CSP is off, so an unsafe rendering would really run the payload (window.__xss).

Bidi choice: the text is stored as typed; the UI drops bidi *controls* from every string it shows (shared/dom.js
plain(), in the one DOM helper) and isolates user text (dir="auto" bubbles and notes, <bdi> names). Isolation alone
is not enough: a typed PDI (U+2069) can close the isolation an element gets and let a following RLO flip the rest
of the line, which is why the controls go; Arabic or Hebrew letters need no control characters and keep working.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from bot.launcher import ROOT, BotServers, start_gateway_process
from handoff.domain.identity import sign
from tests.browser.conftest import IDENTITY_SECRET, TOKEN_SECRET, Gateway
from tests.browser.ui import BOT_TIMEOUT, WIDGET_HOST, console, customer, open_widget

pytestmark = pytest.mark.rasa

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
RLO, PDF, LRI, RLI, FSI, PDI = "\u202e", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069"

PAYLOADS = [
    "[x](javascript:window.__xss=1)",
    '[y](JaVaScRiPt:window.__xss=1 "title")',
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "&#x3C;img src=x onerror=window.__xss=1&#x3E;",
    "&#60;svg onload=window.__xss=1&#62;",
    f"invoice {RLO}fdp.exe{PDF} attached",
    f"{RLI}<img src=x onerror=window.__xss=1>{PDI} isolated",
    f"{PDI}{RLO}escape the isolation",
    f"{LRI}nested {FSI}isolates {PDI}",
    '<a href="data:text/html,<script>window.__xss=1</script>">data link</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "javascript:/*--></title></style></textarea></script><svg/onload=window.__xss=1>",
]
CUSTOMER_NAME = f"<img src=x onerror=window.__xss=1>{RLO}Eve [n](javascript:window.__xss=1)"
AGENT_NAME = f"<svg onload=window.__xss=1>{RLI}Mallory{PDI}{RLO} &lt;b&gt;"
AGENT = ("mallory@example.com", "mallory-demo-pass")
FIRST_WORDS = f"Summary check <script>window.__xss=1</script> {RLO}reversed tail"
INJECTED = "img, script, svg, iframe, object, embed, b, style, math, table"


@pytest.fixture(scope="module")
def xss_gateway(bot_servers: BotServers, widget_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: the hostile lead is alone online (no earlier queue to drain), and ~40 events in a few
    seconds from one socket are what this test does, not an attack (the rate limit is tested elsewhere)."""
    started = start_gateway_process(
        tmp_path_factory.mktemp("xss-gateway"), bot_servers, IDENTITY_SECRET=IDENTITY_SECRET, TOKEN_SECRET=TOKEN_SECRET,
        HANDOFF_WIDGET_DIST=str(widget_dist), HANDOFF_RATE_LIMIT_EVENTS="500",
        HANDOFF_IP_RATE_LIMIT_EVENTS="5000",
    )
    try:
        yield Gateway(started.url, started.process, started.log)
    finally:
        started.stop()


def plain(text: str) -> str:
    """What the UI must show: the text without bidi controls."""
    return BIDI.sub("", text)


def exactly(text: str) -> re.Pattern[str]:
    """The whole element text is ``text`` as shown (bidi controls gone; runs of white space are one)."""
    return re.compile(r"^\s*" + r"\s+".join(re.escape(word) for word in plain(text).split()) + r"\s*$")


def add_hostile_agent(gateway: Gateway) -> None:
    """A lead whose display name is a payload (``python -m handoff agents add`` on the gateway's database)."""
    database_url = f"sqlite+aiosqlite:///{gateway.log.parent / 'handoff.db'}"
    subprocess.run(
        [sys.executable, "-m", "handoff", "agents", "add", "--email", AGENT[0], "--name", AGENT_NAME,
         "--password", AGENT[1], "--role", "lead", "--skills", "general,technical,billing", "--capacity", "20"],
        cwd=ROOT, env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True,
    )


def hostile_identity(context: BrowserContext) -> None:
    """The host page's backend signs a hostile name (here: the demo identity answer, signed with the real secret)."""
    email = "eve@example.com"
    body = {"id": "cus_1003", "email": email, "name": CUSTOMER_NAME, "tier": "business",
            "signature": sign(IDENTITY_SECRET, "cus_1003", email, CUSTOMER_NAME)}

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    context.route("**/api/demo/identity", fulfil)


def type_as_customer(page: Page, text: str) -> None:
    page.locator("#hw-input").fill(text)
    page.locator("#hw-input").press("Enter")
    expect(page.locator(".hw-msg--customer[data-seq] .hw-bubble").filter(has_text=exactly(text))).to_have_count(1)


def assert_inert(ui: Page, areas: list[str]) -> None:
    for area in areas:
        expect(ui.locator(area).locator(INJECTED)).to_have_count(0)
        hrefs = ui.locator(area).locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert all(h.startswith(("http://", "https://")) for h in hrefs), (area, hrefs)
    handlers = ui.evaluate(
        """() => { const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)];
                   return roots.flatMap(r => [...r.querySelectorAll('*')]).flatMap(e => [...e.attributes])
                               .filter(a => a.name.startsWith('on')).map(a => a.name + '=' + a.value); }"""
    )
    assert handlers == [], f"inline event handlers in the page: {handlers}"
    assert ui.evaluate("typeof window.__xss") == "undefined"
    assert ui.errors == []  # type: ignore[attr-defined]


def shown_text(ui: Page, widget: bool) -> str:
    script = (f"() => document.querySelector('{WIDGET_HOST}').shadowRoot.querySelector('.hw-panel').innerText"
              if widget else "() => document.body.innerText + document.title")
    return str(ui.evaluate(script))


def left_to_right(ui: Page, container: str, widget: bool) -> bool:
    """The text after the <bdi> name follows it in reading order: to its right, or on a later line (nothing flipped)."""
    root = f"document.querySelector('{WIDGET_HOST}').shadowRoot" if widget else "document"
    return bool(ui.evaluate(
        f"""() => {{ const box = {root}.querySelector({json.dumps(container)});
              const name = box.querySelector('bdi'); const rest = name.nextSibling;
              const range = document.createRange(); range.selectNodeContents(rest);
              const nameRects = name.getClientRects(), n = nameRects[nameRects.length - 1];
              const r = range.getClientRects()[0];
              return Boolean(r && n) && r.width > 0 && (r.left >= n.right - 1 || r.top >= n.bottom - 1); }}"""
    ))


def test_names_notes_and_summary_are_inert_in_both_uis(xss_gateway: Gateway, contexts: Any, shots: Any) -> None:
    gateway = xss_gateway
    add_hostile_agent(gateway)
    agent = console(contexts(viewport={"width": 1440, "height": 900}, bypass_csp=True), gateway,
                    login=(*AGENT, plain(AGENT_NAME)))
    customer_context = contexts(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    hostile_identity(customer_context)
    page = customer(customer_context, gateway, "cus_1003")
    expect(page.locator("#identity-status")).to_contain_text(f"Signed in as {plain(CUSTOMER_NAME)} (business plan)")
    open_widget(page)
    type_as_customer(page, FIRST_WORDS)
    expect(page.locator(".hw-msg--bot")).not_to_have_count(0, timeout=BOT_TIMEOUT)

    # The lead takes the live bot conversation over: the summary quotes the customer's first words.
    agent.get_by_role("button", name="Refresh live bot conversations").click()
    agent.locator("#live-list .litem").filter(has_text=plain(CUSTOMER_NAME)).click()
    agent.get_by_role("button", name="Take over from the bot").click()
    expect(page.locator("#hw-subtitle")).to_have_text(f"{plain(AGENT_NAME)} · Support agent")
    expect(agent.locator(".summary__problem")).to_contain_text(f'Customer wrote: "{plain(FIRST_WORDS)}"')
    expect(agent.locator("#conv-title")).to_have_text(plain(CUSTOMER_NAME))
    expect(agent.locator(".summary .badge").first).to_have_text("Taken over")
    expect(agent.locator("#tab-reply")).to_be_enabled()

    composer = agent.locator("#composer-input")
    for payload in PAYLOADS:
        type_as_customer(page, payload)
        expect(agent.locator(".tmsg--customer .tmsg__text").filter(has_text=exactly(payload))).to_have_count(1)
        composer.fill(payload)
        composer.press("Enter")
        expect(page.locator(".hw-msg--agent .hw-bubble").filter(has_text=exactly(payload))).to_have_count(1)
    agent.locator("#tab-note").click()
    for payload in PAYLOADS[:4] + PAYLOADS[5:9]:
        composer.fill(payload)
        agent.locator("#composer-send").click()
        expect(agent.locator("#notes .note__text").filter(has_text=exactly(payload))).to_have_count(1)

    # The agent's name labels its messages in the widget and its notes in the console, as text.
    expect(page.locator(".hw-msg--agent .hw-msg__who").first).to_have_text(plain(AGENT_NAME))
    expect(agent.locator("#notes .note__meta bdi").first).to_have_text(plain(AGENT_NAME))
    expect(agent.locator("#team-list")).to_contain_text(f"{plain(AGENT_NAME)} (you)")
    # User text is isolated, and no bidi control reaches the screen (so nothing around it is flipped).
    for ui, selector in ((page, ".hw-bubble"), (agent, ".tmsg__text"), (agent, ".note__text")):
        dirs = ui.locator(selector).evaluate_all("nodes => nodes.map(n => n.getAttribute('dir'))")
        assert dirs and set(dirs) == {"auto"}, (selector, dirs)
    assert not BIDI.search(shown_text(page, widget=True)) and not BIDI.search(shown_text(agent, widget=False))
    assert left_to_right(page, "#hw-subtitle", widget=True), "the name flipped ' · Support agent'"
    assert left_to_right(agent, "#notes .note__meta", widget=False), "the agent's name flipped the note's time"

    assert_inert(page, [".hw-log", "#hw-subtitle", "#identity-status", "#account"])
    assert_inert(agent, [".transcript", ".summary", "#notes", ".cust", "#live-list", "#team-list", ".toasts", ".me",
                         "#conv-title"])
    shots(agent, "23-console-hostile-names-notes-summary")
    shots(page, "24-widget-hostile-agent-name")
    agent.get_by_role("button", name="Resolve…").click()
    agent.locator("#resolution-code").select_option("other")
    agent.locator("dialog").get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#hw-subtitle")).to_have_text("Conversation resolved")
