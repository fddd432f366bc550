"""Token alignment: how much of the reference an answer covers, and which corrected answers it agrees with."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from tokenizers import Tokenizer

from grader.scoring import grading as grading_module
from grader.scoring.alignment import Tokens, answer_agreement, content_token_table, reference_alignment
from grader.scoring.calibration import (
    FEEDBACK_FEATURE_NAMES,
    Calibration,
    Evidence,
    cold_design,
    feedback_features,
    fit_linear,
)
from grader.scoring.model import MeanPoolingEncoder, base_model_path
from grader.scoring.signals import FEATURE_NAMES
from grader.services.submissions import correction_create, submission_create, submission_grade
from tests.grading import grade_answers

QUESTION = "What does a compiler do?"
REFERENCE = "It translates source code into machine code before the program runs."


@pytest.fixture(scope="module")
def model() -> MeanPoolingEncoder:
    return MeanPoolingEncoder(base_model_path(), backend="torch")


def test_only_wordpieces_that_can_carry_content_count():
    vocabulary = Tokenizer.from_file(str(base_model_path() / "tokenizer.json")).get_vocab()
    table = content_token_table(vocabulary)
    for piece in ("compiler", "machine", "##ing", "42"):
        assert table[vocabulary[piece]], piece
    for piece in ("the", "into", "not", ",", "[CLS]", "[SEP]", "[PAD]", "##s"):
        assert not table[vocabulary[piece]], piece


def test_token_vectors_come_from_the_same_run_as_the_sentence_vector(model):
    from sentence_transformers import SentenceTransformer

    texts = [REFERENCE, "It turns source code into machine instructions.", "x", ""]
    vectors, tokens = model.encode_with_tokens(texts, batch_size=2, max_batch_tokens=64)
    np.testing.assert_allclose(vectors, model.encode(texts, batch_size=2, max_batch_tokens=64), atol=1e-6)
    reference = SentenceTransformer(str(base_model_path()), device="cpu")
    for text, token in zip(texts, tokens, strict=True):
        assert list(token.ids) == model.token_ids(text)
        # sentence-transformers' token embeddings, [CLS] and [SEP] dropped, each row normalized.
        expected = reference.encode([text], output_value="token_embeddings", convert_to_numpy=False)[0].numpy()[1:-1]
        expected = expected / np.linalg.norm(expected, axis=1, keepdims=True).clip(1e-12)
        np.testing.assert_allclose(token.vectors, expected, atol=1e-4)
    assert len(tokens[-1]) == 0  # a blank text has no tokens


def _alignment(model: MeanPoolingEncoder, answer: str, references=(REFERENCE,)) -> float:
    _, tokens = model.encode_with_tokens([answer, *references], batch_size=8)
    return reference_alignment(tokens[0], tokens[1:], model.token_ids(QUESTION))


def test_an_answer_covering_the_references_key_ideas_aligns_better_than_one_covering_half(model):
    full = _alignment(model, "Before running, it converts the source code to machine code.")
    half = _alignment(model, "It deals with source code.")
    question_only = _alignment(model, "A compiler does what a compiler does.")
    assert full > half > question_only
    assert 0.0 < question_only < full <= 1.0
    assert _alignment(model, "") == 0.0


def test_the_best_reference_counts_and_a_reference_made_of_question_words_still_counts_all_its_tokens(model):
    answer = "Before running, it converts the source code to machine code."
    alone = _alignment(model, answer)
    assert _alignment(model, answer, ("Compilers are used for gardening.", REFERENCE)) == pytest.approx(alone)
    # Every word of this reference is in the question: no key token left, so all of its tokens are compared.
    echo = _alignment(model, "It compiles.", ("A compiler does.",))
    assert 0.0 < echo <= 1.0


def test_no_reference_tokens_and_no_answer_tokens_give_nothing():
    empty = Tokens(ids=np.zeros(0, dtype=np.int64), vectors=np.zeros((0, 4), np.float32), content=np.zeros(0, bool))
    some = Tokens(ids=np.array([7]), vectors=np.array([[1.0, 0, 0, 0]], np.float32), content=np.array([True]))
    assert reference_alignment(empty, [some], []) == 0.0
    assert reference_alignment(some, [empty], []) == 0.0
    assert reference_alignment(some, [some], []) == pytest.approx(1.0)


def test_a_quadratic_calibration_fitted_before_the_alignment_existed_still_grades_as_fitted():
    rng = np.random.default_rng(0)
    old_names = FEATURE_NAMES[: FEATURE_NAMES.index("reference_alignment")]
    x = rng.uniform(0, 1, size=(200, len(old_names)))
    cold, _ = fit_linear(cold_design(x, "quadratic"), x[:, 0] * x[:, 2])
    data = Calibration(cold=cold, cold_terms="quadratic").to_dict() | {"features": list(old_names)}
    calibration = Calibration.from_dict(data)
    row = np.append(x[0], 0.123)  # today's row: the alignment appended, which this file never saw
    expected = float(np.clip(cold.predict(cold_design(x[:1], "quadratic"))[0], 0, 1))
    assert calibration.cold_fraction(row) == pytest.approx(expected)


def test_grading_feeds_each_answer_its_own_alignment(base_model_version, base_encoder, gradient_descent_question,
                                                     monkeypatch):  # fmt: skip
    seen = []
    real_decide = grading_module.decide

    def recording_decide(signals, **kwargs):
        seen.append((kwargs["answer"], signals.alignment))
        return real_decide(signals, **kwargs)

    monkeypatch.setattr(grading_module, "decide", recording_decide)
    question = gradient_descent_question
    answers = [question.reference_answers.first().text, "Bananas are yellow.", ""]
    grade_answers(model=base_encoder, version=base_model_version, question=question, answers=answers)
    references = [reference.text for reference in question.reference_answers.all()]
    _, tokens = base_encoder.encode_with_tokens(answers + references)
    question_ids = base_encoder.token_ids(question.prompt)
    expected = [reference_alignment(token, tokens[len(answers) :], question_ids) for token in tokens[: len(answers)]]
    assert [answer for answer, _ in seen] == answers
    # The references' token vectors are kept in float16: cosines within ~1e-3.
    assert [alignment for _, alignment in seen] == pytest.approx(expected, abs=3e-3)
    assert seen[0][1] == pytest.approx(1.0, abs=3e-3) and seen[0][1] > seen[1][1] > 0.0 == seen[2][1]


def _tokens(*rows: list[float], content: list[bool] | None = None) -> Tokens:
    vectors = np.array(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flags = np.ones(len(rows), bool) if content is None else np.array(content)
    return Tokens(ids=np.arange(len(rows)), vectors=vectors, content=flags)


def test_answers_stating_the_same_ideas_agree_whatever_function_words_they_add():
    idea_a, idea_b, filler = [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]
    answer = _tokens(idea_a, idea_b)
    padded = _tokens(idea_a, filler, idea_b, content=[True, False, True])
    half = _tokens(idea_a)
    assert answer_agreement(answer, padded) == pytest.approx(1.0)
    assert answer_agreement(answer, half) == pytest.approx(0.75)  # all of half is in answer, half of answer in it
    assert answer_agreement(answer, half) == pytest.approx(answer_agreement(half, answer))


def test_aligned_neighbours_follow_the_corrected_answer_that_states_the_same_ideas():
    idea_a, idea_b, idea_c = [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]
    # Two corrected answers equally close by sentence vector; only their tokens tell them apart.
    evidence = Evidence(
        teacher=np.array([1.0, 0.2]),
        cold=np.array([0.6, 0.6]),
        vectors=np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32),
        tokens=(_tokens(idea_a, idea_b), _tokens(idea_c)),
    )
    vector = np.array([1.0, 0.0])
    row = feedback_features(cold=0.6, vector=vector, evidence=evidence, tokens=_tokens(idea_b, idea_a))
    names = list(FEEDBACK_FEATURE_NAMES)
    assert row[names.index("neighbours")] == pytest.approx(0.6)  # the sentence vectors cannot choose
    assert row[names.index("aligned_neighbours")] > 0.99
    assert row[names.index("aligned_neighbour_error")] > 0.39
    # Without token vectors the aligned columns are the sentence-vector ones.
    plain = feedback_features(cold=0.6, vector=vector, evidence=evidence)
    assert plain[names.index("aligned_neighbours")] == plain[names.index("neighbours")]


def test_grading_compares_tokens_with_the_questions_corrected_answers(
    base_model_version, base_encoder, gradient_descent_question, monkeypatch
):
    question = gradient_descent_question
    teacher = get_user_model().objects.create_user("teacher", is_staff=True)
    for i, answer in enumerate(["It moves the parameters against the gradient.", "It is a kind of tree."]):
        submission, _ = submission_create(question=question, student_ref=f"s{i}", answer=answer)
        assert submission_grade(submission_id=submission.pk)
        submission.refresh_from_db()
        correction_create(submission=submission, teacher=teacher, points=Decimal(i))
    seen = []
    real_decide = grading_module.decide

    def recording_decide(signals, **kwargs):
        seen.append(kwargs)
        return real_decide(signals, **kwargs)

    monkeypatch.setattr(grading_module, "decide", recording_decide)
    probe = "It steps the parameters down the gradient of the loss."
    grade_answers(model=base_encoder, version=base_model_version, question=question, answers=[probe])
    [kwargs] = seen
    assert kwargs["tokens"] is not None and len(kwargs["tokens"]) == len(base_encoder.token_ids(probe))
    evidence = kwargs["context"].evidence
    assert evidence.tokens is not None and len(evidence.tokens) == len(evidence) == 2
