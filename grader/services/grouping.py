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
# A class's answers in about this many groups at most: more and grading by group saves a teacher little.
GROUPS_PER_QUESTION = 8


def group_min_size(answers: int) -> int:
    """The smallest group worth grading as one for a question with this many answers: 2 for a handful of answers,
    a twelfth for a large class (groups of one save nothing; a hundred answers in sixty groups neither)."""
    return max(2, answers // (GROUPS_PER_QUESTION + 4))


@dataclass(frozen=True)
class AnswerGroup:
    submissions: list[Submission]  # the most typical answer of the group first

    @property
    def points(self) -> set[Decimal | None]:
        return {submission.final_points for submission in self.submissions}


def submission_groups(
    *, submissions: Sequence[Submission], distance: float = GROUP_DISTANCE, min_size: int | None = None
) -> list[AnswerGroup]:
    """Agglomerative clustering (average linkage, cosine distance) of the answers with the active model version,
    then groups smaller than ``min_size`` (default ``group_min_size``) merged into the group nearest to them.

    Largest group first; the most typical answer of a group first, so the odd ones out end up last.
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
    labels = merge_small_groups(
        vectors=vectors, labels=labels, min_size=group_min_size(len(submissions)) if min_size is None else min_size
    )
    groups = []
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        centroid = vectors[members].mean(axis=0)
        typical_first = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
        groups.append(AnswerGroup(submissions=[submissions[index] for index in typical_first]))
    groups.sort(key=lambda group: (-len(group.submissions), group.submissions[0].pk))
    return groups


def merge_small_groups(*, vectors: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Each group below ``min_size``, smallest first, joins the group whose centroid is closest to its own, until
    every group has ``min_size`` members or one group is left. ``vectors`` are normalized embeddings."""
    labels = labels.copy()
    while True:
        names, sizes = np.unique(labels, return_counts=True)
        if len(names) < 2 or sizes.min() >= min_size:
            return labels
        smallest = names[np.argmin(sizes)]
        centroids = {name: _unit(vectors[labels == name].mean(axis=0)) for name in names}
        others = [name for name in names if name != smallest]
        nearest = max(others, key=lambda name: float(centroids[name] @ centroids[smallest]))
        labels[labels == smallest] = nearest


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


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
