"""A teacher corrects a grade in the Django admin; the auto grade stays beside the correction."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from grader.models import Correction, Submission


@pytest.fixture
def teacher(demo_course):
    user = get_user_model().objects.create_user("ada", password="pw-ada-123", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="grader").exclude(codename="operate_models")
    )
    demo_course.teachers.add(user)
    return user


@pytest.fixture
def graded_submission(gradient_descent_question):
    return Submission.objects.create(
        question=gradient_descent_question, student_ref="s1", answer="It lowers the loss.", status="graded",
        similarity=0.61, points=Decimal("3.50"),
    )  # fmt: skip


def test_teacher_corrects_a_grade_in_the_admin(client, teacher, graded_submission):
    client.force_login(teacher)
    url = f"/admin/grader/submission/{graded_submission.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"correct_points": "5", "correction_comment": "Complete answer.",
                                 "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    correction = Correction.objects.get()
    assert (correction.teacher, correction.points, correction.comment) == (teacher, Decimal("5"), "Complete answer.")
    assert correction.auto_points == Decimal("3.50")
    graded_submission.refresh_from_db()
    assert graded_submission.points == Decimal("3.50")
    assert graded_submission.corrected_points == Decimal("5")


def test_points_above_max_are_refused(client, teacher, graded_submission):
    client.force_login(teacher)
    client.post(f"/admin/grader/submission/{graded_submission.pk}/change/",
                {"correct_points": "50", "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"})  # fmt: skip
    assert not Correction.objects.exists()


def test_teacher_cannot_open_another_course_submission(client, teacher, other_course_question):
    foreign = Submission.objects.create(question=other_course_question, student_ref="stranger-student-xyz", answer="a")
    client.force_login(teacher)
    response = client.get(f"/admin/grader/submission/{foreign.pk}/change/")
    assert response.status_code == 302  # the admin redirects a missing object to its list
    changelist = client.get("/admin/grader/submission/")
    assert changelist.status_code == 200
    assert "stranger-student-xyz" not in changelist.content.decode()
