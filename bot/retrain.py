"""Retrain, measure the new model beside the running one, and load it into Rasa only when no figure gets worse.

The conversation designer's one action after labelling (``make retrain``, or the console's "Retrain" button, which
runs this module): train a candidate from ``data/``; score the current model and the candidate on the same
hold-outs (``bot.holdout``) and replay the dialogue test stories with each; compare figure by figure; when the
candidate is no worse on every figure, it replaces ``models/support.tar.gz`` and every Rasa server loads it
(``PUT /model`` with the API token); otherwise the report says which figures got worse and nothing is loaded.
A figure is read to one hold-out message: one message that moves across the confidence threshold (an example added
for one intent nudges every other intent's scores) is reported, not a refusal; two are (``TOLERATED_MESSAGES``).
Every run appends its figures to ``reports/models/history.jsonl``, keyed by Rasa's model id (what ``GET /status``
reports), so the containment per model version can be told apart later.

Usage: ``python -m bot.retrain [--rasa-url URL ...] [--token T]`` (defaults from RASA_URLS / RASA_URL and
RASA_TOKEN); exit status 0 when loaded (or nothing to load), 3 when refused, 1 on an error.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.holdout import HoldoutScore, evaluate

ROOT = Path(__file__).resolve().parents[1]
REFUSED = 3


@dataclass(frozen=True)
class Project:
    """Where the training data, the hold-outs, the test stories and the model in service live.

    This checkout, or a copy of it: the tests retrain a copy, never the checkout's own data.
    """

    root: Path = ROOT

    @property
    def model(self) -> Path:
        """The model in service."""
        return self.root / "models" / "support.tar.gz"

    @property
    def holdouts(self) -> dict[str, Path]:
        """The hold-out sets, by name."""
        return {"holdout": self.root / "tests" / "nlu" / "holdout.yml",
                "messy": self.root / "tests" / "nlu" / "holdout_messy.yml"}

    @property
    def stories(self) -> Path:
        """The dialogue test stories."""
        return self.root / "tests" / "test_stories.yml"

    @property
    def history(self) -> Path:
        """Every run's figures, one JSON line each."""
        return self.root / "reports" / "models" / "history.jsonl"

# Figure -> True when higher is better. A candidate is refused when any figure moves the wrong way.
FIGURES = {
    "in_scope_accuracy": True,
    "out_of_scope_rejection": True,
    "confidently_wrong": False,
}
# The hold-out messages each figure is a share of (their counts are kept beside the figures).
DENOMINATORS = {
    "in_scope_accuracy": ("in_scope_examples",),
    "out_of_scope_rejection": ("out_of_scope_examples",),
    "confidently_wrong": ("in_scope_examples", "out_of_scope_examples"),
}
COUNTS = ("in_scope_examples", "out_of_scope_examples")
# How many hold-out messages a figure may move the wrong way and still count as no worse (reported, not refused).
# Seen on a real label: "my login code never arrives" as account_locked moved 'what a joke of a company' from
# out_of_scope at 0.699 to 0.71, over the 0.7 threshold, and the gate refused a good example.
TOLERATED_MESSAGES = 1


@dataclass
class ModelFigures:
    """What one model scores: the hold-outs' figures and the dialogue test stories."""

    model: str
    fingerprint: str
    holdouts: dict[str, dict[str, float]] = field(default_factory=dict)
    stories_passed: bool = False
    story_failures: int = 0


@dataclass
class RetrainReport:
    """The before/after figures side by side, the verdict, and what was loaded where."""

    before: ModelFigures
    after: ModelFigures
    worse: list[str]
    tolerated: list[str] = field(default_factory=list)  # figures that moved the wrong way by one message
    loaded_into: list[str] = field(default_factory=list)
    load_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accepted(self) -> bool:
        """No figure got worse."""
        return not self.worse


def fingerprint(model: Path) -> str:
    """The model's id as Rasa reports it (``GET /status`` ``model_id``): the version a conversation was answered by."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    return str(LocalModelStorage.metadata_from_archive(model).model_id)


def _one_message(data: dict[str, float], figure: str) -> float:
    """What one hold-out message weighs in ``figure`` (0 for figures kept without their counts)."""
    count = sum(data.get(name, 0) for name in DENOMINATORS[figure])
    return 1 / count if count else 0.0


def compare(before: ModelFigures, after: ModelFigures) -> tuple[list[str], list[str]]:
    """The figures on which the candidate is worse than the current model, and those worse by one message.

    Those worse by at most ``TOLERATED_MESSAGES`` hold-out messages count as no worse for the verdict; each is a
    sentence the designer reads.
    """
    worse: list[str] = []
    tolerated: list[str] = []
    for name, data in before.holdouts.items():
        for figure, higher_is_better in FIGURES.items():
            old, new = data[figure], after.holdouts.get(name, {}).get(figure, float("nan"))
            if new >= old if higher_is_better else new <= old:
                continue
            line = f"{name} {figure.replace('_', ' ')}: {old:.3f} -> {new:.3f}"
            counts = {**after.holdouts.get(name, {}), **data}  # figures from older runs were kept without counts
            slack = TOLERATED_MESSAGES * _one_message(counts, figure) + 1e-9
            (tolerated if abs(new - old) <= slack else worse).append(line)
    if before.stories_passed and not after.stories_passed:
        worse.append(f"dialogue test stories: {after.story_failures} failing (all passed before)")
    return worse, tolerated


def candidate_name(now: float) -> str:
    """The candidate model's file name for the time ``now``: "candidate-2026-12-01T175245".

    No run of digits in it is long enough to read as a card number: "20261201-175245" was 14 digits, and at some
    seconds Luhn-valid, so the leak scan flagged the model file (its gzip header holds the name).
    """
    return f"candidate-{time.strftime('%Y-%m-%dT%H%M%S', time.localtime(now))}"


def train_candidate(project: Project, out_dir: Path) -> Path:
    """Train a full model (NLU and dialogue) from the project's data into ``out_dir``."""
    name = candidate_name(time.time())
    _rasa(project, "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
          "--out", str(out_dir), "--fixed-model-name", name, "--force", "--quiet")
    return out_dir / f"{name}.tar.gz"


def story_failures(project: Project, model: Path, out_dir: Path) -> int:
    """Replay the test stories with ``model``; the number of stories it gets wrong (0: all pass)."""
    _rasa(project, "test", "core", "--stories", str(project.stories), "--model", str(model), "--out", str(out_dir),
          "--quiet")
    failed = out_dir / "failed_test_stories.yml"
    return failed.read_text().count("- story:") if failed.exists() else 0


async def measure(project: Project, model: Path, scratch: Path) -> ModelFigures:
    """Score one model on every hold-out and the test stories.

    A model id measured before (the model in service, usually) is read from the history: it always scores the same.
    """
    figures = ModelFigures(model=str(model), fingerprint=fingerprint(model))
    known = _measured_before(project, figures.fingerprint)
    if known is not None:
        return known
    for name, data in project.holdouts.items():
        score: HoldoutScore = await evaluate(model, data)
        figures.holdouts[name] = {figure: getattr(score, figure) for figure in (*FIGURES, *COUNTS)}
        gc.collect()  # the loaded agent goes before the next one loads
    figures.story_failures = story_failures(project, model, scratch / f"stories-{figures.fingerprint}")
    figures.stories_passed = figures.story_failures == 0
    return figures


def load_into_rasa(model: Path, rasa_url: str, token: str) -> None:
    """Ask a Rasa server to load ``model`` (``PUT /model`` with the API token); raises when it does not."""
    request = urllib.request.Request(
        f"{rasa_url.rstrip('/')}/model?token={urllib.parse.quote(token)}", method="PUT",
        data=json.dumps({"model_file": str(model.resolve())}).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        if response.status != 204:
            raise OSError(f"{rasa_url} answered {response.status} to PUT /model")


async def retrain(rasa_urls: list[str], token: str, project: Project = Project()) -> RetrainReport:
    """Train, measure both models, and put the candidate in service only when it is no worse."""
    started = time.monotonic()
    model = project.model
    with tempfile.TemporaryDirectory(prefix="retrain-") as tmp:
        scratch = Path(tmp)
        candidate = train_candidate(project, scratch / "models")
        before = await measure(project, model, scratch)
        after = await measure(project, candidate, scratch)
        worse, tolerated = compare(before, after)
        report = RetrainReport(before=before, after=after, worse=worse, tolerated=tolerated)
        if report.accepted and after.fingerprint != before.fingerprint:
            staged = model.with_suffix(".next")
            shutil.copyfile(candidate, staged)
            os.replace(staged, model)
            report.after.model = str(model)
            for url in rasa_urls:
                try:
                    load_into_rasa(model, url, token)
                    report.loaded_into.append(url)
                except OSError as error:  # the file is in place: that server loads it when it restarts
                    report.load_errors.append(f"{url}: {error}")
    report.seconds = round(time.monotonic() - started, 1)
    _remember(project, report)
    return report


def _remember(project: Project, report: RetrainReport) -> None:
    project.history.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "accepted": report.accepted, **asdict(report)}
    with project.history.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def _measured_before(project: Project, model_id: str) -> ModelFigures | None:
    """This model's figures from an earlier run (the same model id always scores the same), if any."""
    if not project.history.exists():
        return None
    for line in reversed(project.history.read_text().splitlines()):
        entry = json.loads(line)
        for side in ("after", "before"):
            if entry[side]["fingerprint"] == model_id:
                return ModelFigures(**entry[side])
    return None


def _rasa(project: Project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-m", "rasa", *args], cwd=project.root, env=env, capture_output=True,
                            text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"rasa {args[0]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result


def render(report: RetrainReport) -> str:
    """The side-by-side table a designer reads in a terminal."""
    lines = [f"{'figure':<40}{'before':>10}{'after':>10}"]
    for name, data in report.before.holdouts.items():
        for figure in FIGURES:
            lines.append(f"{name + ' ' + figure.replace('_', ' '):<40}{data[figure]:>10.3f}"
                         f"{report.after.holdouts[name][figure]:>10.3f}")
    lines.append(f"{'test stories failing':<40}{report.before.story_failures:>10}{report.after.story_failures:>10}")
    if report.accepted:
        lines.append(("No figure got worse" if not report.tolerated else "No figure got worse by more than one message")
                     + f": model {report.after.fingerprint} is in service"
                     + (f" (loaded into {', '.join(report.loaded_into)})." if report.loaded_into else "."))
        lines.extend(f"Could not load it into {error}; it is loaded when that server restarts." for error in
                     report.load_errors)
        if report.tolerated:
            lines.append("Worse by one hold-out message (a message near the confidence threshold), not refused: "
                         + "; ".join(report.tolerated))
    else:
        lines.append("Not loaded: " + "; ".join(report.worse))
    return "\n".join(lines)


def main() -> None:
    """Retrain from the command line; print the table (or JSON) and exit with the verdict."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_urls = [u for u in os.environ.get("RASA_URLS", os.environ.get("RASA_URL", "")).split(",") if u]
    parser.add_argument("--rasa-url", action="append", default=None, help="a Rasa server to load the model into")
    parser.add_argument("--token", default=os.environ.get("RASA_TOKEN", ""))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--project", type=Path, default=ROOT,
                        help="folder with data/, config.yml, domain.yml, tests/nlu, tests/test_stories.yml, models/")
    args = parser.parse_args()
    urls = args.rasa_url if args.rasa_url is not None else default_urls
    if urls and not args.token:
        sys.exit("RASA_TOKEN (or --token) is needed to load a model into Rasa")
    try:
        report = asyncio.run(retrain(urls, args.token, Project(args.project.resolve())))
    except (RuntimeError, OSError) as error:
        print(f"retrain failed: {error}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"accepted": report.accepted, **asdict(report)}) if args.json else render(report))
    sys.exit(0 if report.accepted else REFUSED)


if __name__ == "__main__":
    main()
