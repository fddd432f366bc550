"""The resources an LMS uses: questions edited and archived, bulk submissions, filtered lists, grades, corrections."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from grader.models import Correction, IntegrationScope, Submission
from tests.api.conftest import basic


def test_question_is_edited_keeping_unchanged_references(owner, gradient_descent_question):
    kept = gradient_descent_question.reference_answers.first()
    response = owner.client.patch(
        f"/api/v1/questions/{gradient_descent_question.pk}/",
        {"max_points": "8", "reference_answers": [kept.text, "A brand new reference."]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["max_points"] == "8.00"
    assert [ref["text"] for ref in body["reference_answers"]] == [kept.text, "A brand new reference."]
    assert body["reference_answers"][0]["id"] == kept.pk


def test_course_and_key_of_a_question_cannot_be_changed(owner, gradient_descent_question, second_course):
    response = owner.client.patch(
        f"/api/v1/questions/{gradient_descent_question.pk}/",
        {"course": second_course.pk, "key": "renamed"},
        format="json",
    )
    assert response.status_code == 200
    gradient_descent_question.refresh_from_db()
    assert (gradient_descent_question.course_id, gradient_descent_question.key) != (second_course.pk, "renamed")


def test_archived_question_accepts_no_submissions_but_stays_readable(owner, gradient_descent_question):
    path = f"/api/v1/questions/{gradient_descent_question.pk}/"
    assert owner.client.post(path + "archive/").json()["archived_at"] is not None
    assert owner.client.get(path).status_code == 200
    listed = [q["id"] for q in owner.client.get("/api/v1/questions/", {"page_size": 200}).json()["results"]]
    assert gradient_descent_question.pk not in listed
    with_archived = owner.client.get("/api/v1/questions/", {"page_size": 200, "include_archived": "true"}).json()
    assert gradient_descent_question.pk in [q["id"] for q in with_archived["results"]]
    response = owner.client.post(
        "/api/v1/submissions/",
        {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "late"},
        format="json",
    )
    assert response.status_code == 400


def _bulk_items(question, count: int, external_prefix: str) -> list[dict]:
    return [
        {
            "question": question.pk,
            "student_ref": f"s{i}",
            "answer": f"answer {i}",
            "external_id": f"{external_prefix}{i}",
        }
        for i in range(count)
    ]


def test_bulk_submissions_are_all_accepted_and_replayed_by_external_id(owner, gradient_descent_question):
    items = _bulk_items(gradient_descent_question, 5, "e")
    first = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")
    assert first.status_code == 202
    assert first.json()["created_count"] == 5
    again = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")
    assert again.status_code == 200
    assert again.json()["created_count"] == 0
    assert [s["id"] for s in again.json()["results"]] == [s["id"] for s in first.json()["results"]]
    assert Submission.objects.count() == 5


def test_bulk_with_one_bad_item_stores_nothing(owner, gradient_descent_question):
    items = [
        {"question": gradient_descent_question.pk, "student_ref": "s1", "answer": "fine"},
        {"question": gradient_descent_question.pk, "student_ref": "s2", "answer": "   "},
    ]
    response = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")
    assert response.status_code == 400
    assert "submissions" in response.json()["error"]["fields"]
    assert Submission.objects.count() == 0


def test_bulk_over_the_documented_limit_is_refused(owner, gradient_descent_question, settings):
    item = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a"}
    response = owner.client.post("/api/v1/submissions/bulk/", {"submissions": [item] * 101}, format="json")
    assert response.status_code == 400
    assert Submission.objects.count() == 0


def _make(question, integration, **fields) -> Submission:
    return Submission.objects.create(question=question, integration=integration, answer="a", **fields)


def test_list_filters_by_course_question_status_student_and_updated_since(
    owner, demo_course, gradient_descent_question
):
    other_question = demo_course.questions.exclude(pk=gradient_descent_question.pk).first()
    old = _make(gradient_descent_question, owner.integration, student_ref="amy", status="graded")
    new = _make(other_question, owner.integration, student_ref="bob", status="queued")
    Submission.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    def ids(**params) -> list[int]:
        response = owner.client.get("/api/v1/submissions/", params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert set(ids(course=demo_course.pk)) == {old.pk, new.pk}
    assert ids(question=gradient_descent_question.pk) == [old.pk]
    assert ids(status="queued") == [new.pk]
    assert ids(student="amy") == [old.pk]
    assert ids(updated_since=since) == [new.pk]
    assert owner.client.get("/api/v1/submissions/", {"status": "bogus"}).status_code == 400
    assert owner.client.get("/api/v1/submissions/", {"updated_since": "yesterday"}).status_code == 400


def test_page_size_is_capped(owner, gradient_descent_question):
    Submission.objects.bulk_create(
        Submission(question=gradient_descent_question, student_ref=f"s{i}", answer="a") for i in range(205)
    )
    body = owner.client.get("/api/v1/submissions/", {"page_size": 10_000}).json()
    assert body["count"] == 205
    assert len(body["results"]) == 200


def test_grade_shows_the_auto_grade_and_corrections_with_provenance(owner, owned_submission, teacher):
    response = basic("ada", "ada-password-1").post(
        f"/api/v1/submissions/{owned_submission.pk}/corrections/",
        {"points": "4.5", "comment": "Good, but name the learning rate."},
        format="json",
    )
    assert response.status_code == 201, response.content
    grade = owner.client.get(f"/api/v1/submissions/{owned_submission.pk}/grade/").json()
    assert grade["source"] == "teacher"
    assert grade["final_points"] == "4.50"
    assert grade["auto"]["points"] == "3.50"
    [correction] = grade["corrections"]
    assert (correction["teacher"], correction["points"], correction["auto_points"]) == ("ada", "4.50", "3.50")
    assert owner.client.get(f"/api/v1/submissions/{owned_submission.pk}/").json()["final_points"] == "4.50"


def test_correction_outside_the_point_range_is_refused(owned_submission, teacher):
    response = basic("ada", "ada-password-1").post(
        f"/api/v1/submissions/{owned_submission.pk}/corrections/", {"points": "99"}, format="json"
    )
    assert response.status_code == 400
    assert "points" in response.json()["error"]["fields"]
    assert Correction.objects.count() == 0


def test_scoped_token_records_a_correction_for_a_named_course_teacher(owner, owned_submission, teacher):
    owner.integration.scopes = [IntegrationScope.CORRECTIONS_WRITE]
    owner.integration.save()
    path = f"/api/v1/submissions/{owned_submission.pk}/corrections/"
    assert owner.client.post(path, {"points": "2"}, format="json").status_code == 400
    assert owner.client.post(path, {"points": "2", "teacher": "nobody"}, format="json").status_code == 400
    response = owner.client.post(path, {"points": "2", "teacher": "ada"}, format="json")
    assert response.status_code == 201
    [correction] = Correction.objects.all()
    assert (correction.teacher, correction.points, correction.auto_points) == (teacher, Decimal("2"), Decimal("3.5"))


def test_teacher_credentials_cannot_impersonate_another_teacher(owned_submission, teacher, demo_course):
    from django.contrib.auth import get_user_model

    colleague = get_user_model().objects.create_user("grace", password="grace-password-1")
    demo_course.teachers.add(colleague)
    basic("ada", "ada-password-1").post(
        f"/api/v1/submissions/{owned_submission.pk}/corrections/", {"points": "1", "teacher": "grace"}, format="json"
    )
    assert Correction.objects.get().teacher == teacher


def test_model_versions_are_listed_without_rejected_ones(owner, base_model_version):
    from grader.models import ModelVersion

    ModelVersion.objects.create(name="bad", status="rejected", artifact_path="bad", sha256="0" * 64)
    names = [v["name"] for v in owner.client.get("/api/v1/model-versions/").json()["results"]]
    assert names == ["base"]


def test_a_model_version_shows_its_comparison_with_the_version_it_replaced_and_no_other_course_s_ids(
    owner, base_model_version
):
    from grader.models import ModelVersion

    comparison = {
        "held_out_answers": 24, "activated": True, "reason": "Activated: ...",
        "candidate": {"version": "v9", "corrections_learned_from": 70, "rmse": {"value": 1.1, "interval": [0.9, 1.3]}},
        "replaced": {"version": "base", "corrections_learned_from": 0, "rmse": {"value": 1.4, "interval": [1.2, 1.6]}},
        "dry_run": {"changed": 3, "crossing_pass_mark": 1, "examples": [
            {"submission": 4321, "course": "OTHER", "question": "q", "max_points": 5.0, "points": 2.0,
             "new_points": 3.5}]},
    }  # fmt: skip
    version = ModelVersion.objects.create(
        name="v9", parent=base_model_version, artifact_path="v9", sha256="0" * 64, evaluation={"comparison": comparison}
    )
    shown = owner.client.get(f"/api/v1/model-versions/{version.pk}/").json()["comparison"]
    assert shown["candidate"] == comparison["candidate"] and shown["replaced"] == comparison["replaced"]
    assert shown["reason"] == "Activated: ..."
    assert shown["dry_run"]["examples"] == [{"max_points": 5.0, "points": 2.0, "new_points": 3.5}]
    assert owner.client.get(f"/api/v1/model-versions/{base_model_version.pk}/").json()["comparison"] is None


def test_course_is_renamed_but_its_code_stays(owner, demo_course):
    response = owner.client.patch(f"/api/v1/courses/{demo_course.pk}/", {"name": "ML 101", "code": "x"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "ML 101"
    assert response.json()["code"] == demo_course.code


def test_create_integration_command_grants_the_corrections_scope(demo_course, capsys):
    from django.core.management import call_command

    from grader.models import Integration

    call_command("create_integration", "gradebook", "--course", demo_course.code, "--scope", "corrections:write")
    assert capsys.readouterr().out.startswith("grd_")
    assert Integration.objects.get(name="gradebook").scopes == ["corrections:write"]


def test_bulk_treats_a_repeated_external_id_within_one_request_as_a_replay(owner, gradient_descent_question):
    stored = owner.client.post(
        "/api/v1/submissions/bulk/",
        {
            "submissions": [
                {"question": gradient_descent_question.pk, "student_ref": "s0", "answer": "a", "external_id": "old"}
            ]
        },
        format="json",
    ).json()["results"][0]["id"]
    items = [
        {"question": gradient_descent_question.pk, "student_ref": "s1", "answer": "first", "external_id": "dup"},
        {"question": gradient_descent_question.pk, "student_ref": "s2", "answer": "again", "external_id": "dup"},
        {"question": gradient_descent_question.pk, "student_ref": "s0", "answer": "changed", "external_id": "old"},
        {"question": str(gradient_descent_question.pk), "student_ref": "s3", "answer": "no external id"},
    ]
    response = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["created_count"] == 2
    ids = [result["id"] for result in body["results"]]
    assert ids[0] == ids[1] and ids[2] == stored and len(set(ids)) == 3
    assert [result["answer"] for result in body["results"]] == ["first", "first", "a", "no external id"]
    assert Submission.objects.count() == 3


def test_bulk_refuses_a_question_outside_the_callers_courses(owner, gradient_descent_question, other_course_question):
    items = [
        {"question": gradient_descent_question.pk, "student_ref": "s1", "answer": "fine"},
        {"question": other_course_question.pk, "student_ref": "s2", "answer": "not yours"},
    ]
    response = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")
    assert response.status_code == 400
    assert "Unknown question." in str(response.json()["error"]["fields"])
    assert Submission.objects.count() == 0


def test_bulk_costs_the_same_few_queries_for_any_number_of_items(
    owner, gradient_descent_question, django_assert_max_num_queries
):
    # One query per item (the question look-up, the INSERT and its savepoints) made a 100-item upload cost ~400
    # statements and most of the web process's time in the bulk benchmark.
    items = _bulk_items(gradient_descent_question, 100, "q")
    with django_assert_max_num_queries(15):
        response = owner.client.post("/api/v1/submissions/bulk/", {"submissions": items}, format="json")
    assert response.status_code == 202
    assert Submission.objects.count() == 100
