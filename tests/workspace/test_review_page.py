"""The review page: one answer beside its explanation, accept or correct in one step, then the next answer."""

from __future__ import annotations

from decimal import Decimal

from grader.models import Correction, Submission
from grader.services.review import CONFIRMATION_COMMENT
from grader.workspace.selectors import review_queue


def _url(submission: Submission, question_id: int | None = None) -> str:
    scope = f"?question={question_id}" if question_id else ""
    return f"/admin/grader/submission/review/{submission.pk}/{scope}"


def test_review_page_shows_the_grade_for_people_and_how_it_came_about(client, owner, class_answers):
    client.force_login(owner)
    submission = class_answers[0]
    Submission.objects.filter(pk=submission.pk).update(similarity=0.41898804903030396)
    page = client.get(_url(submission))
    html = page.content.decode()
    maximum = f"{submission.question.max_points.normalize():f}"
    assert f"{submission.points.normalize():f} / {maximum}" in page.context["auto_points_text"]
    assert page.context["similarity"] == "0.42" and "0.418988" not in html
    derivation = page.context["derivation"]
    assert derivation.startswith("Similarity 0.") and "of full points" in derivation and f"/ {maximum}." in derivation
    assert html.index('id="answer-text"') < html.index('id="review-form"')
    assert 'id="explanation"' in html and "closest reference" in html
    assert "<kbd>A</kbd>" in html and "<kbd>N</kbd>" in html  # the shortcuts are on the page


def test_accept_goes_to_the_next_answer_of_the_queue(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    queue = list(review_queue(user=owner, question=gradient_descent_question).values_list("pk", flat=True))
    first, second = Submission.objects.get(pk=queue[0]), queue[1]
    page = client.get(_url(first, gradient_descent_question.pk))
    assert (page.context["position"], page.context["next_id"], page.context["previous_id"]) == (1, second, None)
    response = client.post(_url(first, gradient_descent_question.pk), {"accept": "1"})
    assert response.status_code == 302
    assert response.url == _url(Submission(pk=second), gradient_descent_question.pk)
    correction = Correction.objects.get(submission=first)
    assert (correction.points, correction.comment, correction.teacher) == (first.points, CONFIRMATION_COMMENT, owner)
    # The answer left the queue; its next is now the queue's head.
    assert client.get(response.url).context["position"] == 1


def test_unchanged_points_accept_and_changed_points_correct(client, owner, class_answers):
    client.force_login(owner)
    unchanged, changed = class_answers[0], class_answers[5]
    client.post(_url(unchanged), {"points": str(unchanged.points), "comment": ""})
    assert Correction.objects.get(submission=unchanged).comment == CONFIRMATION_COMMENT
    client.post(_url(changed), {"points": "1", "comment": "Too vague."})
    changed.refresh_from_db()
    assert changed.corrected_points == Decimal("1") and changed.points != Decimal("1")
    assert Correction.objects.get(submission=changed).comment == "Too vague."


def test_points_above_the_maximum_are_refused_on_the_page(client, owner, class_answers):
    client.force_login(owner)
    submission = class_answers[0]
    too_many = submission.question.max_points + 1
    page = client.post(_url(submission), {"points": str(too_many), "comment": ""})
    assert page.status_code == 200 and page.context["form"].errors
    assert not Correction.objects.filter(submission=submission).exists()


def test_the_last_answer_leads_home(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    queue = list(review_queue(user=owner, question=gradient_descent_question).values_list("pk", flat=True))
    last = Submission.objects.get(pk=queue[-1])
    response = client.post(_url(last, gradient_descent_question.pk), {"accept": "1"})
    assert response.status_code == 302 and response.url == "/admin/"


def test_review_next_opens_the_head_of_the_queue(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    head = review_queue(user=owner, question=gradient_descent_question).first()
    response = client.get(f"/admin/grader/submission/review/next/?question={gradient_descent_question.pk}")
    assert response.status_code == 302 and response.url == _url(head, gradient_descent_question.pk)


def test_review_page_is_scoped_to_the_teachers_courses(
    client, owner, stranger, class_answers, foreign_answers, gradient_descent_question
):
    ours, theirs = class_answers[0], foreign_answers[0]
    client.force_login(stranger)
    assert client.get(_url(ours)).status_code == 404
    assert client.post(_url(ours), {"accept": "1"}).status_code == 404
    assert not Correction.objects.filter(submission=ours).exists()
    assert client.get(_url(theirs, gradient_descent_question.pk)).status_code == 404  # a foreign queue
    foreign_queue = f"/admin/grader/submission/review/next/?question={gradient_descent_question.pk}"
    assert client.get(foreign_queue).status_code == 404
    page = client.get(_url(theirs))
    assert page.status_code == 200 and page.context["queue_length"] == 1  # their own queue holds theirs only
    client.force_login(owner)
    assert ours.pk in list(review_queue(user=owner).values_list("pk", flat=True))
    assert theirs.pk not in list(review_queue(user=owner).values_list("pk", flat=True))


def test_full_record_shows_the_closest_reference_whole(client, owner, class_answers):
    client.force_login(owner)
    submission = Submission.objects.select_related("best_reference").get(pk=class_answers[0].pk)
    reference = submission.best_reference.text
    assert len(reference) > 80  # longer than the reference's short form, which cuts it mid-word
    html = client.get(f"/admin/grader/submission/{submission.pk}/change/").content.decode()
    assert f'<div class="readonly">{reference}</div>' in html


def test_full_record_links_to_the_review_page(client, owner, class_answers):
    client.force_login(owner)
    submission = class_answers[0]
    html = client.get(f"/admin/grader/submission/{submission.pk}/change/").content.decode()
    assert f'href="{_url(submission, submission.question_id)}"' in html
