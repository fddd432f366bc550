"""The checks that cap a grade or hold it for a teacher (grader.scoring.decision), as plain functions."""

import numpy as np
import pytest

from grader.scoring.decision import check_answer, contradicts
from grader.scoring.signals import FEATURE_NAMES, Signals

QUESTION = "What is a pointer in C++?"
REFERENCE = "A pointer is a variable that holds the memory address of another variable."


@pytest.mark.parametrize(
    "answer",
    [
        "A pointer is a variable that holds the address in memory of some other variable.",
        "It stores the address where another value lives in memory.",
        "main",
        "A variable holding an address. It is not the value itself, just where it is.",
    ],
)
def test_guards_leave_genuine_answers_alone(answer):
    result = check_answer(answer=answer, question=QUESTION, references=[REFERENCE], pass_fraction=0.5)
    assert result.cap_fraction is None
    assert not result.needs_review


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("A pointer is not a variable that holds the memory address of another variable.", "negation"),
        ("address variable memory pointer holds variable", "keyword_salad"),
        ("What is a pointer in C++?", "question_copy"),
    ],
)  # fmt: skip
def test_guards_flag_answers_built_to_fool_the_model(answer, reason):
    result = check_answer(answer=answer, question=QUESTION, references=[REFERENCE], pass_fraction=0.5)
    assert reason in result.reasons
    assert result.needs_review


def test_a_blank_answer_earns_nothing_without_bothering_a_teacher():
    result = check_answer(answer=" \n\t", question=QUESTION, references=[REFERENCE], pass_fraction=0.5)
    assert result.cap_fraction == 0.0
    assert not result.needs_review


CATALYST = "What does a catalyst do?"
CATALYST_REFERENCE = "A catalyst speeds up a chemical reaction without being used up."


@pytest.mark.parametrize(
    "answer",
    [
        "A catalyst doesn't make the reaction any faster, and it gets used up.",  # denied, in other words
        "It slows the reaction down.",  # an opposite direction
        "Catalysts never change how fast a reaction goes.",
        "reaction catalyst chemical speeds used without",  # the reference's words without a sentence
        "chemical reaction speeds catalyst used up",
    ],
)
def test_answers_that_deny_or_jumble_the_reference_in_their_own_words_are_held_back(answer):
    result = check_answer(answer=answer, question=CATALYST, references=[CATALYST_REFERENCE], pass_fraction=0.5)
    assert result.needs_review
    if "keyword_salad" in result.reasons:
        assert result.cap_fraction is not None and result.cap_fraction < 0.5


@pytest.mark.parametrize(
    "answer",
    [
        "It makes a reaction go faster and is still there at the end.",
        "Speeds reactions up but isn't consumed itself.",
        "It lowers the activation energy so the reaction goes quicker, and you get it back unchanged.",
        "makes reactions faster, not used up",
    ],
)
def test_paraphrases_with_their_own_negations_are_left_alone(answer):
    result = check_answer(answer=answer, question=CATALYST, references=[CATALYST_REFERENCE], pass_fraction=0.5)
    assert not result.needs_review, result.reasons


def test_a_clause_about_what_the_question_names_only_does_not_contradict():
    # "linked lists" is the question's: the answer's denial is about something else than the reference's claim.
    assert not contradicts(
        "Linked lists do not have a set size.",
        ["The linked lists can be of variable length."],
        "What is the main advantage of linked lists over arrays?",
    )
    assert contradicts("Demand rises.", ["The quantity demanded falls."], "What happens to demand when prices rise?")


def test_a_restated_question_in_other_words_is_routed_by_its_signals():
    restated = Signals(similarities=(0.8,), best_reference=0, similarity=0.8, question_similarity=0.92,
                       consensus=None, demoted=0.3, alignment=0.4, features=np.zeros(len(FEATURE_NAMES)))  # fmt: skip
    answering = Signals(similarities=(0.8,), best_reference=0, similarity=0.8, question_similarity=0.7,
                        consensus=None, demoted=0.6, alignment=0.7, features=np.zeros(len(FEATURE_NAMES)))  # fmt: skip
    args = {"answer": "Opportunity cost is what an opportunity costs you.", "question": "What is opportunity cost?",
            "references": ["The value of the next best alternative given up when making a choice."],
            "pass_fraction": 0.5}  # fmt: skip
    held = check_answer(**args, signals=restated)
    assert "question_copy" in held.reasons and held.needs_review
    assert not check_answer(**args, signals=answering).needs_review
