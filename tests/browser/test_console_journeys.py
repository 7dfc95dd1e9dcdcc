"""The agent's side in Chromium, on the real gateway and bot: presence on sign-in, a summary whose every statement
points at the customer's turns, toasts that cover no control, the live bot list's names, measured on screen.

Each journey resolves what it hands off, so the queue is as empty after it as before.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Gateway
from tests.browser.ui import BOT_TIMEOUT, console, customer, open_page, open_widget, say

pytestmark = pytest.mark.rasa
OMAR = ("omar@example.com", "omar-demo-pass", "Omar Haddad")  # seeded lead

# Every visible control outside the toasts whose box a toast's box overlaps; and what sits on top of a panel.
TOAST_OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('.toasts .toast')].map((t) => t.getBoundingClientRect());
  const controls = [...document.querySelectorAll(
    'button, a[href], input, select, textarea, [role=switch], [tabindex]:not([tabindex="-1"])')]
    .filter((c) => !c.closest('.toasts') && c.getClientRects().length);
  const hits = [];
  for (const a of boxes) for (const c of controls) {
    const b = c.getBoundingClientRect();
    if (b.width && b.height && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
      hits.push((c.getAttribute('aria-label') || c.textContent || c.className).trim().slice(0, 60));
  }
  return { toasts: boxes.length, hits };
}"""
COVERED = """(selector) => {
  const panel = document.querySelector(selector);
  const r = panel.getBoundingClientRect();
  const points = [[r.left + 8, r.top + 8], [r.right - 8, r.top + 8], [r.left + r.width / 2, r.top + r.height / 2],
                  [r.left + 8, r.bottom - 8], [r.right - 8, r.bottom - 8]];
  return points.filter(([x, y]) => y < innerHeight && x < innerWidth)
    .filter(([x, y]) => !panel.contains(document.elementFromPoint(x, y))).length;
}"""
NAME_BOXES = """(selector) => [...document.querySelectorAll(selector)].map((n) => {
  const r = n.getBoundingClientRect();
  return { text: n.textContent, width: Math.round(r.width), height: Math.round(r.height) };
})"""


def sign_in(context: BrowserContext, gateway: Gateway, email: str = AGENT_EMAIL, password: str = AGENT_PASSWORD) -> Page:
    page = open_page(context, f"{gateway.url}/console")
    page.locator("#login-email").fill(email)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".presence")).to_be_visible()
    return page


def visitor(context: BrowserContext, gateway: Gateway) -> tuple[Page, str]:
    """An anonymous customer with the widget open, and the name the console gives them."""
    page = customer(context, gateway)
    open_widget(page)
    sid = page.wait_for_function(
        "() => Object.entries(localStorage).filter(([k]) => k.startsWith('helpdesk-widget.'))"
        ".map(([, v]) => JSON.parse(v).session_id).find(Boolean)"
    ).json_value()
    return page, f"Visitor {sid[:6]}"


def resolve(agent: Page, name: str) -> None:
    agent.locator("#mine-list .litem").filter(has_text=name).click()
    expect(agent.locator("#conv-title")).to_have_text(name)
    agent.get_by_role("button", name="Resolve…").click()
    agent.locator("#resolution-code").select_option("other")
    agent.locator("dialog").get_by_role("button", name="Resolve", exact=True).click()
    expect(agent.locator(".conv__head")).to_contain_text("Resolved")


def test_signing_in_starts_away_and_only_going_online_pulls_work(gateway: Gateway, contexts: Any, shots: Any) -> None:
    dev, name = visitor(contexts(viewport={"width": 1280, "height": 800}), gateway)
    say(dev, "I want to talk to a human")
    expect(dev.locator(".hw-banner--queue")).to_be_visible(timeout=BOT_TIMEOUT)
    agent_context = contexts(viewport={"width": 1440, "height": 900})
    agent = sign_in(agent_context, gateway)

    # Signed in, but not at work yet: away, told so, and the waiting hand-off stays in the queue.
    presence = agent.locator(".presence")
    expect(presence).to_have_text("Away")
    expect(presence).to_have_attribute("aria-checked", "false")
    expect(agent.locator(".away-hint")).to_contain_text("no conversation is assigned to you until you go online")
    expect(agent.locator(".qitem").filter(has_text=name)).to_be_visible()
    me = agent.locator("#team-list li").filter(has_text="Lena Park (you)")
    expect(me).to_contain_text("away · 0/")  # the gateway's own word, after its connect-time queue drain
    expect(agent.locator("#mine-list")).to_contain_text("Nothing assigned to you.")
    expect(dev.locator("#hw-subtitle")).to_have_text("Connecting you to a person…")
    shots(agent, "28-console-signed-in-away")

    # Going online is what pulls work.
    presence.click()
    expect(presence).to_have_text("Online")
    expect(dev.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent", timeout=BOT_TIMEOUT)
    expect(agent.locator("#mine-list")).to_contain_text(name)
    expect(me).to_contain_text("online · 1/")

    # A reload is not a new sign-in: the agent's choice stays. Signing in again starts away again.
    agent.reload()
    expect(agent.locator(".presence")).to_have_text("Online")
    expect(agent.locator("#team-list li").filter(has_text="Lena Park (you)")).to_contain_text("online · 1/")
    resolve(agent, name)
    agent.get_by_role("button", name="Log out").click()
    agent.locator("#login-email").fill(AGENT_EMAIL)
    agent.locator("#login-password").fill(AGENT_PASSWORD)
    agent.get_by_role("button", name="Sign in").click()
    expect(agent.locator(".presence")).to_have_text("Away")
    expect(agent.locator("#team-list li").filter(has_text="Lena Park (you)")).to_contain_text("away · 0/")
    assert agent.errors == []  # type: ignore[attr-defined]


def test_every_summary_statement_shows_the_turns_behind_it(gateway: Gateway, contexts: Any, shots: Any) -> None:
    agent = sign_in(contexts(viewport={"width": 1440, "height": 1000}), gateway)
    expect(agent.locator(".presence")).to_have_text("Away")
    # The journey: the reset link arrives, but the page it opens says Not Found.
    felix, name = visitor(contexts(viewport={"width": 1280, "height": 800}), gateway)
    say(felix, "I forgot my password")
    say(felix, "felix.brown@example.com")
    expect(felix.locator(".hw-msg--bot").last).to_contain_text("reset link", timeout=BOT_TIMEOUT)
    # "No", then the page: the bot counts strikes and, on the third, hands off with the hypothesis of the failed step.
    for line in ("no", "the link opens a page that just says Not Found", "the page still says Not Found",
                 "I want to talk to a human"):
        if felix.locator(".hw-banner--queue").is_visible():
            break
        say(felix, line)
    expect(felix.locator(".hw-banner--queue")).to_be_visible(timeout=BOT_TIMEOUT)

    agent.locator(".qitem").filter(has_text=name).locator(".qitem__open").click()
    summary = agent.locator(".summary")
    expect(summary.locator(".summary__problem")).to_contain_text("password reset")
    # Not "suspect spam filtering": the customer said the page fails, so the email did arrive.
    hypothesis = summary.locator(".summary__hypothesis")
    expect(hypothesis).to_contain_text("page")
    expect(hypothesis).not_to_contain_text("spam")
    # The customer's own words, quoted.
    expect(summary.locator(".summary__words")).to_contain_text("I forgot my password")

    # "Bot understood" agrees with the transcript's own flags.
    missed = agent.locator(".tmsg--customer .tag--low").count()
    understood = summary.locator('[data-line="understood"]')
    if missed:
        expect(understood).to_contain_text(re.compile(r"\d+ of \d+ turns"))
        expect(understood).not_to_contain_text("every turn")
    else:
        expect(understood).to_contain_text("every turn")

    # Each statement links to its turns: a click highlights them in the transcript and brings them into view.
    problem_ref = summary.locator('.summary__problem .evref')
    problem_ref.click()
    expect(problem_ref).to_have_attribute("aria-pressed", "true")
    marked = agent.locator(".tmsg--evidence")
    expect(marked.first).to_contain_text("I forgot my password")
    expect(marked.first).to_be_in_viewport()
    hypothesis.locator(".evref").click()
    expect(problem_ref).to_have_attribute("aria-pressed", "false")
    expect(agent.locator(".tmsg--evidence").filter(has_text="Not Found").first).to_be_visible()
    expect(agent.locator(".tmsg--evidence").filter(has_text="Not Found").first).to_be_in_viewport()
    expect(agent.locator(".tmsg--evidence").filter(has_text="forgot my password")).to_have_count(0)
    for ref in summary.locator(".evref").all():
        seqs = [s for s in (ref.get_attribute("data-seqs") or "").split(",") if s]
        for seq in seqs:  # every cited turn is a customer message of this transcript
            expect(agent.locator(f'.tmsg--customer[data-seq="{seq}"]')).to_have_count(1)
    shots(agent, "29-console-summary-evidence")

    # The customer's turns carry the numbers the summary cites.
    expect(agent.locator(".tmsg--customer .tag--turn").first).to_have_text("turn 1")
    agent.locator(".conv__head").get_by_role("button", name="Claim", exact=True).click()
    expect(agent.locator(".chip--mine")).to_be_visible()
    resolve(agent, name)
    assert agent.errors == []  # type: ignore[attr-defined]


def test_toasts_stack_under_the_header_and_cover_no_control(gateway: Gateway, contexts: Any, shots: Any) -> None:
    # A short window, where a toast in a corner would sit on the sidebar's lists.
    agent = sign_in(contexts(viewport={"width": 1280, "height": 520}), gateway)
    expect(agent.locator(".presence")).to_have_text("Away")
    customers = {}
    for _ in range(2):
        page, name = visitor(contexts(viewport={"width": 1280, "height": 800}), gateway)
        customers[name] = page
    for page in customers.values():  # both at once: two "New hand-off" toasts on screen together
        say(page, "I want to talk to a human", wait_bot=False)
    expect(agent.locator(".toast--new")).to_have_count(2, timeout=BOT_TIMEOUT)

    found = agent.evaluate(TOAST_OVERLAPS)
    assert found["toasts"] == 2 and found["hits"] == [], found
    for panel in ("#mine-list", "#queue-list", ".topbar"):
        assert agent.evaluate(COVERED, panel) == 0, f"something covers {panel}"
    top = agent.locator(".topbar").bounding_box()
    toasts = agent.locator(".toasts").bounding_box()
    assert top and toasts and toasts["y"] >= top["y"] + top["height"] - 1  # right under the header
    shots(agent, "30-console-toasts-under-header")
    agent.locator(".toast").first.get_by_role("button", name="Dismiss").click()
    expect(agent.locator(".toast")).to_have_count(1)

    # Claimed and resolved (each claim toasts too, over an open conversation this time).
    for name, page in customers.items():
        item = agent.locator(".qitem").filter(has_text=name)
        item.get_by_role("button", name=re.compile("^Claim conversation")).click()
        # The previous claim's toast may still be up: the newest one must show.
        expect(agent.locator(".toast--ok").filter(has_text="Conversation claimed").last).to_be_visible()
        found = agent.evaluate(TOAST_OVERLAPS)
        assert found["hits"] == [], found
        expect(agent.locator("#mine-list")).to_contain_text(name)
        resolve(agent, name)
        expect(page.locator("#hw-subtitle")).to_have_text("Conversation resolved")


@pytest.mark.parametrize("width", [1440, 1024])
def test_live_bot_list_names_read_across_not_down(gateway: Gateway, contexts: Any, shots: Any, width: int) -> None:
    for who, line in (("cus_1002", "what is my latest invoice?"), ("anon", "hello there")):
        page = customer(contexts(viewport={"width": 1280, "height": 800}), gateway, who)
        open_widget(page)
        say(page, line)
    omar = console(contexts(viewport={"width": width, "height": 900}), gateway, login=OMAR)
    omar.get_by_role("button", name="Refresh live bot conversations").click()
    expect(omar.locator("#live-list .litem").filter(has_text="Ben Carter").first).to_be_visible()
    boxes = omar.evaluate(NAME_BOXES, "#live-list .litem__name")
    assert len(boxes) >= 2, boxes
    for box in boxes:
        assert box["width"] > box["height"], f"{box['text']!r} wraps down the page: {box}"
    if width == 1024:
        shots(omar.locator(".sidebar"), "31-console-live-bot-list")
    assert omar.errors == []  # type: ignore[attr-defined]
