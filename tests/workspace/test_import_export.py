"""Questions in from CSV with per-row errors, grades out as CSV."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from grader.models import Question, Submission
from grader.services.submissions import correction_create

HEADER = "course,key,prompt,max_points,reference_answer\n"


def _upload(client, text: str, *, dry_run: bool):
    data = {"file": SimpleUploadedFile("questions.csv", text.encode(), content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    return client.post("/admin/grader/question/import-csv/", data)


def test_import_reports_each_bad_row_and_writes_nothing(client, owner, other_course_question):
    client.force_login(owner)
    text = HEADER + (
        "ML101,new-one,What is a tensor?,4,A multi-dimensional array.\n"
        f"{other_course_question.course.code},stolen,Not mine?,4,Some answer.\n"
        "ML101,bad key!,Prompt,lots,\n"
    )
    response = _upload(client, text, dry_run=False)
    errors = response.context["result"].errors
    assert set(errors) == {3, 4}
    assert "not one of your courses" in errors[3][0]
    assert any("key" in message for message in errors[4]) and any("max_points" in m for m in errors[4])
    assert any("reference_answer" in message for message in errors[4])
    assert "import-errors" in response.content.decode()
    assert not Question.objects.filter(key="new-one").exists()


def test_import_creates_questions_with_their_references(client, owner, demo_course):
    client.force_login(owner)
    text = HEADER + (
        "ML101,tensor,What is a tensor?,4,A multi-dimensional array.\n"
        'ML101,tensor,What is a tensor?,4,"A generalization of vectors and matrices, e.g. in PyTorch."\n'
    )
    dry = _upload(client, text, dry_run=True)
    assert dry.context["result"].ok and dry.context["result"].created == 1
    assert not Question.objects.filter(key="tensor").exists()
    assert _upload(client, text, dry_run=False).status_code == 302
    question = Question.objects.get(course=demo_course, key="tensor")
    assert question.reference_answers.count() == 2
    _upload(client, text, dry_run=False)  # importing again changes nothing
    assert question.reference_answers.count() == 2


def test_export_writes_auto_and_teacher_grades(client, owner, class_answers):
    client.force_login(owner)
    corrected = class_answers[0]
    corrected.student_ref = "=HYPERLINK(1)"
    corrected.save(update_fields=["student_ref"])
    correction_create(submission=corrected, teacher=owner, points=corrected.points)
    response = client.post("/admin/grader/submission/", {
        "action": "export_grades_csv", "_selected_action": [s.pk for s in class_answers], "index": "0",
    })  # fmt: skip
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {int(row["submission"]) for row in rows} == {s.pk for s in class_answers}
    by_id = {int(row["submission"]): row for row in rows}
    row = by_id[corrected.pk]
    assert row["student_ref"] == "'=HYPERLINK(1)"
    assert row["teacher_points"] == str(corrected.points) and row["corrected_by"] == "ada"
    other = by_id[class_answers[1].pk]
    assert other["teacher_points"] == "" and other["final_points"] == other["auto_points"] != ""


def test_export_leaves_final_points_empty_while_a_grade_awaits_review(client, owner, class_answers):
    client.force_login(owner)
    flagged = class_answers[2]
    Submission.objects.filter(pk=flagged.pk).update(status=Submission.Status.NEEDS_REVIEW)
    response = client.post("/admin/grader/submission/", {
        "action": "export_grades_csv", "_selected_action": [flagged.pk], "index": "0",
    })  # fmt: skip
    [row] = csv.DictReader(io.StringIO(response.content.decode()))
    assert (row["status"], row["final_points"], row["auto_points"]) == ("needs_review", "", str(flagged.points))
