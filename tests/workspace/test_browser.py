"""In a real browser (Debian's Chromium, headless): a teacher reviews a class; another teacher sees none of it."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from grader.models import Correction, Submission
from grader.workspace.review_text import points_text
from tests.workspace.conftest import PASSWORD

CHROMIUM = os.environ.get("GRADER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; `make test` installs it with apt-get")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.db import connections

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Database connections opened while Playwright's event loop ran live in its context, out of
        # pytest-django's reach: close them here, or the test database cannot be dropped at the end.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """docs/screenshots/ when GRADER_SCREENSHOTS=1 (`make screenshots`), else a temporary folder."""
    if os.environ.get("GRADER_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def _shot(page, directory: Path, name: str) -> None:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path))  # the window as a teacher sees it, VIEWPORT in size
    assert path.read_bytes().startswith(b"\x89PNG")


# The screen the screenshots and the layout checks are made for: a common laptop.
VIEWPORT = {"width": 1366, "height": 768}


def _fits_without_sideways_scrolling(page, selector: str) -> bool:
    """Neither the page nor a box around the element that can scroll sideways (the admin wraps lists in one) is
    wider than what shows."""
    return page.evaluate(
        """selector => {
             for (let box = document.querySelector(selector); box; box = box.parentElement) {
               const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
               if (scrolls && box.scrollWidth > box.clientWidth) return false;
             }
             return document.documentElement.scrollWidth <= window.innerWidth;
           }""",
        selector,
    )


def test_teacher_reviews_a_class_with_the_keyboard(
    transactional_db, live_server, browser, screenshot_dir, owner, class_answers
):
    # One grade the model was unsure of, held back for the teacher: it heads the queue.
    unsure = class_answers[5]
    Submission.objects.filter(pk=unsure.pk).update(
        status=Submission.Status.NEEDS_REVIEW, review_reasons="low_confidence"
    )
    base = live_server.url
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _log_in(page, base, "ada")
    question = class_answers[0].question

    # Home: the course, what waits, one click into the queue.
    assert "gradient-descent" in page.inner_text("#teacher-home")
    _shot(page, screenshot_dir, "home")
    page.click(f"#course-{question.course_id} a.review-next")
    page.wait_for_selector("#review-form")
    first = int(page.url.split("/review/")[1].split("/")[0])
    assert first == unsure.pk and "awaiting review" in page.inner_text("#grade-facts")
    _shot(page, screenshot_dir, "review-answer")

    # A: accept the auto grade, and the next answer opens.
    page.keyboard.press("a")
    page.wait_for_function(f"!window.location.pathname.includes('/review/{first}/')")
    accepted = Correction.objects.get(submission_id=first)
    assert accepted.points == Submission.objects.get(pk=first).points and accepted.teacher == owner
    assert Submission.objects.get(pk=first).status == Submission.Status.GRADED  # released to the LMS
    second = int(page.url.split("/review/")[1].split("/")[0])

    # A digit types points; Enter saves them and opens the next answer.
    page.keyboard.press("1")
    assert page.evaluate("document.activeElement.id") == "id_points"
    page.keyboard.press("Enter")
    page.wait_for_function(f"!window.location.pathname.includes('/review/{second}/')")
    assert Correction.objects.get(submission_id=second).points == Decimal("1")
    third = int(page.url.split("/review/")[1].split("/")[0])

    # N and B move through the queue without grading.
    page.keyboard.press("n")
    page.wait_for_function(f"!window.location.pathname.includes('/review/{third}/')")
    page.keyboard.press("b")
    page.wait_for_function(f"window.location.pathname.includes('/review/{third}/')")
    assert not Correction.objects.filter(submission_id=third).exists()

    # P focuses the points; Escape leaves the field, so letters are shortcuts again.
    page.keyboard.press("p")
    assert page.evaluate("document.activeElement.id") == "id_points"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") != "id_points"
    context.close()


def test_teacher_reviews_a_class_in_the_browser(
    transactional_db, live_server, browser, screenshot_dir, owner, stranger, class_answers, foreign_answers
):
    base = live_server.url
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _log_in(page, base, "ada")

    # The review queue: per question, then the question's answers least sure first.
    page.goto(f"{base}/admin/grader/submission/review/")
    assert "gradient-descent" in page.inner_text("#review-queue")
    _shot(page, screenshot_dir, "review-queue")
    page.click("#review-queue a.queue-link >> nth=0")
    page.wait_for_selector("#result_list")
    _shot(page, screenshot_dir, "submission-list")
    # The answer, the grades and the editable teacher's points fit on a laptop screen.
    assert _fits_without_sideways_scrolling(page, "#result_list")

    # Correct a grade in one step from the list.
    vague = class_answers[5]
    row = page.locator("#result_list tr", has_text=vague.student_ref)
    row.locator("input[name$='-corrected_points']").fill("1")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    assert Correction.objects.get(submission=vague).points == Decimal("1")
    page.goto(f"{base}/admin/grader/submission/?corrected=yes")
    corrected_row = page.locator("#result_list tr", has_text=vague.student_ref)
    assert corrected_row.locator("input[name$='-corrected_points']").input_value() == "1.00"
    assert "ada" in corrected_row.inner_text()  # who corrected it, beside the auto grade
    assert points_text(vague.points, vague.question.max_points) in corrected_row.inner_text()

    # Correct one on its page, then fix the answers like it.
    first = class_answers[0]
    page.goto(f"{base}/admin/grader/submission/{first.pk}/change/")
    page.wait_for_selector("#explanation")
    assert "best match" in page.inner_text("#explanation")
    _shot(page, screenshot_dir, "submission-detail")
    page.fill("#id_correct_points", "4")
    page.fill("#id_correction_comment", "Does not say what it is used for.")
    page.click("input[name=_save]")
    page.wait_for_url("**/similar/**")
    _shot(page, screenshot_dir, "fix-one-fix-many")
    offered = {int(value) for value in page.locator("#similar-answers input[name=submission]").evaluate_all(
        "boxes => boxes.map(box => box.value)")}  # fmt: skip
    paraphrases = {s.pk for s in class_answers[1:3]}
    assert offered >= paraphrases and not offered & {s.pk for s in class_answers[3:5]}
    page.click("#similar-answers input[type=submit]")
    page.wait_for_url(f"**/submission/{first.pk}/change/")
    changed = Submission.objects.filter(pk__in=offered | {first.pk}).values_list("corrected_points", flat=True)
    assert set(changed) == {Decimal("4")}

    # Grade a whole group: the off-topic answers get nothing; then undo it.
    page.goto(f"{base}/admin/grader/submission/groups/{first.question_id}/")
    off_topic = page.locator("tbody.answer-group", has_text=class_answers[3].answer)
    _shot(page, screenshot_dir, "answer-groups")
    assert _fits_without_sideways_scrolling(page, "#answer-groups")
    off_topic_ids = {int(v) for v in off_topic.locator("input[name=submission]").evaluate_all(
        "boxes => boxes.map(box => box.value)")}  # fmt: skip
    off_topic.locator("input[name=points]").fill("0")
    off_topic.locator("input[name=comment]").fill("Wrong topic.")
    off_topic.locator("button.grade-group").click()
    page.wait_for_selector("#undo-form")
    saved = page.locator("tbody.answer-group", has_text=class_answers[3].answer).locator("td.teacher-points")
    assert set(saved.all_inner_texts()) == {points_text(Decimal("0"), first.question.max_points)}
    graded = Submission.objects.filter(pk__in=off_topic_ids).values_list("corrected_points", flat=True)
    assert set(graded) == {Decimal("0")} and {s.pk for s in class_answers[3:5]} <= off_topic_ids
    page.click("#undo-form button")
    page.wait_for_selector(".messagelist .success")
    assert not page.locator("#undo-form").count()
    assert not Correction.objects.filter(comment="Wrong topic.").exists()

    # Agreement: separate, labelled charts, all real images.
    page.goto(f"{base}/admin/grader/submission/agreement/?question={first.question_id}")
    for chart in ["#scatter-plot", "#trend-pearson", "#trend-error", "#trend-agreement"]:
        page.wait_for_function(f"document.querySelector('{chart}').naturalWidth > 0")
    _shot(page, screenshot_dir, "agreement")
    page.goto(f"{base}/admin/grader/question/import-csv/")
    _shot(page, screenshot_dir, "import-questions")
    context.close()

    # Another teacher: their own course only; the first teacher's course is not reachable by URL either.
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    _log_in(page, base, "linus")
    assert "ML101" not in page.inner_text("#content")
    page.goto(f"{base}/admin/grader/submission/")
    listing = page.inner_text("#content")
    their_code = foreign_answers[0].question.course.code
    assert their_code in listing and "ML101" not in listing and "gradient-descent" not in listing
    _shot(page, screenshot_dir, "other-teacher")
    page.goto(f"{base}/admin/grader/submission/{first.pk}/change/")
    assert "Perhaps it was deleted?" in page.inner_text(".messagelist")
    page.goto(f"{base}/admin/grader/submission/review/{first.pk}/")
    assert page.locator("#review-form").count() == 0
    context.close()
