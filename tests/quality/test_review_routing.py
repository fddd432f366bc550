"""Confidence, review routing and corrections that act at once, through the grading service."""

from decimal import Decimal

from django.contrib.auth import get_user_model

from grader.models import AnswerEmbedding, Submission
from grader.services.submissions import correction_create, submission_create, submission_grade
from tests.grading import grade_answers


def _grade(question, answer: str, ref: str) -> Submission:
    submission, _ = submission_create(question=question, student_ref=ref, answer=answer)
    assert submission_grade(submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


def test_an_answer_that_copies_the_question_waits_for_a_teacher(base_model_version, gradient_descent_question):
    submission = _grade(gradient_descent_question, gradient_descent_question.prompt, "copycat")
    assert submission.status == Submission.Status.NEEDS_REVIEW
    assert "question_copy" in submission.review_reasons
    assert submission.points == 0


def test_a_good_answer_is_released_with_its_confidence(base_model_version, gradient_descent_question):
    submission = _grade(
        gradient_descent_question, "It keeps nudging the parameters downhill on the loss until it stops falling.", "s"
    )
    assert submission.status == Submission.Status.GRADED
    assert 0.5 <= submission.confidence <= 1.0
    assert AnswerEmbedding.objects.filter(question=gradient_descent_question, model_version=base_model_version).exists()


def test_a_question_that_accepts_no_risk_sends_uncertain_grades_to_review(
    base_model_version, gradient_descent_question
):
    gradient_descent_question.review_risk = 0.0
    gradient_descent_question.save()
    submission = _grade(gradient_descent_question, "It is used when training models.", "vague")
    assert submission.status == Submission.Status.NEEDS_REVIEW
    assert "low_confidence" in submission.review_reasons


def test_corrections_change_the_next_grade_at_once_without_retraining(
    base_model_version, base_encoder, gradient_descent_question
):
    question = gradient_descent_question
    probe = "Gradient descent is a method that changes parameters to make the loss smaller."
    [before] = grade_answers(model=base_encoder, version=base_model_version, question=question, answers=[probe])
    teacher = get_user_model().objects.create_user("strict", is_staff=True)
    similar = [
        "Gradient descent is a method that changes the parameters so that the loss becomes smaller.",
        "It is a method changing parameters to make the loss go down.",
        "A method that changes parameters so the loss gets smaller.",
    ]
    for i, answer in enumerate(similar):
        submission = _grade(question, answer, f"s{i}")
        correction_create(submission=submission, teacher=teacher, points=Decimal("1"))
    [after] = grade_answers(model=base_encoder, version=base_model_version, question=question, answers=[probe])
    assert before.points >= Decimal("3")
    assert after.points < before.points


def test_the_default_risk_releases_ordinary_grades(base_model_version, gradient_descent_question):
    submission = _grade(gradient_descent_question, "It is used when training models.", "vague")
    assert submission.status == Submission.Status.GRADED


def test_a_calibration_written_by_evaluate_replaces_the_similarity_ramp(
    base_model_version, gradient_descent_question, settings, tmp_path
):
    import json

    from grader.scoring.calibration import Calibration, Linear
    from grader.scoring.signals import FEATURE_NAMES

    # A deliberately flat calibration: every answer is worth 40 % of the points, whatever its similarity.
    flat = Calibration(cold=Linear(coef=(0.0,) * len(FEATURE_NAMES), intercept=0.4))
    path = tmp_path / "feedback.json"
    path.write_text(json.dumps({"per_k": {}, "full_calibration": flat.to_dict()}))
    settings.GRADER_CALIBRATION_PATH = str(path)
    submission = _grade(gradient_descent_question, "It keeps nudging the parameters downhill on the loss.", "s")
    assert submission.points == Decimal("2")
