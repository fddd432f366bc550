"""Similar answers of a question, grouped from their embeddings, so a teacher can grade a group at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from grader.models import Submission
from grader.services.grading_models import model_for_active_version

# Average cosine distance inside a group; 0.35 keeps paraphrases together and splits answers that say different things.
GROUP_DISTANCE = 0.35


@dataclass(frozen=True)
class AnswerGroup:
    submissions: list[Submission]  # the most typical answer of the group first

    @property
    def points(self) -> set[Decimal | None]:
        return {submission.final_points for submission in self.submissions}


def submission_groups(*, submissions: Sequence[Submission], distance: float = GROUP_DISTANCE) -> list[AnswerGroup]:
    """Agglomerative clustering (average linkage, cosine distance) of the answers with the active model version.

    Largest group first; a lone answer is a group of one.
    """
    submissions = list(submissions)
    if len(submissions) < 2:
        return [AnswerGroup(submissions=submissions)] if submissions else []
    _, model = model_for_active_version()
    vectors = model.encode([submission.answer for submission in submissions])
    # Imported here: scikit-learn (and the pandas it loads) costs every web and worker process ~100 MB otherwise.
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    ).fit_predict(vectors)
    groups = []
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        centroid = vectors[members].mean(axis=0)
        typical_first = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
        groups.append(AnswerGroup(submissions=[submissions[index] for index in typical_first]))
    groups.sort(key=lambda group: (-len(group.submissions), group.submissions[0].pk))
    return groups


@dataclass(frozen=True)
class SimilarSubmission:
    submission: Submission
    similarity: float


def submissions_changed_by_same_decision(
    *,
    submission: Submission,
    points: Decimal,
    candidates: Sequence[Submission],
    limit: int = 10,
    min_similarity: float = 0.7,
) -> list[SimilarSubmission]:
    """ "Fix one, fix many": the answers nearest to ``submission`` whose grade would change if given ``points``."""
    others = [
        candidate
        for candidate in candidates
        if candidate.pk != submission.pk and candidate.final_points != Decimal(points)
    ]
    if not others:
        return []
    _, model = model_for_active_version()
    vectors = model.encode([submission.answer] + [other.answer for other in others])
    similarities = vectors[1:] @ vectors[0]
    order = np.argsort(-similarities, kind="stable")
    return [
        SimilarSubmission(submission=others[index], similarity=float(similarities[index]))
        for index in order[:limit]
        if similarities[index] >= min_similarity
    ]
