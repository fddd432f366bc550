"""Opening a submission in the admin reads: no row is written, and the web process keeps the model it grades with."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from grader.models import AnswerEmbedding, ModelVersion, ReferenceEmbedding, Submission
from grader.scoring.model import loaded_model
from grader.services.grading_models import model_for_active_version

WRITES = ("INSERT", "UPDATE", "DELETE")


def test_every_admin_page_of_a_submission_writes_nothing_and_keeps_the_loaded_model(
    client, owner, class_answers, base_model_version
):
    # Graded by an older version whose files are still here: its explanation needs that version, not the active one.
    older = ModelVersion.objects.create(
        name="older", artifact_path=base_model_version.artifact_path, sha256=base_model_version.sha256,
        status=ModelVersion.Status.RETIRED,
    )  # fmt: skip
    submission = class_answers[0]
    Submission.objects.filter(pk=submission.pk).update(model_version=older)
    _, active_model = model_for_active_version()  # what the web process has loaded for grouping and similar answers
    client.force_login(owner)
    pages = [
        f"/admin/grader/submission/{submission.pk}/change/",
        f"/admin/grader/submission/{submission.pk}/history/",
        f"/admin/grader/submission/{submission.pk}/similar/",
        f"/admin/grader/submission/groups/{submission.question_id}/",
        f"/admin/grader/submission/review/{submission.pk}/?question={submission.question_id}",
        "/admin/",
    ]
    embeddings_before = (AnswerEmbedding.objects.count(), ReferenceEmbedding.objects.count())

    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        assert response.status_code == 200, page
        writes = [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith(WRITES)]
        assert writes == [], page
        assert loaded_model() is active_model, page

    explanation = client.get(pages[0]).context["explanation"]
    assert explanation.model_version == older  # explained with the version that graded it
    assert (AnswerEmbedding.objects.count(), ReferenceEmbedding.objects.count()) == embeddings_before
    assert not AnswerEmbedding.objects.filter(model_version=older).exists()
