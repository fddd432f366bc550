"""Answers built to fool a similarity grader, generated from a data set's questions and reference answers."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from grader.scoring.text import content_words
from training.dataset import Pair

KINDS = ("negated_reference", "question_copy", "keyword_salad", "blank", "whitespace", "off_topic_padding")

# Text about nothing a course would ask; padding must not buy points whatever the subject.
OFF_TOPIC = (
    "The weather was lovely last weekend, so we went hiking in the hills and had a picnic by the lake.",
    "My favourite recipe is a slow-cooked tomato sauce with garlic, basil and a little olive oil.",
    "The football match ended in a draw after both teams scored twice in the second half.",
    "Cats sleep for most of the day and like to sit in warm sunny spots near the window.",
    "The museum has a new exhibition of paintings from the nineteenth century and it is very popular.",
    "We are planning a trip to the seaside next summer and hope to rent a small house near the beach.",
)

SALAD_MIN_WORDS = 4

_AUXILIARY = re.compile(
    r"\b(is|are|was|were|can|will|does|do|did|has|have|had|should|must|may|would|could)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class AdversarialCase:
    kind: str
    question_id: str
    question: str
    reference: str
    answer: str


def negate(sentence: str) -> str:
    """Flip the claim: "X is Y" → "X is not Y"; without an auxiliary verb, "It is not true that X"."""
    match = _AUXILIARY.search(sentence)
    if match:
        return f"{sentence[: match.end()]} not{sentence[match.end() :]}"
    if not sentence:
        return sentence
    return f"It is not true that {sentence[0].lower()}{sentence[1:]}"


def keyword_salad(reference: str, *, rng: random.Random) -> str | None:
    """The reference's content words shuffled; None when the reference is too short for a salad to differ from it."""
    keywords = content_words(reference)
    if len(set(keywords)) < SALAD_MIN_WORDS:
        return None
    shuffled = list(keywords)
    while shuffled == keywords:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def off_topic_padding(question: str, *, rng: random.Random) -> str:
    return " ".join([question, *rng.sample(OFF_TOPIC, 3)])


def generate(questions: dict[str, tuple[str, str]], *, seed: int = 0) -> list[AdversarialCase]:
    """One case of each kind per question. ``questions``: question_id → (question, reference answer)."""
    rng = random.Random(seed)
    cases: list[AdversarialCase] = []
    for question_id, (question, reference) in sorted(questions.items()):
        answers: dict[str, str | None] = {
            "negated_reference": negate(reference),
            "question_copy": question,
            "keyword_salad": keyword_salad(reference, rng=rng),
            "blank": "",
            "whitespace": "  \n\t ",
            "off_topic_padding": off_topic_padding(question, rng=rng),
        }
        cases.extend(
            AdversarialCase(kind, question_id, question, reference, answer)
            for kind in KINDS
            if (answer := answers[kind]) is not None
        )
    return cases


def hard_negative_pairs(questions: dict[str, tuple[str, str]]) -> list[Pair]:
    """Training pairs that teach the model what the guards catch: the reference negated and the question copied
    as the answer, each worth nothing against the reference. ``questions``: question_id → (question, reference)."""
    pairs = []
    for question_id, (question, reference) in sorted(questions.items()):
        for answer in (negate(reference), question):
            if answer.strip() and answer.strip() != reference.strip():
                pairs.append(Pair(answer, reference, 0.0, question=question_id))
    return pairs
