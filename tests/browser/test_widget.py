"""The widget on its own: reload and network drop without loss or duplicates, hostile text in both UIs, 360 px."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import IDENTITY_SECRET, Gateway
from tests.browser.ui import BOT_TIMEOUT, console, customer, go_online, open_widget, say, session_id

pytestmark = pytest.mark.rasa

XSS = [
    "<img src=x onerror=window.__xss=1>",
    "<script>window.__xss=1</script>",
    "javascript:window.__xss=1",
    '<a href="javascript:window.__xss=1">click me</a>',
    "<svg onload=window.__xss=1><circle r=5></circle></svg>",
    "[click me](javascript:window.__xss=1)",
    '<iframe src="javascript:window.__xss=1"></iframe>',
    "see https://example.com/?q=<b>bold</b>",
]
INJECTED = "img, script, svg, iframe, object, embed, b, style"


def transcript(page: Page) -> list[tuple[str, int, str]]:
    """(sender, seq, text) of every stored message the widget shows, in display order."""
    rows = page.evaluate(
        """() => [...document.querySelector('[data-helpdesk-widget]').shadowRoot.querySelectorAll('.hw-log [data-seq]')]
              .map(n => [n.dataset.sender || 'system', Number(n.dataset.seq),
                         (n.querySelector('.hw-bubble') || n).innerText.trim()])"""
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def assert_no_duplicates(rows: list[tuple[str, int, str]]) -> None:
    seqs = [seq for _, seq, _ in rows]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), seqs


def test_reload_and_network_drop_keep_history_once(gateway: Gateway, contexts: Any, shots: Any) -> None:
    context = contexts(viewport={"width": 1280, "height": 800})
    page = customer(context, gateway)
    open_widget(page)
    say(page, "I forgot my password")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("email address", timeout=BOT_TIMEOUT)
    say(page, "ana.ortiz@example.com")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("password reset link", timeout=BOT_TIMEOUT)
    # A quick reply sends its payload and shows its title.
    page.locator(".hw-replies").get_by_role("button", name="Yes, it worked").click()
    expect(page.locator(".hw-msg--customer .hw-bubble").last).to_have_text("Yes, it worked")
    expect(page.locator(".hw-replies")).to_be_hidden()
    page.wait_for_function(
        "() => document.querySelector('[data-helpdesk-widget]').shadowRoot.querySelectorAll('.hw-msg--bot').length >= 3",
        timeout=BOT_TIMEOUT,
    )
    expect(page.locator("[data-pending]")).to_have_count(0)
    before = transcript(page)
    assert_no_duplicates(before)
    assert [text for sender, _, text in before if sender == "customer"] == [
        "I forgot my password",
        "ana.ortiz@example.com",
        "Yes, it worked",
    ]

    page.reload()
    open_widget(page)
    expect(page.locator(".hw-log [data-seq]")).to_have_count(len(before))
    assert transcript(page) == before, "a reload replays the history once, in order"

    # Network drop: what the customer types is queued, then sent once when the connection returns.
    context.set_offline(True)
    expect(page.locator(".hw-banner--conn")).to_contain_text("offline")
    page.locator("#hw-input").fill("Where can I see my invoices?")
    page.locator("#hw-input").press("Enter")
    pending = page.locator("[data-pending]")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Waiting for connection…")
    shots(page, "15-widget-offline-queued")
    context.set_offline(False)
    expect(pending).to_have_count(0, timeout=BOT_TIMEOUT)
    expect(page.locator(".hw-banner--conn")).to_be_hidden()
    expect(page.locator(".hw-msg--customer[data-seq]").last).to_contain_text("Where can I see my invoices?")
    page.wait_for_function(
        "n => document.querySelector('[data-helpdesk-widget]').shadowRoot.querySelectorAll('.hw-log [data-seq]').length > n",
        arg=len(before) + 1,
        timeout=BOT_TIMEOUT,
    )
    after_drop = transcript(page)
    assert_no_duplicates(after_drop)

    page.reload()
    open_widget(page)
    expect(page.locator(".hw-log [data-seq]")).to_have_count(len(after_drop))
    final = transcript(page)
    assert final == after_drop
    assert [text for _, _, text in final].count("Where can I see my invoices?") == 1
    shots(page, "16-widget-after-reload")
    assert page.errors == []  # type: ignore[attr-defined]


def test_hostile_text_is_shown_as_text_in_both_uis(gateway: Gateway, contexts: Any, shots: Any) -> None:
    # No CSP here: if rendering were unsafe, the payloads would really run.
    agent = console(contexts(viewport={"width": 1440, "height": 900}, bypass_csp=True), gateway)
    go_online(agent)
    page = customer(contexts(viewport={"width": 1280, "height": 800}, bypass_csp=True), gateway)
    open_widget(page)
    # Nonsense to the bot, so the hand-off is general work that any online agent (Lena) can take.
    first = "<img src=y onerror=window.__xss=1> ??"
    say(page, first)
    say(page, "I want to talk to a human")
    # Lena is online: the hand-off is auto-assigned and her console opens it.
    expect(page.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent", timeout=BOT_TIMEOUT)
    expect(agent.locator(".chip--mine")).to_be_visible()
    expect(agent.locator(".toast--new").filter(has_text="Assigned to you (auto)")).to_be_visible()

    composer = agent.locator("#composer-input")
    for payload in XSS:
        exactly = re.compile(f"^{re.escape(payload)}$")
        say(page, payload, wait_bot=False)
        expect(agent.locator(".tmsg--customer .tmsg__text").filter(has_text=exactly)).to_have_count(1)
        composer.fill(payload)
        composer.press("Enter")
        expect(page.locator(".hw-msg--agent .hw-bubble").filter(has_text=exactly)).to_have_count(1)

    for ui, bubbles in (
        (page, ".hw-msg--customer .hw-bubble"),
        (page, ".hw-msg--agent .hw-bubble"),
        (agent, ".tmsg--customer .tmsg__text"),
        (agent, ".tmsg--agent .tmsg__text"),
    ):
        shown = ui.locator(bubbles).all_inner_texts()
        for payload in XSS:
            assert payload in shown, (bubbles, payload, shown)
    expect(agent.locator(".tmsg--customer .tmsg__text").first).to_have_text(first)
    for ui, area in ((page, ".hw-log"), (agent, ".transcript"), (agent, ".summary")):
        expect(ui.locator(area).locator(INJECTED)).to_have_count(0)
        hrefs = ui.locator(area).locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    for ui, area in ((page, ".hw-log"), (agent, ".transcript")):
        link = ui.locator(area).locator("a").first  # the one real link in the list became an anchor
        expect(link).to_have_attribute("href", "https://example.com/?q=")  # a URL ends before "<"
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    for ui in (page, agent):
        assert ui.evaluate("typeof window.__xss") == "undefined"
        assert ui.errors == []  # type: ignore[attr-defined]
    shots(agent, "17-console-hostile-text")
    shots(page, "18-widget-hostile-text")
    agent.get_by_role("button", name="Resolve…").click()
    agent.locator("#resolution-code").select_option("other")
    agent.locator("dialog").get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#hw-subtitle")).to_have_text("Conversation resolved")


def test_widget_at_360px_with_the_keyboard_only(gateway: Gateway, contexts: Any, shots: Any) -> None:
    page = customer(contexts(viewport={"width": 360, "height": 740}), gateway)
    launcher = page.locator(".hw-launcher")
    for _ in range(30):  # keyboard only: Tab through the host page to the launcher
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        pytest.fail("the launcher is not reachable with Tab")
    outline = launcher.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] != "none" and outline.split()[1] != "0px", f"no visible focus: {outline}"
    page.keyboard.press("Enter")
    field = page.locator("#hw-input")
    expect(field).to_be_focused()
    expect(page.locator(".hw-log")).to_have_attribute("aria-live", "polite")
    box = page.locator(".hw-panel").bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 360

    page.keyboard.type("I forgot my password")
    page.keyboard.press("Enter")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("email address", timeout=BOT_TIMEOUT)
    long_word = "https://northwind.example/" + "very-long-path-segment-" * 12
    page.keyboard.type(f"My backup link {long_word} does not open and neither does {'x' * 80}")
    page.keyboard.press("Enter")
    expect(page.locator(".hw-msg--customer[data-seq]")).to_have_count(2, timeout=BOT_TIMEOUT)
    expect(field).to_be_in_viewport()
    expect(field).to_be_focused()
    widths = page.evaluate(
        """() => { const r = document.querySelector('[data-helpdesk-widget]').shadowRoot;
                   const log = r.querySelector('.hw-log');
                   return [document.documentElement.scrollWidth, window.innerWidth, log.scrollWidth, log.clientWidth]; }"""
    )
    assert widths[0] <= widths[1], f"horizontal scroll on the page: {widths}"
    assert widths[2] <= widths[3], f"horizontal scroll in the chat: {widths}"
    shots(page, "19-widget-360px")
    page.keyboard.press("Escape")
    expect(page.locator(".hw-panel")).to_be_hidden()
    assert launcher.evaluate("el => el.getRootNode().activeElement === el"), "focus returns to the launcher"


def test_demo_page_switches_between_anonymous_and_signed_in_customers(gateway: Gateway, contexts: Any) -> None:
    page = customer(contexts(viewport={"width": 1280, "height": 800}), gateway)
    expect(page.locator("#identity-status")).to_contain_text("Anonymous visitor")
    for label, name, tier in (("Chloe Nguyen", "Chloe Nguyen", "enterprise"), ("Ben Carter", "Ben Carter", "business")):
        page.locator("#identity-switch label").filter(has_text=label).click()
        expect(page.locator("#identity-status")).to_contain_text(f"Signed in as {name} ({tier} plan)")
        expect(page.locator("#account")).to_have_text(f"{name} · {tier}")
        expect(page.locator("#snippet")).to_contain_text("signature:")
    assert IDENTITY_SECRET not in page.evaluate("document.documentElement.outerHTML + JSON.stringify(localStorage)")
    assert page.errors == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- layout and state across reloads (issue 13, item 9)

GEOMETRY = """() => {
  const root = document.querySelector('[data-helpdesk-widget]').shadowRoot;
  const box = (n) => { const r = n.getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const log = root.querySelector('.hw-log');
  const bubbles = root.querySelectorAll('.hw-log .hw-msg .hw-bubble');
  const visible = box(log);
  visible.bottom = visible.top + log.clientTop + log.clientHeight;  // the scrollport, without a scrollbar
  return {log: visible, bubble: box(bubbles[bubbles.length - 1]), replies: box(root.querySelector('.hw-replies')),
          panel: box(root.querySelector('.hw-panel')), overflow: log.scrollHeight > log.clientHeight};
}"""


def test_last_bubble_and_quick_replies_are_both_fully_visible(gateway: Gateway, contexts: Any) -> None:
    # A short window, so the conversation overflows the message list before the quick replies appear under it.
    page = customer(contexts(viewport={"width": 1280, "height": 560}), gateway)
    open_widget(page)
    say(page, "I forgot my password")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("email address", timeout=BOT_TIMEOUT)
    say(page, "ana.ortiz@example.com")
    expect(page.locator(".hw-msg--bot").last).to_contain_text("password reset link", timeout=BOT_TIMEOUT)
    expect(page.locator(".hw-replies .hw-chip")).to_have_count(2)
    expect(page.locator(".hw-replies")).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-helpdesk-widget]').shadowRoot.querySelector('.hw-log').scrollTop > 0"
    )
    g = page.evaluate(GEOMETRY)
    assert g["overflow"], f"the conversation should overflow the list for this check: {g}"
    bubble, log, replies, panel = g["bubble"], g["log"], g["replies"], g["panel"]
    assert log["top"] <= bubble["top"] and bubble["bottom"] <= log["bottom"], f"last bubble clipped: {g}"
    assert bubble["bottom"] <= replies["top"], f"the quick replies cover the last bubble: {g}"
    assert panel["top"] <= replies["top"] and replies["bottom"] <= panel["bottom"], f"replies outside the panel: {g}"
    assert page.errors == []  # type: ignore[attr-defined]


def _hand_to_a_person(page: Page) -> None:
    """Nonsense first (so the hand-off is general work any agent may take), then ask for a person."""
    say(page, "?? qwx zzv")
    say(page, "I want to talk to a human")
    expect(page.locator("#hw-subtitle")).to_have_text("Connecting you to a person…", timeout=BOT_TIMEOUT)


def test_reload_with_an_agent_keeps_the_agent_in_the_header_and_the_panel_as_it_was(
    gateway: Gateway, contexts: Any, shots: Any
) -> None:
    context = contexts(viewport={"width": 1280, "height": 800})
    page = customer(context, gateway)
    open_widget(page)
    _hand_to_a_person(page)
    conversation = session_id(page)
    token = gateway.login()
    status, body = gateway.post(f"/api/conversations/{conversation}/claim", {}, token)
    assert status == 200, body
    expect(page.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent")

    page.reload()
    expect(page.locator(".hw-panel")).to_be_visible()  # open before the reload: open after it, without a click
    expect(page.locator("#hw-input")).to_be_focused()
    expect(page.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent")
    expect(page.locator(".hw-avatar")).to_have_text("L")
    shots(page, "25-widget-reload-with-agent")

    page.locator(".hw-launcher").click()
    expect(page.locator(".hw-panel")).to_be_hidden()
    page.reload()
    expect(page.locator(".hw-launcher")).to_be_visible()
    expect(page.locator(".hw-panel")).to_be_hidden()  # closed before the reload: closed after it
    open_widget(page)
    expect(page.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent")

    # A browser that kept only the session id (an older widget, or storage cleared of the rest) still says a
    # person is on it, and learns the agent's name from the history as soon as she writes.
    other = contexts(viewport={"width": 1280, "height": 800})
    other.add_init_script(
        "localStorage.setItem('helpdesk-widget.' + location.origin.replace(/[^A-Za-z0-9]+/g, '_') + '.anon',"
        f" JSON.stringify({{session_id: '{conversation}'}}))"
    )
    second = customer(other, gateway)
    open_widget(second)
    expect(second.locator("#hw-subtitle")).to_have_text("A person is helping you")
    status, body = gateway.post(f"/api/conversations/{conversation}/messages", {"text": "Hi, Lena here."}, token)
    assert status == 200, body
    expect(second.locator(".hw-msg--agent .hw-bubble").last).to_have_text("Hi, Lena here.")
    expect(second.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent")
    second.reload()
    open_widget(second)
    expect(second.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent")

    status, body = gateway.post(f"/api/conversations/{conversation}/resolve", {"resolution_code": "other"}, token)
    assert status == 200, body
    expect(page.locator("#hw-subtitle")).to_have_text("Conversation resolved")
    assert page.errors == [] and second.errors == []  # type: ignore[attr-defined]
