"""Fuzzing (hypothesis) of the API's bodies and query parameters and of the admin's GET and POST parameters with
deep nesting, extreme numbers, odd Unicode digits and NUL bytes: every answer is below 500.

Bounded and seeded, so that it takes seconds and a failure reproduces; hypothesis prints the failing input.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from grader.models import IntegrationScope, Submission
from grader.services.integrations import integration_create
from tests.api.conftest import bearer

FUZZ = settings(
    max_examples=15,  # per path: a few seconds in all
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# Numbers as they appear in JSON text: beyond a float, beyond a bigint, tiny, signed zero, not numbers at all.
RAW_NUMBERS = [
    "1e309", "-1e309", "1E400", "1e-400", "-0", "0.0", "99999999999999999999999999", "9223372036854775808",
    "-9223372036854775809", "2147483648", "NaN", "Infinity", "-Infinity", "1.5", "0", "-1",
]  # fmt: skip
# Strings that trip parsers: Unicode digits (str.isdigit accepts them, int() does not), NUL bytes, surrogates.
ODD_TEXT = [
    "\u00b2", "\u0661", "\U0001d7cf", "\u216b", "\u00b9\u00b2", "\x00", "a\x00b", "\ud800", "", " ", "0x10",
    "1_000", "NaN", "sNaN", "Infinity", "-Infinity", "1e309", "9" * 40, "-1", "\u202e", "%00", "../", "'\"<>",
]  # fmt: skip
FIELDS = [
    "question", "student_ref", "answer", "external_id", "submissions", "url", "events", "code", "name", "course",
    "key", "prompt", "max_points", "reference_answers", "points", "comment", "teacher",
]  # fmt: skip

odd_text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=12))
# What a form can carry: the test client encodes fields as UTF-8, which has no lone surrogates.
form_text = odd_text.filter(lambda text: not any("\ud800" <= char <= "\udfff" for char in text))
raw_leaf = st.one_of(
    st.sampled_from(RAW_NUMBERS),
    st.integers().map(str),
    odd_text.map(json.dumps),  # json.dumps escapes NULs and lone surrogates as \u0000, \ud800
    st.sampled_from(["true", "false", "null"]),
)
raw_value = st.one_of(
    st.recursive(
        raw_leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
            st.dictionaries(st.sampled_from(FIELDS), children, max_size=3).map(
                lambda items: "{" + ",".join(f'"{key}":{value}' for key, value in items.items()) + "}"
            ),
        ),
        max_leaves=6,
    ),
    st.one_of(st.integers(20, 1500), st.sampled_from([999, 1000, 3000])).map(lambda depth: "[" * depth + "]" * depth),
)


def _object(items: dict[str, str]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in items.items()) + "}"


# Valid bodies of each endpoint (as JSON text); the fuzzer replaces some of their fields with hostile values, so
# that a request gets past the fields it does not touch.
SUBMISSION = {"question": "{question}", "student_ref": '"s"', "answer": '"It lowers the loss."'}
VALID_BODIES = {
    "/api/v1/submissions/": SUBMISSION,
    "/api/v1/submissions/bulk/": {"submissions": "[" + _object(SUBMISSION) + "]"},
    "/api/v1/courses/": {"code": '"fuzz-course"', "name": '"Fuzz"'},
    "/api/v1/questions/": {
        "course": "{course}",
        "key": '"fuzz-q"',
        "prompt": '"Why?"',
        "max_points": '"2"',
        "reference_answers": '["r"]',
    },
    "/api/v1/webhooks/": {"url": '"https://lms.example/hook"', "events": '["submission.graded"]'},
    "/api/v1/submissions/{submission}/corrections/": {"points": '"2"', "comment": '"ok"', "teacher": '"ada"'},
    "/api/v1/courses/{course}/archive/": {},
}


def mutated(valid: dict[str, str]) -> st.SearchStrategy[str]:
    replacements = st.dictionaries(st.sampled_from([*valid, *FIELDS]), raw_value, min_size=1, max_size=2)
    return replacements.map(lambda over: _object({**valid, **over}))


def raw_body(path: str) -> st.SearchStrategy[str]:
    valid = VALID_BODIES[path]
    strategies = [mutated(valid), raw_value, st.sampled_from(["", "{", '{"a":', "\x00", "[" * 5000])]
    if path.endswith("/bulk/"):
        strategies.append(mutated(SUBMISSION).map(lambda item: '{"submissions": [' + item + "]}"))
    return st.one_of(strategies)


query = st.dictionaries(st.sampled_from(["course", "question", "status", "student", "updated_since", "page",
                                          "page_size", "include_archived", "format", "o", "p", "q"]),
                        odd_text, max_size=4)  # fmt: skip

API_GETS = [
    "/api/v1/submissions/", "/api/v1/courses/", "/api/v1/questions/", "/api/v1/webhooks/",
    "/api/v1/model-versions/", "/api/v1/submissions/{submission}/grade/", "/api/v1/schema/",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _offline_and_unthrottled(settings, monkeypatch):
    # Hundreds of requests: the throttle has its own tests. A fuzzed webhook host is never looked up for real.
    settings.GRADER_API_THROTTLE_RATE = "1000000/min"
    settings.GRADER_LOGIN_FAILURE_RATE = "1000000/min"
    real_getaddrinfo = socket.getaddrinfo

    def offline_getaddrinfo(host, *args, **kwargs):
        if host in ("localhost", "127.0.0.1", "::1"):
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror("no lookups in the fuzz test")

    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo)


@pytest.fixture
def gradebook(demo_course, owned_submission):
    """A token with every scope, so that the corrections endpoint is fuzzed past its permission check."""
    _, token = integration_create(name="gradebook", courses=[demo_course], scopes=[IntegrationScope.CORRECTIONS_WRITE])
    return bearer(token)


def _query_string(params: dict[str, str]) -> str:
    """Percent-encoded UTF-8 bytes, lone surrogates included (a raw client can send any bytes)."""
    return "&".join(f"{quote(key)}={quote(value.encode('utf-8', 'surrogatepass'))}" for key, value in params.items())


def _path(template: str, submission: Submission) -> str:
    ids = {
        "{submission}": submission.pk,
        "{course}": submission.question.course_id,
        "{question}": submission.question_id,
    }
    for name, value in ids.items():
        template = template.replace(name, str(value))
    return template


@pytest.mark.parametrize("path", list(VALID_BODIES))
@seed(27)
@FUZZ
@given(data=st.data(), params=query)
def test_api_bodies_never_give_a_5xx(gradebook, owned_submission, path, data, params):
    body = _path(data.draw(raw_body(path)), owned_submission)
    url = _path(path, owned_submission) + "?" + _query_string(params)
    response = gradebook.generic("POST", url, body.encode("utf-8", "surrogatepass"), content_type="application/json")
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("path", API_GETS)
@seed(27)
@FUZZ
@given(params=query)
def test_api_query_parameters_never_give_a_5xx(gradebook, owned_submission, path, params):
    response = gradebook.get(_path(path, owned_submission) + "?" + _query_string(params))
    assert response.status_code < 500, (response.status_code, response.content[:300])


# --- the admin -----------------------------------------------------------------------------------------------

ADMIN_GETS = [
    "/admin/grader/submission/", "/admin/grader/submission/review/", "/admin/grader/submission/agreement/",
    "/admin/grader/submission/{submission}/similar/", "/admin/grader/submission/groups/{question}/",
    "/admin/grader/question/", "/admin/grader/course/", "/admin/grader/modelversion/",
    "/admin/grader/trainingrun/", "/admin/grader/integration/", "/admin/grader/submission/{submission}/change/",
    "/admin/", "/admin/grader/submission/review/{submission}/", "/admin/grader/submission/review/next/",
]  # fmt: skip
ADMIN_PARAMS = [
    "question", "course", "points", "status", "points_range", "corrected", "model_version__id__exact",
    "question__course__id__exact", "question__id__exact", "archived", "q", "o", "p", "e", "all", "_changelist_filters",
    "_to_field", "_popup",
]  # fmt: skip
admin_query = st.dictionaries(st.sampled_from(ADMIN_PARAMS), odd_text, max_size=4)


@pytest.fixture
def teacher_client(demo_course, owned_submission) -> Client:
    user = get_user_model().objects.create_user("fuzzy", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="grader"))
    demo_course.teachers.add(user)
    client = Client()
    client.force_login(user)
    return client


def _admin_path(template: str, submission: Submission) -> str:
    return template.format(submission=submission.pk, question=submission.question_id)


@pytest.mark.parametrize("path", ADMIN_GETS)
@seed(27)
@FUZZ
@given(params=admin_query)
def test_admin_query_parameters_never_give_a_5xx(teacher_client, owned_submission, path, params):
    response = teacher_client.get(_admin_path(path, owned_submission) + "?" + _query_string(params))
    assert response.status_code < 500, (response.status_code, response.content[:300])


def _list_edit(pk: str, points: str, total: str) -> dict:
    return {
        "form-TOTAL_FORMS": total, "form-INITIAL_FORMS": total, "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000", "form-0-id": pk, "form-0-corrected_points": points, "_save": "Save",
    }  # fmt: skip


admin_posts = st.one_of(
    st.tuples(
        st.just("/admin/grader/submission/groups/{question}/"),
        st.fixed_dictionaries(
            {"submission": st.lists(form_text, max_size=3), "points": form_text, "comment": form_text}
        ),
    ),
    st.tuples(
        st.just("/admin/grader/submission/groups/{question}/"),
        st.fixed_dictionaries({"submission": st.lists(form_text, max_size=3), "accept": form_text}),
    ),
    st.tuples(st.just("/admin/grader/submission/groups/{question}/undo/"), st.fixed_dictionaries({})),
    st.tuples(
        st.just("/admin/grader/submission/review/{submission}/"),
        st.fixed_dictionaries({"points": form_text, "comment": form_text}),
    ),
    st.tuples(
        st.just("/admin/grader/submission/review/{submission}/"),
        st.fixed_dictionaries({"accept": form_text, "points": form_text}),
    ),
    st.tuples(
        st.just("/admin/grader/submission/{submission}/similar/"),
        st.fixed_dictionaries({"submission": st.lists(form_text, max_size=3), "points": form_text}),
    ),
    st.tuples(
        st.just("/admin/grader/submission/"),
        st.builds(_list_edit, form_text, form_text, st.sampled_from(["1", "0", "\u00b2", "-1", "1001", "x"])),
    ),
    st.tuples(
        st.sampled_from(["/admin/grader/submission/", "/admin/grader/modelversion/", "/admin/grader/question/"]),
        st.fixed_dictionaries(
            {
                "action": st.sampled_from(["confirm_auto_grades", "export_grades_csv", "activate", "delete_selected"])
                | form_text,
                "_selected_action": st.lists(form_text, max_size=3),
                "select_across": st.sampled_from(["0", "1", "\u00b2"]),
                "index": form_text,
            }
        ),
    ),
    st.tuples(
        st.just("/admin/grader/submission/{submission}/change/"),
        st.fixed_dictionaries(
            {
                "correct_points": form_text,
                "correction_comment": form_text,
                "corrections-TOTAL_FORMS": st.sampled_from(["0", "\u00b2", "x"]),
                "corrections-INITIAL_FORMS": st.sampled_from(["0", "\u00b2"]),
            }
        ),
    ),
)
csv_cell = st.one_of(odd_text, st.sampled_from(["ML101", "gradient-descent", "4", "k" * 70]))


@seed(27)
@settings(FUZZ, max_examples=60)
@given(post=admin_posts)
def test_admin_forms_never_give_a_5xx(teacher_client, owned_submission, post):
    path, data = post
    response = teacher_client.post(_admin_path(path, owned_submission), data)
    assert response.status_code < 500, (response.status_code, response.content[:300])


@seed(27)
@settings(FUZZ, max_examples=25)
@given(rows=st.lists(st.lists(csv_cell, min_size=0, max_size=6), max_size=4), dry_run=st.booleans())
def test_admin_csv_import_never_gives_a_5xx(teacher_client, rows, dry_run):
    header = "course,key,prompt,max_points,reference_answer\n"
    text = header + "".join(",".join(json.dumps(cell) for cell in row) + "\n" for row in rows)
    data = {"file": SimpleUploadedFile("q.csv", text.encode("utf-8", "surrogatepass"), content_type="text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    response = teacher_client.post("/admin/grader/question/import-csv/", data)
    assert response.status_code < 500, (response.status_code, response.content[:300])
