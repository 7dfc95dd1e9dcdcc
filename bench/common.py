"""What the benchmarks share: percentiles, CPU accounting, deadlines, and the machine/versions/commit record."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from bot.launcher import BOT_PYTHON, GATEWAY_PYTHON, ROOT

# Versions reported per environment: the bot's (.venv) and the gateway's (.venv-gateway, or GATEWAY_VENV).
PACKAGES = {
    "bot": ("rasa", "rasa-sdk", "aiohttp", "SQLAlchemy"),
    "gateway": ("python-socketio", "python-engineio", "aiohttp", "SQLAlchemy", "aiosqlite", "asyncpg", "redis"),
}
_VERSIONS = """
import json, platform, sys
from importlib import metadata
versions = {"python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        versions[name] = None
print(json.dumps(versions))
"""
T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def stats(values_ms: list[float]) -> dict[str, float | int]:
    """n, mean, p50, p95, p99 and max in milliseconds (rounded)."""
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "mean": round(sum(values_ms) / len(values_ms), 2),
        "p50": round(percentile(values_ms, 50), 2),
        "p95": round(percentile(values_ms, 95), 2),
        "p99": round(percentile(values_ms, 99), 2),
        "max": round(max(values_ms), 2),
    }


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over all cores (Linux ``/proc/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest time is already in user)
    return (total - idle) / ticks, total / ticks


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of another process (Linux ``/proc``), None when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def within(seconds: float, what: str, coro: Awaitable[T]) -> T:
    """Run a phase under a deadline."""
    try:
        return await asyncio.wait_for(coro, seconds)
    except asyncio.TimeoutError as exc:
        raise RuntimeError(f"{what} did not finish within {seconds:.0f}s") from exc


def environment() -> dict[str, Any]:
    """Machine, versions and git commit."""
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line),
        platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()
    mem_kb = next(
        (int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
        0,
    ) if Path("/proc/meminfo").exists() else 0

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    def versions_in(python: str, names: tuple[str, ...]) -> dict[str, str | None]:
        done = subprocess.run([python, "-c", _VERSIONS, *names], capture_output=True, text=True)
        return json.loads(done.stdout) if done.returncode == 0 else {"python": None}

    return {
        "machine": {
            "platform": platform.platform(),
            "cpu": cpu_model,
            "cpus": os.cpu_count(),
            "memory_gb": round(mem_kb / 1024 / 1024, 1),
        },
        "versions": {"bot": versions_in(BOT_PYTHON, PACKAGES["bot"]),
                     "gateway": versions_in(GATEWAY_PYTHON, PACKAGES["gateway"])},
        "git": {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))},
    }


def write_report(out: Path, result: dict[str, Any], table: str) -> None:
    """Write the JSON report and its markdown twin (same name, ``.md``), then print the table and where they went."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    machine, git = result["machine"], result["git"]
    versions = "; ".join(f"{side}: " + ", ".join(f"{k} {v}" for k, v in found.items() if v)
                         for side, found in result["versions"].items())
    command = "python -m " + " ".join(["bench." + result["benchmark_module"], *result.get("argv", [])])
    out.with_suffix(".md").write_text(
        f"# Benchmark: {result['benchmark']}\n\n"
        f"Run {result['started_at']} ({result['duration_s']} s) with `{command}` at commit "
        f"{git['commit'][:10]}{' (dirty)' if git['dirty'] else ''}.\n"
        f"Machine: {machine['cpus']} x {machine['cpu']}, {machine['memory_gb']} GB, {machine['platform']}.\n"
        f"Versions: {versions}.\n\n{table}\n"
    )
    print()
    print(table)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nwritten to {shown} and {shown.with_suffix('.md')}")


def run_benchmark(
    name: str,
    module: str,
    argv: list[str] | None,
    measure: Callable[[Path], dict[str, Any]],
    config: dict[str, Any],
    table: Callable[[dict[str, Any]], str],
    out: Path,
) -> int:
    """Measure in a temporary folder, then write the report (numbers, config, machine, versions, commit).

    When the measurement fails, the servers' logs are kept beside the report (``<report>-logs/``) first.
    """
    started = datetime.now(timezone.utc)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        try:
            numbers = measure(Path(tmp))
        except BaseException:
            kept = out.parent / f"{out.stem}-logs"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(tmp, kept, ignore=lambda _dir, names: [n for n in names if not n.endswith(".log")])
            print(f"failed: the servers' logs are in {kept}", file=sys.stderr)
            raise
    result = {
        "benchmark": name,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - wall, 1),
        "benchmark_module": module,
        "argv": list(sys.argv[1:] if argv is None else argv),
        **environment(),
        "config": config,
        **numbers,
    }
    write_report(out, result, table(result))
    return 0
