"""The signals computed from an answer's vectors (grader.scoring.signals), as plain functions."""

import numpy as np
import pytest

from grader.scoring.signals import demoted_similarity


def test_the_demoted_similarity_is_the_cosine_once_the_question_is_taken_out_of_both_vectors():
    rng = np.random.default_rng(3)
    question, answer, *references = (v / np.linalg.norm(v) for v in rng.normal(size=(4, 16)))

    def demoted_by_projection(a, r):
        a, r = a - (a @ question) * question, r - (r @ question) * question
        return float(a @ r / (np.linalg.norm(a) * np.linalg.norm(r)))

    value = demoted_similarity(
        np.array([answer @ r for r in references]),
        float(answer @ question),
        np.array([r @ question for r in references]),
    )
    assert value == pytest.approx(max(demoted_by_projection(answer, r) for r in references))
    # An answer that only restates the question keeps nothing once the question is taken out.
    assert demoted_similarity(np.array([question @ references[0]]), 1.0, np.array([question @ references[0]])) == 0.0
