"""Word-level views of answers shared by the calibration features and the adversarial guards. Pure Python."""

from __future__ import annotations

import itertools
import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Function words: they carry grammar, not content. Short on purpose: domain words must stay content.
STOPWORDS = frozenset(
    """a an the of to in on at by for from with into onto about as and or but if then than so that this these
    those it its it's is are was were be been being am do does did done has have had having can could will would
    shall should may might must there their they them he she his her we our you your i me my which who whom whose
    what when where why how all any each both some such only own same very just also too more most other while
    because after before during until up down out over under again further once here s t""".split()
)
NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor cannot can't don't doesn't didn't isn't aren't wasn't weren't "
    "won't wouldn't shouldn't couldn't hasn't haven't hadn't without".split()
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    return [word for word in words(text) if word not in STOPWORDS and word not in NEGATIONS]


def negation_count(text: str) -> int:
    tokens = words(text)
    return sum(1 for word in tokens if word in NEGATIONS or word.endswith("n't"))


def bigrams(tokens: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(tokens))
