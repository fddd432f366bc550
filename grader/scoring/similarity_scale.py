"""A fine-tuned version's similarities, put on the base model's scale before calibration. Pure numpy.

Fine-tuning makes the model rank answers better (Mohler: higher Pearson at every k) but spreads its cosine
similarities differently: every threshold fitted or set on the base model's scale (the calibration file, the
similarity ramp, the guards) then mis-scales its grades. A version therefore carries a quantile map of its
similarity features (to the references, to the question, to the class's consensus, to the references with the
question demoted, the token alignment with the references), fitted when it is trained on answers it did not
train on, encoded by it and by the base model. No grade is used; the map preserves the version's ranking and
takes the base model's spread. docs/BENCHMARKS.md has the measurements.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SCALE_FILE = "similarity_scale.json"
# Feature columns (grader.scoring.features.FEATURE_NAMES); column 3 says whether the consensus is real.
SIMILARITY, QUESTION_SIMILARITY, CONSENSUS, HAS_CONSENSUS, DEMOTED, ALIGNMENT = 0, 1, 2, 3, 7, 8
MAPPED = (SIMILARITY, QUESTION_SIMILARITY, CONSENSUS, DEMOTED, ALIGNMENT)
_NAMES = {
    SIMILARITY: "similarity",
    QUESTION_SIMILARITY: "question_similarity",
    CONSENSUS: "consensus",
    DEMOTED: "demoted_similarity",
    ALIGNMENT: "reference_alignment",
}
# Quantiles kept per feature: enough for a smooth map, small enough for a few-kB JSON beside the model.
KNOTS = 101


class SimilarityScale:
    """Piecewise-linear maps from this version's similarity features to the base model's."""

    def __init__(self, maps: dict[int, tuple[np.ndarray, np.ndarray]], *, answers: int = 0):
        self._maps = maps
        self.answers = answers  # how many answers the map was fitted on

    @classmethod
    def fit(cls, *, source: np.ndarray, target: np.ndarray) -> SimilarityScale:
        """``source``/``target``: feature rows of the same answers from this version and from the base model."""
        maps = {}
        quantiles = np.linspace(0.0, 1.0, KNOTS)
        for column in (column for column in MAPPED if column < source.shape[1]):
            rows = source[:, HAS_CONSENSUS] > 0 if column == CONSENSUS else np.ones(len(source), dtype=bool)
            if rows.sum() >= 2:
                maps[column] = (
                    np.quantile(source[rows, column], quantiles),
                    np.quantile(target[rows, column], quantiles),
                )
        return cls(maps, answers=len(source))

    def value(self, column: int, value: float) -> float:
        if column not in self._maps:
            return value
        source, target = self._maps[column]
        return float(np.interp(value, source, target))

    def similarities(
        self,
        *,
        similarity: float,
        question_similarity: float,
        consensus: float | None,
        demoted: float,
        alignment: float,
    ) -> tuple[float, float, float | None, float, float]:
        return (
            self.value(SIMILARITY, similarity),
            self.value(QUESTION_SIMILARITY, question_similarity),
            None if consensus is None else self.value(CONSENSUS, consensus),
            self.value(DEMOTED, demoted),
            self.value(ALIGNMENT, alignment),
        )

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Feature rows (as ``fit`` takes them) with their similarity columns mapped."""
        mapped = x.copy()
        for column in MAPPED:
            if column in self._maps:
                mapped[:, column] = np.interp(x[:, column], *self._maps[column])
        # Without enough peers the consensus column holds the similarity itself, and follows its map.
        no_consensus = x[:, HAS_CONSENSUS] <= 0
        mapped[no_consensus, CONSENSUS] = mapped[no_consensus, SIMILARITY]
        return mapped

    def to_dict(self) -> dict:
        return {
            "answers": self.answers,
            "maps": {_NAMES[c]: {"from": s.tolist(), "to": t.tolist()} for c, (s, t) in self._maps.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> SimilarityScale:
        # A map written before a column existed leaves that column as the version gives it.
        columns = {name: column for column, name in _NAMES.items()}
        maps = {
            columns[name]: (np.asarray(value["from"], dtype=float), np.asarray(value["to"], dtype=float))
            for name, value in data["maps"].items()
        }
        return cls(maps, answers=int(data.get("answers", 0)))

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / SCALE_FILE
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> SimilarityScale | None:
        """The version's map, or None (the base model, or a version trained before maps existed)."""
        path = Path(model_dir) / SCALE_FILE
        if not path.exists():
            return None
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
