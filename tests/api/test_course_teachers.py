"""An LMS adds and removes the teachers of its own courses; a course it created then reaches its teacher's queue."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from grader.models import Course, Question, Submission

User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_teacher(demo_course):
    """A teacher of the owner's demo course with an admin login and the teacher permissions."""
    user = User.objects.create_user("ada", email="ada@school.example", password="ada-password-1", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="grader").exclude(codename="operate_models")
    )
    demo_course.teachers.add(user)
    return user


def _new_course(owner, code: str = "BIO-1") -> int:
    response = owner.client.post("/api/v1/courses/", {"code": code, "name": "Biology"}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def _teachers(course_id: int) -> set[str]:
    return set(Course.objects.get(pk=course_id).teachers.values_list("username", flat=True))


def test_a_course_created_through_the_api_reaches_the_review_queue_of_the_teacher_it_adds(owner, staff_teacher):
    course_id = _new_course(owner)
    question = Question.objects.create(course_id=course_id, key="osmosis-queue-check", prompt="What is osmosis?")
    Submission.objects.create(
        question=question, student_ref="s-1", answer="Water moves.", status=Submission.Status.NEEDS_REVIEW
    )
    browser = Client()
    browser.force_login(staff_teacher)
    assert "osmosis-queue-check" not in browser.get("/admin/grader/submission/review/").content.decode()

    added = owner.client.post(f"/api/v1/courses/{course_id}/teachers/", {"username": "ada"}, format="json")

    assert added.status_code == 201
    assert added.json() == {"username": "ada", "admin_access": True}
    assert "osmosis-queue-check" in browser.get("/admin/grader/submission/review/").content.decode()
    listed = owner.client.get(f"/api/v1/courses/{course_id}/teachers/")
    assert listed.status_code == 200 and listed.json() == [{"username": "ada", "admin_access": True}]


def test_an_unknown_username_gets_an_account_without_admin_access_and_adding_again_changes_nothing(owner):
    course_id = _new_course(owner)
    body = {"username": "grace.h", "email": "grace@school.example"}

    first = owner.client.post(f"/api/v1/courses/{course_id}/teachers/", body, format="json")
    again = owner.client.post(f"/api/v1/courses/{course_id}/teachers/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"username": "grace.h", "admin_access": False}
    account = User.objects.get(username="grace.h")
    assert account.email == "grace@school.example"
    assert account.is_active and not account.is_staff and not account.is_superuser
    assert not account.has_usable_password()
    assert _teachers(course_id) == {"grace.h"}


def test_an_account_that_teaches_none_of_the_callers_courses_is_refused_and_nothing_changes(owner, second_course):
    outsider = User.objects.create_user("linus", email="linus@other.example", password="x-password-1", is_staff=True)
    second_course.teachers.add(outsider)
    course_id = _new_course(owner)

    response = owner.client.post(f"/api/v1/courses/{course_id}/teachers/", {"username": "linus"}, format="json")

    assert response.status_code == 400
    assert "teaches none of your courses" in response.json()["error"]["fields"]["username"][0]
    assert _teachers(course_id) == set()
    assert set(outsider.courses.values_list("code", flat=True)) == {second_course.code}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": ""}, "username"),
        ({"username": "has spaces"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"username": "fine", "email": "not-an-address"}, "email"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(owner, body, field):
    course_id = _new_course(owner)
    users_before = User.objects.count()

    response = owner.client.post(f"/api/v1/courses/{course_id}/teachers/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert User.objects.count() == users_before
    assert _teachers(course_id) == set()


def test_another_integrations_course_is_a_404_for_every_teacher_call(owner, second, second_course):
    colleague = User.objects.create_user("ines", password="x-password-1")
    second_course.teachers.add(colleague)
    base = f"/api/v1/courses/{second_course.pk}/teachers/"

    responses = [
        owner.client.get(base),
        owner.client.post(base, {"username": "mallory"}, format="json"),
        owner.client.delete(f"{base}ines/"),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert _teachers(second_course.pk) == {"ines"}
    assert not User.objects.filter(username="mallory").exists()


def test_removing_a_teacher_keeps_the_account_and_repeating_it_is_harmless(owner, staff_teacher, demo_course):
    course_id = _new_course(owner)
    owner.client.post(f"/api/v1/courses/{course_id}/teachers/", {"username": "ada"}, format="json")

    first = owner.client.delete(f"/api/v1/courses/{course_id}/teachers/ada/")
    again = owner.client.delete(f"/api/v1/courses/{course_id}/teachers/ada/")
    never = owner.client.delete(f"/api/v1/courses/{course_id}/teachers/nobody-by-this-name/")

    assert [first.status_code, again.status_code, never.status_code] == [204, 204, 204]
    assert _teachers(course_id) == set()
    assert User.objects.filter(username="ada", is_active=True).exists()
    assert demo_course.teachers.filter(username="ada").exists()  # only this course's link went
    assert owner.client.delete(f"/api/v1/courses/{course_id}/").status_code == 405
