"""Two gateway environments side by side: the gateway benchmarks run alternately on each, in one run.

For a change of the gateway's stack (Python, aiohttp, python-socketio, SQLAlchemy): ``--before`` and ``--after``
are virtualenvs that can run ``python -m handoff`` (default: .venv-gateway for both). For a change of the gateway's
code: ``--before-tree`` is a checkout of the earlier commit (``git worktree add /tmp/before <commit>``) whose
``handoff/`` runs on the before side (default: this checkout for both). Each round runs
``bench.gateway_latency`` and ``bench.scaled --quick`` once per environment (the order alternates between rounds,
so drift on the machine falls on both), with the load generator always in this process's environment. The
medians over the rounds and their ratio after / before go to ``reports/bench/stacks.json`` and ``.md``.

Usage: ``python -m bench.stacks [--before VENV] [--after VENV] [--before-tree DIR] [--rounds 2] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import run_benchmark
from bot.launcher import GATEWAY_BIN, ROOT

REPORT = ROOT / "reports" / "bench" / "stacks.json"

# (label, benchmark, how to read the figure from its report, better when higher)
Figure = tuple[str, str, Callable[[dict[str, Any]], float], bool]
FIGURES: list[Figure] = [
    ("bot reply through the gateway, p50 ms", "gateway", lambda r: r["bot_latency"]["gateway_ms"]["p50"], False),
    ("bot reply through the gateway, p95 ms", "gateway", lambda r: r["bot_latency"]["gateway_ms"]["p95"], False),
    ("added by the gateway to a bot reply, p50 ms", "gateway", lambda r: r["bot_latency"]["added_ms"]["p50"], False),
    ("hand-off notify, gateway part, p50 ms", "gateway", lambda r: r["handoff_notify"]["after_bot_reply_ms"]["p50"],
     False),
    ("human relay on SQLite, messages/s", "gateway", lambda r: r["relay"]["messages_per_second"], True),
    ("human relay latency on SQLite, p50 ms", "gateway", lambda r: r["relay"]["relay_latency_ms"]["p50"], False),
    ("gateway CPU s, human relay phase", "gateway", lambda r: r["cpu"]["human relay"]["gateway_cpu_s"], False),
    ("relay throughput, one gateway on PostgreSQL, messages/s", "scaled",
     lambda r: r["throughput"]["one_gateway"]["messages_per_second"], True),
    ("relay throughput, two gateways on Redis, messages/s", "scaled",
     lambda r: r["throughput"]["two_gateways"]["messages_per_second"], True),
    ("relay p99 under load, ms", "scaled", lambda r: r["relay"]["gateway"]["latency_ms"]["p99"], False),
    ("idle widget memory, KB per connection", "scaled", lambda r: r["idle"]["kb_per_connection"], False),
]
COMMANDS = {"gateway": ["bench.gateway_latency"], "scaled": ["bench.scaled", "--quick"]}


def run_once(venv: Path, tree: Path, benchmark: str, quick: bool, out: Path) -> dict[str, Any]:
    """One benchmark with the gateway processes started from ``venv`` and the code of ``tree``; its JSON report."""
    command = [sys.executable, "-m", *COMMANDS[benchmark], "--out", str(out)]
    if quick and benchmark == "gateway":
        command.append("--quick")
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "GATEWAY_VENV": str(venv), "GATEWAY_TREE": str(tree)})
    return dict(json.loads(out.read_text()))


def figure(reports: list[dict[str, Any]], read: Callable[[dict[str, Any]], float]) -> float | None:
    """The median of one figure over the rounds (None when a report lacks it)."""
    try:
        return round(statistics.median(float(read(r)) for r in reports), 2)
    except (KeyError, TypeError, ValueError, statistics.StatisticsError):
        return None


def table(result: dict[str, Any]) -> str:
    """Markdown: each figure before, after, after / before."""
    versions = result["stacks"]
    rows = [
        f"Before: {versions['before']}. After: {versions['after']}. Medians of {result['rounds']} rounds.",
        "",
        "| figure | before | after | after / before | better |",
        "|---|---|---|---|---|",
    ]
    for row in result["figures"]:
        rows.append(f"| {row['figure']} | {row['before']} | {row['after']} | {row['ratio']} | "
                    f"{'higher' if row['higher_is_better'] else 'lower'} |")
    return "\n".join(rows)


def stack_versions(venv: Path) -> str:
    """Python and the gateway's main libraries in ``venv``, as one line."""
    code = ("import platform; from importlib import metadata as m; print('Python ' + platform.python_version() + ', ' + "
            "', '.join(n + ' ' + m.version(n) for n in ('aiohttp', 'python-socketio', 'python-engineio', 'SQLAlchemy')))")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_of(tree: Path) -> str:
    """The short commit of a checkout, with "+changes" when its files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "handoff"], cwd=tree, capture_output=True, text=True)
    return head + ("+changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    """Alternate the rounds, then report medians and ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench.stacks", description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=GATEWAY_BIN.parent, help="virtualenv of the earlier gateway stack")
    parser.add_argument("--before-tree", type=Path, default=ROOT, help="checkout of the earlier gateway code")
    parser.add_argument("--after", type=Path, default=GATEWAY_BIN.parent, help="virtualenv of the new gateway stack")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="quick counts for bench.gateway_latency too")
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    stacks = {"before": args.before.resolve(), "after": args.after.resolve()}
    trees = {"before": args.before_tree.resolve(), "after": ROOT}
    reports: dict[str, dict[str, list[dict[str, Any]]]] = {side: {"gateway": [], "scaled": []} for side in stacks}

    def measure(tmp: Path) -> dict[str, Any]:
        for round_no in range(args.rounds):
            order = ["before", "after"] if round_no % 2 == 0 else ["after", "before"]
            for side in order:
                for benchmark in COMMANDS:
                    print(f"round {round_no + 1}/{args.rounds}: {benchmark} on {side} ({stacks[side]})", flush=True)
                    out = tmp / f"{side}-{benchmark}-{round_no}.json"
                    reports[side][benchmark].append(run_once(stacks[side], trees[side], benchmark, args.quick, out))
        rows = []
        for label, benchmark, read, higher in FIGURES:
            before, after = figure(reports["before"][benchmark], read), figure(reports["after"][benchmark], read)
            ratio = round(after / before, 2) if before and after is not None else None
            rows.append({"figure": label, "before": before, "after": after, "ratio": ratio, "higher_is_better": higher})
        return {"rounds": args.rounds,
                "stacks": {side: f"{stack_versions(path)}; code {commit_of(trees[side])}" for side, path in stacks.items()},
                "figures": rows}

    return run_benchmark("stacks", "stacks", argv, measure,
                         {"before": str(stacks["before"]), "after": str(stacks["after"]), "rounds": args.rounds},
                         table, args.out)


if __name__ == "__main__":
    sys.exit(main())
