"""Page helpers shared by the browser tests: the demo page with the widget, and the agent console."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Gateway

BOT_TIMEOUT = 20_000  # ms: a real Rasa turn (with the action server) on a loaded CI machine
WIDGET_HOST = "[data-helpdesk-widget]"


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def customer(context: BrowserContext, gateway: Gateway, who: str = "anon") -> Page:
    page = open_page(context, f"{gateway.url}/?as={who}")
    expect(page.locator(".hw-launcher")).to_be_visible()
    return page


def open_widget(page: Page) -> None:
    if page.locator(".hw-panel").is_hidden():
        page.locator(".hw-launcher").click()
    expect(page.locator("#hw-input")).to_be_focused()


def count(page: Page, selector: str) -> int:
    return page.locator(selector).count()


def wait_more(page: Page, selector: str, before: int, timeout: int = BOT_TIMEOUT) -> None:
    """Wait until more than ``before`` elements match ``selector`` in the widget's shadow root."""
    page.wait_for_function(
        "([host, sel, n]) => document.querySelector(host).shadowRoot.querySelectorAll(sel).length > n",
        arg=[WIDGET_HOST, selector, before],
        timeout=timeout,
    )


def say(page: Page, text: str, wait_bot: bool = True) -> None:
    """The customer types ``text`` and presses Enter; optionally waits for the bot's answer."""
    before = count(page, ".hw-msg--bot, .hw-msg--system, .hw-notice")
    page.locator("#hw-input").fill(text)
    page.locator("#hw-input").press("Enter")
    expect(page.locator(".hw-msg--customer .hw-bubble").filter(has_text=text).last).to_be_visible()
    if wait_bot:
        wait_more(page, ".hw-msg--bot, .hw-notice", before)


def console(
    context: BrowserContext,
    gateway: Gateway,
    shots: Any = None,
    login: tuple[str, str, str] = (AGENT_EMAIL, AGENT_PASSWORD, "Lena Park"),
) -> Page:
    """The console, signed in (Lena by default)."""
    email, password, name = login
    page = open_page(context, f"{gateway.url}/console")
    expect(page.locator("#login-email")).to_be_focused()
    if shots:
        shots(page, "01-console-login")
    page.locator("#login-email").fill(email)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".presence")).to_be_visible()
    expect(page.locator("#team-list")).to_contain_text(f"{name} (you)")
    return page


def go_online(agent: Page) -> None:
    """A console signs in away; the presence switch puts the agent online (and so in line for work)."""
    presence = agent.locator(".presence")
    expect(presence).to_have_text("Away")
    presence.click()
    expect(presence).to_have_attribute("aria-checked", "true")
    expect(presence).to_have_text("Online")


def events_of(gateway: Gateway, conversation_id: str) -> list[dict[str, Any]]:
    token = gateway.login()
    return list(gateway.get(f"/api/conversations/{conversation_id}", token)["events"])


def session_id(page: Page) -> str:
    value = page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.startsWith('helpdesk-widget.'))"
        ".map(([, v]) => JSON.parse(v).session_id).find(Boolean)"
    )
    assert isinstance(value, str) and len(value) >= 32
    return value


def resolve_avoidable(agent: Page, resolution_code: str) -> None:
    """Resolve the open conversation in the console, ticking "The bot could have handled this"."""
    agent.get_by_role("button", name="Resolve…").click()
    dialog = agent.locator("dialog")
    dialog.locator("#resolution-code").select_option(resolution_code)
    dialog.get_by_label("The bot could have handled this").check()
    dialog.get_by_role("button", name="Resolve", exact=True).click()
    expect(agent.locator(".conv__head")).to_contain_text("Resolved")
