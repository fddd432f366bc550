"""Archiving a course: hidden from lists, still readable, and closed to new questions and submissions."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from grader.models import Course, Question, Submission


def _archive(owner, course: Course):
    return owner.client.post(f"/api/v1/courses/{course.pk}/archive/")


def _listed_course_ids(owner, **params) -> list[int]:
    return [c["id"] for c in owner.client.get("/api/v1/courses/", {"page_size": 200, **params}).json()["results"]]


def test_archived_course_is_hidden_from_the_list_but_stays_readable(owner, demo_course):
    response = _archive(owner, demo_course)
    assert response.status_code == 200
    assert response.json()["archived_at"] is not None

    assert demo_course.pk not in _listed_course_ids(owner)
    assert demo_course.pk in _listed_course_ids(owner, include_archived="true")
    detail = owner.client.get(f"/api/v1/courses/{demo_course.pk}/")
    assert detail.status_code == 200
    assert detail.json()["archived_at"] == response.json()["archived_at"]


def test_active_course_shows_archived_at_null(owner, demo_course):
    assert owner.client.get(f"/api/v1/courses/{demo_course.pk}/").json()["archived_at"] is None
    assert demo_course.pk in _listed_course_ids(owner)


def test_archiving_twice_keeps_the_first_time(owner, demo_course):
    first = _archive(owner, demo_course).json()["archived_at"]
    again = _archive(owner, demo_course)
    assert again.status_code == 200
    assert again.json()["archived_at"] == first
    demo_course.refresh_from_db()
    assert demo_course.archived_at == parse_datetime(first)


def test_archived_at_cannot_be_set_by_a_client(owner, demo_course):
    created = owner.client.post(
        "/api/v1/courses/", {"code": "c2", "name": "n", "archived_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["archived_at"] is None
    renamed = owner.client.patch(
        f"/api/v1/courses/{demo_course.pk}/", {"name": "n", "archived_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert renamed.status_code == 200
    demo_course.refresh_from_db()
    assert demo_course.archived_at is None


def test_archived_course_refuses_a_new_question(owner, demo_course):
    _archive(owner, demo_course)
    before = Question.objects.count()
    response = owner.client.post(
        "/api/v1/questions/",
        {"course": demo_course.pk, "key": "late", "prompt": "?", "max_points": "2", "reference_answers": ["a"]},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["course"] == ["This course is archived; it accepts no new questions."]
    assert Question.objects.count() == before


def test_archived_course_refuses_new_submissions_single_and_bulk(owner, demo_course, gradient_descent_question):
    _archive(owner, demo_course)
    item = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "late", "external_id": "e1"}

    single = owner.client.post("/api/v1/submissions/", item, format="json")
    assert single.status_code == 400
    assert single.json()["error"]["fields"]["question"] == [
        "This question's course is archived; it accepts no new submissions."
    ]
    keyed = owner.client.post("/api/v1/submissions/", item, format="json", HTTP_IDEMPOTENCY_KEY="k-archived")
    assert keyed.status_code == 400
    bulk = owner.client.post("/api/v1/submissions/bulk/", {"submissions": [item]}, format="json")
    assert bulk.status_code == 400
    assert "submissions" in bulk.json()["error"]["fields"]
    assert Submission.objects.count() == 0


def test_questions_of_an_archived_course_leave_the_question_list(owner, demo_course, gradient_descent_question):
    _archive(owner, demo_course)

    def listed(**params) -> list[int]:
        response = owner.client.get("/api/v1/questions/", {"page_size": 200, **params})
        return [q["id"] for q in response.json()["results"]]

    assert gradient_descent_question.pk not in listed()
    assert gradient_descent_question.pk in listed(include_archived="true")
    assert owner.client.get(f"/api/v1/questions/{gradient_descent_question.pk}/").status_code == 200


def test_submissions_of_an_archived_course_stay_readable(owner, demo_course, owned_submission):
    _archive(owner, demo_course)
    assert owner.client.get(f"/api/v1/submissions/{owned_submission.pk}/").status_code == 200
    listed = owner.client.get("/api/v1/submissions/", {"course": demo_course.pk}).json()["results"]
    assert [s["id"] for s in listed] == [owned_submission.pk]


def test_archived_question_says_why_it_refuses_a_submission(owner, gradient_descent_question):
    owner.client.post(f"/api/v1/questions/{gradient_descent_question.pk}/archive/")
    response = owner.client.post(
        "/api/v1/submissions/",
        {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "late"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["question"] == [
        "This question is archived; it accepts no new submissions."
    ]
    assert Submission.objects.count() == 0


def test_another_integration_cannot_archive_the_course(second, demo_course):
    response = second.client.post(f"/api/v1/courses/{demo_course.pk}/archive/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    demo_course.refresh_from_db()
    assert demo_course.archived_at is None
