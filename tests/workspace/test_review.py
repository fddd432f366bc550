"""Reviewing a class: the queue's order, corrections from the list, confirmations, groups, fix one / fix many."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from grader.models import Correction, Submission
from grader.services.grouping import submission_groups
from grader.services.model_versions import correction_pairs
from grader.workspace.selectors import submissions_review_queue


def _distance_outside_band(submission: Submission) -> float:
    zero, full = settings.GRADER_ZERO_CREDIT_SIMILARITY, settings.GRADER_FULL_CREDIT_SIMILARITY
    return max(zero - submission.similarity, submission.similarity - full)


def test_review_queue_puts_the_least_sure_grades_first(class_answers, gradient_descent_question):
    ungraded = Submission.objects.create(question=gradient_descent_question, student_ref="late", answer="pending")
    queue = list(submissions_review_queue(queryset=Submission.objects.all()))
    graded = [s for s in queue if s.similarity is not None]
    expected = sorted(graded, key=_distance_outside_band)
    assert [s.pk for s in graded] == [s.pk for s in expected]
    assert queue[-1].pk == ungraded.pk
    assert len({round(_distance_outside_band(s), 6) for s in graded}) > 1  # the data does exercise the order


def test_changelist_is_the_queue_with_filters(client, owner, class_answers):
    client.force_login(owner)
    corrected = class_answers[0]
    client.post(
        "/admin/grader/submission/",
        {"action": "confirm_auto_grades", "_selected_action": [corrected.pk], "index": "0"},
    )
    page = client.get("/admin/grader/submission/", {"corrected": "no"})
    shown = [row.pk for row in page.context["cl"].result_list]
    assert corrected.pk not in shown and len(shown) == len(class_answers) - 1
    confidences = [row.review_confidence for row in page.context["cl"].result_list]
    assert confidences == sorted(confidences)
    zero = client.get("/admin/grader/submission/", {"points_range": "zero"}).context["cl"].result_list
    assert {row.pk for row in zero} == {s.pk for s in class_answers if s.points == 0}
    assert zero  # the off-topic answers earn nothing from the base model


def test_teacher_corrects_a_grade_from_the_list_and_the_auto_grade_stays(client, owner, class_answers):
    client.force_login(owner)
    target = class_answers[5]  # "It is something used in machine learning."
    url = f"/admin/grader/submission/?q={target.student_ref}"
    response = client.post(url, {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(target.pk), "form-0-corrected_points": "1", "_save": "Save",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    correction = Correction.objects.get(submission=target)
    assert (correction.teacher, correction.points, correction.auto_points) == (owner, Decimal("1"), target.points)
    target.refresh_from_db()
    assert target.corrected_points == Decimal("1") and target.points == correction.auto_points
    listing = client.get(url).content.decode()
    assert "ada, " in listing  # who corrected it, beside the auto grade


def test_list_refuses_points_above_the_maximum(client, owner, class_answers):
    client.force_login(owner)
    target = class_answers[0]
    response = client.post(f"/admin/grader/submission/?q={target.student_ref}", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(target.pk),
        "form-0-corrected_points": "9", "_save": "Save",
    })  # fmt: skip
    assert response.status_code == 200
    assert not Correction.objects.exists()


def test_confirming_auto_grades_makes_training_labels_and_never_overwrites_a_correction(client, owner, class_answers):
    client.force_login(owner)
    corrected = class_answers[1]
    client.post(f"/admin/grader/submission/{corrected.pk}/change/",
                {"correct_points": "2", "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"})  # fmt: skip
    client.post("/admin/grader/submission/", {
        "action": "confirm_auto_grades", "_selected_action": [s.pk for s in class_answers], "index": "0",
    })  # fmt: skip
    for submission in class_answers:
        submission.refresh_from_db()
    assert corrected.corrected_points == Decimal("2")
    others = [s for s in class_answers if s.pk != corrected.pk]
    assert all(s.corrected_points == s.points for s in others)
    labels = {pair.sentence_0: pair.label for pair in correction_pairs()}
    assert len(labels) == len(class_answers)
    assert labels[others[0].answer] == float(others[0].points / others[0].question.max_points)


def test_similar_answers_fall_into_the_same_group(class_answers):
    groups = submission_groups(submissions=class_answers)
    group_of = {s.pk: index for index, group in enumerate(groups) for s in group.submissions}
    paraphrases, off_topic = class_answers[:3], class_answers[3:5]
    assert len({group_of[s.pk] for s in paraphrases}) == 1
    assert len({group_of[s.pk] for s in off_topic}) == 1
    assert group_of[paraphrases[0].pk] != group_of[off_topic[0].pk]


def test_teacher_grades_a_whole_group(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    url = f"/admin/grader/submission/groups/{gradient_descent_question.pk}/"
    page = client.get(url)
    groups = page.context["groups"]
    off_topic = next(g for g in groups if class_answers[3].pk in {s.pk for s in g.submissions})
    ids = [s.pk for s in off_topic.submissions]
    response = client.post(url, {"submission": ids, "points": "0", "comment": "Wrong topic."})
    assert response.status_code == 302
    assert set(Correction.objects.filter(points=0, comment="Wrong topic.").values_list("submission", flat=True)) == set(
        ids
    )


def test_fix_one_offers_the_answers_the_same_decision_would_change(client, owner, class_answers):
    client.force_login(owner)
    first = class_answers[0]
    form = {"correct_points": "5", "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"}
    response = client.post(f"/admin/grader/submission/{first.pk}/change/", form)
    assert response.status_code == 302 and "/similar/?points=5" in response.url
    offered = client.get(response.url).context["similar"]
    offered_ids = {item.submission.pk for item in offered}
    paraphrases_to_change = {s.pk for s in class_answers[1:3] if s.points != Decimal(5)}
    assert offered_ids >= paraphrases_to_change
    assert not offered_ids & {s.pk for s in class_answers[3:5]}  # off-topic answers are not offered
    assert all(item.submission.final_points != Decimal(5) for item in offered)
    if offered_ids:
        client.post(f"/admin/grader/submission/{first.pk}/similar/", {"submission": list(offered_ids), "points": "5"})
        assert set(Submission.objects.filter(corrected_points=5).values_list("pk", flat=True)) == offered_ids | {
            first.pk
        }


def test_detail_page_explains_the_grade(client, owner, class_answers):
    client.force_login(owner)
    submission = class_answers[0]
    page = client.get(f"/admin/grader/submission/{submission.pk}/change/")
    explanation = page.context["explanation"]
    assert explanation.model_version == submission.model_version
    assert len(explanation.references) == submission.question.reference_answers.count() == 2
    best = [ref for ref in explanation.references if ref.is_best]
    assert [ref.reference.pk for ref in best] == [submission.best_reference_id]
    assert abs(best[0].similarity - submission.similarity) < 1e-4
    levels = {sentence.level for ref in explanation.references for sentence in ref.sentences}
    assert levels <= {"covered", "partial", "missed"} and levels
    html = page.content.decode()
    assert "best match" in html and 'class="covered"' in html
    assert submission.question.prompt in html


def test_fix_many_starts_from_the_auto_grade_of_an_answer_awaiting_review(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[0]
    Submission.objects.filter(pk=flagged.pk).update(status=Submission.Status.NEEDS_REVIEW)
    page = client.get(f"/admin/grader/submission/{flagged.pk}/similar/")
    assert page.context["points"] == flagged.points != 0
