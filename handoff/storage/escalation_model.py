"""The escalation model file (joblib): the trained ``Predictor`` saved by training and loaded by the gateway.

joblib is imported lazily, so the gateway does not load it (or scikit-learn) unless a model file exists.
"""

from __future__ import annotations

from pathlib import Path

from handoff.domain.escalation_risk import FEATURES, THRESHOLD, Predictor

MODEL_PATH = "var/escalation_model.joblib"


def save(predictor: Predictor, path: str | Path = MODEL_PATH) -> Path:
    """Write the model and its metadata with joblib."""
    import joblib

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"features": FEATURES, **vars(predictor)}, target)
    return target


def load(path: str | Path = MODEL_PATH, threshold: float = THRESHOLD) -> Predictor:
    """The saved predictor, or a cold-start one when there is no model file (or it has other features)."""
    target = Path(path)
    if not target.is_file():
        return Predictor(threshold=threshold)
    import joblib

    data = joblib.load(target)
    if tuple(data.pop("features", ())) != FEATURES:
        return Predictor(threshold=threshold)
    data["threshold"] = threshold
    return Predictor(**data)
