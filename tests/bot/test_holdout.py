"""The trained model on the hold-out set (tests/nlu/holdout.yml, never trained on) stays above a quality floor."""

from __future__ import annotations

import json
from pathlib import Path

from bot.holdout import evaluate, load_examples, score
from tests.servers import MODEL, ROOT

HOLDOUT = ROOT / "tests" / "nlu" / "holdout.yml"


def test_holdout_is_never_trained_on() -> None:
    training = {" ".join(text.lower().split()) for text, _ in load_examples(ROOT / "data" / "nlu")}
    holdout = {" ".join(text.lower().split()) for text, _ in load_examples(HOLDOUT)}
    assert not training & holdout


def test_scoring_counts_rejections_as_right_for_out_of_scope() -> None:
    examples = [("a", "reset_password"), ("b", "reset_password"), ("c", "out_of_scope"), ("d", "out_of_scope")]
    result = score(examples, ["reset_password", "nlu_fallback", "nlu_fallback", "billing_refund"], [1.0, 3.0])
    assert result.in_scope_accuracy == 0.5 and result.in_scope_clarification_rate == 0.5
    assert result.out_of_scope_rejection == 0.5
    assert result.confusions == {"reset_password -> nlu_fallback": 1, "out_of_scope -> billing_refund": 1}


async def test_model_generalises_to_unseen_customers(tmp_path: Path) -> None:
    result = await evaluate(MODEL, HOLDOUT)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "holdout.json").write_text(json.dumps(result.__dict__, indent=2))
    assert result.in_scope_examples >= 300 and result.out_of_scope_examples >= 100
    assert result.in_scope_accuracy >= 0.75, result
    assert result.out_of_scope_rejection >= 0.85, result
