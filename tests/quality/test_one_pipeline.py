"""The workers, `manage.py evaluate`, the promotion gate and the admin's explanation grade through one pipeline: for
the same answer and model version they give the same signals and the same grade."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grader.scoring.calibration import Evidence
from grader.scoring.context import GradingPolicy, calibration_for
from grader.scoring.model import GradingModel
from grader.scoring.signals import Peers
from grader.services.grading_models import model_for_version
from grader.services.submissions import submission_create, submission_grade
from grader.workspace.explanation import submission_explanation
from training.dataset import Pair
from training.evaluate import held_out_grades
from training.evaluation import Item, VectorTable, grade_item

ANSWERS = [
    "You train on one part of the data, tune on a second and measure the final error once on a third.",
    "Split the data into training, validation and test sets is not what you do.",
    "The learning rate decides how big each step is.",
]


class _Encode:
    """`manage.py evaluate`'s encoder interface (vectors, and token vectors for the alignment) over a loaded model."""

    def __init__(self, model: GradingModel) -> None:
        self.model = model

    def __call__(self, texts: list[str]):
        return self.model.encode(texts)

    def tokens(self, texts: list[str]):
        return self.model.encode_with_tokens(texts)[1]


@pytest.mark.parametrize("answer", ANSWERS)
def test_worker_evaluate_gate_and_explanation_give_the_same_signals_and_grade(answer, base_model_version, demo_course):
    question = demo_course.questions.get(key="train-validation-test-split")  # one reference: evaluate's CSV has one
    [reference] = [reference.text for reference in question.reference_answers.all()]

    submission, _ = submission_create(question=question, student_ref="s1", answer=answer)
    assert submission_grade(submission_id=submission.pk)  # the worker's service
    submission.refresh_from_db()
    worker = submission_explanation(submission=submission).score  # the admin's explanation, graded again
    model = model_for_version(version=base_model_version, keep=False)

    [gate] = held_out_grades(
        pairs=[
            Pair(
                answer,
                reference,
                0.5,
                prompt=question.prompt,
                references=(reference,),
                max_points=float(question.max_points),
            )
        ],
        model=model,
    )
    item = Item(question_id=question.key, question=question.prompt, reference=reference, answer=answer, score=0.0,
                max_score=float(question.max_points), split="test")  # fmt: skip
    evaluate = grade_item(
        item,
        VectorTable(_Encode(model), [answer, question.prompt, reference]),
        calibration_for(question),
        evidence=Evidence.empty(),
        peers=Peers.none(),
        policy=GradingPolicy.defaults(max_points=Decimal(question.max_points), review_risk=question.review_risk),
    )

    # What the worker stored is what each path gives.
    for score in (worker, gate, evaluate):
        assert score.points == submission.points
        assert score.similarity == pytest.approx(submission.similarity, abs=1e-5)
        assert score.confidence == pytest.approx(submission.confidence, abs=1e-4)
        assert ",".join(score.review_reasons) == submission.review_reasons
        assert score.needs_review == (submission.status == submission.Status.NEEDS_REVIEW)
    # The same signals: the reference's token vectors are kept in float16 by a worker, float32 by evaluate.
    for score in (gate, evaluate):
        assert score.signals.features == pytest.approx(worker.signals.features, abs=3e-3)
        assert score.decision.fraction == pytest.approx(worker.decision.fraction, abs=3e-3)


def test_the_gate_grades_an_answer_of_a_corrected_question_with_the_corrections_as_a_worker_does(
    base_model_version, demo_course, django_user_model
):
    """After a promotion, a worker grades a new answer to a question teachers corrected with those corrections as the
    feedback stage's evidence; the gate, given the corrections the candidate trained on, grades it the same way."""
    from grader.models import AnswerEmbedding
    from grader.services.submissions import correction_create

    question = demo_course.questions.get(key="train-validation-test-split")
    [reference] = [reference.text for reference in question.reference_answers.all()]
    teacher = django_user_model.objects.create_user("teacher", is_staff=True)
    corrected = [
        ("Use one part of the data to fit, one to choose settings, and one to report how good it is.", Decimal(4)),
        ("Training data trains it and test data tests it.", Decimal(2)),
        ("You split it so the model does not see the test data.", Decimal(1)),
    ]
    for number, (text, points) in enumerate(corrected):
        submission, _ = submission_create(question=question, student_ref=f"c{number}", answer=text)
        assert submission_grade(submission_id=submission.pk)
        submission.refresh_from_db()
        correction_create(submission=submission, teacher=teacher, points=points)
    # As a version that never graded them holds them (a candidate just promoted): encoded, cold as if new.
    AnswerEmbedding.objects.filter(question=question).delete()
    answer = ANSWERS[0]
    submission, _ = submission_create(question=question, student_ref="s1", answer=answer)
    assert submission_grade(submission_id=submission.pk)
    submission.refresh_from_db()

    model = model_for_version(version=base_model_version, keep=False)

    def pair(text: str, label: float) -> Pair:
        return Pair(text, reference, label, prompt=question.prompt, references=(reference,),
                    max_points=float(question.max_points))  # fmt: skip

    corrections = [pair(text, float(points / question.max_points)) for text, points in corrected]
    [gate] = held_out_grades(pairs=[pair(answer, 0.5)], model=model, corrections=corrections)
    [cold] = held_out_grades(pairs=[pair(answer, 0.5)], model=model)

    assert gate.points == submission.points
    assert gate.confidence == pytest.approx(submission.confidence, abs=1e-4)
    assert gate.decision.fraction == pytest.approx(float(submission.points / question.max_points), abs=0.1)
    assert gate.decision.fraction != pytest.approx(cold.decision.fraction, abs=1e-3)  # the evidence was used
