"""The bot's training data as files: labelled examples written into ``data/nlu/`` (and new intents into ``domain.yml``).

The files stay what a person would write (one file per topic, ``examples: |`` blocks, comments kept): a label is one
line inserted after the intent's last example, so ``git diff`` shows exactly what the designer taught. A new intent
gets ``data/nlu/<intent>.yml`` and a line in ``domain.yml``'s ``intents:``. Every write holds an exclusive ``flock`` on
the ``data/nlu`` folder (two gateways, or a gateway and a person's script, never interleave), checks the result still
parses as YAML with the example in place, and replaces the file atomically. The rules (what text may go in) are
``handoff.domain.training``'s; this module is persistence only. Synchronous: callers run it in a worker thread.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handoff.domain.training import LabelError, same_example

_BLOCK = re.compile(r"^(\s*)examples:\s*\|[-+]?\s*$")


@dataclass(frozen=True)
class Written:
    """What a label did: the intent, the file (relative to the project), whether a line or an intent was added."""

    intent: str
    file: str
    added: bool
    new_intent: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON for the console."""
        return {"intent": self.intent, "file": self.file, "added": self.added, "new_intent": self.new_intent}


def _unavailable(root: Path) -> LabelError:
    return LabelError("no_training_project", f"{root} has no domain.yml and data/nlu/: set HANDOFF_TRAINING_PROJECT")


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LabelError("broken_training_data", f"{path.name} cannot be read as YAML: {exc}") from exc


def domain_intents(root: Path) -> list[str]:
    """The intents of ``domain.yml`` (names; an intent may be a mapping with options)."""
    domain = root / "domain.yml"
    if not domain.is_file():
        raise _unavailable(root)
    data = _load(domain) or {}
    names = []
    for item in data.get("intents") or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and item:
            names.append(str(next(iter(item))))
    return names


def _examples(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    return [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("- ")]


def nlu_examples(path: Path) -> dict[str, list[str]]:
    """One NLU file's examples by intent."""
    found: dict[str, list[str]] = {}
    data = _load(path) or {}
    for item in data.get("nlu") or [] if isinstance(data, dict) else []:
        if isinstance(item, dict) and "intent" in item:
            found.setdefault(str(item["intent"]), []).extend(_examples(item.get("examples")))
    return found


def nlu_files(root: Path) -> list[Path]:
    """The training data's NLU files (``data/nlu/*.yml``), sorted."""
    return sorted(p for p in (root / "data" / "nlu").glob("*.y*ml") if p.is_file())


def holdout_keys(root: Path) -> set[str]:
    """Every hold-out message (``tests/nlu/*.yml``) as a comparison key: never to be trained on."""
    keys: set[str] = set()
    for path in sorted((root / "tests" / "nlu").glob("*.y*ml")):
        for examples in nlu_examples(path).values():
            keys.update(same_example(e) for e in examples)
    return keys


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder itself: no lock file lands in the training data."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _insert_example(source: str, intent: str, example: str) -> str | None:
    """``source`` with ``example`` after the intent's last example, or None when the intent has no block here."""
    lines = source.splitlines(keepends=True)
    head = re.compile(rf"^\s*- intent:\s*['\"]?{re.escape(intent)}['\"]?\s*$")
    for i, line in enumerate(lines):
        if not head.match(line.rstrip("\n")):
            continue
        for j in range(i + 1, len(lines)):
            block = _BLOCK.match(lines[j].rstrip("\n"))
            if block is None:
                if lines[j].strip().startswith("- ") and not lines[j].startswith(" "):
                    return None  # the next entry: this intent has no examples block
                continue
            key_indent = len(block.group(1))
            last, item_indent = j, key_indent + 2
            for k in range(j + 1, len(lines)):
                text = lines[k].rstrip("\n")
                if text.strip() and len(text) - len(text.lstrip()) <= key_indent:
                    break
                if text.strip():
                    last, item_indent = k, len(text) - len(text.lstrip())
            if not lines[last].endswith("\n"):
                lines[last] += "\n"
            lines.insert(last + 1, f"{' ' * item_indent}- {example}\n")
            return "".join(lines)
        return None
    return None


def _new_block(intent: str, example: str) -> str:
    return f"- intent: {intent}\n  examples: |\n    - {example}\n"


def _add_to_domain(source: str, intent: str) -> str:
    """``domain.yml`` with ``intent`` as the last item of ``intents:``."""
    lines = source.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^intents:\s*$", line.rstrip("\n"))), None)
    if start is None:
        raise LabelError("broken_training_data", "domain.yml has no 'intents:' list to add the new intent to")
    last, indent = start, "  "
    for k in range(start + 1, len(lines)):
        text = lines[k].rstrip("\n")
        if text.strip() and not text.startswith((" ", "#")):
            break
        if text.strip().startswith("- "):
            last, indent = k, text[: len(text) - len(text.lstrip())]
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, f"{indent}- {intent}\n")
    return "".join(lines)


def _check(text: str, intent: str, example: str, where: str) -> None:
    """The new text parses and holds the example under the intent; else nothing is written."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise LabelError("invalid_text", f"the example would break {where}'s YAML: {exc}") from exc
    got = [e for item in data.get("nlu") or [] if isinstance(item, dict) and item.get("intent") == intent
           for e in _examples(item.get("examples"))]
    if example not in got:
        raise LabelError("invalid_text", f"the example would not read back as written in {where}")


def write_label(root: Path, example: str, intent: str, *, new_intent: bool) -> Written:
    """Add ``example`` (already checked by ``handoff.domain.training.clean_example``) to ``intent``'s training data.

    Refused (LabelError): an unknown intent (or a "new" one that exists), a hold-out message, a message that is
    already an example of another intent. Already an example of this intent: nothing is written (``added`` False).
    """
    folder = root / "data" / "nlu"
    if not folder.is_dir() or not (root / "domain.yml").is_file():
        raise _unavailable(root)
    with _locked(folder):
        intents = domain_intents(root)
        if new_intent and intent in intents:
            raise LabelError("intent_exists", f"{intent} is already an intent: choose it from the list")
        if not new_intent and intent not in intents:
            raise LabelError("unknown_intent", f"{intent} is not an intent of domain.yml")
        key = same_example(example)
        if key in holdout_keys(root):
            raise LabelError(
                "holdout", "this message is in the hold-out set (tests/nlu/): it measures the bot and is never trained on"
            )
        home: Path | None = None
        for path in nlu_files(root):
            for name, examples in nlu_examples(path).items():
                if name == intent and home is None:
                    home = path
                if any(same_example(e) == key for e in examples):
                    rel = str(path.relative_to(root))
                    if name == intent:
                        return Written(intent, rel, added=False, new_intent=False)
                    raise LabelError("conflict", f"this message is already an example of {name} in {rel}")
        text = _insert_example(home.read_text(encoding="utf-8"), intent, example) if home is not None else None
        target = home if home is not None and text is not None else folder / f"{intent}.yml"
        if text is None:
            if target.exists():
                current = target.read_text(encoding="utf-8")
                text = current + ("" if current.endswith("\n") or not current else "\n") + _new_block(intent, example)
            else:
                text = f'version: "3.1"\n\nnlu:\n{_new_block(intent, example)}'
        rel = str(target.relative_to(root))
        _check(text, intent, example, rel)
        domain_text = None
        if new_intent:
            domain_text = _add_to_domain((root / "domain.yml").read_text(encoding="utf-8"), intent)
            if intent not in (yaml.safe_load(domain_text) or {}).get("intents", []):
                raise LabelError("broken_training_data", "domain.yml would not list the new intent")
        _replace(target, text)
        if domain_text is not None:
            _replace(root / "domain.yml", domain_text)
        return Written(intent, rel, added=True, new_intent=new_intent)
