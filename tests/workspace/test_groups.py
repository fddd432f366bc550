"""Groups for "fix one, fix many": held-back answers included, no groups of one, bulk decisions with undo."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from grader.models import Correction, Submission
from grader.services.grouping import group_min_size, merge_small_groups
from grader.services.submissions import correction_create


def _groups_url(question_id: int) -> str:
    return f"/admin/grader/submission/groups/{question_id}/"


def _hold_back(submission: Submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.NEEDS_REVIEW, review_reasons="padding")


def test_small_groups_join_the_nearest_group():
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.14, 0.99], [0.8, 0.6]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    merged = merge_small_groups(vectors=vectors, labels=np.array([0, 0, 1, 1, 2]), min_size=2)
    assert merged.tolist() == [0, 0, 1, 1, 0]  # the lone answer is closer to the first group
    assert merge_small_groups(vectors=vectors, labels=np.array([0, 0, 1, 1, 2]), min_size=1).tolist() == [0, 0, 1, 1, 2]


def test_group_size_follows_the_size_of_the_class():
    assert [group_min_size(n) for n in (1, 6, 30, 120)] == [2, 2, 2, 10]


def test_groups_include_answers_awaiting_review_in_one_aligned_table(
    client, owner, class_answers, gradient_descent_question
):
    held_back = class_answers[4]
    _hold_back(held_back)
    client.force_login(owner)
    page = client.get(_groups_url(gradient_descent_question.pk))
    groups = page.context["groups"]
    grouped = [s.pk for group in groups for s in group.submissions]
    assert sorted(grouped) == sorted(s.pk for s in class_answers) and held_back.pk in grouped
    assert min(len(group.submissions) for group in groups) >= 2  # no group of one for six answers
    html = page.content.decode()
    assert html.count('<table id="answer-groups">') == 1 and html.count('<tbody class="answer-group"') == len(groups)
    assert "awaiting review" in html


def test_accepting_a_group_then_undoing_restores_every_grade(client, owner, class_answers, gradient_descent_question):
    held_back = class_answers[3]
    _hold_back(held_back)
    client.force_login(owner)
    url = _groups_url(gradient_descent_question.pk)
    group = next(g for g in client.get(url).context["groups"] if held_back.pk in {s.pk for s in g.submissions})
    ids = [s.pk for s in group.submissions]
    assert client.post(url, {"submission": ids, "accept": "1"}).status_code == 302
    assert set(Correction.objects.values_list("submission", flat=True)) == set(ids)
    assert Submission.objects.get(pk=held_back.pk).status == Submission.Status.GRADED
    assert client.get(url).context["undo"]["corrections"]

    assert client.get(url + "undo/").status_code == 405
    assert client.post(url + "undo/").status_code == 302
    assert not Correction.objects.exists()
    restored = Submission.objects.filter(pk__in=ids)
    assert {s.pk: (s.status, s.corrected_points) for s in restored} == {
        s.pk: (Submission.Status.NEEDS_REVIEW if s.pk == held_back.pk else Submission.Status.GRADED, None)
        for s in restored
    }
    assert client.get(url).context["undo"] is None


def test_undo_leaves_a_colleagues_later_grade_alone(client, owner, colleague, class_answers, gradient_descent_question):
    client.force_login(owner)
    url = _groups_url(gradient_descent_question.pk)
    first, second = class_answers[3], class_answers[4]
    client.post(url, {"submission": [first.pk, second.pk], "points": "1", "comment": ""})
    correction_create(submission=second, teacher=colleague, points=Decimal("2"))
    client.post(url + "undo/")
    assert Submission.objects.get(pk=first.pk).corrected_points is None
    assert Submission.objects.get(pk=second.pk).corrected_points == Decimal("2")
    assert not Correction.objects.filter(submission=first).exists()
    # Both grades of the second answer stay in its history; the colleague's, the latest, is its grade.
    history = Correction.objects.filter(submission=second).order_by("created_at", "pk")
    assert list(history.values_list("teacher__username", "points")) == [("ada", Decimal("1")), ("grace", Decimal("2"))]


def test_groups_and_undo_are_scoped_to_the_teachers_courses(
    client, owner, stranger, class_answers, gradient_descent_question
):
    client.force_login(owner)
    url = _groups_url(gradient_descent_question.pk)
    client.post(url, {"submission": [class_answers[0].pk], "points": "1", "comment": ""})
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.post(url, {"submission": [class_answers[1].pk], "points": "0"}).status_code == 404
    assert client.post(url + "undo/").status_code == 404
    assert Correction.objects.count() == 1
