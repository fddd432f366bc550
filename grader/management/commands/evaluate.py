from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from grader.scoring.model import INFERENCE_BACKENDS, base_model_path
from grader.services.model_versions import hyperparameters_from_settings
from training.evaluation import load_items
from training.protocols import CALIBRATE_WITH, PROTOCOLS, graded_splits, run_protocol


class Command(BaseCommand):
    help = (
        "Measure grader against human grades in a CSV (question_id, question, reference_answer, student_answer, "
        "score, max_score, split): 'folds' grades each split with a model and calibration trained on the others; "
        "'feedback' adds k teacher grades per question (k = 0, 2, 5, 10, 20) before grading the rest; "
        "'semester' replays the course's splits in order through the deployed learning loop on the configured "
        "(scratch) database: grade, k corrections per question, retrain (never / with the gate / always promote)."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path", type=Path)
        parser.add_argument(
            "--protocol",
            choices=(*PROTOCOLS, "adversarial", "semester"),
            required=True,
            help="adversarial: a CSV of answers built to fool a similarity grader, with their kind "
            "(bench/adversarial/answers.csv), graded by the deployed pipeline and reported per kind. semester: "
            "needs a database without submissions (it switches the active version)",
        )
        parser.add_argument("--k", type=int, default=5, help="semester: corrections per question of each assignment")
        parser.add_argument(
            "--assignments", type=int, default=None, help="semester: replay only the first N splits (a quick look)"
        )
        parser.add_argument(
            "--active-version",
            action="store_true",
            help="adversarial: grade with the active model version (default: the base model)",
        )
        parser.add_argument("--folds", type=int, default=None, help="run only the first N splits (a quick look)")
        parser.add_argument(
            "--holdout",
            action="append",
            default=[],
            metavar="SPLIT",
            help="grade exactly this split (repeatable), with every split not named as training, e.g. a benchmark's "
            "official test splits (default: each split in turn)",
        )
        parser.add_argument(
            "--corrections-from",
            action="append",
            default=[],
            metavar="SPLIT",
            help="feedback with --holdout: a held-out question's k corrections are k of its answers in this training "
            "split (repeatable), and all its held-out answers are graded (default: k of its held-out answers)",
        )
        parser.add_argument("--questions", type=int, default=None, help="grade only N questions per held-out split")
        parser.add_argument("--out", type=Path, default=Path(settings.VAR_DIR) / "evaluate")
        parser.add_argument(
            "--epochs",
            type=int,
            default=None,
            help="fine-tuning epochs per fold through the production pipeline; 0 grades with the base model "
            "(default: GRADER_TRAIN_EPOCHS for folds, 0 for feedback, where corrections act before any retraining)",
        )
        parser.add_argument("--no-seed-pairs", action="store_true", help="fine-tune on the CSV's training rows only")
        parser.add_argument(
            "--backend",
            choices=("sentence-transformers", *INFERENCE_BACKENDS),
            default="sentence-transformers",
            help="encode with a grading backend (GRADER_INFERENCE_BACKEND, e.g. onnx-int8) to measure it on your "
            "own answers before switching; default: sentence-transformers, with which the model was trained",
        )
        parser.add_argument(
            "--calibrate-with",
            choices=CALIBRATE_WITH,
            default="base-mapped",
            help="fine-tuned folds: base-mapped (as deployed) fits the calibration on the base model's vectors of "
            "the training splits and maps the fold model's similarities onto the base model's scale (quantiles "
            "over the held-out answers, no grades); base skips the map; fold fits on the fold model's own vectors "
            "(in-sample)",
        )

    def handle(self, *args, csv_path: Path, protocol: str, folds, questions, out: Path, epochs, **options):
        if not csv_path.exists():
            raise CommandError(f"{csv_path} does not exist")
        if protocol == "adversarial":
            self._adversarial(csv_path, out, active_version=options["active_version"])
            return
        if protocol == "semester":
            self._semester(csv_path, out, k=options["k"], assignments=options["assignments"], epochs=epochs)
            return
        if options["corrections_from"] and protocol != "feedback":
            raise CommandError("--corrections-from applies to the feedback protocol")
        try:  # a CSV or a choice of splits that cannot be evaluated fails here, before any model is loaded
            graded_splits(load_items(csv_path), folds=folds, holdout=options["holdout"],
                          corrections_from=options["corrections_from"])  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        from tqdm import tqdm

        hyperparameters = hyperparameters_from_settings()
        if epochs is None:
            epochs = hyperparameters.epochs if protocol == "folds" else 0
        if epochs > 0:
            from dataclasses import replace

            hyperparameters = replace(hyperparameters, epochs=epochs)
        summary = run_protocol(
            csv_path=csv_path,
            protocol=protocol,
            out_dir=out,
            base_model_dir=base_model_path(),
            hyperparameters=hyperparameters if epochs > 0 else None,
            seed_pairs_path=None if options["no_seed_pairs"] else settings.GRADER_SEED_PAIRS,
            folds=folds,
            holdout=options["holdout"],
            corrections_from=options["corrections_from"],
            questions=questions,
            progress=lambda splits: tqdm(splits, desc=f"{protocol}: held-out splits", unit="split"),
            calibrate_with=options["calibrate_with"],
            backend=options["backend"],
        )
        self.stdout.write((out / f"{protocol}.md").read_text(encoding="utf-8"))
        self.stdout.write(f"written: {out / (protocol + '.json')}, {out / (protocol + '.md')}")
        if summary["partial"]:
            self.stdout.write(self.style.WARNING("partial run (--folds/--questions): not comparable with published"))

    def _semester(self, csv_path: Path, out: Path, *, k: int, assignments: int | None, epochs: int | None) -> None:
        from dataclasses import replace

        from training.semester import SemesterOptions, run_semester

        # --epochs: every retrain of the replay (default: the deployment's GRADER_TRAIN_EPOCHS).
        hyperparameters = replace(hyperparameters_from_settings(), epochs=epochs) if epochs else None
        options = SemesterOptions(k=k, assignments=assignments, hyperparameters=hyperparameters)
        try:
            run_semester(csv_path=csv_path, out_dir=out, options=options, progress=self.stdout.write)
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        self.stdout.write((out / "semester.md").read_text(encoding="utf-8"))
        self.stdout.write(f"written: {out / 'semester.json'}, {out / 'semester.md'}, {out / 'semester.png'}")

    def _adversarial(self, csv_path: Path, out: Path, *, active_version: bool) -> None:
        from decimal import Decimal

        from grader.scoring.context import GradingPolicy, calibration_for
        from grader.scoring.model import load_model
        from grader.services.grading_models import model_for_active_version
        from training import adversarial_benchmark

        if active_version:
            version, model = model_for_active_version()
            name = version.name
        else:
            model, name = load_model(path=base_model_path(), keep=False), "base model"
        cases = adversarial_benchmark.load_cases(csv_path)
        policy = GradingPolicy.defaults(max_points=Decimal(1))
        scores = adversarial_benchmark.grade_cases(cases, model=model, calibration=calibration_for(), policy=policy)
        summary = adversarial_benchmark.summarize(cases, scores, pass_fraction=policy.pass_fraction)
        title = f"Adversarial benchmark `{csv_path.name}`, {name}, deployed calibration and guards."
        written = adversarial_benchmark.write_report(cases, scores, summary, out, title=title)
        self.stdout.write(adversarial_benchmark.markdown(summary, title=title))
        self.stdout.write("written: " + ", ".join(str(path) for path in written))
