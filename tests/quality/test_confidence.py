"""The confidence the pipeline states (grader.scoring.confidence): read from the fitted artifact, bounded, growing with
the distance from the pass mark, never high for an answer a check flagged. Plain functions: no model, no database."""

import math
from decimal import Decimal

import numpy as np
import pytest

from grader.scoring.calibration import Calibration
from grader.scoring.confidence import (
    CHECKED_MAX_CONFIDENCE,
    CONFIDENCE_FEATURE_NAMES,
    MAX_CONFIDENCE,
    MIN_CONFIDENCE,
    ConfidenceModel,
    confidence_features,
    shipped_confidence_model,
)
from grader.scoring.context import GradingPolicy, QuestionContext
from grader.scoring.decision import Reason, decide
from grader.scoring.signals import FEATURE_NAMES, QuestionEncoding, Signals
from training.confidence import ConfidenceRow, _weights, fit

CATALYST = "What does a catalyst do?"
CATALYST_REFERENCE = "A catalyst speeds up a chemical reaction without being used up."


def _signals(similarity: float, *, alignment: float | None = None, words: int = 12) -> Signals:
    features = np.zeros(len(FEATURE_NAMES))
    features[FEATURE_NAMES.index("similarity")] = similarity
    features[FEATURE_NAMES.index("log_length")] = math.log1p(words)
    features[FEATURE_NAMES.index("question_overlap")] = 0.2
    alignment = similarity if alignment is None else alignment
    return Signals(similarities=(similarity,), best_reference=0, similarity=similarity, question_similarity=0.4,
                   consensus=None, demoted=similarity, alignment=alignment, features=features)  # fmt: skip


def _context() -> QuestionContext:
    encoding = QuestionEncoding(prompt=CATALYST, references=(CATALYST_REFERENCE,), reference_vectors=np.zeros((1, 4)),
                                prompt_vector=np.zeros(4), prompt_token_ids=())  # fmt: skip
    policy = GradingPolicy(max_points=Decimal(5), step=0.5, pass_fraction=0.5, review_risk=0.5)
    return QuestionContext(encoding=encoding, calibration=Calibration(), policy=policy)


def _decide(answer: str, similarity: float):
    return decide(_signals(similarity), answer=answer, vector=None, tokens=None, context=_context())


def test_the_shipped_confidence_is_a_model_fitted_on_held_out_grades():
    model = shipped_confidence_model()
    assert set(model.feature_names) <= set(CONFIDENCE_FEATURE_NAMES)
    assert len(model.coef) == len(model.feature_names)
    assert any(coef != 0 for coef in model.coef)
    assert {"fitted_on", "adversarial_share"} <= set(model.meta)
    assert "mohler" in model.meta["fitted_on"] and "adversarial" in model.meta["fitted_on"]


def test_a_confidence_model_fitted_on_other_features_is_refused():
    with pytest.raises(ValueError, match="other features"):
        ConfidenceModel.from_dict({"features": ["shoe_size"], "coef": [1.0], "intercept": 0.0})


@pytest.mark.parametrize("similarity", [-0.2, 0.0, 0.2, 0.35, 0.5, 0.6, 0.75, 0.9, 1.0])
def test_the_pipeline_states_a_confidence_between_a_coin_toss_and_near_certainty(similarity):
    decision = _decide("It makes a reaction go faster and is still there at the end.", similarity)
    assert MIN_CONFIDENCE <= decision.confidence <= MAX_CONFIDENCE
    assert len(decision.confidence_features) == len(CONFIDENCE_FEATURE_NAMES)


@pytest.mark.parametrize("std", [0.1, 0.2, 0.3])
@pytest.mark.parametrize("passing", [False, True])
def test_the_further_a_grade_from_the_pass_mark_the_surer_the_shipped_confidence(passing, std):
    model = shipped_confidence_model()
    signals = _signals(0.8 if passing else 0.3)
    fractions = [0.55, 0.65, 0.8, 1.0] if passing else [0.45, 0.35, 0.2, 0.0]
    values = [
        model.confidence(
            confidence_features(
                fraction=fraction, pass_fraction=0.5, std=std, signals=signals, checked=False, corrections=0
            ),
            checked=False,
        )
        for fraction in fractions
    ]
    assert values == sorted(values)
    assert values[-1] > values[0]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("A catalyst doesn't make the reaction any faster, and it gets used up.", Reason.NEGATION),
        ("reaction catalyst chemical speeds used without", Reason.KEYWORD_SALAD),
        ("What does a catalyst do?", Reason.QUESTION_COPY),
    ],
)
@pytest.mark.parametrize("similarity", [0.6, 0.95])
def test_an_answer_a_check_flags_is_never_stated_at_ninety_percent(answer, reason, similarity):
    decision = _decide(answer, similarity)
    assert reason in decision.reasons
    assert decision.needs_review
    assert decision.confidence <= CHECKED_MAX_CONFIDENCE < 0.9


def _row(spreads: float, correct: bool, source: str = "mohler", k: int = 0) -> ConfidenceRow:
    features = np.zeros(len(CONFIDENCE_FEATURE_NAMES))
    features[CONFIDENCE_FEATURE_NAMES.index("margin_in_spread")] = spreads
    return ConfidenceRow(source=source, group="g", split="s", k=k, kind="", features=features, correct=correct,
                         released=True, checked=False)  # fmt: skip


def test_the_fit_learns_that_grades_far_from_the_pass_mark_are_right_more_often():
    rng = np.random.default_rng(0)
    spreads = rng.uniform(0, 2.5, 2000)
    rows = [_row(s, bool(rng.random() < 0.55 + 0.16 * s)) for s in spreads]
    model = fit(rows, adversarial_share=0.0)
    near, far = np.zeros(len(CONFIDENCE_FEATURE_NAMES)), np.zeros(len(CONFIDENCE_FEATURE_NAMES))
    far[CONFIDENCE_FEATURE_NAMES.index("margin_in_spread")] = 2.5
    assert model.probability(near) == pytest.approx(0.55, abs=0.06)
    assert model.probability(far) > 0.85


def test_the_adversarial_rows_carry_the_chosen_share_of_the_weight_and_each_k_the_same():
    rows = [_row(0.1, True, k=0)] * 30 + [_row(0.1, True, k=10)] * 10 + [_row(0.1, False, "adversarial")] * 5
    weights = _weights(rows, adversarial_share=0.2)
    assert weights[40:].sum() / weights.sum() == pytest.approx(0.2)
    assert weights[:30].sum() == pytest.approx(weights[30:40].sum())
