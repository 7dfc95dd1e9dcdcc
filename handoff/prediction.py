"""Escalation prediction: after each bot turn, the probability that the conversation will need a human.

Features come from the conversation so far, read from its event rows (``bot_turn`` events: intent, confidence,
strikes, sentiment, tier; ``identity_verified`` and earlier conversations for a repeat contact within 7 days):
turn count, last/min/mean confidence, turns under the NLU threshold, strikes, last/min sentiment and its trend,
tier, repeat contact, the conversation's first intent, and whether the customer asked for a person or showed
frustration. The label is whether the conversation was escalated (a ``queued`` event from the bot).

Cold start: until the model was trained on at least ``MIN_LABELLED`` conversations with ``MIN_POSITIVES``
escalations among them (or when no model file exists), a rule decides instead: strikes >= 2, or sentiment at or
below ``RULE_FRUSTRATION`` (frustration), or a fast-lane tier (enterprise) with a turn under the NLU threshold.

scikit-learn is imported lazily, so the gateway does not load it unless a model is used.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from handoff.records import EventRecord, iso
from handoff.states import EventType, State

MODEL_PATH = "var/escalation_model.joblib"
# Above this probability the bot offers a person early (default of settings ``prediction_threshold``).
THRESHOLD = 0.5
MIN_LABELLED = 300
MIN_POSITIVES = 30
NLU_THRESHOLD = 0.7
RULE_FRUSTRATION = -0.5
FAST_LANE_TIERS = ("enterprise",)
TIERS = ("anonymous", "free", "pro", "business", "enterprise")
INTENTS = (
    "reset_password",
    "account_locked",
    "create_account",
    "update_account",
    "close_account",
    "billing_invoice",
    "billing_refund",
    "billing_charge_dispute",
    "billing_payment_method",
    "technical_issue",
    "case_status",
    "out_of_scope",
    "request_human",
)
NUMERIC = (
    "turn",
    "confidence_last",
    "confidence_min",
    "confidence_mean",
    "low_confidence_turns",
    "strikes",
    "sentiment_last",
    "sentiment_min",
    "sentiment_trend",
    "repeat_contact_7d",
    "asked_for_human",
    "frustrated_intent",
)
FEATURES = (*NUMERIC, *(f"tier={t}" for t in TIERS), *(f"intent={i}" for i in (*INTENTS, "other")))


@dataclass(frozen=True)
class Sample:
    """The state of one conversation after one bot turn, and how the conversation ended."""

    conversation_id: str
    created_at: datetime
    turn: int
    features: dict[str, float]
    escalated: bool


def turn_features(turns: Sequence[dict[str, Any]], tier: str, repeat: bool) -> dict[str, float]:
    """Features after the last of ``turns`` (the ``bot_turn`` data so far, oldest first)."""
    conf = [float(t.get("confidence") or 0.0) for t in turns]
    sent = [float(t.get("sentiment") or 0.0) for t in turns]
    intents = [str(t.get("intent") or "") for t in turns]
    first = intents[0] if intents and intents[0] in INTENTS else "other"
    tier = tier if tier in TIERS else "anonymous"
    f: dict[str, float] = {
        "turn": float(len(turns)),
        "confidence_last": conf[-1],
        "confidence_min": min(conf),
        "confidence_mean": sum(conf) / len(conf),
        "low_confidence_turns": float(sum(c < NLU_THRESHOLD for c in conf)),
        "strikes": float(max(int(t.get("strikes") or 0) for t in turns)),
        "sentiment_last": sent[-1],
        "sentiment_min": min(sent),
        "sentiment_trend": sent[-1] - sent[0],
        "repeat_contact_7d": float(repeat),
        "asked_for_human": float("request_human" in intents),
        "frustrated_intent": float("express_frustration" in intents),
    }
    for t in TIERS:
        f[f"tier={t}"] = float(tier == t)
    for i in (*INTENTS, "other"):
        f[f"intent={i}"] = float(first == i)
    return f


def vector(features: dict[str, float]) -> list[float]:
    """Features in the model's column order."""
    return [features.get(name, 0.0) for name in FEATURES]


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


def rule_score(features: dict[str, float]) -> float:
    """The cold-start rule as a score in [0, 1] (>= 0.5: offer a person)."""
    fast_lane = any(features.get(f"tier={t}", 0.0) for t in FAST_LANE_TIERS)
    fired = (
        features.get("strikes", 0.0) >= 2
        # A first message that describes a problem reads as negative ("one of your charges is wrong"): offering a
        # person before the bot has tried is no help, so sentiment alone counts from the second turn on.
        or (features.get("sentiment_last", 0.0) <= RULE_FRUSTRATION and features.get("turn", 0.0) >= 2)
        or features.get("asked_for_human", 0.0) > 0
        or features.get("frustrated_intent", 0.0) > 0
        or (fast_lane and features.get("low_confidence_turns", 0.0) > 0)
    )
    # Graded below the cut so that the rule still ranks (its ROC AUC is a baseline for the model).
    weak = 0.1 * features.get("strikes", 0.0) + 0.1 * features.get("low_confidence_turns", 0.0)
    return 0.9 if fired else min(0.45, 0.05 + weak - 0.1 * features.get("sentiment_last", 0.0))


@dataclass
class Predictor:
    """A trained model (or none: cold start) and what it was trained on."""

    model: Any = None
    labelled: int = 0
    positives: int = 0
    trained_since: datetime | None = None
    trained_until: datetime | None = None
    threshold: float = THRESHOLD

    @property
    def cold_start(self) -> bool:
        """Whether the rule decides (too little history for the model)."""
        return self.model is None or self.labelled < MIN_LABELLED or self.positives < MIN_POSITIVES

    def probability(self, features: dict[str, float]) -> tuple[float, str]:
        """(probability that the conversation needs a human, ``"model"`` or ``"rule"``)."""
        if self.cold_start:
            return rule_score(features), "rule"
        return float(self.model.predict_proba([vector(features)])[0][1]), "model"

    def offer_person(self, features: dict[str, float]) -> bool:
        """Whether the bot should offer a person now (and route the hand-off to a senior agent)."""
        return self.probability(features)[0] >= self.threshold

    def save(self, path: str | Path = MODEL_PATH) -> Path:
        """Write the model and its metadata with joblib."""
        import joblib

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"features": FEATURES, **self.__dict__}, target)
        return target

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH, threshold: float = THRESHOLD) -> Predictor:
        """The saved predictor, or a cold-start one when there is no model file (or it has other features)."""
        target = Path(path)
        if not target.is_file():
            return cls(threshold=threshold)
        import joblib

        data = joblib.load(target)
        if tuple(data.pop("features", ())) != FEATURES:
            return cls(threshold=threshold)
        data["threshold"] = threshold
        return cls(**data)


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
    from handoff.metrics import load_events

    events, tiers = await load_events(s, since - timedelta(days=7), until)
    return [x for x in samples_from_events(events, tiers) if since <= x.created_at < until]
