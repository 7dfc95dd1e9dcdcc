"""The designer's learning loop on the gateway: label a message into the training data, retrain, report.

A label is checked (``handoff.domain.training``), then written by ``handoff.storage.training_data`` under this
gateway's lock (the file lock there covers other processes). A retrain runs ``<bot python> -m bot.retrain --json
--project <project>`` as a subprocess, one at a time per gateway: it trains a candidate, scores it beside the model in
service and loads it into Rasa (``PUT /model``) only when no figure got worse (read to one hold-out message). Its
status (idle, running, done, refused, failed) and JSON report are kept for the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from handoff import logref
from handoff.domain import access
from handoff.domain import training as rules
from handoff.domain.language import BOT_LANGUAGES, Detector, name_of, vote
from handoff.domain.records import AgentRecord
from handoff.settings import Settings
from handoff.storage import training_data
from handoff.storage.models import utcnow
from handoff.usecases.agents import Refused

log = logging.getLogger(__name__)

# The checkout holding bot/ (``python -m bot.retrain`` runs from here whatever the training project is).
CODE_ROOT = Path(__file__).resolve().parents[2]
REFUSED_EXIT = 3  # bot.retrain's exit status when a figure got worse
STATUSES = ("idle", "running", "done", "refused", "failed")


def project_of(settings: Settings) -> Path:
    """The Rasa project labels go into (``HANDOFF_TRAINING_PROJECT``, else the working directory)."""
    return Path(settings.training_project or os.getcwd()).resolve()


def bot_python_of(settings: Settings) -> Path:
    """The bot environment's Python (``HANDOFF_BOT_PYTHON``, else ``<project>/.venv/bin/python``)."""
    return Path(settings.bot_python) if settings.bot_python else project_of(settings) / ".venv" / "bin" / "python"


def _require(agent: AgentRecord) -> None:
    reason = access.training_refusal(agent)
    if reason is not None:
        raise Refused("forbidden", reason)


@dataclass
class RetrainRun:
    """The last (or current) retrain of this gateway."""

    status: str = "idle"
    started_at: str | None = None
    finished_at: str | None = None
    started_by: str | None = None
    exit_code: int | None = None
    report: dict[str, Any] | None = None
    error: str | None = None


def _stamp() -> str:
    return utcnow().isoformat(timespec="seconds") + "Z"


def parse_report(stdout: str) -> dict[str, Any] | None:
    """bot.retrain's JSON report: the last line of its output that is a JSON object with ``before`` and ``after``."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "before" in data and "after" in data:
            return data
    return None


class Training:
    """One gateway's labels lock and retrain runner."""

    def __init__(self) -> None:
        """Idle."""
        self.lock = asyncio.Lock()
        self.run = RetrainRun()
        self.task: asyncio.Task[None] | None = None
        self.process: asyncio.subprocess.Process | None = None

    def intents(self, settings: Settings, agent: AgentRecord) -> dict[str, Any]:
        """The intents a message may be labelled with, from the project's ``domain.yml``."""
        _require(agent)
        names = rules.labellable(training_data.domain_intents(project_of(settings)))
        return {"intents": names, "out_of_scope": rules.OUT_OF_SCOPE, "new_intent_pattern": rules.INTENT_NAME.pattern}

    async def label(
        self, settings: Settings, agent: AgentRecord, body: dict[str, Any], detector: Detector | None = None
    ) -> dict[str, Any]:
        """Write one labelled example; LabelError (with the reason) when it may not go in.

        ``detector`` (the gateway's language detection, when on) keeps a message in a language the bot does not
        speak out of its training data: labelled as English it would teach the bot to guess at it.
        """
        _require(agent)
        text = rules.clean_example(body.get("text"))
        if detector is not None:
            spoken = vote(await detector.detect(text))
            if spoken is not None and spoken not in BOT_LANGUAGES:
                raise rules.LabelError(
                    "wrong_language",
                    f"this message reads as {name_of(spoken)}; the bot's training data is in English, and "
                    f"{name_of(spoken)} conversations go to agents who speak it",
                )
        new_intent = body.get("new_intent") is True
        intent = body.get("intent")
        if new_intent:
            intent = rules.check_intent_name(intent)
        elif not isinstance(intent, str) or intent in rules.NOT_LABELLABLE:
            raise rules.LabelError("unknown_intent", "choose an intent of the list, a new intent or out of scope")
        async with self.lock:
            written = await asyncio.to_thread(
                training_data.write_label, project_of(settings), text, intent, new_intent=new_intent
            )
        conversation = body.get("conversation_id")
        log.info(
            "agent %s labelled an example of conversation %s as %s (%s, added=%s)",
            agent.id,
            logref.ref(conversation) if isinstance(conversation, str) else "-",
            written.intent,
            written.file,
            written.added,
        )
        return {**written.as_dict(), "text": text}

    def status(self, agent: AgentRecord) -> dict[str, Any]:
        """The last or current retrain."""
        _require(agent)
        return asdict(self.run)

    async def start(self, settings: Settings, agent: AgentRecord) -> dict[str, Any]:
        """Start a retrain in the background (409 ``retrain_running`` while one runs)."""
        _require(agent)
        if self.run.status == "running":
            raise Refused("retrain_running", f"a retrain is running since {self.run.started_at}; wait for its result")
        project, python = project_of(settings), bot_python_of(settings)
        if not (project / "domain.yml").is_file() or not (project / "data").is_dir():
            raise Refused("no_training_project", f"{project} has no domain.yml and data/: set HANDOFF_TRAINING_PROJECT")
        if not python.is_file():
            raise Refused("no_bot_python", f"{python} does not exist: set HANDOFF_BOT_PYTHON to the bot's Python")
        self.run = RetrainRun(status="running", started_at=_stamp(), started_by=agent.name)
        self.task = asyncio.create_task(self._retrain(settings, project, python), name="retrain")
        return asdict(self.run)

    async def _retrain(self, settings: Settings, project: Path, python: Path) -> None:
        env = {
            **os.environ,  # PATH, HOME...: the child needs the process environment; the gateway's settings go on top
            "RASA_URLS": ",".join(settings.rasa_servers),
            "RASA_TOKEN": settings.rasa_token,
            "PYTHONPATH": os.pathsep.join(p for p in (str(CODE_ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        env.pop("RASA_URL", None)
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(python), "-m", "bot.retrain", "--json", "--project", str(project),
                cwd=CODE_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await self.process.communicate()
            code = self.process.returncode
        except OSError as exc:
            self._finish("failed", None, None, f"could not start the retrain: {exc}")
            return
        finally:
            self.process = None
        report = parse_report(out.decode("utf-8", "replace"))
        if code == 0 and report is not None:
            self._finish("done", code, report, None)
        elif code == REFUSED_EXIT and report is not None:
            self._finish("refused", code, report, None)
        else:
            tail = err.decode("utf-8", "replace").strip()[-2000:]
            self._finish("failed", code, report, tail or f"bot.retrain exited with status {code}")

    def _finish(self, status: str, code: int | None, report: dict[str, Any] | None, error: str | None) -> None:
        self.run.status, self.run.exit_code, self.run.report, self.run.error = status, code, report, error
        self.run.finished_at = _stamp()
        log.info("retrain %s (exit %s)", status, code)

    async def close(self) -> None:
        """Stop a running retrain (the gateway is shutting down)."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 10)
