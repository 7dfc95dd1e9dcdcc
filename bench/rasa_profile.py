"""Where a bot reply's CPU goes inside Rasa: each NLU component, each policy, the tracker store, the action server.

Runs the trained model in this process exactly as ``rasa run`` handles a message (``Agent.handle_message``: the same
processor and graph, the project's redacting SQL tracker store on a SQLite file, the real action server over HTTP),
with a CPU timer (``time.process_time``: every thread of this process, so TensorFlow's too) around each part. Parts
nest (a policy runs inside a prediction, a prediction inside a message), so the shares do not add up to 100 %.

Phases: ``short``, fresh conversations of "hello" then "thanks" (the issue's load); ``long``, one conversation of
80 alternating turns (cost of turns 1-10 against turns 71-80); ``long_actions``, the same with a custom action every
turn (the invoice form started, then stopped), whose calls send the action server the whole session. Run with the
bot's Python: ``.venv/bin/python -m bench.rasa_profile [--conversations 40] [--long-turns 80]``; the report goes to
``reports/bench/rasa_profile.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import run_benchmark
from bot.launcher import MODEL, ROOT, free_port, new_secret, spawn_action_server, stop_processes, wait_until_up

REPORT = ROOT / "reports" / "bench" / "rasa_profile.json"


class Meter:
    """CPU seconds and calls per labelled part."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: type, name: str, label: str) -> None:
        """Time ``owner.name`` (sync or async) under ``label``; only a method the class itself defines."""
        original = owner.__dict__[name]
        meter = self

        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    meter.cpu[label] += time.process_time() - started
                    meter.calls[label] += 1
            setattr(owner, name, timed_async)
        else:
            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    meter.cpu[label] += time.process_time() - started
                    meter.calls[label] += 1
            setattr(owner, name, timed)

    def reset(self) -> None:
        """Forget what was measured (after the warm-up)."""
        self.cpu.clear()
        self.calls.clear()


def instrument(meter: Meter) -> None:
    """Timers around the parts of a message's handling (before the model is loaded)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.policies.ensemble import PolicyPredictionEnsemble
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.tokenizer import Tokenizer
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.entities import SpacyRuleEntityExtractor
    from bot.frustration import FrustrationScorer
    from bot.meaning_classifier import MeaningIntentClassifier
    from bot.meaning_featurizer import MeaningFeaturizer

    meter.wrap(Agent, "handle_message", "whole message")
    meter.wrap(MessageProcessor, "parse_message", "NLU (whole pipeline)")
    for component in (SpacyRuleEntityExtractor, Tokenizer, MeaningFeaturizer, CountVectorsFeaturizer,
                      MeaningIntentClassifier, FallbackClassifier, FrustrationScorer):
        meter.wrap(component, "process", f"NLU: {component.__name__}")
    meter.wrap(MessageProcessor, "predict_next_with_tracker", "policy prediction (all policies + ensemble)")
    for policy in (MemoizationPolicy, RulePolicy, TEDPolicy):
        meter.wrap(policy, "predict_action_probabilities", f"policy: {policy.__name__}")
    meter.wrap(PolicyPredictionEnsemble, "combine_predictions_from_kwargs", "policy: ensemble")
    meter.wrap(SQLTrackerStore, "retrieve", "tracker store: load")
    meter.wrap(SQLTrackerStore, "save", "tracker store: save")
    meter.wrap(RemoteAction, "run", "action server call (incl. tracker to JSON)")
    meter.wrap(DialogueStateTracker, "current_state", "tracker to JSON (current_state)")


async def load_agent(actions_url: str, actions_token: str, tracker_db: Path) -> Any:
    """The model with the project's endpoints.yml (action server, redacting SQL tracker store), as ``rasa run``.

    Logging as ``rasa run`` sets it up by default (INFO): left unconfigured, Rasa's structured log prints every
    debug record, which costs more than some of the parts measured.
    """
    import logging

    from rasa.core.agent import load_agent as rasa_load_agent
    from rasa.core.utils import read_endpoints_from_path
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)

    os.environ.update({"ACTIONS_URL": f"{actions_url}/webhook", "ACTIONS_TOKEN": actions_token,
                       "RASA_TRACKER_DB": str(tracker_db)})
    endpoints = read_endpoints_from_path(ROOT / "endpoints.yml")
    return await rasa_load_agent(model_path=str(MODEL), endpoints=endpoints)


async def reply_cpu_ms(agent: Any, sender: str, text: str) -> float:
    """Handle one message as the REST channel does; the CPU milliseconds it took."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    started = time.process_time()
    await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
    return (time.process_time() - started) * 1000


# A turn that runs custom actions (the invoice form's validation, the stop), alternated: the action server is sent
# the whole session each call.
ACTION_TURNS = ("can I see my latest invoice", "never mind")
ACTION_CALL = "action server call (incl. tracker to JSON)"


async def long_phase(agent: Any, meter: Meter, sender: str, messages: tuple[str, str], turns: int) -> dict[str, Any]:
    """One conversation alternating ``messages``.

    CPU per turn, turns 1-10 against the last 10, and the action server calls' share of it.
    """
    cpu, calls, action_cpu = [], [], []
    for turn in range(turns):
        before_cpu, before_calls = meter.cpu[ACTION_CALL], meter.calls[ACTION_CALL]
        cpu.append(await reply_cpu_ms(agent, sender, messages[turn % 2]))
        action_cpu.append((meter.cpu[ACTION_CALL] - before_cpu) * 1000)
        calls.append(meter.calls[ACTION_CALL] - before_calls)
    head, tail = statistics.mean(cpu[:10]), statistics.mean(cpu[-10:])
    return {"turns": turns, "messages": list(messages), "turns_1_10_cpu_ms": round(head, 1),
            "last_10_cpu_ms": round(tail, 1), "ratio": round(tail / head, 2),
            "action_calls_per_turn": round(statistics.mean(calls), 2),
            "action_call_cpu_ms_turns_1_10": round(statistics.mean(action_cpu[:10]), 2),
            "action_call_cpu_ms_last_10": round(statistics.mean(action_cpu[-10:]), 2),
            "per_turn_cpu_ms": [round(t, 1) for t in cpu]}


def shares(meter: Meter, replies: int) -> list[dict[str, Any]]:
    """Each part's CPU per reply, calls per reply and share of the whole message, the costliest first."""
    total = meter.cpu.get("whole message", 0.0) or 1e-9
    return [
        {"part": label, "cpu_ms_per_reply": round(cpu * 1000 / replies, 2), "calls_per_reply": round(
            meter.calls[label] / replies, 2), "share_of_reply": round(cpu / total, 3)}
        for label, cpu in sorted(meter.cpu.items(), key=lambda item: -item[1])
    ]


def table(result: dict[str, Any]) -> str:
    """Markdown: the two phases in a sentence, then the parts."""
    short, actions = result["short"], result["long_actions"]
    rows = [
        f"Fresh conversations of \"hello\" then \"thanks\": {short['replies']} replies, Rasa CPU per reply "
        f"p50 {short['cpu_ms_per_reply']['p50']} ms (first message {short['first_message_cpu_ms_p50']} ms, "
        f"second {short['second_message_cpu_ms_p50']} ms). One conversation of {result['long']['turns']} turns: "
        f"turns 1-10 {result['long']['turns_1_10_cpu_ms']} ms, "
        f"turns {result['long']['turns'] - 9}-{result['long']['turns']} {result['long']['last_10_cpu_ms']} ms a reply "
        f"(ratio {result['long']['ratio']}). The same with custom actions every turn ({' / '.join(actions['messages'])}, "
        f"{actions['action_calls_per_turn']} action server calls a turn): {actions['turns_1_10_cpu_ms']} -> "
        f"{actions['last_10_cpu_ms']} ms (ratio {actions['ratio']}), of which the calls "
        f"{actions['action_call_cpu_ms_turns_1_10']} -> {actions['action_call_cpu_ms_last_10']} ms.",
        "",
        "| part | CPU ms per reply | calls per reply | share of a reply |",
        "|---|---|---|---|",
    ]
    rows += [f"| {row['part']} | {row['cpu_ms_per_reply']} | {row['calls_per_reply']} | {row['share_of_reply']:.0%} |"
             for row in short["parts"]]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Start the action server, load the model here, measure both phases, write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.rasa_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--long-turns", type=int, default=80)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)

    def measure(tmp: Path) -> dict[str, Any]:
        actions_url, actions_token = f"http://127.0.0.1:{free_port()}", new_secret()
        log = tmp / "actions.log"
        actions = spawn_action_server(actions_url, tmp / "demo_business.db", actions_token, new_secret(), log)
        try:
            wait_until_up(f"{actions_url}/health", actions, log)
            return asyncio.run(phases(actions_url, actions_token, tmp / "tracker.db"))
        finally:
            stop_processes([actions])

    async def phases(actions_url: str, actions_token: str, tracker_db: Path) -> dict[str, Any]:
        meter = Meter()
        instrument(meter)
        agent = await load_agent(actions_url, actions_token, tracker_db)
        for i in range(3):  # warm up: the first messages build TensorFlow's graphs
            await reply_cpu_ms(agent, f"warm-{i}", "hello")
            await reply_cpu_ms(agent, f"warm-{i}", "thanks")
        meter.reset()
        first, second = [], []
        for i in range(args.conversations):
            first.append(await reply_cpu_ms(agent, f"short-{i}", "hello"))
            second.append(await reply_cpu_ms(agent, f"short-{i}", "thanks"))
        replies = len(first) + len(second)
        short = {"replies": replies, "cpu_ms_per_reply": {"p50": round(statistics.median(first + second), 1),
                                                          "mean": round(statistics.mean(first + second), 1)},
                 "first_message_cpu_ms_p50": round(statistics.median(first), 1),
                 "second_message_cpu_ms_p50": round(statistics.median(second), 1),
                 "parts": shares(meter, replies)}
        long = await long_phase(agent, meter, "long", ("hello", "thanks"), args.long_turns)
        long_actions = await long_phase(agent, meter, "long-actions", ACTION_TURNS, args.long_turns)
        return {"short": short, "long": long, "long_actions": long_actions}

    return run_benchmark("rasa_profile", "rasa_profile", argv, measure,
                         {"conversations": args.conversations, "long_turns": args.long_turns, "model": str(MODEL)},
                         table, args.out)


if __name__ == "__main__":
    sys.exit(main())
