"""Training pairs: (student answer, reference answer, label in [0, 1])."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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


def build_training_set(*, corrections: Iterable[Pair], seed_pairs: Iterable[Pair]) -> list[Pair]:
    """Corrections first, then seed pairs; a pair of texts seen twice keeps its first (the teacher's) label.

    Sorted within each group, so the same inputs always give the same dataset and the same hash.
    """
    seen: set[tuple[str, str]] = set()
    dataset: list[Pair] = []
    for group in (sorted(corrections), sorted(seed_pairs)):
        for pair in group:
            key = (pair.sentence_0.strip(), pair.sentence_1.strip())
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
