"""Scores the trained model on a hold-out set (never trained on): accuracy, rejection, confidently wrong, latency.

`make nlu-holdout` runs it on tests/nlu/holdout.yml and tests/nlu/holdout_messy.yml; tests/bot/test_holdout.py
keeps the scores above a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Predictions that mean "the bot did not pretend to understand": right for an out-of-scope message.
REJECTIONS = frozenset({"out_of_scope", "nlu_fallback"})
# Above this confidence the bot acts on the intent without asking (FallbackClassifier's threshold in config.yml).
CONFIDENT = 0.7


@dataclass
class HoldoutScore:
    """What the hold-out set says about the model."""

    in_scope_examples: int = 0
    in_scope_accuracy: float = 0.0
    in_scope_clarification_rate: float = 0.0
    out_of_scope_examples: int = 0
    out_of_scope_rejection: float = 0.0
    # Share of all messages answered with a wrong intent at a confidence above CONFIDENT: the bot acts, wrongly,
    # without asking. A rejection of an out-of-scope message is right, whatever its confidence.
    confidently_wrong: float = 0.0
    confidently_wrong_examples: list[str] = field(default_factory=list)
    parse_latency_ms_p50: float = 0.0
    parse_latency_ms_p95: float = 0.0
    confusions: dict[str, int] = field(default_factory=dict)


def _is_right(gold: str, pred: str) -> bool:
    return gold == pred or (gold == "out_of_scope" and pred in REJECTIONS)


def score(
    examples: list[tuple[str, str]],
    predictions: list[str],
    latencies_ms: list[float],
    confidences: list[float] | None = None,
) -> HoldoutScore:
    """Compare predicted intents with the labels."""
    result = HoldoutScore()
    if confidences is not None and examples:
        confident_misses = [
            f"{text!r}: {gold} -> {pred} ({confidence:.2f})"
            for (text, gold), pred, confidence in zip(examples, predictions, confidences, strict=True)
            if confidence > CONFIDENT and not _is_right(gold, pred)
        ]
        result.confidently_wrong = len(confident_misses) / len(examples)
        result.confidently_wrong_examples = confident_misses[:20]
    in_scope = [(gold, pred) for (_, gold), pred in zip(examples, predictions, strict=True) if gold != "out_of_scope"]
    out_of_scope = [pred for (_, gold), pred in zip(examples, predictions, strict=True) if gold == "out_of_scope"]
    if in_scope:
        result.in_scope_examples = len(in_scope)
        result.in_scope_accuracy = sum(gold == pred for gold, pred in in_scope) / len(in_scope)
        result.in_scope_clarification_rate = sum(pred == "nlu_fallback" for _, pred in in_scope) / len(in_scope)
    if out_of_scope:
        result.out_of_scope_examples = len(out_of_scope)
        result.out_of_scope_rejection = sum(pred in REJECTIONS for pred in out_of_scope) / len(out_of_scope)
    if latencies_ms:
        ordered = sorted(latencies_ms)
        result.parse_latency_ms_p50 = statistics.median(ordered)
        result.parse_latency_ms_p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    wrong = Counter(
        f"{gold} -> {pred}" for (_, gold), pred in zip(examples, predictions, strict=True)
        if not _is_right(gold, pred)
    )
    result.confusions = dict(wrong.most_common(15))
    return result


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(example.get("text"), example.get("intent")) for example in data.intent_examples]


async def evaluate(model: Path, data: Path) -> HoldoutScore:
    """Parse every hold-out message with the model, timing each parse."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    examples = load_examples(data)
    predictions, latencies, confidences = [], [], []
    for text, _ in examples:
        started = time.perf_counter()
        parsed: dict[str, Any] = await agent.parse_message(text)
        latencies.append((time.perf_counter() - started) * 1000)
        predictions.append(parsed["intent"]["name"])
        confidences.append(float(parsed["intent"].get("confidence") or 0.0))
    return score(examples, predictions, latencies, confidences)


def main() -> None:
    """Evaluate and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/support.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu/holdout.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/holdout.json"))
    args = parser.parse_args()
    result = asyncio.run(evaluate(args.model, args.data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(result), indent=2))
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
