"""Escalation prediction on a simulated history: trained on earlier weeks, evaluated on a later one; cold start."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from handoff.analytics import prediction, series, simulate
from handoff.analytics.metrics import load_events
from handoff.domain import escalation_risk
from handoff.domain.states import EventType
from handoff.storage import escalation_model, migrate
from handoff.storage.db import Database
from handoff.storage.models import utcnow


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('predict') / 'h.db'}")


async def _samples(db: Database) -> tuple[list[prediction.Sample], list[prediction.Sample]]:
    await migrate.upgrade(db)
    # A fixed seed and a fixed "now" (a Monday noon in the past): the same history on every run, whatever the clock.
    now = datetime(2026, 6, 1, 12, 0)
    done = await simulate.simulate(db, days=35, per_day=30, seed=11, now=now)
    assert 0.1 < done["escalated"] / done["conversations"] < 0.45  # realistic: most are contained
    async with db.read() as s:
        train = await prediction.load_samples(s, now - timedelta(days=35), now - timedelta(days=7))
        later = await prediction.load_samples(s, now - timedelta(days=7), now)
    return train, later


async def test_model_beats_chance_and_the_rule_on_a_later_window(history: Database, tmp_path: Path) -> None:
    try:
        train, later = await _samples(history)
        predictor = prediction.train(train)
        assert not predictor.cold_start and predictor.labelled >= escalation_risk.MIN_LABELLED
        assert predictor.trained_until is not None and predictor.trained_until < later[0].created_at
        saved = escalation_model.load(escalation_model.save(predictor, tmp_path / "model.joblib"))
        report = prediction.evaluate(saved, later)
        assert report["source"] == "model"
        assert report["model"]["roc_auc"] > 0.7
        assert report["model"]["roc_auc"] > report["random"]["roc_auc"] + 0.15
        assert report["model"]["roc_auc"] > report["rule"]["roc_auc"]
        assert report["model"]["recall"] > 0.5 and report["model"]["precision"] > report["escalated_share"]
        assert prediction.auc_ok(report)
        assert "ROC AUC" in prediction.format_report(report)
    finally:
        await history.dispose()


def test_cold_start_uses_the_rule_until_enough_history(tmp_path: Path) -> None:
    calm = escalation_risk.turn_features([{"intent": "reset_password", "confidence": 0.95, "strikes": 0, "sentiment": 0.3}],
                                    "pro", repeat=False)
    stuck = escalation_risk.turn_features(
        [{"intent": "billing_refund", "confidence": 0.5, "strikes": 1, "sentiment": -0.1},
         {"intent": "inform", "confidence": 0.6, "strikes": 2, "sentiment": -0.2}], "free", repeat=False)
    angry = {**calm, "sentiment_last": -0.7, "turn": 2.0}
    # One negative first message is a problem being described, not frustration: no offer before the bot tried.
    negative_first = {**calm, "sentiment_last": -0.7}
    vip_unsure = escalation_risk.turn_features([{"intent": "technical_issue", "confidence": 0.55, "strikes": 0,
                                            "sentiment": 0.0}], "enterprise", repeat=False)
    fresh = escalation_model.load(tmp_path / "missing.joblib")  # fresh install: no model file
    assert fresh.cold_start
    assert [fresh.offer_person(f) for f in (calm, stuck, angry, vip_unsure, negative_first)] == [
        False, True, True, True, False]
    assert fresh.probability(stuck) == (0.9, "rule")
    # A model trained on too little history is kept but not trusted.
    few = [prediction.Sample(f"c{n}", utcnow(), 1, stuck if n % 2 else calm, bool(n % 2)) for n in range(40)]
    small = prediction.train(few)
    assert small.model is not None and small.cold_start and small.probability(calm)[1] == "rule"


def test_daily_series_matches_the_window_metric() -> None:
    from tests.handoff.test_metrics import T0, sample

    log = sample()
    points = series.daily(log.events, {}, T0.replace(hour=0), 2)
    assert [p["engaged"] for p in points] == [10, 0]
    assert points[0]["containment"] == 0.7 and points[0]["escalations"] == 3
    assert points[1]["containment"] is None and points[1]["containment_status"] == "n/a"


async def test_simulated_rows_are_tagged_and_removable(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        await migrate.upgrade(db)
        done = await simulate.simulate(db, days=2, per_day=10, seed=1)
        now = utcnow()
        async with db.read() as s:
            events, _ = await load_events(s, now - timedelta(days=3), now)
        assert len(events) == done["events"] and all(e.conversation_id.startswith("sim_") for e in events)
        assert any(e.type == EventType.BOT_TURN for e in events)
        assert await simulate.reset(db) == done["conversations"]
    finally:
        await db.dispose()
