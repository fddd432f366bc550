"""Word-level views of answers shared by the calibration features and the adversarial guards. Pure Python."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

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


# Words that deny the clause they stand in, besides NEGATIONS: "refuses to give aid" says the opposite of "gives".
DENIALS = frozenset("refuse refuses refused lack lacks lacking unable neither".split())
# "fails to rise" denies the rising; "fails on new data" states a failure, it denies nothing.
FAILS = frozenset("fail fails failed failing".split())
# A clause opened by one of these states a condition, not a claim: "when the class has no constructor" agrees with
# "if a constructor is defined ..." as often as it denies it.
CONDITIONS = frozenset("if when whenever unless once".split())
# Opposite directions, by stem: a pair shares a name and differs in sign. "falls" against a reference's "rises"
# denies it as surely as "does not rise". Written by hand, for the directions answers about science, economics
# and history turn on; a word missing here is simply not checked.
_OPPOSITE_WORDS = {
    "rise": ("rise", 1), "increas": ("rise", 1), "grow": ("rise", 1), "gain": ("rise", 1), "expand": ("rise", 1),
    "fall": ("rise", -1), "decreas": ("rise", -1), "drop": ("rise", -1), "declin": ("rise", -1),
    "reduc": ("rise", -1), "shrink": ("rise", -1), "lose": ("rise", -1), "loss": ("rise", -1), "contract": ("rise", -1),
    "more": ("more", 1), "greater": ("more", 1), "less": ("more", -1), "fewer": ("more", -1),
    "higher": ("high", 1), "high": ("high", 1), "lower": ("high", -1), "low": ("high", -1),
    "faster": ("fast", 1), "fast": ("fast", 1), "quick": ("fast", 1), "quicker": ("fast", 1), "speed": ("fast", 1),
    "slower": ("fast", -1), "slow": ("fast", -1),
    "larger": ("large", 1), "bigger": ("large", 1), "large": ("large", 1), "big": ("large", 1),
    "smaller": ("large", -1), "small": ("large", -1),
    "denser": ("more", 1), "heavier": ("heavy", 1), "heavy": ("heavy", 1), "lighter": ("heavy", -1),
    "warmer": ("warm", 1), "hotter": ("warm", 1), "warm": ("warm", 1), "heat": ("warm", 1), "hot": ("warm", 1),
    "colder": ("warm", -1), "cooler": ("warm", -1), "cold": ("warm", -1), "cool": ("warm", -1),
    "releas": ("give", 1), "emit": ("give", 1), "give": ("give", 1), "produc": ("give", 1),
    "absorb": ("give", -1), "tak": ("give", -1), "take": ("give", -1), "consum": ("give", -1),
    "strong": ("strong", 1), "stronger": ("strong", 1), "weak": ("strong", -1), "weaker": ("strong", -1),
    "same": ("same", 1), "ident": ("same", 1), "differ": ("same", -1), "different": ("same", -1),
    "permanent": ("lasting", 1), "non-volatil": ("lasting", 1), "temporar": ("lasting", -1), "volatil": ("lasting", -1),
    "attract": ("attract", 1), "repel": ("attract", -1),
    "acid": ("acid", 1), "acidic": ("acid", 1), "alkalin": ("acid", -1), "basic": ("acid", -1),
    "surviv": ("surviv", 1), "die": ("surviv", -1), "dies": ("surviv", -1),
    "common": ("common", 1), "rare": ("common", -1), "rarer": ("common", -1),
    "win": ("win", 1), "won": ("win", 1), "defeat": ("win", -1), "lost": ("win", -1),
}  # fmt: skip
_CLAUSE_BREAK = re.compile(
    r"[;:.!?()]|\b(?:but|because|so|while|whereas|although|though|which|however|therefore|thus|since|then)\b"
)
# A condition word opens a clause of its own, except after a copula: "overfitting is when ..." defines, it does not
# set a condition.
_CONDITION_START = re.compile(
    r"(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bnot )(?<!'s )(?=\b(?:if|when|whenever|unless|once)\b)"
)
_SENTENCE_END = re.compile(r"[.!?;]+(?:\s|$)")
_WHOLE_DENIAL = re.compile(r"\b(?:not true|not the case|untrue|false|wrong)\s+that\b")
_SUFFIXES = ("ingly", "edly", "ies", "ing", "ied", "ed", "es", "ly", "s", "e")


def _opposites() -> dict[str, tuple[str, int]]:
    table = {stem(word): direction for word, direction in _OPPOSITE_WORDS.items()}
    table.update(_OPPOSITE_WORDS)
    return table


def stem(word: str) -> str:
    """A crude stem that makes a word's inflections meet ("rises", "rising" and "rise" → "ris")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Clause:
    """One clause of a text: its content stems, the directions it states (name → sign), whether it is denied, and
    whether it is a condition rather than a claim."""

    topics: frozenset[str]
    directions: dict[str, int]
    denied: bool
    condition: bool = False

    def without(self, topics: set[str]) -> Clause:
        return Clause(self.topics - topics, self.directions, self.denied, self.condition)


def clauses(text: str) -> list[Clause]:
    """The text split at punctuation and conjunctions; "without" opens a denied clause of its own ("speeds it up
    without being used up": the using up is denied, the speeding up is not). "It is not true that ..." denies
    every clause of its sentence after it."""
    parts = []
    for sentence in _SENTENCE_END.split(text.lower()):
        denied_sentence = False
        for part in (piece for chunk in _CLAUSE_BREAK.split(sentence) for piece in _CONDITION_START.split(chunk)):
            pieces = re.split(r"\bwithout\b", part)
            parts.append((pieces[0], denied_sentence))
            parts += [(piece, not denied_sentence) for piece in pieces[1:]]
            denied_sentence = denied_sentence or bool(_WHOLE_DENIAL.search(part))
    result = []
    for part, flipped in parts:
        tokens = words(part)
        if not tokens:
            continue
        denials = 0
        topics, directions = set(), {}
        for position, word in enumerate(tokens):
            following = tokens[position + 1] if position + 1 < len(tokens) else ""
            if word in NEGATIONS or word.endswith("n't") or word in DENIALS or (word in FAILS and following == "to"):
                denials += 1
                continue
            if word in STOPWORDS:
                continue
            direction = OPPOSITES.get(word) or OPPOSITES.get(stem(word))
            if direction is not None:
                # A denial turns the directions after it ("doesn't make it faster"), not those before ("faster, not
                # used up").
                directions[direction[0]] = direction[1] * (-1 if denials else 1) * (-1 if flipped else 1)
            else:
                topics.add(stem(word))
        # Any denial denies the clause: "doesn't need light and doesn't make glucose" denies twice, not zero times.
        denied = (denials > 0) != flipped
        result.append(Clause(frozenset(topics), directions, denied, condition=tokens[0] in CONDITIONS))
    return result


OPPOSITES = _opposites()
