"""Training pairs: (student answer, reference answer, label in [0, 1])."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Pair:
    sentence_0: str
    sentence_1: str
    label: float

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


def dataset_sha256(pairs: Iterable[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps([pair.sentence_0, pair.sentence_1, round(pair.label, 6)]).encode("utf-8"))
    return digest.hexdigest()
