"""The admin's home page for teachers: their courses, what waits in each question, operators' models elsewhere."""

from __future__ import annotations

from grader.models import Submission
from grader.workspace.selectors import review_queue


def _models_on_home(page) -> set[str]:
    return {model["model"]._meta.label_lower for app in page.context["app_list"] for model in app["models"]}


def test_home_lists_the_teachers_courses_with_what_waits_and_the_next_answer(client, owner, class_answers):
    flagged = class_answers[5]
    Submission.objects.filter(pk=flagged.pk).update(status=Submission.Status.NEEDS_REVIEW, review_reasons="negation")
    client.force_login(owner)
    page = client.get("/admin/")
    [course] = page.context["teacher_home"]
    [question] = course.questions  # the demo course's other questions have no answers: not listed
    assert question.question == flagged.question
    awaiting = Submission.objects.filter(question=flagged.question, status=Submission.Status.NEEDS_REVIEW).count()
    assert (question.answers, question.awaiting_review, question.to_review) == (len(class_answers), awaiting, 6)
    assert question.new_grades == len(class_answers)  # graded just now
    assert question.corrected == 0 and question.mean_error is None
    first = review_queue(user=owner, question=flagged.question).first()
    assert first.status == Submission.Status.NEEDS_REVIEW and question.next_to_review_id == first.pk
    html = page.content.decode()
    assert f'href="/admin/grader/submission/review/{first.pk}/?question={flagged.question_id}"' in html
    assert "no answer graded by you yet" in html


def test_home_shows_agreement_so_far_in_points_and_percent(client, owner, class_answers):
    client.force_login(owner)
    kept, changed = class_answers[0], class_answers[5]
    client.post(f"/admin/grader/submission/review/{kept.pk}/", {"accept": "1"})
    client.post(f"/admin/grader/submission/review/{changed.pk}/", {"points": str(changed.points + 1), "comment": ""})
    [course] = client.get("/admin/").context["teacher_home"]
    [question] = course.questions
    assert question.corrected == 2 and question.exact_share == 0.5
    assert abs(question.mean_error - 0.5) < 1e-9
    assert question.to_review == len(class_answers) - 2


def test_home_shows_a_teacher_only_their_courses(client, owner, stranger, class_answers, foreign_answers):
    client.force_login(stranger)
    page = client.get("/admin/")
    assert [home.course for home in page.context["teacher_home"]] == [foreign_answers[0].question.course]
    assert "ML101" not in page.content.decode() and "gradient-descent" not in page.content.decode()
    client.force_login(owner)
    html = client.get("/admin/").content.decode()
    assert "photosynthesis" not in html and foreign_answers[0].question.course.code not in html


def test_operators_models_are_out_of_a_teachers_way(client, owner, superuser, class_answers):
    client.force_login(owner)
    assert _models_on_home(client.get("/admin/")) == {"grader.course", "grader.question", "grader.submission"}
    # Still readable by URL: the versions grade their courses.
    assert client.get("/admin/grader/modelversion/").status_code == 200
    client.force_login(superuser)
    page = client.get("/admin/")
    assert {"auth.user", "grader.integration", "grader.webhookendpoint", "grader.modelversion"} <= _models_on_home(page)
    names = [app["name"] for app in page.context["app_list"]]
    assert names[0] == "Teaching" and all(name.startswith("Operations") for name in names[1:])
