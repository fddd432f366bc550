"""`manage.py evaluate` on a tiny CSV: nested protocols, reports written, nothing fitted on held-out rows."""

import csv
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

import training.evaluation as evaluation
from grader.scoring.calibration import Evidence
from grader.scoring.context import GradingPolicy, calibration_for
from grader.scoring.signals import FEATURE_NAMES, Peers, QuestionEncoding, answer_signals
from grader.scoring.similarity_scale import MAPPED, SimilarityScale
from grader.services.grading_models import model_for_version
from grader.services.submissions import submission_create, submission_grade
from grader.workspace.explanation import submission_explanation
from tests.quality.conftest import TINY_ROWS
from tests.quality.test_one_pipeline import _Encode


def test_feedback_protocol_writes_metrics_per_k_and_never_fits_on_the_held_out_split(tiny_csv, tmp_path, monkeypatch):
    fitted_on: list[set[str]] = []
    original = evaluation.fit_calibration

    def spy(items, indices, table, **kwargs):
        fitted_on.append({items[i].split for i in indices})
        return original(items, indices, table, **kwargs)

    monkeypatch.setattr(evaluation, "fit_calibration", spy)
    out = tmp_path / "out"
    call_command("evaluate", str(tiny_csv), protocol="feedback", out=out, epochs=0)
    summary = json.loads((out / "feedback.json").read_text())
    assert set(summary["per_k"]) == {"0", "2", "5"}  # with 6 answers per question, k = 10 or 20 leaves none
    assert summary["per_k"]["0"]["n"] == 18
    assert summary["per_k"]["2"]["n"] == 12  # two answers per question went in as corrections
    assert summary["score_column"] == "score" and not summary["partial"]
    assert summary["adversarial"]["n"] > 0
    per_fold, deployment = fitted_on[:3], fitted_on[3:]
    assert [split not in seen for split, seen in zip(summary["splits"], per_fold, strict=True)] == [True] * 3
    # Only the calibration written out for a deployment sees every row.
    assert deployment == [{"fold_a", "fold_b", "fold_c"}]
    assert summary["full_calibration"]["cold"] is not None
    assert "| k (teacher grades per question)" in (out / "feedback.md").read_text()
    assert (out / "feedback_predictions.csv").read_text().count("\n") > 18


def test_a_limited_run_is_marked_partial(tiny_csv, tmp_path):
    out = tmp_path / "out"
    call_command("evaluate", str(tiny_csv), protocol="folds", out=out, epochs=0, folds=1, questions=1)
    summary = json.loads((out / "folds.json").read_text())
    assert summary["partial"] and summary["folds_run"] == 1
    assert summary["n_items"] == 6


def test_holdout_grades_exactly_the_named_splits_with_the_others_as_training(tiny_csv, tmp_path, monkeypatch):
    fitted_on: list[set[str]] = []
    original = evaluation.fit_calibration

    def spy(items, indices, table, **kwargs):
        fitted_on.append({items[i].split for i in indices})
        return original(items, indices, table, **kwargs)

    monkeypatch.setattr(evaluation, "fit_calibration", spy)
    out = tmp_path / "out"
    stdout = io.StringIO()
    call_command("evaluate", str(tiny_csv), protocol="folds", out=out, epochs=0, holdout=["fold_c", "fold_b"],
                 stdout=stdout)  # fmt: skip
    summary = json.loads((out / "folds.json").read_text())
    assert summary["splits"] == ["fold_b", "fold_c"] and summary["holdout"] == ["fold_b", "fold_c"]
    # Neither held-out split trains the other: both are calibrated on fold_a alone.
    assert fitted_on[:2] == [{"fold_a"}, {"fold_a"}]
    assert summary["n_items"] == 12
    # The named splits are graded completely: comparable with results published on them.
    assert not summary["partial"] and "partial run" not in stdout.getvalue()
    assert "held out: fold_b, fold_c" in (out / "folds.md").read_text()

    call_command("evaluate", str(tiny_csv), protocol="folds", out=out, epochs=0, holdout=["fold_b"], questions=1,
                 stdout=stdout)  # fmt: skip
    assert json.loads((out / "folds.json").read_text())["partial"] and "partial run" in stdout.getvalue()


@pytest.mark.parametrize(
    "options",
    [{"holdout": ["fold_x"]}, {"holdout": ["fold_a", "fold_b", "fold_c"]}, {"holdout": ["fold_a"], "folds": 1}],
    ids=["unknown split", "nothing left to train", "with --folds"],
)
def test_a_holdout_that_cannot_be_evaluated_is_a_command_error(tiny_csv, tmp_path, options):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("evaluate", str(tiny_csv), protocol="folds", out=tmp_path, epochs=0, **options)


def _write_csv(path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


COLUMNS = ["question_id", "question", "reference_answer", "student_answer", "score", "max_score", "split"]


def test_several_references_per_question_come_from_repeated_rows_or_a_list_column(tmp_path):
    path = tmp_path / "references.csv"
    _write_csv(path, [*COLUMNS, "reference_answers"], [
        # One answer listed once per reference is one answer; the same answer written by two students stays two.
        ["q1", "What is a loop?", "r1", "A repeats.", 1, 1, "a", ""],
        ["q1", "What is a loop?", "r2", "A repeats.", 1, 1, "a", ""],
        ["q1", "What is a loop?", "r1", "B stops.", 0, 1, "a", ""],
        ["q1", "What is a loop?", "r1", "B stops.", 0, 1, "a", ""],
        ["q2", "What is a variable?", "", "C names.", 1, 1, "b", '["s1", "s2"]'],
        ["q3", "What is a function?", "t1", "D calls.", 0, 1, "b", "t2 || t3"],
        ["q3", "What is a function?", "t1", "E returns.", 1, 1, "b", "t2||t4"],
    ])  # fmt: skip
    items = evaluation.load_items(path)
    assert [(item.question_id, item.answer) for item in items] == [
        ("q1", "A repeats."), ("q1", "B stops."), ("q1", "B stops."), ("q2", "C names."), ("q3", "D calls."),
        ("q3", "E returns."),
    ]  # fmt: skip
    assert {item.question_id: item.references for item in items} == {
        "q1": ("r1", "r2"), "q2": ("s1", "s2"), "q3": ("t1", "t2", "t3", "t4"),
    }  # fmt: skip
    assert [item.reference for item in items if item.question_id != "q3"] == ["r1", "r1", "r1", "s1"]


def test_a_question_without_any_reference_is_a_command_error(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "no_reference.csv"
    _write_csv(path, COLUMNS, [["q1", "What is a loop?", "", "It repeats.", 1, 1, "a"]])
    with pytest.raises(CommandError, match="q1"):
        call_command("evaluate", str(path), protocol="folds", out=tmp_path, epochs=0)


def test_evaluate_grades_against_every_reference_as_the_worker_does(base_model_version, demo_course, tmp_path):
    question = demo_course.questions.get(key="overfitting")
    references = [reference.text for reference in question.reference_answers.order_by("pk")]
    assert len(references) == 2
    # Close to the second reference: graded against the first alone it would score lower.
    answer = "Its training error is low but its test error is high: it memorized the training set."
    submission, _ = submission_create(question=question, student_ref="s1", answer=answer)
    assert submission_grade(submission_id=submission.pk)
    submission.refresh_from_db()

    path = tmp_path / "overfitting.csv"
    _write_csv(path, COLUMNS, [[question.key, question.prompt, reference, answer, 0, 5, "test"]
                               for reference in references])  # fmt: skip
    [item] = evaluation.load_items(path)
    model = model_for_version(version=base_model_version, keep=False)
    policy = GradingPolicy.defaults(max_points=Decimal(question.max_points), review_risk=question.review_risk)
    table = evaluation.VectorTable(_Encode(model), [answer, question.prompt, *references])
    score = evaluation.grade_item(item, table, calibration_for(question), evidence=Evidence.empty(),
                                  peers=Peers.none(), policy=policy)  # fmt: skip
    first_only = evaluation.grade_item(replace(item, references=(references[0],)), table, calibration_for(question),
                                       evidence=Evidence.empty(), peers=Peers.none(), policy=policy)  # fmt: skip

    assert len(score.similarities) == 2 and score.signals.best_reference == 1
    assert score.similarity == pytest.approx(submission.similarity, abs=1e-5)
    assert score.points == submission.points
    assert score.signals.features == pytest.approx(submission_explanation(submission=submission).score.signals.features,
                                                   abs=3e-3)  # fmt: skip
    assert first_only.similarity < score.similarity


@pytest.fixture
def train_test_csv(tmp_path):
    """The tiny questions with a training split and a test split: 2, 2 and 1 answers per question held out."""
    rows = []
    for question_id, question, reference, answers, _ in TINY_ROWS:
        in_training = 5 if question_id == "q3" else 4
        for position, (answer, score) in enumerate(answers):
            split = "train" if position < in_training else "test"
            rows.append([question_id, question, reference, answer, score, 5, split])
    path = tmp_path / "train_test.csv"
    _write_csv(path, COLUMNS, rows)
    return path


def test_corrections_come_from_the_training_split_and_every_k_row_says_what_it_covers(train_test_csv, tmp_path,
                                                                                       monkeypatch):  # fmt: skip
    training_answers: dict[str, list[str]] = {}
    for item in evaluation.load_items(train_test_csv):
        if item.split == "train":
            training_answers.setdefault(item.question_id, []).append(item.answer)
    corrections_seen: list[int] = []
    original = evaluation.grade_item

    def spy(item, table, calibration, *, evidence, **kwargs):
        """Each correction a held-out answer gets is one of its question's training answers."""
        own = table.many(training_answers[item.question_id])
        for vector in evidence.vectors if len(evidence) else ():
            assert np.isclose(own @ vector, 1.0, atol=1e-5).any()
        corrections_seen.append(len(evidence))
        return original(item, table, calibration, evidence=evidence, **kwargs)

    monkeypatch.setattr(evaluation, "grade_item", spy)
    out = tmp_path / "out"
    call_command("evaluate", str(train_test_csv), protocol="feedback", out=out, epochs=0, holdout=["test"],
                 corrections_from=["train"])  # fmt: skip
    summary = json.loads((out / "feedback.json").read_text())

    # Every held-out answer is graded; the k corrections are the same question's training answers.
    assert summary["per_k"]["0"]["n"] == summary["per_k"]["2"]["n"] == 5
    assert {2, 5} <= set(corrections_seen)
    # q3 alone has 5 training answers: the k = 5 row covers it only, and the k = 10 and 20 rows cover nothing.
    assert summary["per_k"]["5"]["n"] == 1
    assert summary["coverage"]["5"] == {"questions": 1, "questions_total": 3, "answers": 1, "answers_total": 5}
    assert summary["coverage"]["10"]["questions"] == 0 and "10" not in summary["per_k"]
    report = (out / "feedback.md").read_text()
    assert "| 10 | no held-out question has enough answers" in report
    assert "at least k answers in train" in report and "| 5 | 1 of 3 | 1 of 5 |" in report

    # By default the corrections are held-out answers: with two per question, k = 2 leaves nothing to grade.
    monkeypatch.undo()
    call_command("evaluate", str(train_test_csv), protocol="feedback", out=out, epochs=0, holdout=["test"])
    summary = json.loads((out / "feedback.json").read_text())
    assert summary["per_k"]["0"]["n"] == 5 and "2" not in summary["per_k"]
    assert summary["coverage"]["2"] == {"questions": 0, "questions_total": 3, "answers": 0, "answers_total": 5}
    assert "| 2 | no held-out question has enough answers" in (out / "feedback.md").read_text()


@pytest.mark.parametrize(
    "options",
    [
        {"protocol": "feedback", "holdout": ["test"], "corrections_from": ["test"]},
        {"protocol": "feedback", "corrections_from": ["train"]},
        {"protocol": "folds", "holdout": ["test"], "corrections_from": ["train"]},
    ],
    ids=["a graded split", "without --holdout", "folds protocol"],
)
def test_corrections_from_a_split_that_is_graded_or_without_feedback_is_a_command_error(train_test_csv, tmp_path,
                                                                                         options):  # fmt: skip
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("evaluate", str(train_test_csv), out=tmp_path, epochs=0, **options)


def test_predictions_join_back_to_the_input_rows(tmp_path):
    """Each prediction carries the input's row number, its answer_id and the answer, and the references it was
    graded against: one answer listed once per reference is graded once, under its first row."""
    second_reference = {"q1": "It converts a program into instructions the processor can run."}
    rows = []
    for question_id, question, reference, answers, split in TINY_ROWS[:2]:
        for position, (answer, score) in enumerate(answers):
            for listed in (reference, second_reference.get(question_id)):
                if listed:
                    rows.append([f"{question_id}-a{position}", question_id, question, listed, answer, score, 5, split])
    path = tmp_path / "with_ids.csv"
    _write_csv(path, ["answer_id", *COLUMNS], rows)
    out = tmp_path / "out"
    call_command("evaluate", str(path), protocol="folds", out=out, epochs=0)

    with open(out / "folds_predictions.csv", newline="", encoding="utf-8") as handle:
        predictions = list(csv.DictReader(handle))
    assert len(predictions) == 12  # 6 answers per question, the first question's each listed twice
    for prediction in predictions:
        answer_id, question_id, _, reference, answer, score, _, split = rows[int(prediction["row"]) - 1]
        assert (prediction["answer_id"], prediction["question_id"], prediction["answer"], prediction["split"]) == (
            answer_id, question_id, answer, split)  # fmt: skip
        assert float(prediction["human"]) == score
        references = [reference, second_reference["q1"]] if question_id == "q1" else [reference]
        assert prediction["closest_reference"] in references and int(prediction["references"]) == len(references)
    q1_rows = sorted(int(p["row"]) for p in predictions if p["question_id"] == "q1")
    assert q1_rows == [1, 3, 5, 7, 9, 11]  # each answer under its first row


def test_right_wrong_labels_get_accuracy_and_f1_scores(tmp_path):
    rows = [[question_id, question, reference, answer, int(score >= 3), 1, split]
            for question_id, question, reference, answers, split in TINY_ROWS for answer, score in answers]  # fmt: skip
    path = tmp_path / "binary.csv"
    _write_csv(path, COLUMNS, rows)
    out = tmp_path / "out"
    call_command("evaluate", str(path), protocol="folds", out=out, epochs=0)
    metrics = json.loads((out / "folds.json").read_text())["per_k"]["0"]

    with open(out / "folds_predictions.csv", newline="", encoding="utf-8") as handle:
        predictions = list(csv.DictReader(handle))
    human = np.array([float(p["human"]) for p in predictions]) == 1
    right = np.array([float(p["predicted"]) >= 0.5 for p in predictions])
    f1 = {}
    for label in (True, False):
        hits = np.sum((right == label) & (human == label))
        f1[label] = 2 * hits / (np.sum(right == label) + np.sum(human == label))
    assert metrics["accuracy"] == pytest.approx(np.mean(human == right))
    assert metrics["macro_f1"] == pytest.approx((f1[True] + f1[False]) / 2)
    assert metrics["weighted_f1"] == pytest.approx((f1[True] * human.sum() + f1[False] * (~human).sum()) / len(human))
    assert 0 <= metrics["auc"] <= 1 and metrics["pearson"] is not None
    assert "| k | accuracy | macro F1 | weighted F1 | AUC |" in (out / "folds.md").read_text()


def test_the_report_breaks_the_cold_start_grades_down_by_question(tiny_csv, tmp_path):
    call_command("evaluate", str(tiny_csv), protocol="feedback", out=tmp_path, epochs=0)
    summary = json.loads((tmp_path / "feedback.json").read_text())
    per_question = summary["per_question"]
    assert "accuracy" not in summary["per_k"]["0"] and "accuracy" not in per_question[0]  # points, not right/wrong
    with open(tmp_path / "feedback_predictions.csv", newline="", encoding="utf-8") as handle:
        cold = [row for row in csv.DictReader(handle) if row["k"] == "0"]

    assert [row["question_id"] for row in per_question] == ["q1", "q2", "q3"]
    for row in per_question:
        mine = [p for p in cold if p["question_id"] == row["question_id"]]
        errors = [abs(float(p["predicted"]) - float(p["human"])) for p in mine]
        assert row["answers"] == len(mine) == 6
        assert row["mae"] == pytest.approx(np.mean(errors), abs=1e-3)  # the CSV rounds to 4 decimals
    with open(tmp_path / "feedback_questions.csv", newline="", encoding="utf-8") as handle:
        assert [row["question_id"] for row in csv.DictReader(handle)] == ["q1", "q2", "q3"]
    assert "The questions graded worst at k = 0 (of 3" in (tmp_path / "feedback.md").read_text()


EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "fixtures" / "evaluate_example.csv"


def test_the_shipped_example_runs_as_the_readme_shows(tmp_path):
    items = evaluation.load_items(EXAMPLE_CSV)
    assert {len(item.references) for item in items} == {1, 2} and {item.answer_id for item in items} >= {"a01"}
    call_command("evaluate", str(EXAMPLE_CSV), protocol="feedback", out=tmp_path, epochs=0, holdout=["test"],
                 corrections_from=["train"])  # fmt: skip
    summary = json.loads((tmp_path / "feedback.json").read_text())
    assert not summary["partial"] and summary["per_k"]["5"]["n"] == 12
    assert {"accuracy", "macro_f1", "weighted_f1", "auc"} <= set(summary["per_k"]["0"])


def test_an_unknown_file_is_a_command_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("evaluate", str(tmp_path / "missing.csv"), protocol="folds", out=tmp_path, epochs=0)


def test_a_fold_is_calibrated_on_the_calibration_model_and_graded_with_its_own(tiny_csv, base_encoder):
    """A fine-tuned fold model has seen the training splits; their in-sample vectors must not fit the calibration."""
    items = evaluation.load_items(tiny_csv)
    encoded_by: dict[str, set[str]] = {"fold": set(), "calibration": set()}

    def recording(name: str):
        def encode(texts: list[str]):
            encoded_by[name].update(texts)
            return base_encoder.encode(texts)

        return encode

    output = evaluation.grade_fold(items, test_split="fold_a", encode=recording("fold"), ks=(0, 2), seeds=(0,),
                                   calibration_encode=recording("calibration"))  # fmt: skip
    train_answers = {item.answer for item in items if item.split != "fold_a"}
    test_answers = {item.answer for item in items if item.split == "fold_a"}
    assert train_answers <= encoded_by["calibration"] and not test_answers & encoded_by["calibration"]
    assert test_answers <= encoded_by["fold"] and not train_answers & encoded_by["fold"]
    assert len([p for p in output.predictions if p.k == 0]) == len(test_answers)


def test_similarity_scale_keeps_the_ranking_and_takes_the_target_spread():
    nan = float("nan")
    source = {"similarity": np.array([0.9, 0.2, 0.6, 0.4]), "consensus": np.array([0.8, 0.3, nan, 0.5])}
    target = {"similarity": np.array([0.7, 0.5, 0.6, 0.55]), "consensus": np.array([0.6, 0.4, nan, 0.5])}
    scale = SimilarityScale.fit(source=source, target=target)
    mapped = np.array([scale.value("similarity", value) for value in source["similarity"]])
    assert list(np.argsort(mapped)) == list(np.argsort(source["similarity"]))
    assert sorted(mapped) == pytest.approx(sorted(target["similarity"]), abs=1e-3)  # 101 quantile knots
    assert scale.value("question_similarity", 0.3) == 0.3  # a signal without a map is left as it is
    # An answer without enough peers carries the similarity as its consensus, mapped the same way.
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    encoding = QuestionEncoding(prompt="q", references=("r",), reference_vectors=np.array([[0.6, 0.8, 0.0]]),
                                prompt_vector=np.array([0.0, 0.0, 1.0]), prompt_token_ids=(), scale=scale)  # fmt: skip
    signals = answer_signals(answer="a", vector=vector, tokens=None, question=encoding, peers=Peers.none())
    consensus_column, similarity_column = FEATURE_NAMES.index("consensus"), FEATURE_NAMES.index("similarity")
    assert signals.consensus is None
    assert signals.features[consensus_column] == signals.features[similarity_column] == scale.value("similarity", 0.6)


def test_a_mapped_fold_encodes_its_held_out_answers_with_both_models(tiny_csv, base_encoder):
    items = evaluation.load_items(tiny_csv)
    encoded_by_calibration: set[str] = set()

    def calibration_encode(texts: list[str]):
        encoded_by_calibration.update(texts)
        return base_encoder.encode(texts)

    output = evaluation.grade_fold(items, test_split="fold_a", encode=base_encoder.encode, ks=(0,), seeds=(0,),
                                   calibration_encode=calibration_encode, map_similarity_scale=True)  # fmt: skip
    assert {item.answer for item in items} <= encoded_by_calibration  # training splits and the held-out answers
    # The same model on both sides: the map is the identity, so the grades equal an unmapped run's.
    unmapped = evaluation.grade_fold(items, test_split="fold_a", encode=base_encoder.encode, ks=(0,), seeds=(0,),
                                     calibration_encode=calibration_encode)  # fmt: skip
    assert [p.fraction for p in output.predictions] == pytest.approx([p.fraction for p in unmapped.predictions])


def test_similarity_scale_maps_the_demoted_similarity_too_and_reads_maps_from_before_it():
    rng = np.random.default_rng(0)
    source = {name: rng.uniform(0, 1, size=200) for name in MAPPED}
    target = dict(source)
    target["demoted_similarity"] = 0.2 + 0.5 * source["demoted_similarity"]  # the base model spreads it less
    scale = SimilarityScale.fit(source=source, target=target)
    mapped = [scale.value("demoted_similarity", value) for value in source["demoted_similarity"]]
    assert mapped == pytest.approx(target["demoted_similarity"], abs=0.01)
    older = scale.to_dict()
    del older["maps"]["demoted_similarity"]
    assert SimilarityScale.from_dict(older).value("demoted_similarity", 0.8) == 0.8  # left as the version gives it


def test_evaluate_can_grade_with_the_int8_backend_and_says_so(tiny_csv, tmp_path):
    """A school can measure the faster onnx-int8 option on its own graded answers before switching to it."""
    out = tmp_path / "out"
    call_command("evaluate", str(tiny_csv), protocol="folds", out=out, epochs=0, backend="onnx-int8")
    int8 = json.loads((out / "folds.json").read_text())
    call_command("evaluate", str(tiny_csv), protocol="folds", out=tmp_path / "float", epochs=0)
    exact = json.loads((tmp_path / "float" / "folds.json").read_text())

    assert int8["encoder"] == "onnx-int8" and exact["encoder"] == "sentence-transformers"
    # Its own vectors (an export made in the cache), not the float model's: the cosines differ a little.
    caches = sorted((out / "cache").glob("*.npz"))
    assert any((path.with_suffix("") / "onnx" / "model_int8.onnx").exists() for path in caches)
    assert int8["per_k"]["0"]["pearson"] != exact["per_k"]["0"]["pearson"]
    assert abs(int8["per_k"]["0"]["pearson"] - exact["per_k"]["0"]["pearson"]) < 0.1
