"""Sentence encoder cost: load time, memory, per-message latency of the TensorFlow pass vs the numpy reference.

``python -m bench.encoder`` (the bot's environment, .venv): the two ways of running the packaged all-MiniLM-L6-v2
weights that were compared for the NLU pipeline (docs/nlu.md), on customer-length messages, one at a time as Rasa
parses them, and a long message.
"""

from __future__ import annotations

import resource
import statistics
import time

from bot.meaning_featurizer import text_for_meaning
from bot.sentence_encoder import SentenceEncoder, reference_hidden_states

MESSAGES = [
    "I forgot my password", "my invoice is wrong", "I was charged twice for the same thing",
    "hi", "there's a payment showing twice on my statement, can you check", "nope",
    "the app keeps crashing when I log in, error 0x80070005, please help",
    "I moved last month and the card on file is the old one. How do I swap it?",
]  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time(run: object, rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        for text in MESSAGES:
            started = time.perf_counter()
            run(text)  # type: ignore[operator]
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    """Print load time, peak RSS, and p50/p95 per message for both forward passes."""
    started = time.perf_counter()
    encoder = SentenceEncoder.load()
    encoder.sentence_vectors(["warm up"])
    print(f"load + first call: {time.perf_counter() - started:.2f} s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    def numpy_pass(text: str) -> None:
        ids, mask = encoder.tokenize([text])
        reference_hidden_states(encoder.weights, encoder.config, ids, mask)

    for name, run, rounds in (
        ("tensorflow", lambda text: encoder.sentence_vectors([text]), 25),
        ("numpy (float32)", numpy_pass, 10),
    ):
        timings = _time(run, rounds)
        print(f"{name:>26}: p50 {statistics.median(timings):.1f} ms, p95 {_pct(timings, 0.95):.1f} ms "
              f"({len(timings)} messages)")
    long_text = "my invoice is wrong and I was charged twice " * 40
    for name, run in (("tensorflow", lambda: encoder.sentence_vectors([long_text])),
                      ("numpy (float32)", lambda: numpy_pass(long_text))):
        runs = []
        for _ in range(10):
            started = time.perf_counter()
            run()
            runs.append((time.perf_counter() - started) * 1000)
        print(f"{name + ', 128 tokens':>26}: median {statistics.median(runs):.1f} ms (longer texts are truncated)")
    started = time.perf_counter()
    encoder.sentence_vectors([text_for_meaning("请帮我重置密码" * 150_000)])
    print(f"{'1 MB of CJK text (hostile)':>26}: {(time.perf_counter() - started) * 1000:.1f} ms (cut to 4,096 characters)")

if __name__ == "__main__":
    main()
