"""A fine-tuned version's similarities, put on the base model's scale before calibration. Pure numpy.

Fine-tuning makes the model rank answers better (Mohler: higher Pearson at every k) but spreads its cosine
similarities differently: every threshold fitted or set on the base model's scale (the calibration file, the
similarity ramp, the guards) then mis-scales its grades. A version therefore carries a quantile map of its
similarity features (to the references, to the question, to the class's consensus, to the references with the
question demoted, the token alignment with the references), fitted when it is trained on answers it did not
train on, encoded by it and by the base model. No grade is used; the map preserves the version's ranking and
takes the base model's spread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

SCALE_FILE = "similarity_scale.json"
# The signals the map covers, by their feature names (grader.scoring.signals.FEATURE_NAMES).
MAPPED = ("similarity", "question_similarity", "consensus", "demoted_similarity", "reference_alignment")
# Quantiles kept per feature: enough for a smooth map, small enough for a few-kB JSON beside the model.
KNOTS = 101


class SimilarityScale:
    """Piecewise-linear maps from this version's similarity signals to the base model's, by signal name."""

    def __init__(self, maps: dict[str, tuple[np.ndarray, np.ndarray]], *, answers: int = 0):
        self._maps = maps
        self.answers = answers  # how many answers the map was fitted on

    @classmethod
    def fit(cls, *, source: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray]) -> SimilarityScale:
        """``source``/``target``: each signal's values over the same answers, from this version and from the base
        model; NaN where an answer has no value (no consensus yet), left out of that signal's map."""
        maps = {}
        quantiles = np.linspace(0.0, 1.0, KNOTS)
        answers = 0
        for name in MAPPED:
            if name not in source:
                continue
            from_values, to_values = np.asarray(source[name], dtype=float), np.asarray(target[name], dtype=float)
            answers = max(answers, len(from_values))
            rows = ~np.isnan(from_values) & ~np.isnan(to_values)
            if rows.sum() >= 2:
                maps[name] = (np.quantile(from_values[rows], quantiles), np.quantile(to_values[rows], quantiles))
        return cls(maps, answers=answers)

    def value(self, name: str, value: float) -> float:
        if name not in self._maps:
            return value
        source, target = self._maps[name]
        return float(np.interp(value, source, target))

    def to_dict(self) -> dict:
        return {
            "answers": self.answers,
            "maps": {name: {"from": s.tolist(), "to": t.tolist()} for name, (s, t) in self._maps.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> SimilarityScale:
        # A map written before a signal existed leaves that signal as the version gives it.
        maps = {
            name: (np.asarray(value["from"], dtype=float), np.asarray(value["to"], dtype=float))
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
