"""On a course's admin page a teacher adds a colleague (an existing staff account); an operator chooses freely."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from grader.models import Course

User = get_user_model()


def _course_page(course: Course) -> str:
    return f"/admin/grader/course/{course.pk}/change/"


def _save(client: Client, course: Course, **fields: str):
    return client.post(_course_page(course), {"name": course.name, "_save": "Save", **fields})


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _teachers(course: Course) -> set[str]:
    return set(course.teachers.values_list("username", flat=True))


def test_a_teacher_adds_a_colleague_by_username_or_email_and_the_colleague_then_sees_the_course(
    owner, stranger, demo_course
):
    stranger.email = "linus@school.example"
    stranger.save()
    client = _logged_in(owner)
    assert _logged_in(stranger).get(_course_page(demo_course)).status_code == 302  # not theirs: sent away

    response = _save(client, demo_course, add_colleague="LINUS@school.example")

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert _teachers(demo_course) == {"ada", "linus"}
    assert _logged_in(stranger).get(_course_page(demo_course)).status_code == 200


def test_an_unknown_or_non_staff_account_is_a_form_error_and_nothing_changes(owner, demo_course):
    User.objects.create_user("student-7", password="pw-student-123")  # no staff account: no admin at all
    client = _logged_in(owner)

    for identifier in ("nobody-by-this-name", "student-7"):
        response = _save(client, demo_course, add_colleague=identifier)
        assert response.status_code == 200
        assert "No active staff account has this username or e-mail" in response.content.decode()

    assert _teachers(demo_course) == {"ada"}


def test_a_teacher_cannot_take_anyone_off_the_course(owner, colleague, demo_course):
    client = _logged_in(owner)
    user_id = colleague.pk

    response = _save(client, demo_course, teachers=[str(owner.pk)])  # as if the colleague were unticked

    assert response.status_code == 302
    assert User.objects.get(pk=user_id).username in _teachers(demo_course)
    assert "Add a colleague" in client.get(_course_page(demo_course)).content.decode()


def test_an_operator_chooses_the_teachers_from_every_account(superuser, owner, colleague, stranger, demo_course):
    client = _logged_in(superuser)

    response = client.post(
        _course_page(demo_course),
        {"code": demo_course.code, "name": demo_course.name, "teachers": [str(owner.pk), str(stranger.pk)]},
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert _teachers(demo_course) == {"ada", "linus"}
