"""The designer's loop: misunderstood messages grouped by similarity, exported as Rasa NLU YAML."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import datetime
from pathlib import Path

from bot.launcher import BOT_PYTHON, ROOT
from handoff.__main__ import main
from handoff.analytics.review import Miss, group, to_rasa_yaml
from handoff.storage import conversations as conversation_store
from handoff.storage import migrate
from handoff.storage.db import Database
from handoff.usecases import signals

NOW = datetime(2025, 3, 3, 9, 0)
_READ_NLU = """
import json, sys
from rasa.shared.nlu.training_data.loading import load_data
data = load_data(sys.argv[1])
print(json.dumps({"intents": sorted(data.intents), "texts": [m.get("text") for m in data.intent_examples]}))
"""


def read_with_rasa(path: Path) -> tuple[set[str], list[str]]:
    """Load an NLU YAML file with Rasa's own reader (in the bot's environment): its intents and example texts."""
    result = subprocess.run([BOT_PYTHON, "-c", _READ_NLU, str(path)], cwd=ROOT, capture_output=True, text=True,
                            check=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return set(loaded["intents"]), list(loaded["texts"])


def miss(text: str, guess: str = "billing_refund", kind: str = "nlu_fallback") -> Miss:
    ranking = [{"name": "nlu_fallback", "confidence": 0.7}, {"name": guess, "confidence": 0.4}]
    return Miss(text, kind, "nlu_fallback", 0.7, ranking, "c1", NOW)


def test_similar_messages_group_together_biggest_first() -> None:
    groups = group([
        miss("can I pay with paypal"),
        miss("what is the weather", "greet", "out_of_scope"),
        miss("can I pay with paypal please"),
        miss("can i pay by paypal"),
        miss("what is the weather"),
    ])
    assert [g.count for g in groups] == [3, 2]
    assert groups[0].guess() == ("billing_refund", 0.4)
    # Each example links to the conversation it came from (the designer opens its transcript from there).
    assert groups[1].as_dict()["examples"] == [{"text": "what is the weather", "count": 2, "conversation_id": "c1"}]


def test_export_loads_with_rasas_reader(tmp_path: Path) -> None:
    groups = group([miss("can I pay with paypal"), miss("can I pay with [paypal](x)"), miss("hablas español", "greet")])
    path = tmp_path / "review.yml"
    path.write_text(to_rasa_yaml(groups), encoding="utf-8")
    intents, texts = read_with_rasa(path)
    assert intents == {"label_me_01_billing_refund", "label_me_02_greet"}
    assert set(texts) == {"can I pay with paypal", "can I pay with (paypal)(x)", "hablas español"}


def test_empty_export_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text(to_rasa_yaml([]), encoding="utf-8")
    assert read_with_rasa(path)[1] == []


def test_nlu_review_command_exports_redacted_misses(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"

    async def seed() -> None:
        db = Database(url)
        await migrate.upgrade(db)
        async with db.write() as s:
            await conversation_store.create_conversation(s, "c" * 32)
            for text in ("my card 4111 1111 1111 1111 got charged weird", "my card got charged weird"):
                await signals.record_miss(s, "c" * 32, {"kind": "out_of_scope", "text": text,
                                                        "ranking": [{"name": "billing_charge_dispute", "confidence": 0.5}]})
            await signals.record_miss(s, "c" * 32, {"kind": "bogus", "text": "   "})  # ignored
        await db.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "reports" / "nlu_review.yml"
    assert main(["nlu-review", "--since", "1d", "--out", str(out)]) == 0
    assert "2 misunderstood messages in 1 groups" in capsys.readouterr().out
    content = out.read_text()
    assert "4111" not in content and "# 2 messages (out_of_scope 2)" in content
    assert read_with_rasa(out)[0] == {"label_me_01_billing_charge_dispute"}
