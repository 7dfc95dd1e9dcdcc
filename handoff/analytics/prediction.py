"""Escalation prediction, offline: samples from the event history, training, evaluation and its report.

A sample is the state of one conversation after one bot turn (the features of
``handoff.domain.escalation_risk``, read from its event rows: ``bot_turn`` events, ``identity_verified`` and earlier
conversations for a repeat contact within 7 days); its label is whether the conversation was escalated (a ``queued``
event from the bot). ``python -m handoff predict train`` fits a model here and saves it with
``handoff.storage.escalation_model``; the gateway loads and scores it live (cold-start rule until there is enough
history).

scikit-learn is imported lazily, so nothing loads it unless a model is trained or used.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handoff.domain.escalation_risk import THRESHOLD, Predictor, rule_score, turn_features, vector
from handoff.domain.records import EventRecord, iso
from handoff.domain.states import EventType, State


@dataclass(frozen=True)
class Sample:
    """The state of one conversation after one bot turn, and how the conversation ended."""

    conversation_id: str
    created_at: datetime
    turn: int
    features: dict[str, float]
    escalated: bool


def samples_from_events(events: Sequence[EventRecord], tiers: dict[str, str] | None = None) -> list[Sample]:
    """One sample per bot turn (up to the escalation, if any) of every conversation with a ``created`` event."""
    tiers = tiers or {}
    by_conv: dict[str, list[EventRecord]] = defaultdict(list)
    for e in events:
        if e.conversation_id:
            by_conv[e.conversation_id].append(e)
    starts: list[tuple[datetime, str, str]] = []  # (created, conversation, customer) for repeat contacts
    info: dict[str, tuple[datetime, str | None, bool, bool]] = {}
    for cid, rows in by_conv.items():
        rows.sort(key=lambda e: e.id)
        created = next((e for e in rows if e.type == EventType.CREATED), None)
        if created is None:
            continue
        customer = next((str(e.data.get("customer_id")) for e in rows if e.type == EventType.IDENTITY_VERIFIED), None)
        escalated = any(e.type == EventType.QUEUED and e.data.get("from") in (State.BOT, State.RESOLVED) for e in rows)
        recontact = any(e.type == EventType.RECONTACT for e in rows)
        info[cid] = (created.created_at, customer, escalated, recontact)
        if customer:
            starts.append((created.created_at, cid, customer))
    starts.sort()
    last_seen: dict[str, datetime] = {}
    repeat: dict[str, bool] = {}
    for at, cid, customer in starts:
        repeat[cid] = customer in last_seen and at - last_seen[customer] <= timedelta(days=7)
        last_seen[customer] = at
    samples: list[Sample] = []
    for cid, (created_at, customer, escalated, recontact) in info.items():
        turns: list[dict[str, Any]] = []
        for e in by_conv[cid]:
            if e.type == EventType.QUEUED and e.data.get("from") in (State.BOT, State.RESOLVED):
                break  # after the hand-off there is nothing left to predict
            if e.type != EventType.BOT_TURN:
                continue
            turns.append(e.data)
            tier = str(e.data.get("tier") or (tiers.get(customer, "anonymous") if customer else "anonymous"))
            feats = turn_features(turns, tier, repeat.get(cid, False) or recontact)
            samples.append(Sample(cid, created_at, len(turns), feats, escalated))
    samples.sort(key=lambda s: (s.created_at, s.conversation_id, s.turn))
    return samples


def train(samples: Sequence[Sample], threshold: float = THRESHOLD) -> Predictor:
    """Fit a logistic regression (standardised features, balanced classes) on the samples."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    convs = {s.conversation_id: s.escalated for s in samples}
    labels = [s.escalated for s in samples]
    predictor = Predictor(
        labelled=len(convs),
        positives=sum(convs.values()),
        trained_since=min((s.created_at for s in samples), default=None),
        trained_until=max((s.created_at for s in samples), default=None),
        threshold=threshold,
    )
    if len(set(labels)) < 2:
        return predictor  # one class only: nothing to learn, the rule stays in charge
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced", C=0.5))
    model.fit([vector(s.features) for s in samples], labels)
    predictor.model = model
    return predictor


def _scores_report(labels: list[bool], scores: list[float], threshold: float) -> dict[str, Any]:
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    predicted = [p >= threshold for p in scores]
    both = len(set(labels)) == 2
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4) if both else None,
        "precision": round(float(precision_score(labels, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(labels, predicted, zero_division=0)), 4),
        "flagged": sum(predicted),
    }


def evaluate(predictor: Predictor, samples: Sequence[Sample], seed: int = 0) -> dict[str, Any]:
    """ROC AUC and precision/recall per bot turn, against the rule, a random scorer and the majority class."""
    labels = [s.escalated for s in samples]
    if not samples:
        return {"samples": 0, "conversations": 0}
    rng = random.Random(seed)
    model_scores = [predictor.probability(s.features)[0] for s in samples]
    rule = [rule_score(s.features) for s in samples]
    majority = sum(labels) * 2 >= len(labels)
    convs: dict[str, bool] = {s.conversation_id: s.escalated for s in samples}
    # Early warning: escalated conversations flagged at a turn before the one that escalated.
    first_flag: dict[str, int] = {}
    last_turn: dict[str, int] = {}
    for s, p in zip(samples, model_scores, strict=True):
        last_turn[s.conversation_id] = s.turn
        if p >= predictor.threshold and s.conversation_id not in first_flag:
            first_flag[s.conversation_id] = s.turn
    escalated = [c for c, e in convs.items() if e]
    early = sum(1 for c in escalated if c in first_flag and first_flag[c] < last_turn[c])
    return {
        "window": {"since": iso(samples[0].created_at), "until": iso(samples[-1].created_at)},
        "samples": len(samples),
        "conversations": len(convs),
        "escalated_share": round(sum(convs.values()) / len(convs), 4),
        "source": "rule (cold start)" if predictor.cold_start else "model",
        "threshold": predictor.threshold,
        "trained_until": iso(predictor.trained_until),
        "model": _scores_report(labels, model_scores, predictor.threshold),
        "rule": _scores_report(labels, rule, 0.5),
        "random": _scores_report(labels, [rng.random() for _ in samples], predictor.threshold),
        "majority": {
            "roc_auc": 0.5,
            "accuracy": round(sum(lbl == majority for lbl in labels) / len(labels), 4),
            "predicts": "escalated" if majority else "contained",
        },
        "early_warning_share": round(early / len(escalated), 4) if escalated else None,
    }


def split(samples: Sequence[Sample], holdout: timedelta, until: datetime) -> tuple[list[Sample], list[Sample]]:
    """(earlier training samples, samples of conversations created in the last ``holdout`` before ``until``)."""
    cut = until - holdout
    return [s for s in samples if s.created_at < cut], [s for s in samples if s.created_at >= cut]


def format_report(report: dict[str, Any]) -> str:
    """The evaluation as a few terminal lines."""
    if not report.get("samples"):
        return "no bot turns in the evaluation window (run `python -m handoff simulate --days 30` for demo data)"
    lines = [
        f"Evaluated on {report['conversations']} conversations ({report['samples']} bot turns) created "
        f"{report['window']['since']} .. {report['window']['until']}; escalated: {report['escalated_share']:.1%}",
        f"Trained on conversations up to {report['trained_until']}; scores from: {report['source']}",
        f"{'scorer':10} {'ROC AUC':>8} {'precision':>10} {'recall':>8}  (threshold {report['threshold']})",
    ]
    for name in ("model", "rule", "random"):
        r = report[name]
        auc = "-" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}"
        lines.append(f"{name:10} {auc:>8} {r['precision']:>10.3f} {r['recall']:>8.3f}")
    m = report["majority"]
    lines.append(f"{'majority':10} {m['roc_auc']:>8.3f} {'-':>10} {'-':>8}  (always '{m['predicts']}', "
                 f"accuracy {m['accuracy']:.3f})")
    if report.get("early_warning_share") is not None:
        lines.append(f"Escalations flagged at least one turn before they happened: {report['early_warning_share']:.1%}")
    return "\n".join(lines)


def auc_ok(report: dict[str, Any]) -> bool:
    """The model beats chance and the rule (a sanity check for ``evaluate``)."""
    auc = report.get("model", {}).get("roc_auc")
    return auc is not None and auc > max(0.5, report["random"]["roc_auc"] or 0.5) and not math.isnan(auc)


async def load_samples(s: Any, since: datetime, until: datetime) -> list[Sample]:
    """Samples of the conversations created in ``[since, until)`` (a week before is read for repeat contacts)."""
    from handoff.analytics.metrics import load_events

    events, tiers = await load_events(s, since - timedelta(days=7), until)
    return [x for x in samples_from_events(events, tiers) if since <= x.created_at < until]
