"""How the stack's processes are started: action server, Rasa, gateway as subprocesses, for tests and benchmarks.

Generic start/wait/stop (:func:`free_port`, :func:`wait_until_up`, :func:`stop_processes`), then the starters of
the stack's servers. Imported by both environments (the tests and benchmarks of each side run in that side's
.venv), so at import time it needs the standard library and ``contract`` only, never Rasa or the gateway: each
server runs with its own side's interpreter (:data:`BOT_PYTHON`, :data:`GATEWAY_PYTHON`).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bot.ready import answers
from contract.vouch import vouch

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "support.tar.gz"
# Two environments: Rasa and the action server run in .venv (Python 3.10, Rasa's pins); the gateway runs in
# .venv-gateway (a current Python and stack). The tests of each side run in that side's environment
# (tests/conftest.py), and start the other side's processes with its interpreter. BOT_VENV / GATEWAY_VENV point
# elsewhere (bench.stacks runs the gateway from another virtualenv).
BOT_BIN = Path(os.environ.get("BOT_VENV", ROOT / ".venv")) / "bin"
GATEWAY_BIN = Path(os.environ.get("GATEWAY_VENV", ROOT / ".venv-gateway")) / "bin"
BOT_PYTHON = str(BOT_BIN / "python")
GATEWAY_PYTHON = str(GATEWAY_BIN / "python")
# The checkout whose gateway code runs (`python -m handoff` from there): another tree lets a benchmark run an earlier
# commit's gateway against this one's (bench.stacks --before-tree).
GATEWAY_TREE = Path(os.environ.get("GATEWAY_TREE", ROOT))
STARTUP_SECONDS = 240


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = STARTUP_SECONDS) -> None:
    """Poll a URL until it answers 200; fail with the process log if the process dies or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} process exited early:\n{log.read_text()[-3000:]}")
        if answers(url):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {seconds}s:\n{log.read_text()[-3000:]}")


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """Terminate the processes, killing any that do not exit in time."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class BotServers:
    """A running action server + Rasa server pair and what a test needs to talk to them.

    ``token`` is the gateway's credential for Rasa (webhook and HTTP API), ``actions_token`` Rasa's for the action
    server, ``vouch_secret`` the key the gateway vouches for customer identities with (contract.vouch).
    """

    rasa_url: str
    actions_url: str
    token: str
    backend_db: Path
    processes: list[subprocess.Popen[bytes]]
    actions_token: str = ""
    vouch_secret: str = ""

    def stop(self) -> None:
        """Terminate both processes."""
        stop_processes(self.processes)

    def customer(self, sender: str, customer_id: str) -> dict[str, object]:
        """The ``customer`` metadata block the gateway sends for a verified customer of conversation ``sender``."""
        return vouch(self.vouch_secret, sender, {"id": customer_id, "email": None, "name": None})


def new_secret() -> str:
    """A random credential for one test run (long enough for every server's minimum)."""
    return secrets.token_hex(20)


def _bot_env(backend_db: Path, token: str = "", actions_token: str = "", vouch_secret: str = "") -> dict[str, str]:
    return {**os.environ, "DEMO_BACKEND_DB": str(backend_db), "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore", "RASA_TOKEN": token,
            "ACTIONS_TOKEN": actions_token, "VOUCH_SECRET": vouch_secret,
            # The suites share one demo backend and reset the same demo accounts many times an hour; the per-address
            # limit itself (3 an hour) is tested in tests/actions.
            "MAX_SENDS_PER_HOUR": "1000"}


def rasa_command(port: int, token: str, endpoints: Path | None = None) -> list[str]:
    """``rasa run`` as the Procfile runs it from the project root: loopback only, HTTP API behind ``token``.

    Rasa reads the project's own ``credentials.yml`` (the gateway's channel) and ``endpoints.yml`` (or ``endpoints``,
    e.g. bot/endpoints.scaled.yml) with their ``${VAR}`` values from the environment (:func:`rasa_env`).
    """
    command = [str(BOT_BIN / "rasa"), "run", "--interface", "127.0.0.1", "--enable-api", "--auth-token", token,
               "--model", str(MODEL), "--port", str(port)]
    return command + (["--endpoints", str(endpoints)] if endpoints else [])


def rasa_env(servers: BotServers, **values: str) -> dict[str, str]:
    """The environment the project's endpoint files read: where the action server is, its token, the stores."""
    return {**_bot_env(servers.backend_db, servers.token), "ACTIONS_URL": f"{servers.actions_url}/webhook",
            "ACTIONS_TOKEN": servers.actions_token, **values}


def spawn_action_server(actions_url: str, backend_db: Path, actions_token: str, vouch_secret: str,
                        log: Path) -> subprocess.Popen[bytes]:
    """Launch ``python -m actions.server`` (loopback, token required) on the port of ``actions_url``."""
    return subprocess.Popen(
        [BOT_PYTHON, "-m", "actions.server", "--port", actions_url.rsplit(":", 1)[1]],
        cwd=ROOT, env=_bot_env(backend_db, actions_token=actions_token, vouch_secret=vouch_secret),
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def _spawn_rasa(workdir: Path, actions_url: str, backend_db: Path, token: str, actions_token: str) -> BotServers:
    """Launch a Rasa server process (not yet waited for) with its own tracker store in ``workdir``."""
    if not MODEL.exists():
        raise RuntimeError(f"{MODEL} is missing: run `make train` (make test does it first)")
    workdir.mkdir(parents=True, exist_ok=True)
    rasa_port = free_port()
    server = BotServers(f"http://127.0.0.1:{rasa_port}", actions_url, token, backend_db, [], actions_token)
    # The project's endpoints.yml as it is (redacting SQL tracker store), on a tracker database of this run.
    env = rasa_env(server, RASA_TRACKER_DB=str(workdir / "tracker.db"))
    server.processes.append(subprocess.Popen(
        rasa_command(rasa_port, token),
        cwd=ROOT, env=env, stdout=(workdir / "rasa.log").open("wb"), stderr=subprocess.STDOUT,
    ))
    return server


def start_rasa_server(workdir: Path, servers: BotServers) -> BotServers:
    """Start one more Rasa server (own tracker store) on the action server of ``servers``, which is running.

    For tests that kill Rasa: they get their own process, and the session's shared pair stays up.
    """
    server = _spawn_rasa(workdir, servers.actions_url, servers.backend_db, servers.token, servers.actions_token)
    server.vouch_secret = servers.vouch_secret
    try:
        wait_until_up(f"{server.rasa_url}/status?token={server.token}", server.processes[0], workdir / "rasa.log")
    except BaseException:
        server.stop()
        raise
    return server


def start_bot_servers(workdir: Path) -> BotServers:
    """Start the action server on a seeded demo backend, then Rasa with the trained model (fresh credentials)."""
    backend_db = workdir / "demo_business.db"
    actions_url = f"http://127.0.0.1:{free_port()}"
    actions_log = workdir / "actions.log"
    token, actions_token, vouch_secret = new_secret(), new_secret(), new_secret()
    actions = spawn_action_server(actions_url, backend_db, actions_token, vouch_secret, actions_log)
    try:
        rasa = _spawn_rasa(workdir, actions_url, backend_db, token, actions_token)
    except BaseException:
        actions.terminate()
        raise
    servers = BotServers(rasa.rasa_url, actions_url, token, backend_db, [actions, *rasa.processes], actions_token,
                         vouch_secret)
    try:
        wait_until_up(f"{actions_url}/health", actions, actions_log)
        wait_until_up(f"{servers.rasa_url}/status?token={servers.token}", rasa.processes[0], workdir / "rasa.log")
    except BaseException:
        servers.stop()
        raise
    return servers


@dataclass
class GatewayProcess:
    """``python -m handoff`` running as its own process against the bot servers."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def stop(self) -> None:
        """Terminate the gateway."""
        stop_processes([self.process])


def start_gateway_process(workdir: Path, servers: BotServers, **settings: str) -> GatewayProcess:
    """Seed (contacts, demo agents, canned replies) and start a gateway on a temporary SQLite file.

    ``settings`` are extra environment variables (HANDOFF_AUTO_ASSIGN="0", ...).
    """
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{workdir / 'handoff.db'}"
    env = {
        **os.environ,
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_PORT": str(port),
        "DATABASE_URL": database_url,
        "RASA_URL": servers.rasa_url,
        "RASA_TOKEN": servers.token,
        "VOUCH_SECRET": servers.vouch_secret,
        "IDENTITY_SECRET": new_secret(),
        "TOKEN_SECRET": new_secret(),
        # The tests' gateways log in as the seeded demo agents: `handoff seed` creates them in demo mode only.
        "HANDOFF_DEMO": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore",
        **settings,
    }
    subprocess.run([GATEWAY_PYTHON, "-m", "handoff", "seed"], cwd=GATEWAY_TREE, env=env, check=True, capture_output=True)
    log = workdir / "gateway.log"
    process = subprocess.Popen(
        [GATEWAY_PYTHON, "-m", "handoff"], cwd=GATEWAY_TREE, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process, log, database_url)
    try:
        wait_until_up(f"{gateway.url}/healthz", process, log, seconds=60)
    except BaseException:
        gateway.stop()
        raise
    return gateway


def start_shared_store_rasa_servers(
    workdir: Path, servers: BotServers, tracker_db: str, lock_prefix: str, count: int = 2
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """``count`` Rasa servers on ``servers``' action server sharing a PostgreSQL tracker store and a lock store.

    They run on the project's bot/endpoints.scaled.yml, its hosts and names given through the environment.

    Any of them can answer any conversation. Returns (url, process) pairs once every one answers.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = rasa_env(servers, TRACKER_DB_HOST="127.0.0.1", TRACKER_DB_USER="postgres", TRACKER_DB_PASSWORD="",
                   TRACKER_DB_NAME=tracker_db, LOCK_STORE_HOST="127.0.0.1", LOCK_KEY_PREFIX=lock_prefix)
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(count):
            port = free_port()
            log = workdir / f"rasa-shared-{i}.log"
            process = subprocess.Popen(
                rasa_command(port, servers.token, ROOT / "bot" / "endpoints.scaled.yml"),
                cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            )
            started.append((f"http://127.0.0.1:{port}", process, log))
        for url, process, log in started:
            wait_until_up(f"{url}/status?token={servers.token}", process, log)
    except BaseException:
        stop_processes([p for _, p, _ in started])
        raise
    return [(url, process) for url, process, _ in started]

