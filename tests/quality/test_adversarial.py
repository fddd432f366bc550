"""The "not fooled" promise on the real model: answers built to game a similarity grader do not earn a pass."""

from decimal import Decimal

import pytest
from django.conf import settings

from tests.grading import grade_answers
from training.adversarial import generate

PARAPHRASES = {
    "gradient-descent": "It repeatedly changes the model's parameters a little in the direction that lowers the loss.",
    "overfitting": "The model memorizes the training examples, so it does well on them but badly on new data.",
    "dropout": "While training, it randomly turns off some neurons so the network cannot depend on any one of them, "
    "which reduces overfitting.",
}


def _cases(question) -> dict[str, str]:
    reference = question.reference_answers.first().text
    return {case.kind: case.answer for case in generate({question.key: (question.prompt, reference)})}


def _pass_mark(question) -> Decimal:
    return question.max_points * Decimal(str(settings.GRADER_PASS_FRACTION))


@pytest.mark.parametrize("key", sorted(PARAPHRASES))
def test_negated_reference_and_keyword_salad_never_outscore_a_true_paraphrase(
    key, demo_course, base_model_version, base_encoder
):
    question = demo_course.questions.get(key=key)
    cases = _cases(question)
    paraphrase, negated, salad = grade_answers(
        model=base_encoder,
        version=base_model_version,
        question=question,
        answers=[PARAPHRASES[key], cases["negated_reference"], cases["keyword_salad"]],
    )
    assert paraphrase.points >= _pass_mark(question)
    assert not paraphrase.needs_review
    # A contradiction is held for a teacher, its grade kept (the check reads words and can be wrong about a right
    # answer); a salad is also capped below the pass mark.
    assert negated.needs_review and "negation" in negated.review_reasons
    assert salad.needs_review and salad.points < paraphrase.points and salad.points < _pass_mark(question)


@pytest.mark.parametrize("key", sorted(PARAPHRASES))
def test_question_copy_and_blank_answers_land_below_pass_or_in_review(
    key, demo_course, base_model_version, base_encoder
):
    question = demo_course.questions.get(key=key)
    cases = _cases(question)
    kinds = ["question_copy", "blank", "whitespace"]
    scores = grade_answers(
        model=base_encoder, version=base_model_version, question=question, answers=[cases[k] for k in kinds]
    )
    for kind, score in zip(kinds, scores, strict=True):
        assert score.points < _pass_mark(question) or score.needs_review, kind
    assert scores[kinds.index("blank")].points == 0
