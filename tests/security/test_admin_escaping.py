"""HTML and JavaScript written by students (answers) and teachers (comments) reach the admin as text, escaped."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from grader.models import Submission
from grader.services.submissions import correction_create

SCRIPT = '<script>alert("xss")</script>'
IMAGE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile_submission(gradient_descent_question):
    submission = Submission.objects.create(
        question=gradient_descent_question,
        student_ref=f"student {IMAGE}",
        external_id=f"attempt {IMAGE}",
        answer=f"The answer is {SCRIPT} and {IMAGE}",
        status=Submission.Status.GRADED,
        similarity=0.5,
        points=Decimal("2.50"),
    )
    teacher = get_user_model().objects.create_user("grace", is_staff=True)
    correction_create(submission=submission, teacher=teacher, points=Decimal("1"), comment=f"No {SCRIPT} {IMAGE}")
    return submission


@pytest.mark.parametrize("page", ["changelist", "change"])
def test_html_in_answers_and_comments_is_shown_escaped_in_the_admin(admin_client, hostile_submission, page):
    url = "/admin/grader/submission/"
    if page == "change":
        url += f"{hostile_submission.pk}/change/"
    html = admin_client.get(url).content.decode()

    assert SCRIPT not in html
    assert IMAGE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the student reference, in the list and the form
    if page == "change":
        assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in html  # answer and comment


def test_admin_search_reflects_hostile_input_escaped(admin_client, hostile_submission):
    html = admin_client.get("/admin/grader/submission/", {"q": SCRIPT}).content.decode()
    assert SCRIPT not in html
