"""Escalation risk: after each bot turn, how likely the conversation is to need a human, and whether to offer one.

Features come from the conversation so far (the ``bot_turn`` event data: intent, confidence, strikes, sentiment, tier;
and whether the verified customer came back within 7 days): turn count, last/min/mean confidence, turns under the NLU
threshold, strikes, last/min sentiment and its trend, tier, repeat contact, the conversation's first intent, and
whether the customer asked for a person or showed frustration.

Cold start: until a model was trained on at least ``MIN_LABELLED`` conversations with ``MIN_POSITIVES`` escalations
among them (or when there is no model), a rule decides instead: strikes >= 2, or sentiment at or below
``RULE_FRUSTRATION`` (frustration), or a fast-lane tier (enterprise) with a turn under the NLU threshold.

Pure: the model file is read and written by ``handoff.storage.escalation_model``, the model is trained by
``handoff.analytics.prediction``; the live early offer (``handoff.usecases.escalation``) scores with this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
