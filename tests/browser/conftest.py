"""Browser fixtures: the built front ends, a real gateway (subprocess) on the real bot, Debian's Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from actions.backend import DemoBackend
from actions.settings import ActionSettings
from bot.launcher import BOT_PYTHON, ROOT, BotServers, free_port, start_gateway_process, stop_processes, wait_until_up

WIDGET = ROOT / "widget"
DIST = WIDGET / "dist"
SCREENSHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IDENTITY_SECRET = "browser-identity-secret"
TOKEN_SECRET = "browser-token-secret"
AGENT_EMAIL, AGENT_PASSWORD = "lena@example.com", "lena-demo-pass"  # seeded by `python -m handoff seed`


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def _stale() -> bool:
    """dist/ is missing or older than anything it is built from."""
    outputs = [DIST / name for name in ("widget.js", "console.js", "demo.js", "index.html", "console.html")]
    if not all(p.is_file() for p in outputs):
        return True
    manifests = [WIDGET / name for name in ("package.json", "package-lock.json", "build.mjs")]
    sources = [*WIDGET.joinpath("src").rglob("*"), *manifests]
    return _newest(sources) > min(p.stat().st_mtime for p in outputs)


@pytest.fixture(scope="package")
def widget_dist() -> Path:
    """widget/dist, built with npm when missing or stale (``make run`` / ``make test`` normally did it already)."""
    if _stale():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("widget/dist is missing or stale and npm is not installed: install Node 20+ and run make test")
        if not (WIDGET / "node_modules" / ".package-lock.json").is_file() or _newest(
            [WIDGET / "package-lock.json"]
        ) > _newest([WIDGET / "node_modules" / ".package-lock.json"]):
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WIDGET, check=True)
        subprocess.run([npm, "run", "build"], cwd=WIDGET, check=True)
    return DIST


@dataclass
class Gateway:
    """A gateway subprocess serving the widget, the console and the demo page."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def login(self, email: str = AGENT_EMAIL, password: str = AGENT_PASSWORD) -> str:
        """An agent token from the REST API."""
        return str(self.post("/api/login", {"email": email, "password": password})[1]["token"])

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
        """POST JSON; returns (status, body) for 2xx and 4xx alike."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def get(self, path: str, token: str | None = None) -> dict[str, Any]:
        """GET JSON (raises on errors)."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))


@pytest.fixture(scope="package")
def gateway(bot_servers: BotServers, widget_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """``python -m handoff`` on a temporary SQLite file, seeded (contacts, demo agents, canned replies)."""
    started = start_gateway_process(
        tmp_path_factory.mktemp("gateway"),
        bot_servers,
        IDENTITY_SECRET=IDENTITY_SECRET,
        TOKEN_SECRET=TOKEN_SECRET,
        HANDOFF_WIDGET_DIST=str(widget_dist),
        HANDOFF_SLA_CHECK_INTERVAL="2",
    )
    try:
        yield Gateway(started.url, started.process, started.log)
    finally:
        started.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download).

    The one Playwright of the run: a second ``sync_playwright`` while this one is open fails ("Sync API inside the
    asyncio loop"), so every browser test uses this fixture (through ``browser`` when it needs the real gateway).
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def browser(gateway: Gateway, chromium: Browser) -> Browser:
    """Chromium, with the real gateway on the real bot running for the pages it opens."""
    return chromium


@pytest.fixture
def shots() -> Any:
    """``shots(page, "01-name")`` saves reports/screenshots/01-name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, **kw: Any) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), **kw)
        return path

    return take


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Any]:
    """``new(**options)`` opens a browser context; all are closed after the test."""
    opened: list[BrowserContext] = []

    def new(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoBackend]]:
    """The demo company's site as `make run` starts it (Procfile `site:`), on its own database and port."""
    workdir = tmp_path_factory.mktemp("demo-site")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DEMO_BACKEND_DB": str(workdir / "business.db"), "DEMO_SITE_PORT": str(port), "PUBLIC_URL": url}
    log = workdir / "site.log"
    with log.open("wb") as out:
        process = subprocess.Popen([BOT_PYTHON, "-m", "actions.backend", "site"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{url}/", process, log, seconds=30)
        yield url, DemoBackend(workdir / "business.db", ActionSettings().seed_path, url)
    finally:
        stop_processes([process])
