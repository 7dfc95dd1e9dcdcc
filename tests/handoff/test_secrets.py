"""No built-in secret runs anywhere but the loopback demo; seeding never overwrites what an operator changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.launcher import BOT_PYTHON, ROOT, free_port, wait_until_up
from handoff.domain import auth
from handoff.settings import SECRETS, Settings
from handoff.storage import agents as agent_store
from handoff.storage import migrate
from handoff.storage.db import Database
from handoff.storage.models import Agent
from handoff.usecases import seed

SECRET_ENV = [env for env, _ in SECRETS.values()]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV and not k.startswith("HANDOFF_")}
    return {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", "HANDOFF_PORT": str(free_port()),
            "PYTHONWARNINGS": "ignore", **extra}


def test_the_gateway_refuses_to_start_without_real_secrets(tmp_path: Path) -> None:
    weak = {"IDENTITY_SECRET": "dev-identity-secret-change-me"[:12], "TOKEN_SECRET": "x" * 40}
    result = subprocess.run([sys.executable, "-m", "handoff"], cwd=ROOT, env=_env(tmp_path, **weak),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    for name in ("IDENTITY_SECRET", "VOUCH_SECRET", "RASA_TOKEN"):
        assert name in result.stderr
    assert "TOKEN_SECRET (" not in result.stderr  # the one real secret is not reported missing
    assert "Traceback" not in result.stderr


def test_secrets_checked_in_process_too() -> None:
    with pytest.raises(ValueError, match="IDENTITY_SECRET"):
        Settings().with_required_secrets()
    real = Settings(**{name: "s" * 16 for name in SECRETS})
    assert real.with_required_secrets() is real


def test_demo_mode_on_loopback_starts_with_random_secrets_of_its_own(tmp_path: Path) -> None:
    env = _env(tmp_path, HANDOFF_DEMO="1", HANDOFF_HOST="127.0.0.1")
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{env['HANDOFF_PORT']}/healthz", process, log, seconds=60)
    finally:
        process.terminate()
        process.wait(20)
    assert "demo mode: random" in log.read_text()
    demo = Settings(demo_mode=True).with_required_secrets()
    again = Settings(demo_mode=True).with_required_secrets()
    assert demo.token_secret != again.token_secret and len(demo.token_secret) >= 16  # never a fixed, known value


def test_demo_mode_beyond_loopback_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "handoff"], cwd=ROOT,
                            env=_env(tmp_path, HANDOFF_DEMO="1", HANDOFF_HOST="0.0.0.0"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "only runs on a loopback host" in result.stderr


def test_the_action_server_refuses_to_start_without_its_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACTIONS_TOKEN"}
    for token in ("", "short"):
        result = subprocess.run([BOT_PYTHON, "-m", "actions.server", "--port", str(free_port())], cwd=ROOT,
                                env={**env, "ACTIONS_TOKEN": token, "PYTHONWARNINGS": "ignore"},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "ACTIONS_TOKEN" in result.stderr


async def test_seeding_keeps_changed_passwords_and_creates_demo_agents_only_in_demo_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}")
    try:
        await migrate.upgrade(db)
        seed_file = ROOT / "actions" / "backend" / "seed.json"
        assert await seed.seed(db, seed_file, demo_agents=False) == []
        async with db.read() as s:
            assert await agent_store.agent_credentials(s, "lena@example.com") is None
        created = await seed.seed(db, seed_file, demo_agents=True)
        demo = {"lena@example.com", "omar@example.com", "sam@example.com", "dana@example.com"}
        assert {c["email"] for c in created} == demo
        assert {c["role"] for c in created if c["email"] == "dana@example.com"} == {"designer"}
        async with db.write() as s:  # Lena changes the published demo password
            await s.execute(update(Agent).where(Agent.email == "lena@example.com")
                            .values(password_hash=auth.hash_password("a-new-private-password")))
        assert await seed.seed(db, seed_file, demo_agents=True) == []  # `make run` again: nothing re-seeded
        async with db.read() as s:
            _, password_hash = await agent_store.agent_credentials(s, "lena@example.com") or (None, "")
        assert auth.verify_password(password_hash, "a-new-private-password")
        assert not auth.verify_password(password_hash, "lena-demo-pass")
    finally:
        await db.dispose()


def test_run_env_is_private_and_keeps_what_is_there(tmp_path: Path) -> None:
    run_env = tmp_path / "var" / "run.env"
    run_env.parent.mkdir()
    run_env.write_text("TOKEN_SECRET=an-operator-chose-this-one\n")  # an older run.env, world-readable
    run_env.chmod(0o644)
    for _ in range(2):  # idempotent
        subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "run-env"], cwd=tmp_path, check=True,
                       capture_output=True, timeout=60)
    assert run_env.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in run_env.read_text().splitlines())
    assert values["TOKEN_SECRET"] == "an-operator-chose-this-one"
    for name in ("RASA_TOKEN", "IDENTITY_SECRET", "VOUCH_SECRET", "ACTIONS_TOKEN"):
        assert len(values[name]) >= 32
    assert len(run_env.read_text().splitlines()) == len(values)  # nothing added twice
    assert "HANDOFF_DEMO" not in values  # demo mode is `make run`'s choice, not a property of the secrets file
