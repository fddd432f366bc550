"""Property-based tests (hypothesis) of the grading path with hostile input: arbitrary Unicode, control characters,
lone surrogates, very long text, empty references. Points are always finite and inside [0, max_points], and the API
answers bad input with a 4xx, never a 500.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.models import Question, ReferenceAnswer, Submission
from grader.scoring.model import load_model
from grader.services.model_versions import artifact_dir
from tests.grading import grade_answers, similarity_to_points

any_float = st.floats(allow_nan=True, allow_infinity=True)
max_points = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("1000"), places=2)
# Text as an LMS might send it: any code point (control characters included), or a long repetition of it.
hostile_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.builds(lambda chunk, times: chunk * times, st.text(min_size=1, max_size=8), st.integers(100, 800)),
)


@given(
    similarity=any_float,
    maximum=max_points,
    zero_credit=any_float,
    full_credit=any_float,
    step=st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.3]),
)
def test_points_are_finite_and_between_zero_and_max_for_any_similarity(
    similarity, maximum, zero_credit, full_credit, step
):
    points = similarity_to_points(
        similarity=similarity, max_points=maximum, zero_credit=zero_credit, full_credit=full_credit, step=step
    )
    assert points.is_finite()
    assert Decimal("0") <= points <= maximum


@given(similarity=st.floats(-1, 1), maximum=max_points)
def test_points_never_decrease_as_similarity_grows(similarity, maximum):
    def points(value: float) -> Decimal:
        return similarity_to_points(similarity=value, max_points=maximum, zero_credit=0.25, full_credit=0.75, step=0.5)

    assert points(similarity) <= points(min(1.0, similarity + 0.1))


@pytest.fixture
def encoder(base_model_version):
    return load_model(path=artifact_dir(base_model_version), version_id=base_model_version.pk)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.lists(hostile_text, min_size=1, max_size=3), references=st.lists(hostile_text, min_size=1, max_size=2)
)
def test_real_model_scores_any_text_within_bounds(encoder, base_model_version, demo_course, answers, references):
    question = Question.objects.create(course=demo_course, key=f"q{Question.objects.count()}", prompt="?")
    for text in references:  # straight to the table: the empty and whitespace-only references the API refuses
        ReferenceAnswer.objects.create(question=question, text=text.replace("\x00", ""))
    scores = grade_answers(model=encoder, version=base_model_version, question=question, answers=answers)
    assert len(scores) == len(answers)
    for score in scores:
        assert math.isfinite(score.similarity) and -1.0 <= score.similarity <= 1.0
        assert score.points.is_finite() and Decimal("0") <= score.points <= question.max_points


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.text(max_size=80), student_ref=st.text(max_size=30))
def test_api_answers_any_unicode_with_202_or_400_never_500(api, gradient_descent_question, answer, student_ref):
    body = {"question": gradient_descent_question.pk, "student_ref": student_ref, "answer": answer}
    response = api.post("/api/v1/submissions/", body, format="json")
    assert response.status_code == _expected_status(answer, student_ref), response.content[:500]
    if response.status_code == 202:
        assert Submission.objects.get(pk=response.json()["id"]).answer == answer


def _expected_status(answer: str, student_ref: str) -> int:
    # The API's rules: an answer of whitespace only is empty; a student_ref is trimmed and must keep something;
    # neither may carry a NUL (PostgreSQL text cannot store it).
    refused = not answer.strip() or not student_ref.strip() or "\x00" in answer + student_ref
    return 400 if refused else 202


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("\ud800 lone high surrogate", 400),
        ("lone low surrogate \udfff", 400),
        ("nul \x00 byte", 400),
        ("\u202eright-to-left override and zero width\u200b joiner", 202),
    ],
)
def test_api_refuses_text_the_database_cannot_store_and_stores_the_rest_as_sent(
    api, gradient_descent_question, answer, status
):
    # json.dumps escapes surrogates as \\udXXX, exactly what a buggy client would send.
    body = json.dumps({"question": gradient_descent_question.pk, "student_ref": "s", "answer": answer})
    response = api.generic("POST", "/api/v1/submissions/", body, content_type="application/json")
    assert response.status_code == status, response.content[:500]
    if status == 202:
        assert Submission.objects.get(pk=response.json()["id"]).answer == answer


@pytest.mark.parametrize("field", ["student_ref", "external_id"])
def test_api_refuses_lone_surrogates_in_identifiers_with_400(api, gradient_descent_question, field):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "an answer", field: "id \udc80"}
    response = api.generic("POST", "/api/v1/submissions/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content[:500]
    assert not Submission.objects.exists()
