"""Reviewing a class: the queue's order, corrections from the list, confirmations, groups, fix one / fix many."""

from __future__ import annotations

from decimal import Decimal

from grader.models import Correction, Submission
from grader.scoring import decision
from grader.services.grouping import submission_groups
from grader.services.model_versions import correction_pairs
from grader.workspace.review_text import REVIEW_REASON_TEXT, confidence_percent, review_reason_texts
from grader.workspace.selectors import submissions_review_queue


def test_review_queue_puts_grades_awaiting_review_first_then_the_least_confident(
    class_answers, gradient_descent_question
):
    # Two answers the scoring step sent to a teacher: one it is sure of (a guard fired), one it is not.
    sure, unsure = class_answers[0], class_answers[3]
    Submission.objects.filter(pk=sure.pk).update(status=Submission.Status.NEEDS_REVIEW, review_reasons="padding")
    Submission.objects.filter(pk=unsure.pk).update(
        status=Submission.Status.NEEDS_REVIEW, confidence=0.3, review_reasons="low_confidence"
    )
    ungraded = Submission.objects.create(question=gradient_descent_question, student_ref="late", answer="pending")
    queue = list(submissions_review_queue(queryset=Submission.objects.all()))
    assert [s.pk for s in queue[:2]] == [unsure.pk, sure.pk]
    assert queue[0].awaiting_review and not queue[2].awaiting_review
    rest = queue[2:-1]
    assert [s.confidence for s in rest] == sorted(s.confidence for s in rest)
    assert rest[0].pk == class_answers[5].pk  # "It is something used in machine learning.": the least sure grade
    assert rest[0].confidence < rest[-1].confidence  # the data does exercise the order
    assert queue[-1].pk == ungraded.pk


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
    confidences = [row.confidence for row in page.context["cl"].result_list]
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
    assert '">ada</span>' in listing  # who corrected it, beside the auto grade (the time on hover)


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


def _await_review(submission: Submission, *, confidence: float, reasons: str) -> None:
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.NEEDS_REVIEW, confidence=confidence, review_reasons=reasons
    )


def test_awaiting_review_filter_shows_confidence_and_reasons_in_words(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation,low_confidence")
    page = client.get("/admin/grader/submission/", {"status": "needs_review"})
    assert [row.pk for row in page.context["cl"].result_list] == [flagged.pk]
    html = page.content.decode()
    assert "awaiting review" in html and "40 %" in html
    assert REVIEW_REASON_TEXT["negation"] in html and REVIEW_REASON_TEXT["low_confidence"] in html
    everything = client.get("/admin/grader/submission/")
    assert everything.context["cl"].result_list[0].pk == flagged.pk
    surest = max((s for s in class_answers if s.pk != flagged.pk), key=lambda s: s.confidence)
    assert confidence_percent(surest.confidence) in everything.content.decode()  # the sure grades, as percentages too
    detail = client.get(f"/admin/grader/submission/{flagged.pk}/change/").content.decode()
    assert "40 %" in detail and REVIEW_REASON_TEXT["negation"] in detail and "awaiting review" in detail


def test_a_correction_in_the_workspace_takes_the_answer_out_of_the_awaiting_review_filter(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    client.post(f"/admin/grader/submission/{flagged.pk}/change/",
                {"correct_points": "1", "_continue": "1",
                 "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"})  # fmt: skip
    flagged.refresh_from_db()
    assert (flagged.status, flagged.corrected_points) == ("graded", Decimal("1"))
    assert not client.get("/admin/grader/submission/", {"status": "needs_review"}).context["cl"].result_list
    detail = client.get(f"/admin/grader/submission/{flagged.pk}/change/").content.decode()
    assert REVIEW_REASON_TEXT["negation"] in detail  # why it was held back stays readable


def test_review_overview_counts_the_answers_awaiting_review(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    _await_review(class_answers[1], confidence=0.4, reasons="negation")
    rows = {row.question.pk: row for row in client.get("/admin/grader/submission/review/").context["rows"]}
    assert rows[gradient_descent_question.pk].awaiting_review == 1
    assert rows[gradient_descent_question.pk].to_review == len(class_answers)


def test_teacher_of_another_course_sees_none_of_the_review_queue(
    client, owner, stranger, class_answers, foreign_answers, gradient_descent_question
):
    ours, theirs = class_answers[1], foreign_answers[0]
    _await_review(ours, confidence=0.2, reasons="negation")
    _await_review(theirs, confidence=0.9, reasons="padding")
    client.force_login(stranger)
    awaiting = client.get("/admin/grader/submission/", {"status": "needs_review"})
    assert [row.pk for row in awaiting.context["cl"].result_list] == [theirs.pk]
    assert REVIEW_REASON_TEXT["negation"] not in awaiting.content.decode()
    assert [row.pk for row in client.get("/admin/grader/submission/").context["cl"].result_list] == [theirs.pk]
    overview = client.get("/admin/grader/submission/review/").context["rows"]
    assert [(row.question.key, row.awaiting_review) for row in overview] == [("photosynthesis", 1)]
    client.force_login(owner)
    overview = client.get("/admin/grader/submission/review/").context["rows"]
    assert {row.question.pk: row.awaiting_review for row in overview}[gradient_descent_question.pk] == 1
    assert "photosynthesis" not in {row.question.key for row in overview}


def test_every_reason_the_scoring_step_gives_has_words_for_teachers():
    # Every code the scoring step can give is a member of its Reason enum: a new one cannot go unworded.
    codes = {reason.value for reason in decision.Reason}
    assert {"low_confidence", "negation", "blank"} <= codes
    assert codes <= set(REVIEW_REASON_TEXT)
    assert review_reason_texts(["negation", "something_new"]) == [REVIEW_REASON_TEXT["negation"], "something_new"]


def test_detail_page_shows_points_out_of_the_maximum_and_similarity_for_people(client, owner, class_answers):
    client.force_login(owner)
    submission = class_answers[0]
    Submission.objects.filter(pk=submission.pk).update(points=Decimal("1.50"), similarity=0.41898804903030396)
    html = client.get(f"/admin/grader/submission/{submission.pk}/change/").content.decode()
    maximum = f"{submission.question.max_points.normalize():f}"
    assert f"1.5 / {maximum}" in html
    assert ">0.42<" in html and "0.418988" not in html and "0.419" not in html


def test_detail_page_title_uses_the_status_words_of_the_field(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    page = client.get(f"/admin/grader/submission/{flagged.pk}/change/")
    html = page.content.decode()
    assert page.context["subtitle"] == f"submission {flagged.pk} (awaiting review)"
    assert f"<h2>submission {flagged.pk} (awaiting review)</h2>" in html
    assert "needs_review" not in html.split('id="submission_form"')[0]  # title, breadcrumbs


def test_the_explanation_and_the_accept_button_come_before_the_correction_form(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    html = client.get(f"/admin/grader/submission/{flagged.pk}/change/").content.decode()
    explanation, accept, correction = (
        html.index("Why this grade"),
        html.index('form="accept-auto-grade"'),
        html.index('name="correct_points"'),
    )
    assert explanation < accept < correction
    # The accept button belongs to its own form, outside the correction form: Enter in the points field saves them.
    accept_form = html.index('<form id="accept-auto-grade"')
    assert accept_form < html.index('id="submission_form"')
    assert html.index("</form>", accept_form) < html.index('id="submission_form"')


def test_one_click_accepts_the_auto_grade_of_an_answer_awaiting_review(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    url = f"/admin/grader/submission/{flagged.pk}/accept/"
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302 and response.url == f"/admin/grader/submission/{flagged.pk}/change/"
    flagged.refresh_from_db()
    assert (flagged.status, flagged.corrected_points) == ("graded", flagged.points)
    correction = Correction.objects.get(submission=flagged)
    assert (correction.teacher, correction.points, correction.comment) == (
        owner,
        flagged.points,
        "Auto grade confirmed.",
    )
    page = client.get(response.url)
    assert "Accepted the auto grade" in page.content.decode()
    assert not page.context["can_accept_auto_grade"]  # released: nothing left to accept
    # A second click (another tab) changes nothing.
    client.post(url)
    assert Correction.objects.filter(submission=flagged).count() == 1


def test_accepting_never_overwrites_a_teachers_grade(client, owner, colleague, class_answers):
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    client.force_login(owner)
    page = client.get(f"/admin/grader/submission/{flagged.pk}/change/")
    assert page.context["can_accept_auto_grade"]
    # A colleague corrects it while the page is open; the stale button must not replace their points.
    client.force_login(colleague)
    client.post(f"/admin/grader/submission/{flagged.pk}/change/",
                {"correct_points": "0", "_continue": "1",
                 "corrections-TOTAL_FORMS": "0", "corrections-INITIAL_FORMS": "0"})  # fmt: skip
    client.force_login(owner)
    client.post(f"/admin/grader/submission/{flagged.pk}/accept/")
    flagged.refresh_from_db()
    assert flagged.corrected_points == Decimal("0")
    assert Correction.objects.filter(submission=flagged).count() == 1


def test_no_accept_button_on_a_released_grade_and_none_for_another_course(client, owner, stranger, class_answers):
    client.force_login(owner)
    released = class_answers[0]
    assert released.status == "graded"
    page = client.get(f"/admin/grader/submission/{released.pk}/change/")
    assert not page.context["can_accept_auto_grade"] and 'form="accept-auto-grade"' not in page.content.decode()
    flagged = class_answers[1]
    _await_review(flagged, confidence=0.4, reasons="negation")
    client.force_login(stranger)
    assert client.post(f"/admin/grader/submission/{flagged.pk}/accept/").status_code == 404
    assert not Correction.objects.exists()


def test_review_overview_counts_released_grades_apart_and_lists_only_questions_with_answers(
    client, owner, class_answers, gradient_descent_question
):
    client.force_login(owner)
    _await_review(class_answers[1], confidence=0.4, reasons="negation")
    _await_review(class_answers[2], confidence=0.4, reasons="negation")
    rows = {row.question.pk: row for row in client.get("/admin/grader/submission/review/").context["rows"]}
    released = Submission.objects.filter(question=gradient_descent_question, status="graded").count()
    row = rows[gradient_descent_question.pk]
    assert row.awaiting_review >= 2
    assert row.graded == released and row.graded + row.awaiting_review == len(class_answers)
    # The demo course has other questions, none answered yet: they wait for nothing and are not listed.
    assert gradient_descent_question.course.questions.count() > 1
    assert set(rows) == {gradient_descent_question.pk}
