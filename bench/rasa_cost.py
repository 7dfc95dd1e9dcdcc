"""What a bot reply costs our Rasa against a stock ``rasa init`` assistant, under the same load, in one run (issue 18).

Two assistants run side by side on loopback. The baseline is the stock assistant ``rasa init --no-prompt`` scaffolds
and trains from Rasa's bundled template (nothing is downloaded), cached in ``var/bench/stock-rasa-init-<rasa
version>/`` (initialised on the first run, retrained only when its ``models/`` is empty) and served with ``rasa run
--enable-api`` and its own files: the stock ``rest`` channel, trackers in memory, no action server (its stories and
rules use responses only, and its session start is Rasa's built-in one). Ours is the stack
:func:`bot.launcher.start_bot_servers` starts: the trained model, the project's ``endpoints.yml`` (redacting SQL
tracker store on a SQLite file of this run) and the real action server, the REST channel
``bot.channels.GatewayInput`` behind ``?token=``.

The load generator is this process, the same for both: serial ``POST /webhooks/rest/webhook`` ``{sender, message}``
(a fresh connection per request), the two assistants' turns interleaved so background load drifts over both alike.
Each conversation's first message is "hello" for both; the second is "thanks" for ours and "great" for the stock
assistant: its template has no thanks intent, and "hello" (greet -> ``utter_greet``) then "great" (mood_great ->
``utter_happy``) is its "happy path" story. After three warm-up conversations each (TensorFlow builds its graphs on
the first messages):

- ``short``: N fresh conversations (a new sender each) of the two messages. A server's CPU per reply is its process's
  CPU time (utime + stime of ``/proc/<pid>/stat``: every thread, children excluded) over the phase divided by the
  replies; first and second message apart from per-request readings; ours' action server is measured the same way;
  latency p50/p95 per reply as the load generator sees it.
- ``long``: one conversation of 80 turns alternating the two messages; CPU per turn from readings before and after
  each request (the server is idle between them: the load is serial), turns 1-10 against the last 10.

The kernel reports CPU time in 10 ms ticks (``SC_CLK_TCK`` 100), so one request's reading is coarse but the sums over a
phase, or over ten consecutive turns, are exact to about 10 ms. Ratios: ours / stock CPU per reply (the short phase;
Rasa alone and Rasa + action server), and each assistant's last 10 turns / first 10.

Run with the bot's Python: ``.venv/bin/python -m bench.rasa_cost [--quick] [--conversations 40] [--long-turns 80]``
(``make bench-rasa``); the report goes to ``reports/bench/rasa_cost.json`` and ``.md``. The first run also
scaffolds and trains the stock assistant (a few minutes); later runs reuse it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import process_cpu_seconds, run_benchmark, stats
from bot.launcher import BOT_BIN, MODEL, ROOT, free_port, start_bot_servers, stop_processes, wait_until_up

REPORT = ROOT / "reports" / "bench" / "rasa_cost.json"
RASA_VERSION = metadata.version("rasa")
STOCK_PROJECT = ROOT / "var" / "bench" / f"stock-rasa-init-{RASA_VERSION}"
OUR_MESSAGES = ("hello", "thanks")
STOCK_MESSAGES = ("hello", "great")
WARM_UP_CONVERSATIONS = 3
HEAD = 10  # turns compared at each end of the long conversation
REQUEST_SECONDS = 120
TRAIN_SECONDS = 3600
# Both assistants' Rasa servers get the same quiet environment; no usage data leaves the machine.
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore",
         "RASA_TELEMETRY_ENABLED": "false"}


@dataclass
class Assistant:
    """One assistant under load: its webhook, its two messages and the processes whose CPU is read."""

    name: str
    webhook: str  # http://host:port/path?query
    messages: tuple[str, str]
    pids: dict[str, int]  # "rasa", and "actions" for ours
    sample_replies: list[list[str]] = field(default_factory=list)


def models_in(project: Path) -> list[Path]:
    """The trained models of a Rasa project."""
    return sorted((project / "models").glob("*.tar.gz"))


def stock_project(logs: Path) -> dict[str, Any]:
    """The cached stock assistant: scaffold and train it with ``rasa init`` if missing, retrain if it has no model."""
    env = {**os.environ, **QUIET}
    started = time.perf_counter()
    if not (STOCK_PROJECT / "domain.yml").exists():
        # Scaffold beside the cache and move it in once trained, so an interrupted run leaves no half project.
        staging = STOCK_PROJECT.with_name(f"{STOCK_PROJECT.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        print(f"scaffolding and training the stock assistant (rasa init) in {staging.relative_to(ROOT)} ...",
              flush=True)
        try:
            with (logs / "stock-init.log").open("wb") as log:
                subprocess.run([str(BOT_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(staging)], cwd=staging,
                               env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=TRAIN_SECONDS)
            if not models_in(staging):
                raise RuntimeError(f"rasa init trained no model in {staging}: see stock-init.log")
            try:
                staging.rename(STOCK_PROJECT)
            except OSError:  # another run got there first: use its copy
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        prepared = "scaffolded and trained by rasa init"
    elif not models_in(STOCK_PROJECT):
        print(f"retraining the stock assistant in {STOCK_PROJECT.relative_to(ROOT)} ...", flush=True)
        with (logs / "stock-train.log").open("wb") as log:
            subprocess.run([str(BOT_BIN / "rasa"), "train", "--out", "models"], cwd=STOCK_PROJECT, env=env,
                           stdout=log, stderr=subprocess.STDOUT, check=True, timeout=TRAIN_SECONDS)
        prepared = "retrained: models/ was empty"
    else:
        prepared = "reused"
    return {"path": str(STOCK_PROJECT.relative_to(ROOT)), "model": models_in(STOCK_PROJECT)[-1].name,
            "prepared": prepared, "prepare_seconds": round(time.perf_counter() - started, 1)}


def start_stock_rasa(model: Path, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """``rasa run --enable-api`` in the stock project, with its own credentials.yml and endpoints.yml."""
    port = free_port()
    process = subprocess.Popen(
        [str(BOT_BIN / "rasa"), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
         "--model", str(model), "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
        cwd=STOCK_PROJECT, env={**os.environ, **QUIET}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/status", process, log)
    except BaseException:
        stop_processes([process])
        raise
    return url, process


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` has started (their CPU would not be in its counters)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return children


def cpu_ms(assistant: Assistant) -> dict[str, float]:
    """Each process's CPU time so far, in milliseconds."""
    readings = {}
    for name, pid in assistant.pids.items():
        seconds = process_cpu_seconds(pid)
        if seconds is None:
            raise RuntimeError(f"{assistant.name}: the {name} process ({pid}) is gone")
        readings[name] = seconds * 1000
    return readings


def post(webhook: str, sender: str, text: str) -> list[dict[str, Any]]:
    """One message to the REST webhook; the bot's replies."""
    rest = webhook.split("://", 1)[1]
    host, _, path = rest.partition("/")
    connection = http.client.HTTPConnection(host, timeout=REQUEST_SECONDS)
    try:
        connection.request("POST", "/" + path, json.dumps({"sender": sender, "message": text}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{webhook.split('?')[0]} answered {response.status}: {body[:300]!r}")
    replies = json.loads(body)
    if not replies:
        raise RuntimeError(f"no reply to {text!r} from {webhook.split('?')[0]} (sender {sender})")
    return list(replies)


def turn(assistant: Assistant, sender: str, text: str) -> dict[str, Any]:
    """One request: latency, replies, and each process's CPU it took."""
    before = cpu_ms(assistant)
    started = time.perf_counter()
    replies = post(assistant.webhook, sender, text)
    latency = (time.perf_counter() - started) * 1000
    after = cpu_ms(assistant)
    return {"latency_ms": latency, "texts": [str(r.get("text", "")) for r in replies],
            "cpu_ms": {name: after[name] - before[name] for name in before}}


def mean(values: list[float]) -> float:
    """Rounded mean."""
    return round(statistics.mean(values), 1)


def short_phase(assistants: list[Assistant], conversations: int) -> dict[str, dict[str, Any]]:
    """Fresh conversations of the two messages, serial, the assistants interleaved."""
    turns: dict[str, list[list[dict[str, Any]]]] = {a.name: [] for a in assistants}
    start = {a.name: cpu_ms(a) for a in assistants}
    for i in range(conversations):
        for a in assistants:
            sender = f"short-{i}-{uuid.uuid4().hex[:8]}"
            turns[a.name].append([turn(a, sender, a.messages[0]), turn(a, sender, a.messages[1])])
    result = {}
    for a in assistants:
        end = cpu_ms(a)
        done = turns[a.name]
        replies = 2 * len(done)
        per_process = {}
        for name in a.pids:
            phase_ms = end[name] - start[a.name][name]
            in_requests = sum(t["cpu_ms"][name] for conversation in done for t in conversation)
            per_process[name] = {
                "cpu_ms_per_reply": round(phase_ms / replies, 1),
                "first_message_cpu_ms": mean([c[0]["cpu_ms"][name] for c in done]),
                "second_message_cpu_ms": mean([c[1]["cpu_ms"][name] for c in done]),
                "phase_cpu_ms": round(phase_ms), "between_requests_cpu_ms": round(phase_ms - in_requests),
            }
        result[a.name] = {
            "conversations": len(done), "replies": replies, "cpu": per_process,
            "latency_ms": stats([t["latency_ms"] for c in done for t in c]),
            "first_message_latency_ms": stats([c[0]["latency_ms"] for c in done]),
            "second_message_latency_ms": stats([c[1]["latency_ms"] for c in done]),
        }
    return result


def long_phase(assistants: list[Assistant], turns: int) -> dict[str, dict[str, Any]]:
    """One conversation per assistant of ``turns`` alternating messages; the last turns' cost against the first."""
    senders = {a.name: f"long-{uuid.uuid4().hex[:8]}" for a in assistants}
    done: dict[str, list[dict[str, Any]]] = {a.name: [] for a in assistants}
    for t in range(turns):
        for a in assistants:
            done[a.name].append(turn(a, senders[a.name], a.messages[t % 2]))
    result = {}
    head = min(HEAD, turns // 2)
    for a in assistants:
        per_process = {}
        for name in a.pids:
            per_turn = [t["cpu_ms"][name] for t in done[a.name]]
            first, last = statistics.mean(per_turn[:head]), statistics.mean(per_turn[-head:])
            per_process[name] = {"first_turns_cpu_ms": round(first, 1), "last_turns_cpu_ms": round(last, 1),
                                 "ratio": round(last / first, 2) if first else None,
                                 "per_turn_cpu_ms": [round(c) for c in per_turn]}
        latencies = [t["latency_ms"] for t in done[a.name]]
        result[a.name] = {"turns": turns, "compared_turns": head, "cpu": per_process,
                          "first_turns_latency_ms": stats(latencies[:head]),
                          "last_turns_latency_ms": stats(latencies[-head:]),
                          "per_turn_latency_ms": [round(x, 1) for x in latencies]}
    return result


def ratio(a: float | None, b: float | None) -> float | None:
    """The quotient, rounded; None without a baseline."""
    return round(a / b, 2) if a is not None and b else None


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Prepare the stock assistant, start both, warm up, run the two phases, stop everything."""
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # our servers inherit this process's environment
    project = stock_project(tmp)
    processes: list[subprocess.Popen[bytes]] = []
    ours_dir = tmp / "ours"
    ours_dir.mkdir()
    try:
        print("starting the stock assistant and our stack ...", flush=True)
        stock_url, stock_rasa = start_stock_rasa(STOCK_PROJECT / "models" / project["model"], tmp / "stock-rasa.log")
        processes.append(stock_rasa)
        servers = start_bot_servers(ours_dir)  # action server + Rasa on a tracker database in the temp folder
        processes += servers.processes
        assistants = [
            Assistant("stock", f"{stock_url}/webhooks/rest/webhook", STOCK_MESSAGES, {"rasa": stock_rasa.pid}),
            Assistant("ours", f"{servers.rasa_url}/webhooks/rest/webhook?token={servers.token}", OUR_MESSAGES,
                      {"rasa": servers.processes[1].pid, "actions": servers.processes[0].pid}),
        ]
        for a in assistants:
            if child_pids(a.pids["rasa"]):
                raise RuntimeError(f"{a.name}: rasa run started worker processes; their CPU would not be counted")
        print("warming up ...", flush=True)
        for i in range(WARM_UP_CONVERSATIONS):
            for a in assistants:
                sender = f"warm-{i}-{uuid.uuid4().hex[:8]}"
                a.sample_replies = [turn(a, sender, m)["texts"] for m in a.messages]
        print(f"short: {args.conversations} conversations each ...", flush=True)
        short = short_phase(assistants, args.conversations)
        print(f"long: one conversation of {args.long_turns} turns each ...", flush=True)
        long = long_phase(assistants, args.long_turns)
    finally:
        stop_processes(processes)
    per_reply = {name: short[name]["cpu"]["rasa"]["cpu_ms_per_reply"] for name in short}
    ours_total = per_reply["ours"] + short["ours"]["cpu"]["actions"]["cpu_ms_per_reply"]
    return {
        "stock_project": project,
        "assistants": {a.name: {"messages": list(a.messages), "sample_replies": a.sample_replies,
                                "short": short[a.name], "long": long[a.name]} for a in assistants},
        "ratios": {
            "ours_over_stock_rasa_cpu_per_reply": ratio(per_reply["ours"], per_reply["stock"]),
            "ours_over_stock_with_action_server": ratio(ours_total, per_reply["stock"]),
            "long_last_over_first_stock": long["stock"]["cpu"]["rasa"]["ratio"],
            "long_last_over_first_ours": long["ours"]["cpu"]["rasa"]["ratio"],
            "long_last_over_first_ours_action_server": long["ours"]["cpu"]["actions"]["ratio"],
        },
    }


def table(result: dict[str, Any]) -> str:
    """Markdown: one row per measured process, then the ratios."""
    runs = result["assistants"]
    turns, head = runs["ours"]["long"]["turns"], runs["ours"]["long"]["compared_turns"]
    last = f"turns {turns - head + 1}-{turns}"
    lines = [
        f"Short: {result['config']['conversations']} fresh conversations each, serial. Long: one conversation of "
        f"{turns} turns. CPU in ms of the process per reply (utime + stime, all threads); latency as the load "
        f"generator sees it. Stock assistant {result['stock_project']['path']} ({result['stock_project']['prepared']}).",
        "",
        f"| assistant | CPU ms/reply (mean) | first message | second message | turns 1-{head} | {last} | ratio "
        "| latency p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = (("stock `rasa init`: Rasa", "stock", "rasa"), ("ours: Rasa", "ours", "rasa"),
            ("ours: action server", "ours", "actions"))
    for label, name, process in rows:
        short, long = runs[name]["short"], runs[name]["long"]
        cpu, lcpu = short["cpu"][process], long["cpu"][process]
        first, second = runs[name]["messages"]
        latency = (f"{short['latency_ms']['p50']} / {short['latency_ms']['p95']}" if process == "rasa" else "")
        lines.append(
            f"| {label} | {cpu['cpu_ms_per_reply']} | {cpu['first_message_cpu_ms']} (\"{first}\") "
            f"| {cpu['second_message_cpu_ms']} (\"{second}\") | {lcpu['first_turns_cpu_ms']} | {lcpu['last_turns_cpu_ms']} "
            f"| {lcpu['ratio']} | {latency} |"
        )
    r = result["ratios"]
    lines += [
        "",
        f"Ours / stock, CPU per reply: Rasa {r['ours_over_stock_rasa_cpu_per_reply']}x, Rasa + action server "
        f"{r['ours_over_stock_with_action_server']}x. Last {head} turns / first {head}: stock "
        f"{r['long_last_over_first_stock']}, ours {r['long_last_over_first_ours']} (action server "
        f"{r['long_last_over_first_ours_action_server']}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse, measure, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.rasa_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, help="fresh conversations in the short phase (40; --quick 10)")
    parser.add_argument("--long-turns", type=int, default=80)
    parser.add_argument("--quick", action="store_true", help="10 conversations in the short phase")
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if args.conversations is None:
        args.conversations = 10 if args.quick else 40
    if args.conversations < 1 or args.long_turns < 2:
        parser.error("--conversations must be >= 1 and --long-turns >= 2")

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the finally blocks that stop the servers

    signal.signal(signal.SIGTERM, stop)
    config = {"conversations": args.conversations, "long_turns": args.long_turns, "quick": args.quick,
              "warm_up_conversations": WARM_UP_CONVERSATIONS, "our_messages": list(OUR_MESSAGES),
              "stock_messages": list(STOCK_MESSAGES), "model": str(MODEL.relative_to(ROOT)),
              "cpu_counter": "utime+stime of /proc/<pid>/stat (all threads, children excluded), 10 ms ticks",
              "our_tracker_store": "RedactingSQLTrackerStore on SQLite (temp folder)",
              "stock_tracker_store": "InMemoryTrackerStore (stock endpoints.yml)"}
    return run_benchmark("rasa_cost", "rasa_cost", argv, lambda tmp: measure(args, tmp), config, table, args.out)


if __name__ == "__main__":
    sys.exit(main())
