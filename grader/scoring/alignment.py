"""How much of the reference an answer covers, token by token, in the model's own contextual token vectors.

Pure numpy. The sentence vector is a mean over all tokens, so an answer that states one key idea of three well
and pads the rest can sit as close to the reference as one that states all three. Alignment looks at each key
token of the reference (wordpieces that carry content and that the question does not already give away) and asks
how well the answer's best-matching token matches it, in context; the mean over the reference's key tokens is
the answer's coverage (BERTScore's recall, with Mohler's question demoting). It costs no extra encode: the token
vectors are what the model computes before pooling. The same token vectors say which teacher-graded answers an
answer agrees with (answer_agreement), for the feedback stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from grader.scoring.text import NEGATIONS, STOPWORDS

_ALPHANUMERIC = re.compile(r"[a-z0-9]", re.IGNORECASE)


@dataclass(frozen=True)
class Tokens:
    """One text's tokens without the model's special tokens: their ids, unit vectors and whether each carries
    content (see content_token_ids)."""

    ids: np.ndarray  # shape (n,), int
    vectors: np.ndarray  # shape (n, dim), float32, L2-normalized rows
    content: np.ndarray  # shape (n,), bool

    @classmethod
    def build(cls, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, content_table: np.ndarray) -> Tokens:
        """``vectors``: one row per id, any norm; ``content_table``: content_token_table of the model's vocabulary."""
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        ids_array = np.asarray(ids, dtype=np.int64)
        return cls(ids=ids_array, vectors=vectors / norms, content=content_table[ids_array])

    def __len__(self) -> int:
        return len(self.ids)


def content_token_table(vocabulary: Mapping[str, int]) -> np.ndarray:
    """Indexed by token id: True for the wordpieces that can carry content, with a letter or digit, not a function
    word or a negation, not a special token ([CLS], [unused3]...). Word continuations (##ing) count: they are part
    of a content word. A table, because a lookup per token must cost nothing on the grading path."""
    table = np.zeros(max(vocabulary.values(), default=-1) + 1, dtype=bool)
    for piece, token_id in vocabulary.items():
        if piece.startswith("[") and piece.endswith("]"):
            continue
        word = piece.removeprefix("##").lower()
        table[token_id] = bool(_ALPHANUMERIC.search(word)) and word not in STOPWORDS and word not in NEGATIONS
    return table


def reference_alignment(answer: Tokens, references: Sequence[Tokens], question_ids: Sequence[int]) -> float:
    """The best reference's mean, over its key tokens, of the cosine to the answer's closest token.

    Key tokens carry content and are not among the question's tokens (an answer earns nothing for a word the
    question hands it). A reference with no key token counts all of its tokens. 0 for an empty answer.
    """
    if len(answer) == 0:
        return 0.0
    question = np.asarray(list(question_ids), dtype=np.int64)
    best = 0.0
    for reference in references:
        if len(reference) == 0:
            continue
        closest = (reference.vectors @ answer.vectors.T).max(axis=1)
        key = reference.content & ~np.isin(reference.ids, question)
        best = max(best, float(closest[key].mean() if key.any() else closest.mean()))
    return float(np.clip(best, -1.0, 1.0))


def answer_agreement(answer: Tokens, other: Tokens) -> float:
    """How much two answers say the same things: each one's content tokens matched in the other, both ways,
    averaged (BERTScore's F1, with arithmetic means). Weighs a teacher-graded answer as a neighbour: two answers
    that state the same ideas agree whatever else they pad with. 0 when either is empty."""
    if len(answer) == 0 or len(other) == 0:
        return 0.0
    similarities = answer.vectors @ other.vectors.T
    answer_side = answer.content if answer.content.any() else np.ones(len(answer), dtype=bool)
    other_side = other.content if other.content.any() else np.ones(len(other), dtype=bool)
    forward = similarities.max(axis=1)[answer_side].mean()
    backward = similarities.max(axis=0)[other_side].mean()
    return float(np.clip(0.5 * (forward + backward), -1.0, 1.0))
