"""The retrain gate: a candidate is refused when any figure gets worse, and an accepted model is loaded into Rasa."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path

import pytest

from bot.launcher import MODEL, BotServers
from bot.retrain import (
    ModelFigures,
    Project,
    compare,
    fingerprint,
    load_into_rasa,
    measure,
    story_failures,
)


def figures(accuracy: float = 0.9, rejection: float = 0.95, wrong: float = 0.02, failures: int = 0) -> ModelFigures:
    data = {"in_scope_accuracy": accuracy, "out_of_scope_rejection": rejection, "confidently_wrong": wrong}
    return ModelFigures(model="m", fingerprint="f", holdouts={"holdout": dict(data), "messy": dict(data)},
                        stories_passed=failures == 0, story_failures=failures)


def test_a_candidate_as_good_or_better_everywhere_is_accepted() -> None:
    assert compare(figures(), figures())[0] == []
    assert compare(figures(), figures(accuracy=0.95, rejection=0.97, wrong=0.01))[0] == []


def test_each_figure_that_gets_worse_is_named() -> None:
    worse = compare(figures(), figures(accuracy=0.89, wrong=0.03))[0]
    assert worse == [
        "holdout in scope accuracy: 0.900 -> 0.890",
        "holdout confidently wrong: 0.020 -> 0.030",
        "messy in scope accuracy: 0.900 -> 0.890",
        "messy confidently wrong: 0.020 -> 0.030",
    ]


def test_one_message_across_the_threshold_is_reported_two_are_refused() -> None:
    """A figure is read to one hold-out message: 454 messages, 320 of them in scope, as tests/nlu/holdout.yml."""
    counts = {"in_scope_examples": 320, "out_of_scope_examples": 134}
    before = figures(wrong=6 / 454)
    for data in before.holdouts.values():
        data.update(counts)
    one_more = figures(wrong=7 / 454, accuracy=0.9 - 1 / 320)
    worse, tolerated = compare(before, one_more)
    assert worse == [] and tolerated == [
        "holdout in scope accuracy: 0.900 -> 0.897", "holdout confidently wrong: 0.013 -> 0.015",
        "messy in scope accuracy: 0.900 -> 0.897", "messy confidently wrong: 0.013 -> 0.015"]
    worse, _ = compare(before, figures(wrong=8 / 454, accuracy=0.9 - 2 / 320))
    assert len(worse) == 4, "two messages are a change, not a message at the threshold"
    assert compare(figures(wrong=6 / 454), one_more)[0] != [], "figures kept without their counts: no slack"


def test_a_better_hold_out_does_not_buy_a_broken_dialogue() -> None:
    assert compare(figures(), figures(accuracy=0.99, failures=2))[0] == [
        "dialogue test stories: 2 failing (all passed before)"
    ]


def test_a_missing_hold_out_counts_as_worse() -> None:
    after = figures()
    del after.holdouts["messy"]
    assert len(compare(figures(), after)[0]) == 3


def status(servers: BotServers) -> dict:
    with urllib.request.urlopen(f"{servers.rasa_url}/status?token={servers.token}", timeout=10) as response:
        return json.loads(response.read())


def test_the_accepted_model_is_loaded_into_the_running_rasa(bot_servers: BotServers) -> None:
    load_into_rasa(MODEL, bot_servers.rasa_url, bot_servers.token)
    assert status(bot_servers)["model_id"] == fingerprint(MODEL)


def test_loading_without_the_api_token_is_refused(bot_servers: BotServers) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        load_into_rasa(MODEL, bot_servers.rasa_url, "not-the-token")
    assert refused.value.code == 401


async def test_a_model_measured_before_is_read_from_the_history(tmp_path: Path) -> None:
    project = Project(tmp_path)
    known = figures(accuracy=0.812)
    known.fingerprint = fingerprint(MODEL)
    project.history.parent.mkdir(parents=True)
    other = figures(accuracy=0.5)
    project.history.write_text(
        json.dumps({"before": asdict(other), "after": asdict(known)}) + "\n"
    )
    measured = await measure(project, MODEL, tmp_path)
    assert measured.holdouts["holdout"]["in_scope_accuracy"] == 0.812


def test_stories_that_cannot_be_replayed_are_an_error_not_a_failing_story(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="rasa test failed"):
        story_failures(Project(tmp_path), MODEL, tmp_path / "out")  # no tests/test_stories.yml in this folder


def test_a_candidate_model_name_never_reads_as_a_card_number() -> None:
    """The leak scan reads the model file's bytes (its gzip header holds the name): no time may give a card."""
    from bot.retrain import candidate_name
    from contract.redact import find_cards
    from tests.privacy.scan import scan_bytes

    start = 1_796_146_000.0  # 2026-12-01; the old "20261201-174509" was Luhn-valid
    names = [candidate_name(start + second) for second in range(0, 86_400, 3)]
    assert all(name.startswith("candidate-2026-") for name in names)
    assert not [name for name in names if scan_bytes(f"{name}.tar".encode()) or find_cards(name)]
    assert scan_bytes(b"candidate-20261201-174509.tar"), "the scan this guards against"
