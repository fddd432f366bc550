"""Model versions: the first one, retraining from teachers' corrections, promotion, and loading for grading."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from grader.models import Correction, ModelVersion, Question, ReferenceAnswer, Submission, TrainingRun
from grader.scoring.context import GradingPolicy, calibration_for
from grader.scoring.model import GradingModel, base_model_path, load_model
from grader.selectors import model_version_active
from grader.services.grading_models import NoActiveModelVersion as NoActiveModelVersion  # callers catch it here
from grader.services.model_artifacts import (
    model_artifact_delete,
    model_artifact_store,
    model_artifacts_remove_orphans,
    model_version_local_path,
)
from grader.services.regrading import model_version_dry_run, questions_with_uncorrected_grades, regrade_enqueue
from grader.services.similarity_scales import similarity_scale_write
from grader.services.training_runs import (
    ProgressRecorder,
    training_lock,
    training_run_fail,
    training_run_previous_identical,
    training_run_skip,
    training_run_start,
    training_runs_reap_dead,
)
from grader.services.training_runs import TrainingAlreadyRunning as TrainingAlreadyRunning  # callers catch it here
from training.adversarial_benchmark import grade_cases, load_cases, summarize
from training.dataset import (
    Pair,
    Split,
    TrainingRecipe,
    build_training_set,
    dataset_sha256,
    load_pairs_csv,
    pairs_among,
    recipe_training_pairs,
    split_held_out,
)
from training.evaluate import agreement_of_scores, held_out_grades
from training.finetune import FineTuneResult, Hyperparameters, fine_tune, resolve_precision
from training.gate import GATE_METRICS, GateRule, HeldOutGrades, gate_verdict
from training.onnx_export import export_onnx

logger = logging.getLogger(__name__)


def artifact_dir(version: ModelVersion) -> Path:
    """The version's files on this machine, fetched from the model store and checked against its sha256."""
    return model_version_local_path(version=version)


def hyperparameters_from_settings() -> Hyperparameters:
    return Hyperparameters(
        batch_size=settings.GRADER_TRAIN_BATCH_SIZE,
        epochs=settings.GRADER_TRAIN_EPOCHS,
        learning_rate=settings.GRADER_TRAIN_LEARNING_RATE,
        seed=settings.GRADER_TRAIN_SEED,
        precision=resolve_precision(settings.GRADER_TRAIN_PRECISION),
    )


def correction_pairs() -> list[Pair]:
    """One pair per corrected submission: (answer, the reference it was graded against, latest points / max)."""
    latest = Correction.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-pk")
    submissions = (
        Submission.objects.filter(corrections__isnull=False)
        .annotate(latest_points=Subquery(latest.values("points")[:1]))
        .select_related("question", "question__course", "best_reference")
        .order_by("pk")
        .prefetch_related("question__reference_answers")
        .distinct()
    )
    pairs = []
    for submission in submissions:
        reference = submission.best_reference or submission.question.reference_answers.all()[0]
        label = float(submission.latest_points / submission.question.max_points)
        pairs.append(
            Pair(
                submission.answer,
                reference.text,
                min(1.0, max(0.0, label)),
                question=_question_key(submission.question),
                max_points=float(submission.question.max_points),
                prompt=submission.question.prompt,
                references=tuple(reference.text for reference in submission.question.reference_answers.all()),
            )
        )
    return pairs


def seed_pairs() -> list[Pair]:
    """The seed pairs, each tied to the question whose reference it uses, so the held-out split by question
    puts a seed pair and a teacher's correction of the same question on the same side."""
    pairs = load_pairs_csv(settings.GRADER_SEED_PAIRS)
    questions = {
        reference.text: reference.question
        for reference in ReferenceAnswer.objects.filter(text__in={p.sentence_1 for p in pairs})
        .select_related("question__course")
        .prefetch_related("question__reference_answers")
    }
    return [
        replace(
            pair,
            question=_question_key(questions[pair.sentence_1]),
            max_points=float(questions[pair.sentence_1].max_points),
            prompt=questions[pair.sentence_1].prompt,
            references=tuple(reference.text for reference in questions[pair.sentence_1].reference_answers.all()),
        )
        if pair.sentence_1 in questions
        else pair
        for pair in pairs
    ]


def _question_key(question: Question) -> str:
    # Codes, not ids: the same course keeps its side of the held-out split in every database.
    return f"{question.course.code}/{question.key}"


def model_retrain_dataset() -> list[Pair]:
    """Every correction plus the seed pairs, deduplicated, in a fixed order (train and held-out together)."""
    return build_training_set(corrections=correction_pairs(), seed_pairs=seed_pairs())


def held_out_corrections(*, held_out: list[Pair], corrections: list[Pair]) -> list[Pair]:
    """The held-out pairs a teacher graded: what the gate judges on. Held-out seed pairs are not trained on either,
    but they are the texts every earlier version learned from, so they cannot show that a version learned anything
    from the teachers (judged on them, more epochs on the seed pairs alone looked like an improvement)."""
    return pairs_teachers_graded(pairs=held_out, corrections=corrections)


def pairs_teachers_graded(*, pairs: list[Pair], corrections: list[Pair]) -> list[Pair]:
    """The pairs whose texts are a teacher's correction (build_training_set gave them the teacher's label)."""
    return pairs_among(pairs, corrections)


def corrections_trained_on(*, train: list[Pair], corrections: list[Pair]) -> list[Pair]:
    """The corrections on the training side of the split, in the order teachers made them: the evidence the gate's
    feedback stage uses for held-out answers of the same questions."""
    return pairs_among(corrections, train)


def new_corrections_since_last_run() -> tuple[int, TrainingRun | None]:
    """How many submissions a teacher corrected since the last completed training run started (its dataset was
    read then), and that run (None before any: every corrected submission counts)."""
    last = TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-started_at", "-pk").first()
    corrections = Correction.objects.all()
    if last is not None:
        corrections = corrections.filter(created_at__gt=last.started_at)
    return corrections.values("submission_id").distinct().count(), last


def model_version_bootstrap() -> ModelVersion:
    """The first version: the packaged base model fine-tuned on the seed pairs. Does nothing if one is active."""
    active = model_version_active()
    if active is not None:
        return active
    run = _retrain(
        base=None,
        pairs=build_training_set(corrections=[], seed_pairs=seed_pairs()),
        corrections=[],
        trigger="bootstrap",
    )
    if run.produced_version is None:  # its callers need a version to grade with; say why there is none
        raise RuntimeError(f"the first training run produced no model version: {run.reason or run.error}")
    return run.produced_version


def model_retrain(
    *,
    hyperparameters: Hyperparameters | None = None,
    recipe: TrainingRecipe | None = None,
    trigger: str = "command",
    force: bool = False,
) -> TrainingRun:
    """Fine-tune the active version on every correction plus the seed pairs; promote the result if it is better.

    Returns the run: ``skipped`` (nothing new since the last run from this version; ``force`` trains anyway),
    or ``succeeded`` with its ``produced_version`` active or rejected and the reason in ``run.reason``.
    ``recipe``: what it starts from and trains on (training.dataset.TrainingRecipe; the default is the seed
    card's). Raises TrainingAlreadyRunning if another run holds the lock, NoActiveModelVersion before bootstrap.
    """
    active = model_version_active()
    if active is None:
        raise NoActiveModelVersion("nothing to retrain; run `python manage.py bootstrap_model` first")
    corrections = correction_pairs()
    return _retrain(
        base=active,
        pairs=build_training_set(corrections=corrections, seed_pairs=seed_pairs()),
        corrections=corrections,
        hyperparameters=hyperparameters,
        recipe=recipe,
        trigger=trigger,
        force=force,
    )


def _retrain(
    *,
    base: ModelVersion | None,
    pairs: list[Pair],
    corrections: list[Pair],
    trigger: str,
    hyperparameters: Hyperparameters | None = None,
    recipe: TrainingRecipe | None = None,
    force: bool = False,
) -> TrainingRun:
    hyperparameters = hyperparameters or hyperparameters_from_settings()
    recipe = recipe or TrainingRecipe()
    split = split_held_out(
        pairs,
        question_fraction=settings.GRADER_HELD_OUT_QUESTION_FRACTION,
        answer_fraction=settings.GRADER_HELD_OUT_ANSWER_FRACTION,
        seed=settings.GRADER_HELD_OUT_SEED,
    )
    # What a worker knows when it grades the held-out answers after the promotion: the corrections trained on.
    evidence = corrections_trained_on(train=split.train, corrections=corrections)
    # Built from the training side only: every recipe is judged on the same held-out answers.
    split = Split(
        train=recipe_training_pairs(
            train=split.train, corrections=corrections, recipe=recipe, seed=hyperparameters.seed
        ),
        held_out=split.held_out,
    )
    data_hash = dataset_sha256(pairs)
    recorded = hyperparameters.as_dict()
    if recipe != TrainingRecipe():  # a run records how it was trained; the default's record stays as it was
        recorded["recipe"] = recipe.as_dict()
    with training_lock():
        training_runs_reap_dead()
        # Whatever a killed run left on this machine: under the lock, no live run of this deployment owns it.
        shutil.rmtree(_scratch_root(), ignore_errors=True)
        model_artifacts_remove_orphans()  # and in the model store: artifacts stored but never recorded
        previous = training_run_previous_identical(base=base, dataset_sha256=data_hash, hyperparameters=recorded)
        if previous is not None and not force:
            return training_run_skip(
                base=base,
                trigger=trigger,
                dataset_size=len(pairs),
                dataset_sha256=data_hash,
                reason=f"Nothing new since training run {previous.pk}: same base version, same {len(pairs)} pairs "
                f"(sha256 {data_hash[:12]}), same hyperparameters.",
            )
        if base is not None and not force:
            new, last = new_corrections_since_last_run()
            minimum = settings.GRADER_RETRAIN_MIN_NEW_CORRECTIONS
            if new < minimum:
                since = f"training run {last.pk}" if last is not None else "the first version"
                return training_run_skip(
                    base=base,
                    trigger=trigger,
                    dataset_size=len(pairs),
                    dataset_sha256=data_hash,
                    reason=f"Skipped: teachers corrected {new} answer{'s' if new != 1 else ''} since {since}; "
                    f"retraining waits for at least {minimum} (GRADER_RETRAIN_MIN_NEW_CORRECTIONS), since fewer "
                    "cannot teach the model anything it could show. `manage.py retrain --force` trains anyway.",
                )
        run = training_run_start(
            base=base,
            trigger=trigger,
            hyperparameters=recorded,
            dataset_size=len(pairs),
            train_size=len(split.train),
            held_out_size=len(split.held_out),
            dataset_sha256=data_hash,
        )
        return _train_evaluate_decide(
            run=run,
            base=base,
            split=split,
            judged=held_out_corrections(held_out=split.held_out, corrections=corrections),
            corrections=corrections,
            evidence=evidence,
            hyperparameters=hyperparameters,
            start_from_base_model=recipe.start == "base",
        )


def _train_evaluate_decide(
    *,
    run: TrainingRun,
    base: ModelVersion | None,
    split: Split,
    judged: list[Pair],
    corrections: list[Pair],
    hyperparameters: Hyperparameters,
    evidence: list[Pair],
    start_from_base_model: bool = False,
) -> TrainingRun:
    name = f"v{run.pk}"
    log: list[str] = []
    stored = False
    scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_scratch_root()))
    try:
        base_dir = model_version_local_path(version=base) if base is not None else base_model_path()
        result = fine_tune(
            # Compared with the version it would replace (base) either way.
            base_model_dir=base_model_path() if start_from_base_model else base_dir,
            pairs=split.train,
            output_dir=scratch / "model",
            hyperparameters=hyperparameters,
            on_progress=ProgressRecorder(run=run),
        )
        log = result.log
        if settings.GRADER_EXPORT_ONNX:
            # Before the files are hashed and stored: the export is part of the version, verified like the rest.
            export_onnx(result.output_dir)
        scale = similarity_scale_write(model_dir=result.output_dir)  # also part of the version
        log.append(
            f"similarity scale fitted on {scale.answers} uncorrected answers" if scale else "no similarity scale"
        )
        evaluation = _evaluate(
            run=run,
            candidate_dir=result.output_dir,
            base=base,
            base_dir=base_dir,
            judged=judged,
            evidence=evidence,
            held_out=len(split.held_out),
        )
        stored = True
        sha256 = model_artifact_store(local_dir=result.output_dir, name=name)
        version = _record_candidate(
            run=run,
            base=base,
            name=name,
            sha256=sha256,
            result=result,
            evaluation=evaluation,
            corrections_trained_on=len(pairs_teachers_graded(pairs=split.train, corrections=corrections)),
        )
    except BaseException as error:
        # BaseException: a soft time limit or Ctrl-C must also leave the run failed and no half artifact behind.
        if stored:
            model_artifact_delete(name=name)
        training_run_fail(run=run, error=error, log=log)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        return _decide(run=run, version=version)
    except BaseException as error:
        # The version stays a candidate (never active); an operator may dry-run and activate it by hand.
        training_run_fail(run=run, error=error, log=log)
        raise


def _scratch_root() -> Path:
    root = Path(settings.GRADER_MODEL_CACHE_DIR) / "training"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _evaluate(
    *,
    candidate_dir: Path,
    base: ModelVersion | None,
    base_dir: Path,
    judged: list[Pair],
    held_out: int,
    evidence: Sequence[Pair] = (),
    run: TrainingRun | None = None,
) -> dict:
    """The candidate and the model it would replace, each grading the same held-out teacher-corrected answers
    (``judged``; and the adversarial benchmark's dev half) through the workers' pipeline; the per-answer points are
    kept for the gate's bootstrap. ``held_out``: all pairs kept out of training, seed pairs included.

    ``evidence``: the corrections the candidate trained on. Both sides grade a held-out answer of a question with
    some as a worker would, with them as the feedback stage's evidence: a version is judged on what it adds to
    what the deployed grader already does with the same corrections, not on having learned them by heart."""
    if not judged:
        return {"held_out_size": 0, "held_out_pairs": held_out}
    # Both graded as the workers grade (backend, similarity scale, calibration, guards), each model loaded for
    # this evaluation alone: the training process's kept model stays as it was.
    candidate_model = load_model(path=candidate_dir, keep=False)
    replaced_model = load_model(path=base_dir, version_id=base.pk if base is not None else None, keep=False)
    # Each side takes as long as a share of the fine-tune on a busy machine: said, so the run never looks stuck.
    label = f"training run {run.pk}: " if run is not None else ""
    replaced_name = base.name if base is not None else "the base model"
    logger.info("%sthe new version grades the %s held-out answers", label, len(judged))
    candidate_scores = held_out_grades(pairs=judged, model=candidate_model, corrections=evidence)
    logger.info("%s%s grades the same %s answers, to compare", label, replaced_name, len(judged))
    replaced_scores = held_out_grades(pairs=judged, model=replaced_model, corrections=evidence)
    grades = HeldOutGrades(
        human=[pair.label * pair.max_points for pair in judged],
        max_points=[pair.max_points for pair in judged],
        candidate=[float(score.points) for score in candidate_scores],
        replaced=[float(score.points) for score in replaced_scores],
    )
    return {
        "held_out_size": len(judged),
        "held_out_pairs": held_out,
        "held_out_questions": len({pair.question or pair.sentence_1 for pair in judged}),
        "candidate": agreement_of_scores(pairs=judged, scores=candidate_scores),
        "replaced": agreement_of_scores(pairs=judged, scores=replaced_scores),
        "replaced_version": base.name if base is not None else "base model (untrained)",
        "held_out_grades": grades.as_dict(),
        "adversarial": _adversarial_dev(candidate=candidate_model, replaced=replaced_model, label=label),
    }


def _adversarial_dev(*, candidate: GradingModel, replaced: GradingModel, label: str = "") -> dict | None:
    """The share of the adversarial benchmark's dev-half answers built to fool the grader that each model catches
    (below the pass mark or routed to a teacher); None when the benchmark is not configured or not present."""
    path = settings.GRADER_PROMOTION_ADVERSARIAL_CSV
    if not path or not Path(path).is_file():
        return None
    cases = [case for case in load_cases(path) if case.split == "dev"]
    if not cases:
        return None
    logger.info("%sboth grade the adversarial benchmark's %s dev answers, built to fool a grader", label, len(cases))
    calibration = calibration_for()
    policy = GradingPolicy.defaults(max_points=Decimal(1))  # each case is graded on its own maximum
    caught = {}
    for side, model in (("candidate", candidate), ("replaced", replaced)):
        scores = grade_cases(cases, model=model, calibration=calibration, policy=policy)
        report = summarize(cases, scores, pass_fraction=settings.GRADER_PASS_FRACTION)
        caught[side] = report["dev"]["fooling_caught"]
    return {"n": len(cases), **caught}


@transaction.atomic
def _record_candidate(
    *,
    run: TrainingRun,
    base: ModelVersion | None,
    name: str,
    sha256: str,
    result: FineTuneResult,
    evaluation: dict,
    corrections_trained_on: int,
) -> ModelVersion:
    version = ModelVersion.objects.create(
        name=name,
        parent=base,
        artifact_path=name,
        sha256=sha256,
        model_card=result.model_card,
        metrics={
            "train_loss": result.train_loss,
            "steps": result.steps,
            "seconds": result.seconds,
            "corrections_trained_on": corrections_trained_on,
            "held_out": evaluation.get("candidate"),
            "parent_held_out": evaluation.get("replaced"),
        },
        evaluation=evaluation,
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        produced_version=version, metrics=version.metrics, log="\n".join(result.log)
    )
    return version


def gate_rule() -> GateRule:
    return GateRule(
        primary=settings.GRADER_PROMOTION_METRIC,
        tolerance=settings.GRADER_PROMOTION_TOLERANCE,
        resamples=settings.GRADER_PROMOTION_RESAMPLES,
        confidence=settings.GRADER_PROMOTION_CONFIDENCE,
        pass_fraction=settings.GRADER_PASS_FRACTION,
        min_answers=settings.GRADER_PROMOTION_MIN_ANSWERS,
    )


def gate_decision(*, evaluation: dict, has_parent: bool) -> dict:
    """Promote only a candidate that grades the held-out answers really better than the version it would replace
    (training.gate.gate_verdict); the first version has nothing to beat."""
    if not has_parent:
        return {"promote": True, "reason": "First version: there is no active version to beat."}
    if not evaluation.get("held_out_size"):
        return {
            "promote": False,
            "reason": "Not activated: none of the answers teachers corrected was kept out of its training to test it, "
            "so nothing shows that it grades better.",
        }
    grades = HeldOutGrades.from_dict(evaluation["held_out_grades"])
    return gate_verdict(grades=grades, rule=gate_rule(), adversarial=evaluation.get("adversarial"))


def _decide(*, run: TrainingRun, version: ModelVersion) -> TrainingRun:
    decision = gate_decision(evaluation=version.evaluation, has_parent=version.parent_id is not None)
    evaluation = {**version.evaluation, "gate": decision}
    if version.parent_id is not None:  # the first version has nothing beside it and no grades to change
        # Promoted or not, what the version would change is part of what an operator judges it by.
        dry_run = model_version_dry_run(version=version)
        evaluation["comparison"] = model_version_comparison(version=version, decision=decision, dry_run=dry_run)
    ModelVersion.objects.filter(pk=version.pk).update(evaluation=evaluation)
    if decision["promote"]:
        with transaction.atomic():
            model_version_activate(version=version)
            TrainingRun.objects.filter(pk=run.pk).update(
                status=TrainingRun.Status.SUCCEEDED, reason=decision["reason"], finished_at=timezone.now()
            )
            if version.parent_id is not None and settings.GRADER_REGRADE_ON_PROMOTION == "uncorrected":
                regrade_enqueue(question_ids=questions_with_uncorrected_grades())
    else:
        with transaction.atomic():
            ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.CANDIDATE).update(
                status=ModelVersion.Status.REJECTED
            )
            TrainingRun.objects.filter(pk=run.pk).update(
                status=TrainingRun.Status.SUCCEEDED, reason=decision["reason"], finished_at=timezone.now()
            )
    logger.info("training run %s: %s", run.pk, decision["reason"])
    run.refresh_from_db()
    return run


def model_version_comparison(*, version: ModelVersion, decision: dict, dry_run: dict | None) -> dict:
    """What the model-versions page and the API show, side by side for the candidate and the version it would
    replace: each one's grade metrics on the held-out teacher-corrected answers with its bootstrap interval, how many
    corrections each learned from, the gate's verdict in one sentence, and the dry run's diff."""
    intervals = decision.get("intervals") or {}

    def side(name: str, model: ModelVersion | None) -> dict:
        found = decision.get(name)
        metrics: dict = found if isinstance(found, dict) else {}
        return {
            "version": model.name if model is not None else None,
            # Versions trained before this count was kept, and the packaged base model, say None / 0.
            "corrections_learned_from": (model.metrics or {}).get("corrections_trained_on") if model else 0,
            **{
                metric: {"value": metrics.get(metric), "interval": (intervals.get(metric) or {}).get(name)}
                for metric in GATE_METRICS
            },
        }

    parent = version.parent
    return {
        "held_out_answers": (decision.get("candidate") or {}).get("n") or 0,
        "confidence": decision.get("confidence"),
        "candidate": side("candidate", version),
        "replaced": side("replaced", parent),
        "gain": {
            metric: {k: v for k, v in (intervals.get(metric) or {}).items() if k in ("improvement", "low", "high")}
            for metric in GATE_METRICS
        },
        "activated": bool(decision.get("promote")),
        "reason": decision.get("reason", ""),
        "dry_run": _dry_run_summary(dry_run),
    }


def _dry_run_summary(dry_run: dict | None) -> dict | None:
    if not dry_run:
        return None
    keys = ("sampled", "total_uncorrected", "changed", "raised", "lowered", "mean_abs_change", "max_abs_change",
            "crossing_pass_mark", "passing_to_failing", "examples")  # fmt: skip
    return {key: dry_run.get(key) for key in keys}


@transaction.atomic
def model_version_activate(*, version: ModelVersion) -> None:
    """Make ``version`` the one that grades; the previous active version is retired in the same transaction."""
    ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).exclude(pk=version.pk).update(
        status=ModelVersion.Status.RETIRED
    )
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.ACTIVE, activated_at=timezone.now())
