"""The held-out split, held-out agreement and the gate's rule, in plain Python (no model, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.scoring.model import base_model_path, load_model
from grader.services.model_versions import gate_decision
from training.dataset import (
    Pair,
    TrainingRecipe,
    cross_question_pairs,
    peer_reference_pairs,
    recipe_training_pairs,
    split_held_out,
)
from training.evaluate import held_out_agreement, held_out_grades
from training.gate import GateRule, HeldOutGrades, gate_verdict


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


def _course_pairs() -> tuple[list[Pair], list[Pair]]:
    """Teacher corrections of three questions (two courses) and two seed pairs."""
    corrections = [
        Pair("a stack is last in first out", "LIFO structure", 1.0, question="cs/q1", references=("LIFO structure",)),
        Pair("a stack is first in first out", "LIFO structure", 0.2, question="cs/q1", references=("LIFO structure",)),
        Pair("a queue is first in first out", "FIFO structure", 1.0, question="cs/q2",
             references=("FIFO structure", "first come first served")),
        Pair("photosynthesis makes sugar", "light to sugar", 1.0, question="bio/q1", references=("light to sugar",)),
    ]  # fmt: skip
    seeds = [Pair("seed answer", "seed reference", 0.5), Pair("another seed", "seed reference", 1.0)]
    return corrections, seeds


def test_the_default_recipe_trains_on_the_training_side_unchanged():
    corrections, seeds = _course_pairs()
    train = corrections + seeds
    assert recipe_training_pairs(train=train, corrections=corrections, recipe=TrainingRecipe(), seed=42) is train
    assert TrainingRecipe().describe() == ""


def test_cross_question_pairs_put_an_answer_against_another_question_of_its_course_at_zero():
    corrections, _ = _course_pairs()
    negatives = {pair.sentence_0: pair for pair in cross_question_pairs(corrections, seed=42)}
    # cs/q1's answers get a reference of cs/q2, cs/q2's answer cs/q1's; bio has one question, so none.
    assert negatives["a stack is last in first out"].sentence_1 in {"FIFO structure", "first come first served"}
    assert negatives["a queue is first in first out"].sentence_1 == "LIFO structure"
    assert "photosynthesis makes sugar" not in negatives
    assert {pair.label for pair in negatives.values()} == {0.0}
    assert negatives["a queue is first in first out"].question == "cs/q2"  # stays on its question's side
    assert sorted(cross_question_pairs(list(reversed(corrections)), seed=42)) == sorted(negatives.values())


def test_a_recipe_repeats_and_pairs_only_the_corrections_it_is_given():
    corrections, seeds = _course_pairs()
    held_out = corrections[1]  # not on the training side: never repeated, never paired
    train = [pair for pair in corrections if pair != held_out] + seeds
    recipe = TrainingRecipe(correction_repeats=2, cross_question_pairs=True, seed_pairs=False)
    pairs = recipe_training_pairs(train=train, corrections=corrections, recipe=recipe, seed=42)
    assert not [pair for pair in pairs if pair.sentence_0 == held_out.sentence_0]
    assert not set(seeds) & set(pairs)
    assert pairs.count(corrections[0]) == pairs.count(corrections[3]) == 2
    assert len(pairs) == 3 * 2 + 2  # three corrections twice, two cross-question pairs (bio has one question)
    assert recipe.describe() == "cross-question pairs, each correction 2 times, no seed pairs"
    with pytest.raises(ValueError):
        TrainingRecipe(start="yesterday")


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


def _points(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values * 2) / 2, 0, 10)


def _held_out(seed: int = 1, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Teachers' points out of 10 and a version whose grades are off by about two points."""
    rng = np.random.default_rng(seed)
    human = rng.integers(0, 11, n).astype(float)
    return human, _points(human + rng.normal(0, 2, n))


def test_the_gate_promotes_a_real_improvement_and_not_noise():
    human, replaced = _held_out()
    rule = GateRule(pass_fraction=0.5)
    rng = np.random.default_rng(2)

    # Errors half as large: the bootstrap interval of the RMSE gain lies above zero.
    better = _points(human + rng.normal(0, 1, len(human)))
    decision = gate_verdict(grades=HeldOutGrades(human, [10.0] * len(human), better, replaced), rule=rule)
    assert decision["promote"] is True
    assert 0 < decision["intervals"]["rmse"]["low"] < decision["intervals"]["rmse"]["improvement"]
    assert decision["candidate"]["rmse"] < decision["replaced"]["rmse"]
    assert decision["reason"].startswith("Activated: on 80 answers teachers corrected and it never saw")
    # Fixed resampling: the same evaluation gives the same interval.
    again = gate_verdict(grades=HeldOutGrades(human, [10.0] * len(human), better, replaced), rule=rule)
    assert again["intervals"] == decision["intervals"]

    # Another draw of the same error: no real gain, whatever its point estimate.
    same = _points(human + rng.normal(0, 2, len(human)))
    decision = gate_verdict(grades=HeldOutGrades(human, [10.0] * len(human), same, replaced), rule=rule)
    assert decision["promote"] is False
    assert decision["intervals"]["rmse"]["low"] < 0 < decision["intervals"]["rmse"]["high"]
    assert "it was no closer to the teachers' points (RMSE" in decision["reason"]


def test_a_small_gain_on_few_answers_is_not_enough():
    """What a fixed margin promoted: a better point estimate on a handful of answers."""
    human, replaced = _held_out(n=12)
    candidate = replaced.copy()
    worst = int(np.argmax(np.abs(replaced - human)))
    candidate[worst] = human[worst]  # one answer graded right
    rule = GateRule(min_answers=1)  # the interval decides, not the minimum
    decision = gate_verdict(grades=HeldOutGrades(human, [10.0] * 12, candidate, replaced), rule=rule)
    assert decision["intervals"]["rmse"]["improvement"] > 0
    assert decision["promote"] is False
    assert "it was not reliably closer to the teachers' points" in decision["reason"]
    assert decision["reason"].endswith("the difference could be chance).")


def test_too_few_held_out_answers_never_promote_even_a_clear_gain():
    human, replaced = _held_out(n=8)
    exact = gate_verdict(grades=HeldOutGrades(human, [10.0] * 8, human, replaced), rule=GateRule(min_answers=20))
    assert exact["promote"] is False
    assert exact["reason"].startswith("Not activated: only 8 answers teachers corrected were kept out")
    assert gate_verdict(grades=HeldOutGrades(human, [10.0] * 8, human, replaced), rule=GateRule(min_answers=8))[
        "promote"
    ]


def test_a_gain_in_rmse_that_costs_pass_fail_accuracy_or_adversarial_catches_is_rejected():
    rng = np.random.default_rng(3)
    human = np.concatenate([np.linspace(0, 10, 56), np.full(24, 5.5)])
    replaced = _points(human + rng.normal(0, 1.5, len(human)))
    # Closer everywhere, but every answer just above the pass mark lands just below it.
    candidate = np.where((human >= 5) & (human <= 6), 4.5, human)
    grades = HeldOutGrades(human, [10.0] * len(human), candidate, replaced)
    decision = gate_verdict(grades=grades, rule=GateRule(pass_fraction=0.5))
    assert decision["intervals"]["rmse"]["low"] > 0
    assert decision["promote"] is False
    assert "but its pass/fail accuracy got worse" in decision["reason"]

    human, replaced = _held_out()
    better = _points(human + np.random.default_rng(2).normal(0, 1, len(human)))
    grades = HeldOutGrades(human, [10.0] * len(human), better, replaced)
    held = gate_verdict(grades=grades, rule=GateRule(), adversarial={"n": 89, "candidate": 0.85, "replaced": 0.85})
    assert held["promote"] is True
    dropped = gate_verdict(grades=grades, rule=GateRule(), adversarial={"n": 89, "candidate": 0.8, "replaced": 0.85})
    assert dropped["promote"] is False
    assert "lets more answers built to fool the grader through" in dropped["reason"]


def test_gate_decision_reads_the_recorded_evaluation_and_the_settings(settings):
    settings.GRADER_PROMOTION_METRIC = "pearson"
    human, replaced = _held_out()
    evaluation = {
        "held_out_size": len(human),
        "held_out_grades": HeldOutGrades(human, [10.0] * len(human), human, replaced).as_dict(),
        "adversarial": None,
    }
    decision = gate_decision(evaluation=evaluation, has_parent=True)
    assert decision["promote"] is True
    assert decision["primary"] == "pearson"
    assert decision["intervals"]["pearson"]["low"] > 0
    assert decision["resamples"] == settings.GRADER_PROMOTION_RESAMPLES
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
