"""Language detection cost per customer message: model load, p50/p95 on short messages, and growth with length.

``python -m bench.language``: the gateway's own detector (handoff.domain.language), the real lingua models. Detection runs
on every customer message in bot mode, after the ack, so its p95 adds to the bot's reply time, not to the ack.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time

from handoff.domain.language import MAX_DETECT_CHARS, Detector, detect_with
from handoff.settings import DEFAULT_LANGUAGES

MESSAGES = [
    "I forgot my password", "my invoice is wrong", "I was charged twice for the same thing",
    "my name is José García and my invoice is wrong", "Danke, that worked", "can I talk to a person",
    "olvidé mi contraseña", "me cobraron dos veces", "ich habe mein Passwort vergessen", "meine Rechnung ist falsch",
    "je veux parler à une personne", "on m'a débité deux fois", "la mia fattura è sbagliata", "esqueci minha senha",
    "the app keeps crashing when I log in, error 0x80070005, please help", "nope", "yes please",
]  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Print load time, memory, per-message p50/p95 and the cost at growing lengths."""
    detector = Detector(DEFAULT_LANGUAGES)
    started = time.perf_counter()
    model = asyncio.run(detector.ready())
    load = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"languages: {len(DEFAULT_LANGUAGES)} ({', '.join(DEFAULT_LANGUAGES)})")
    print(f"model load: {load:.2f} s (in a thread at start-up), peak RSS {rss:.0f} MB")
    timings = []
    for _ in range(50):
        for text in MESSAGES:
            t = time.perf_counter()
            detect_with(model, text)
            timings.append((time.perf_counter() - t) * 1000)
    print(
        f"short messages ({len(timings)} runs): p50 {statistics.median(timings):.3f} ms, "
        f"p95 {_pct(timings, 0.95):.3f} ms, max {max(timings):.3f} ms"
    )
    for length in (50, 200, 400, 4000, 100_000):
        text = ("my invoice is wrong and I was charged twice " * (length // 44 + 1))[:length]
        runs = []
        for _ in range(20):
            t = time.perf_counter()
            detect_with(model, text)
            runs.append((time.perf_counter() - t) * 1000)
        seen = min(length, MAX_DETECT_CHARS)
        print(f"  {length:>7} chars (detector sees {seen}): median {statistics.median(runs):.3f} ms")


if __name__ == "__main__":
    main()
