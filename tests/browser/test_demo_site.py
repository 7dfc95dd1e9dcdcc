"""The emailed reset link, opened in Chromium against `python -m actions.backend site`, ends in a changed password.

Needs neither Rasa nor the gateway: the site process and the backend's outbox are the whole journey.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from actions.backend import DemoBackend
from actions.settings import ActionSettings
from tests.servers import ROOT, free_port, stop_processes, wait_until_up

ANA = "ana.ortiz@example.com"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoBackend]]:
    """The site as `make run` starts it (Procfile `site:`), on its own database and port."""
    workdir = tmp_path_factory.mktemp("site")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DEMO_BACKEND_DB": str(workdir / "business.db"), "DEMO_SITE_PORT": str(port), "PUBLIC_URL": url}
    log = workdir / "site.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "actions.backend", "site"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{url}/", process, log, seconds=30)
        yield url, DemoBackend(workdir / "business.db", ActionSettings().seed_path, url)
    finally:
        stop_processes([process])


def test_reset_link_from_the_outbox_changes_the_password(site: tuple[str, DemoBackend], chromium: Browser) -> None:
    url, backend = site
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
