"""The emailed reset link, opened in Chromium against `python -m actions.backend site`, ends in a changed password.

Needs neither Rasa nor the gateway: the site process and the backend's outbox are the whole journey.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from actions.backend import DemoBackend

ANA = "ana.ortiz@example.com"


def test_reset_link_from_the_outbox_changes_the_password(demo_site: tuple[str, DemoBackend], chromium: Browser) -> None:
    url, backend = demo_site
    assert backend.request_password_reset(ANA)
    body = [mail for mail in backend.outbox(to=ANA) if mail["purpose"] == "password_reset"][-1]["body"]
    link = re.search(r"\S+/account/reset\?token=\S+", body)
    assert link and link.group(0).startswith(url)
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(link.group(0))
        expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        page.get_by_label("New password").fill("a long new password")
        page.get_by_label("Type it again").fill("a long new password, typo")
        page.get_by_role("button", name="Change my password").click()
        expect(page.get_by_role("alert")).to_contain_text("don't match")
        page.get_by_label("New password").fill("a long new password")
        page.get_by_label("Type it again").fill("a long new password")
        page.get_by_role("button", name="Change my password").click()
        expect(page.get_by_role("status")).to_have_text("Your password has been changed. You can sign in now.")
        assert backend.check_password("cus_1001", "a long new password")
        page.goto(link.group(0))
        expect(page.locator("main")).to_contain_text("This link has expired or was already used.")
    finally:
        context.close()
