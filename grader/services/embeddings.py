"""Storing what grading encoded: reference vectors, and answers for the class's consensus and the corrections'
neighbours. Grading itself (grader.scoring) only reads; the workers store through here after a batch."""

from __future__ import annotations

from grader.models import AnswerEmbedding, ModelVersion, ReferenceEmbedding
from grader.scoring.grading import GradedBatch


def graded_batch_embeddings_store(*, batch: GradedBatch, version: ModelVersion) -> None:
    """One INSERT per kind, in key order: two workers inserting the same new texts in different orders each waited
    for the other's first row (PostgreSQL "deadlock detected"), and the batch went back to the queue."""
    references = {
        unsaved.owner_id: unsaved for context in batch.contexts.values() for unsaved in context.unsaved_references
    }
    if references:
        # An upsert: an edited reference replaces its stale vector; two workers' identical writes, the last wins.
        ReferenceEmbedding.objects.bulk_create(
            [
                ReferenceEmbedding(
                    reference_id=reference_id,
                    model_version=version,
                    text_sha256=unsaved.text_hash,
                    vector=unsaved.vector.astype("<f4").tobytes(),
                )
                for reference_id, unsaved in sorted(references.items())
            ],
            update_conflicts=True,
            unique_fields=["reference", "model_version"],
            update_fields=["text_sha256", "vector"],
        )
    answers = {
        (unsaved.owner_id, unsaved.text_hash): unsaved
        for unsaved in [
            *(item for context in batch.contexts.values() for item in context.unsaved_corrected_answers),
            *batch.unsaved_answers,
        ]
    }
    # A row another worker stored meanwhile wins (same text, same version).
    AnswerEmbedding.objects.bulk_create(
        [
            AnswerEmbedding(
                question_id=question_id,
                model_version=version,
                text_sha256=text_hash,
                vector=unsaved.vector.astype("<f4").tobytes(),
                cold_fraction=unsaved.cold_fraction,
            )
            for (question_id, text_hash), unsaved in sorted(answers.items())
            # An answer always carries its cold grade (only a reference's vector has none).
            if unsaved.cold_fraction is not None
        ],
        ignore_conflicts=True,
    )
