"""Hostile query parameters, form fields and CSV files in the teacher's workspace: a 4xx or a form error, never a
500, and nothing written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grader.models import Correction, Question

HEADER = "course,key,prompt,max_points,reference_answer\n"
UNICODE_DIGITS = ["\u00b2", "\u0661", "\U0001d7cf", "\u00b9\u00b2", "\u216b"]  # ², Arabic-Indic 1, bold 1, ¹², Ⅻ


@pytest.fixture
def teacher_client(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
@pytest.mark.parametrize(
    "url",
    [
        "/admin/grader/submission/agreement/?question={}",
        "/admin/grader/submission/agreement/?course={}",
        "/admin/grader/submission/agreement/scatter.png?question={}",
        "/admin/grader/submission/agreement/trend.png?course={}",
    ],
)
def test_unicode_digits_in_agreement_parameters_are_not_found(teacher_client, demo_course, url, digit):
    assert teacher_client.get(url.format(digit)).status_code == 404


def test_unicode_digits_as_the_submissions_of_a_group_grade_choose_nothing(teacher_client, class_answers):
    question = class_answers[0].question
    response = teacher_client.post(
        f"/admin/grader/submission/groups/{question.pk}/", {"submission": ["\u00b2", "\u0661"], "points": "1"}
    )
    assert response.status_code == 200  # the page again, with nothing chosen
    assert not Correction.objects.exists()


@pytest.mark.parametrize("points", ["NaN", "sNaN", "Infinity", "-Infinity", "-1", "1e999", "99999", "0x10", "²"])
def test_fix_one_fix_many_refuses_points_no_teacher_could_give(teacher_client, class_answers, points):
    response = teacher_client.get(f"/admin/grader/submission/{class_answers[0].pk}/similar/", {"points": points})
    assert response.status_code == 404


# Another course's row is refused outright (400); an id that matches no row gets the list again (200).
@pytest.mark.parametrize(("row_id", "status"), [("foreign", 400), ("999999", 200)])
def test_the_list_refuses_a_correction_of_a_row_that_is_not_listed(
    teacher_client, class_answers, foreign_answers, row_id, status
):
    target = foreign_answers[0].pk if row_id == "foreign" else int(row_id)
    response = teacher_client.post(
        "/admin/grader/submission/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(target),
            "form-0-corrected_points": "1",
            "_save": "Save",
        },
    )
    assert response.status_code == status
    assert not Correction.objects.exists()


def _upload(client, content: bytes, *, dry_run: bool):
    data = {"file": SimpleUploadedFile("questions.csv", content, content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    return client.post("/admin/grader/question/import-csv/", data)


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ML101," + "k" * 65 + ",Prompt?,4,An answer.\n", "key is longer than 64"),
        ("ML101,big,Prompt?,4," + "x" * (128 * 1024 + 1) + "\n", "longer than 128 KiB"),
        ("ML101,nul,Prompt\x00?,4,An answer.\n", "NUL"),
        ("ML101,long-prompt," + "p" * 5001 + ",4,An answer.\n", "prompt is longer than 5000"),
        ("ML101,nan-points,Prompt?,NaN,An answer.\n", "max_points"),
        ("ML101,snan-points,Prompt?,sNaN,An answer.\n", "max_points"),
    ],
)
def test_csv_import_reports_rows_the_database_could_not_store(teacher_client, demo_course, row, message, dry_run):
    questions = Question.objects.count()
    response = _upload(teacher_client, (HEADER + row).encode(), dry_run=dry_run)
    assert response.status_code == 200
    errors = response.context["result"].errors
    assert any(message in text for texts in errors.values() for text in texts), errors
    assert Question.objects.count() == questions


@pytest.mark.parametrize("size", [3 * 1024 * 1024, 2 * 1024 * 1024 + 10 * 1024])
def test_an_oversized_csv_is_refused_before_it_is_read_whole(teacher_client, demo_course, monkeypatch, size):
    from django.core.files import uploadhandler

    stored = []
    for handler in (uploadhandler.MemoryFileUploadHandler, uploadhandler.TemporaryFileUploadHandler):
        real = handler.receive_data_chunk

        def counting(self, raw_data, start, real=real):
            stored.append(len(raw_data))
            return real(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    questions = Question.objects.count()
    row = "ML101,big,Prompt?,4,An answer.\n"
    content = (HEADER + row * (size // len(row))).encode()
    response = _upload(teacher_client, content, dry_run=False)
    assert response.status_code == 200
    assert "larger than 2048 KiB" in response.content.decode()
    assert sum(stored) <= 2 * 1024 * 1024
    assert Question.objects.count() == questions


@pytest.mark.parametrize("page", ["submission", "question", "course"])
def test_an_empty_to_field_parameter_is_a_400_on_change_pages(teacher_client, class_answers, page):
    submission = class_answers[0]
    pk = {"submission": submission.pk, "question": submission.question_id, "course": submission.question.course_id}
    url = f"/admin/grader/{page}/{pk[page]}/change/?_to_field="
    assert teacher_client.get(url).status_code == 400
    assert teacher_client.post(url, {"_to_field": ""}).status_code == 400


@pytest.mark.parametrize("selected", ["\u00b2", "abc", "", "1.5", "9" * 30])
@pytest.mark.parametrize("page", ["submission", "question", "course"])
def test_an_action_on_ids_that_are_not_numbers_is_a_400(teacher_client, class_answers, page, selected):
    response = teacher_client.post(
        f"/admin/grader/{page}/", {"action": "delete_selected", "_selected_action": [selected], "index": "0"}
    )
    assert response.status_code == 400


def test_csv_import_refuses_a_course_code_that_names_two_of_the_teachers_courses(teacher_client, owner, demo_course):
    from grader.models import Course

    twin = Course.objects.create(code=demo_course.code, name="Another school's course, same code")
    twin.teachers.add(owner)
    questions = Question.objects.count()
    response = _upload(
        teacher_client, (HEADER + "ML101,tensor,What is a tensor?,4,An array.\n").encode(), dry_run=False
    )
    errors = response.context["result"].errors
    assert any("more than one of your courses" in text for texts in errors.values() for text in texts), errors
    assert Question.objects.count() == questions
