"""Course codes are unique within an integration's courses: another school's codes can neither be probed nor block."""

from __future__ import annotations

import pytest

from grader.models import Course


def test_a_code_used_by_another_integration_is_neither_revealed_nor_blocking(owner, second, second_course):
    taken_elsewhere = owner.client.post("/api/v1/courses/", {"code": second_course.code, "name": "Mine"}, format="json")
    fresh = owner.client.post("/api/v1/courses/", {"code": "NEVER-USED", "name": "Mine"}, format="json")
    assert (taken_elsewhere.status_code, fresh.status_code) == (201, 201)
    assert set(taken_elsewhere.json()) == set(fresh.json())
    # Each school sees its own course under the code.
    [mine] = [c for c in owner.client.get("/api/v1/courses/").json()["results"] if c["code"] == second_course.code]
    [theirs] = second.client.get("/api/v1/courses/").json()["results"]
    assert mine["id"] != theirs["id"] == second_course.pk
    assert Course.objects.get(pk=second_course.pk).name == "The second school's course"


def test_a_code_is_unique_among_the_callers_own_courses(owner, demo_course):
    first = owner.client.post("/api/v1/courses/", {"code": "BIO-1", "name": "Biology"}, format="json")
    again = owner.client.post("/api/v1/courses/", {"code": "BIO-1", "name": "Biology again"}, format="json")
    assert first.status_code == 201 and again.status_code == 400
    assert again.json()["error"]["fields"] == {"code": ["One of your courses already has this code."]}
    assert Course.objects.filter(code="BIO-1").count() == 1


def test_create_integration_refuses_a_code_that_names_several_courses(demo_course):
    from django.core.management import CommandError, call_command

    Course.objects.create(code=demo_course.code, name="Another school's course with the same code")
    with pytest.raises(CommandError, match="several courses"):
        call_command("create_integration", "lms", "--course", demo_course.code)
