"""Training pairs: (student answer, reference answer, label in [0, 1])."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

# Seed pairs carry no question scale; held-out metrics put them on the demo course's usual 5 points.
DEFAULT_MAX_POINTS = 5.0


@dataclass(frozen=True, order=True)
class Pair:
    sentence_0: str
    sentence_1: str
    label: float
    # Where the pair comes from; not part of its identity (equality, order, dedup, hash).
    question: str = field(default="", compare=False)
    max_points: float = field(default=DEFAULT_MAX_POINTS, compare=False)
    # The question's prompt and all its references, when known: the promotion gate grades the answer as the
    # workers would (grader.scoring.grading); without them, the pair's own reference alone.
    prompt: str = field(default="", compare=False)
    references: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.label <= 1.0:
            raise ValueError(f"label must lie in [0, 1], got {self.label!r}")


def load_pairs_csv(path: str | Path) -> list[Pair]:
    """Pairs from a CSV with the header ``sentence_0,sentence_1,label``."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [Pair(row["sentence_0"], row["sentence_1"], float(row["label"])) for row in csv.DictReader(handle)]


def pair_texts(pair: Pair) -> tuple[str, str]:
    """What makes two pairs the same pair in a dataset: their texts, without surrounding spaces."""
    return pair.sentence_0.strip(), pair.sentence_1.strip()


def pairs_among(pairs: Iterable[Pair], among: Iterable[Pair]) -> list[Pair]:
    """The pairs whose texts are also those of a pair in ``among`` (pair_texts), in their own order."""
    known = {pair_texts(pair) for pair in among}
    return [pair for pair in pairs if pair_texts(pair) in known]


def build_training_set(*, corrections: Iterable[Pair], seed_pairs: Iterable[Pair]) -> list[Pair]:
    """Corrections first, then seed pairs; a pair of texts seen twice keeps its first (the teacher's) label.

    Sorted within each group, so the same inputs always give the same dataset and the same hash.
    """
    seen: set[tuple[str, str]] = set()
    dataset: list[Pair] = []
    for group in (sorted(corrections), sorted(seed_pairs)):
        for pair in group:
            key = pair_texts(pair)
            if key in seen:
                continue
            seen.add(key)
            dataset.append(pair)
    return dataset


def peer_reference_pairs(pairs: Iterable[Pair], *, seed: int) -> list[Pair]:
    """Teacher-confirmed full-credit answers as extra references: one more pair for each graded answer.

    Each answer of a question that has a full-credit answer (label 1.0) other than itself is paired with one of
    them, picked by a hash of (seed, answer), and keeps its own label: a full-credit answer is a correct answer in
    a student's words, so the answer deserves the same credit against it as against the reference. The model
    sees each question's idea in more than the teacher's wording, and wrong answers next to right ones of the
    same question (hard negatives). Pairs without a question are left alone: their reference is all they share.
    """
    by_question: dict[str, list[Pair]] = {}
    for pair in pairs:
        if pair.question:
            by_question.setdefault(pair.question, []).append(pair)
    peers: list[Pair] = []
    for question, group in sorted(by_question.items()):
        full_credit = sorted({_normalized(p.sentence_0): p.sentence_0 for p in group if p.label >= 1.0}.items())
        for pair in group:
            own = _normalized(pair.sentence_0)
            candidates = [text for key, text in full_credit if key != own]
            if not candidates:
                continue
            pick = int(_unit_hash(seed=seed, kind="peer", key=f"{question}:{own}") * len(candidates))
            peers.append(replace(pair, sentence_1=candidates[pick]))
    return peers


def dataset_sha256(pairs: Iterable[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps([pair.sentence_0, pair.sentence_1, round(pair.label, 6)]).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    train: list[Pair]
    held_out: list[Pair]


def _unit_hash(*, seed: int, kind: str, key: str) -> float:
    """A number in [0, 1) fixed by (seed, key): membership never depends on what else is in the dataset."""
    digest = hashlib.sha256(f"{seed}:{kind}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())


def split_held_out(pairs: Iterable[Pair], *, question_fraction: float, answer_fraction: float, seed: int) -> Split:
    """Hold out whole questions (unseen-question agreement) and some answers of the others (unseen answers).

    Membership is a hash of (seed, question) or (seed, answer text), not a shuffle, so a pair stays on its side
    as corrections accumulate: an answer once held out is never trained on later, and successive gates
    compare versions on data none of them saw. A pair without a question is grouped by its reference.
    """
    pairs = list(pairs)
    groups = sorted({pair.question or _normalized(pair.sentence_1) for pair in pairs})
    held_groups = {g for g in groups if _unit_hash(seed=seed, kind="question", key=g) < question_fraction}
    if not held_groups and question_fraction > 0 and len(groups) >= 3:
        # A small dataset may draw no question at all; hold out the one the hash ranks first.
        held_groups = {min(groups, key=lambda g: _unit_hash(seed=seed, kind="question", key=g))}
    train: list[Pair] = []
    held_out: list[Pair] = []
    for pair in pairs:
        group = pair.question or _normalized(pair.sentence_1)
        answer_held = _unit_hash(seed=seed, kind="answer", key=_normalized(pair.sentence_0)) < answer_fraction
        (held_out if group in held_groups or answer_held else train).append(pair)
    return Split(train=train, held_out=held_out)


@dataclass(frozen=True)
class TrainingRecipe:
    """What a retrain starts from and trains on, beyond the hyperparameters. The default is the seed card's recipe:
    the active version fine-tuned on every correction plus the seed pairs, one pair each.

    The other choices exist to be measured against it (the semester replay, ``bench/semester.py``): each is built
    from the training side of the held-out split only, so the gate judges every recipe on the same unseen answers.
    """

    # "active": fine-tune the active version (each promotion builds on the last); "base": fine-tune the packaged
    # model afresh on all the data each time, so repeated epochs on the same seed pairs never accumulate.
    start: str = "active"
    # Each corrected answer also paired with a full-credit answer of its question, keeping its label.
    answer_pairs: bool = False
    # Each corrected answer also paired with the reference of another question of its course, at 0: the course's
    # own vocabulary, on the wrong question, is worth nothing.
    cross_question_pairs: bool = False
    # Each correction pair this many times: the teachers' weight against the seed pairs.
    correction_repeats: int = 1
    seed_pairs: bool = True

    def __post_init__(self) -> None:
        if self.start not in {"active", "base"}:
            raise ValueError(f"a retrain starts from the active version or the base model, not {self.start!r}")
        if self.correction_repeats < 1:
            raise ValueError("correction_repeats must be at least 1")

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """The choices that differ from the default, in words (empty for the default)."""
        default = TrainingRecipe()
        parts = []
        if self.start != default.start:
            parts.append("from the base model")
        if self.answer_pairs:
            parts.append("answer-to-answer pairs")
        if self.cross_question_pairs:
            parts.append("cross-question pairs")
        if self.correction_repeats != 1:
            parts.append(f"each correction {self.correction_repeats} times")
        if not self.seed_pairs:
            parts.append("no seed pairs")
        return ", ".join(parts)


def recipe_training_pairs(
    *, train: list[Pair], corrections: list[Pair], recipe: TrainingRecipe, seed: int
) -> list[Pair]:
    """The training side of the split as the recipe trains on it (the default: ``train`` unchanged).

    ``corrections``: the teacher-graded pairs among ``train``; only they are repeated or paired anew.
    """
    if recipe == TrainingRecipe():
        return train
    taught = pairs_among(train, corrections)
    graded = {pair_texts(pair) for pair in taught}
    others = [pair for pair in train if pair_texts(pair) not in graded]
    pairs = taught * recipe.correction_repeats + (others if recipe.seed_pairs else [])
    if recipe.answer_pairs:
        pairs += peer_reference_pairs(taught, seed=seed)
    if recipe.cross_question_pairs:
        pairs += cross_question_pairs(taught, seed=seed)
    return pairs


def cross_question_pairs(pairs: Iterable[Pair], *, seed: int) -> list[Pair]:
    """Each answer against a reference of another question of the same course (the part of its question key
    before the slash), picked by a hash of (seed, answer), at 0. Answers of a course with one question get none."""
    pairs = [pair for pair in pairs if pair.question]
    references: dict[str, dict[str, set[str]]] = {}
    for pair in pairs:
        course = pair.question.split("/", 1)[0]
        references.setdefault(course, {}).setdefault(pair.question, set()).update(pair.references or (pair.sentence_1,))
    negatives: list[Pair] = []
    for pair in pairs:
        by_question = references[pair.question.split("/", 1)[0]]
        candidates = sorted(
            text for question, texts in by_question.items() if question != pair.question for text in texts
        )
        if not candidates:
            continue
        pick = int(
            _unit_hash(seed=seed, kind="cross", key=f"{pair.question}:{_normalized(pair.sentence_0)}") * len(candidates)
        )
        negatives.append(replace(pair, sentence_1=candidates[pick], label=0.0))
    return negatives
