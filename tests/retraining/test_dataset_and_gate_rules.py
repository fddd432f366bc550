"""The held-out split, held-out agreement and the gate's rule, in plain Python (no model, no database)."""

from __future__ import annotations

import pytest

from grader.scoring.model import base_model_path, load_model
from grader.services.model_versions import gate_decision
from training.dataset import Pair, peer_reference_pairs, split_held_out
from training.evaluate import held_out_agreement, held_out_grades, improvement


def _pairs(questions: int, answers: int) -> list[Pair]:
    return [
        Pair(f"answer {q}-{a}", f"reference {q}", (a % 5) / 4, question=f"q{q}")
        for q in range(questions)
        for a in range(answers)
    ]


def test_the_split_holds_out_whole_questions_and_single_answers_and_never_moves_a_pair():
    pairs = _pairs(20, 10)
    split = split_held_out(pairs, question_fraction=0.2, answer_fraction=0.1, seed=42)
    assert sorted(split.train + split.held_out) == sorted(pairs)
    train_questions = {p.question for p in split.train}
    whole = {p.question for p in split.held_out} - train_questions
    assert whole, "some questions are held out entirely"
    assert any(p.question in train_questions for p in split.held_out), "and some answers of trained questions"
    # More corrections later: every earlier pair stays on its side, so no version trains on what gates it.
    grown = split_held_out(pairs + _pairs(25, 12), question_fraction=0.2, answer_fraction=0.1, seed=42)
    assert set(split.held_out) <= set(grown.held_out)
    assert set(split.train) <= set(grown.train)
    # Another seed draws another split.
    assert split_held_out(pairs, question_fraction=0.2, answer_fraction=0.1, seed=7).held_out != split.held_out


def test_the_same_answer_text_is_never_on_both_sides():
    pairs = [Pair("Same answer", f"reference {r}", 0.5, question="q") for r in range(30)] + _pairs(5, 5)
    split = split_held_out(pairs, question_fraction=0.0, answer_fraction=0.5, seed=1)
    assert not {p.sentence_0 for p in split.train} & {p.sentence_0 for p in split.held_out}


def test_peer_references_pair_each_answer_with_another_full_credit_answer_of_its_question():
    pairs = [
        Pair("right one", "ref 1", 1.0, question="q1"),
        Pair("right two", "ref 1", 1.0, question="q1"),
        Pair("half right", "ref 1", 0.5, question="q1"),
        Pair("wrong", "ref 1", 0.0, question="q1"),
        Pair("only right answer", "ref 2", 1.0, question="q2"),
        Pair("wrong too", "ref 2", 0.0, question="q2"),
        Pair("no question", "ref 3", 1.0),
        Pair("no question either", "ref 3", 0.2),
    ]
    peers = peer_reference_pairs(pairs, seed=42)
    by_answer = {p.sentence_0: p for p in peers}
    # Every answer keeps its own label and question; its new reference is a full-credit answer of the same
    # question, never itself, never one of another question.
    assert set(by_answer) == {"right one", "right two", "half right", "wrong", "wrong too"}
    assert by_answer["right one"].sentence_1 == "right two"
    assert by_answer["right two"].sentence_1 == "right one"
    assert by_answer["half right"].sentence_1 in {"right one", "right two"}
    assert (by_answer["wrong"].label, by_answer["wrong"].question) == (0.0, "q1")
    assert by_answer["wrong too"].sentence_1 == "only right answer"
    # The pick is fixed by the seed, whatever order the pairs come in.
    assert sorted(peer_reference_pairs(list(reversed(pairs)), seed=42)) == sorted(peers)


def test_held_out_agreement_grades_pairs_on_their_own_scale():
    """The gate grades as the workers do, each answer on its own question's scale."""
    reference = "Gradient descent repeatedly steps the parameters against the gradient to reduce the loss."
    prompt = "What does gradient descent do?"
    wrong = "The French revolution began in 1789."
    pairs = [
        Pair(reference, reference, 1.0, max_points=10.0, prompt=prompt, references=(reference,)),
        Pair(wrong, reference, 0.0, max_points=10.0, prompt=prompt, references=(reference,)),
        Pair(reference, reference, 1.0, max_points=4.0, prompt=prompt, references=(reference,), question="other"),
    ]
    model = load_model(path=base_model_path(), keep=False)
    assert [score.points for score in held_out_grades(pairs=pairs, model=model)] == [10, 0, 4]
    metrics = held_out_agreement(pairs=pairs, model=model)
    assert metrics["mae"] == pytest.approx(0.0, abs=1e-4)
    assert metrics["cosine_pearson"] == pytest.approx(1.0, abs=1e-5)
    assert improvement(candidate={"mae": 1.0}, reference={"mae": 1.5}, metric="mae") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("candidate", "replaced", "promote"),
    [(0.70, 0.60, True), (0.61, 0.60, False), (0.55, 0.60, False), (None, 0.60, False)],
)
def test_the_gate_promotes_only_a_candidate_better_by_the_margin(settings, candidate, replaced, promote):
    settings.GRADER_PROMOTION_METRIC = "cosine_pearson"
    settings.GRADER_PROMOTION_MARGIN = 0.02
    evaluation = {
        "held_out_size": 10,
        "candidate": {"cosine_pearson": candidate},
        "replaced": {"cosine_pearson": replaced},
    }
    decision = gate_decision(evaluation=evaluation, has_parent=True)
    assert decision["promote"] is promote
    assert decision["reason"].startswith("Promoted" if promote else "Rejected")
    assert gate_decision(evaluation={"held_out_size": 0}, has_parent=True)["promote"] is False
    assert gate_decision(evaluation={"held_out_size": 0}, has_parent=False)["promote"] is True


def test_hard_negatives_are_the_negated_reference_and_the_copied_question_at_zero():
    from training.adversarial import hard_negative_pairs

    pairs = hard_negative_pairs(
        {
            "q1": ("What is a stack?", "A stack is a last-in first-out list."),
            "q2": ("Same text", "Same text"),  # a question that repeats its reference teaches nothing at 0
        }
    )
    assert [(p.sentence_0, p.sentence_1, p.label, p.question) for p in pairs] == [
        ("A stack is not a last-in first-out list.", "A stack is a last-in first-out list.", 0.0, "q1"),
        ("What is a stack?", "A stack is a last-in first-out list.", 0.0, "q1"),
        ("It is not true that same text", "Same text", 0.0, "q2"),
    ]
