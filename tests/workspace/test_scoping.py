"""Every admin list, form, filter, autocomplete, action and page is scoped: owner and colleague yes, stranger no."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.test import RequestFactory

from grader.models import (
    Correction,
    Course,
    Integration,
    ModelVersion,
    Question,
    Submission,
    TrainingRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from grader.services.integrations import integration_create

# Not course data: one model serves every course. Anything else registered must be scoped, or this test fails.
GLOBAL_MODELS = {ModelVersion, TrainingRun}
# Operators' tools: a teacher sees none of them, a superuser all.
SUPERUSER_ONLY_MODELS = {WebhookEndpoint, WebhookDelivery}


@pytest.fixture
def world(demo_course, other_course_question, class_answers, foreign_answers):
    """One object of each scoped kind in the demo course ("ours") and in the foreign course ("theirs")."""
    our_integration, _ = integration_create(name="our-lms", courses=[demo_course])
    their_integration, _ = integration_create(name="their-lms", courses=[other_course_question.course])
    return {
        Course: (demo_course, other_course_question.course),
        Question: (class_answers[0].question, other_course_question),
        Submission: (class_answers[0], foreign_answers[0]),
        Integration: (our_integration, their_integration),
    }


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_registered_admin_queryset_is_scoped_to_the_teacher(world, owner, colleague, stranger, superuser):
    registered = {model: model_admin for model, model_admin in admin.site._registry.items()
                  if model._meta.app_label == "grader"}  # fmt: skip
    assert set(registered) - GLOBAL_MODELS - SUPERUSER_ONLY_MODELS == set(world), (
        "a grader model is registered without a scoping test"
    )
    for model in SUPERUSER_ONLY_MODELS:
        for user in (owner, colleague, stranger):
            assert not registered[model].has_view_permission(_admin_request(user)), (model.__name__, user.username)
        assert registered[model].has_view_permission(_admin_request(superuser))
    for model, (ours, theirs) in world.items():
        model_admin = registered[model]
        for user, sees_ours, sees_theirs in [
            (owner, True, False),
            (colleague, True, False),
            (stranger, False, True),
            (superuser, True, True),
        ]:
            visible = model_admin.get_queryset(_admin_request(user))
            assert visible.filter(pk=ours.pk).exists() is sees_ours, (model.__name__, user.username)
            assert visible.filter(pk=theirs.pk).exists() is sees_theirs, (model.__name__, user.username)


def test_stranger_cannot_reach_a_course_by_url(client, world, stranger):
    client.force_login(stranger)
    course, question, submission = world[Course][0], world[Question][0], world[Submission][0]
    for url in [
        f"/admin/grader/course/{course.pk}/change/",
        f"/admin/grader/question/{question.pk}/change/",
        f"/admin/grader/submission/{submission.pk}/change/",
        f"/admin/grader/submission/{submission.pk}/history/",
    ]:
        # The admin answers a missing object with a redirect to its list, the same as for an id that never existed.
        assert client.get(url).status_code == 302, url
    for url in [
        f"/admin/grader/submission/groups/{question.pk}/",
        f"/admin/grader/submission/{submission.pk}/similar/",
        f"/admin/grader/submission/agreement/?question={question.pk}",
        f"/admin/grader/submission/agreement/scatter.png?course={course.pk}",
        f"/admin/grader/submission/agreement/trend.png?course={course.pk}",
    ]:
        assert client.get(url).status_code == 404, url


def test_colleague_reaches_the_shared_course_pages(client, world, colleague):
    client.force_login(colleague)
    question, submission = world[Question][0], world[Submission][0]
    assert client.get(f"/admin/grader/submission/{submission.pk}/change/").status_code == 200
    assert client.get(f"/admin/grader/submission/groups/{question.pk}/").status_code == 200


def test_lists_and_filters_show_only_own_courses(client, world, owner):
    client.force_login(owner)
    page = client.get("/admin/grader/submission/").content.decode()
    assert world[Submission][0].student_ref in page
    their_code = world[Course][1].code
    assert "bio-student" not in page
    assert their_code not in page  # neither in the rows nor in the course filter's choices
    assert "ML101" in page
    review = client.get("/admin/grader/submission/review/").content.decode()
    assert "gradient-descent" in review and "photosynthesis" not in review
    assert their_code not in client.get("/admin/grader/question/").content.decode()


def test_autocomplete_offers_only_own_courses(client, world, owner):
    client.force_login(owner)
    response = client.get(
        "/admin/autocomplete/", {"app_label": "grader", "model_name": "question", "field_name": "course", "term": ""}
    )
    assert response.status_code == 200
    codes = {item["text"].split(":")[0] for item in json.loads(response.content)["results"]}
    assert codes == {"ML101"}


def test_question_form_refuses_a_foreign_course(client, world, owner):
    client.force_login(owner)
    form_page = client.get("/admin/grader/question/add/")
    assert form_page.context["adminform"].form.fields["course"].queryset.get() == world[Course][0]
    response = client.post(
        "/admin/grader/question/add/",
        {"course": world[Course][1].pk, "key": "sneaky", "prompt": "?", "max_points": "5",
         "reference_answers-TOTAL_FORMS": "1", "reference_answers-INITIAL_FORMS": "0",
         "reference_answers-0-text": "x"},
    )  # fmt: skip
    assert response.status_code == 200  # the form comes back with an error
    assert not Question.objects.filter(key="sneaky").exists()


def test_actions_ignore_foreign_ids(client, world, owner):
    client.force_login(owner)
    ours, theirs = world[Submission]
    response = client.post(
        "/admin/grader/submission/",
        {"action": "confirm_auto_grades", "_selected_action": [ours.pk, theirs.pk], "index": "0"},
    )
    assert response.status_code == 302
    assert Correction.objects.filter(submission=ours, points=ours.points, teacher=owner).exists()
    assert not Correction.objects.filter(submission=theirs).exists()
    export = client.post(
        "/admin/grader/submission/",
        {"action": "export_grades_csv", "_selected_action": [ours.pk, theirs.pk], "index": "0"},
    )
    rows = export.content.decode().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{ours.pk},ML101,")


def test_group_grading_cannot_touch_a_foreign_submission(client, world, owner):
    client.force_login(owner)
    question, theirs = world[Question][0], world[Submission][1]
    client.post(f"/admin/grader/submission/groups/{question.pk}/", {"submission": [theirs.pk], "points": "1"})
    assert not Correction.objects.filter(submission=theirs).exists()


def test_teachers_cannot_widen_their_own_scope(client, world, owner):
    client.force_login(owner)
    course = world[Course][0]
    client.post(f"/admin/grader/course/{course.pk}/change/", {"name": "Renamed", "teachers": [owner.pk]})
    course.refresh_from_db()
    assert course.name == "Renamed"
    assert client.get("/admin/grader/course/add/").status_code == 403
    their_integration = world[Integration][1]
    assert client.get(f"/admin/grader/integration/{their_integration.pk}/change/").status_code == 302
    ours = world[Integration][0]
    page = client.get(f"/admin/grader/integration/{ours.pk}/change/").content.decode()
    assert world[Course][1].code not in page
