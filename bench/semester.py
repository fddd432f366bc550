"""The semester replay (training/semester.py) with its results written into docs/BENCHMARKS.md and docs/.

    createdb grader_replay && DATABASE_URL=postgres://postgres@127.0.0.1:5432/grader_replay .venv/bin/python \\
        manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grader_replay .venv/bin/python bench/semester.py \\
        [--csv ../shared/benchdata/mohler/mohler.csv] [--assignments N] [--k 5] [--epochs 1] [--policies never,always]
        [--start base] [--cross-question-pairs] [--answer-pairs] [--correction-repeats N] [--no-seed-pairs]

The same replay as `manage.py evaluate --protocol semester` (one implementation): Mohler's assignments in order,
graded by the workers' grading function with whatever version is active, k corrections per question after each,
the real model_retrain (gate included) on the configured database, three policies. It needs a database without
submissions (a scratch one). The table goes between the ``semester`` markers of docs/BENCHMARKS.md, the plot to
docs/semester.png, the full report to --out. The recipe flags try another training recipe
(training.dataset.TrainingRecipe) through the same model_retrain; use them with --no-docs: the docs hold the
deployed recipe's replay.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")

DOCS = ROOT / "docs" / "BENCHMARKS.md"
PLOT = ROOT / "docs" / "semester.png"
START, END = "<!-- semester:start -->", "<!-- semester:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, default=ROOT.parent / "shared" / "benchdata" / "mohler" / "mohler.csv")
    parser.add_argument("--assignments", type=int, default=None, help="replay only the first N assignments")
    parser.add_argument("--k", type=int, default=5, help="corrections per question of each graded assignment")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per retrain (default: GRADER_TRAIN_EPOCHS)")
    parser.add_argument(
        "--policies", default="never,gate,always", help="comma-separated, of never,gate,always (default: all three)"
    )
    recipe = parser.add_argument_group("training recipe (default: the seed card's; training.dataset.TrainingRecipe)")
    recipe.add_argument("--start", choices=("active", "base"), default="active", help="what each retrain fine-tunes")
    recipe.add_argument("--answer-pairs", action="store_true", help="+ answer against a full-credit answer")
    recipe.add_argument("--cross-question-pairs", action="store_true", help="+ answer against another question at 0")
    recipe.add_argument("--correction-repeats", type=int, default=1, help="each correction pair this many times")
    recipe.add_argument("--no-seed-pairs", action="store_true", help="train on the corrections alone")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "semester")
    parser.add_argument("--no-docs", action="store_true", help="write the report to --out only")
    parser.add_argument(
        "--report-only", action="store_true", help="no replay: write the docs from --out's semester.json again"
    )
    args = parser.parse_args()
    from training.dataset import TrainingRecipe  # plain Python: no Django needed

    training_recipe = TrainingRecipe(
        start=args.start,
        answer_pairs=args.answer_pairs,
        cross_question_pairs=args.cross_question_pairs,
        correction_repeats=args.correction_repeats,
        seed_pairs=not args.no_seed_pairs,
    )
    if training_recipe != TrainingRecipe() and not args.no_docs:
        parser.error("the docs hold the deployed recipe's replay: add --no-docs to try another recipe")

    import django

    django.setup()
    from grader.services.model_versions import hyperparameters_from_settings
    from training.semester import SemesterOptions, markdown, run_semester, write_report

    if args.report_only:
        summary = json.loads((args.out / "semester.json").read_text(encoding="utf-8"))
        write_report(summary, args.out)
    else:
        hyperparameters = replace(hyperparameters_from_settings(), epochs=args.epochs) if args.epochs else None
        options = SemesterOptions(
            k=args.k,
            assignments=args.assignments,
            hyperparameters=hyperparameters,
            recipe=training_recipe,
            policies=[policy for policy in args.policies.split(",") if policy],
        )
        summary = run_semester(csv_path=args.csv, out_dir=args.out, options=options, progress=print)
    table = markdown(summary)
    print(table)
    if args.no_docs:
        return
    command = "python bench/semester.py" + (f" --assignments {args.assignments}" if args.assignments else "")
    command += f" --k {args.k}" + (f" --epochs {args.epochs}" if args.epochs else "")
    if args.policies != "never,gate,always":
        command += f" --policies {args.policies}"
    block = f"{START}\nCommand: `{command}`\n\n{table}\n![Semester replay](semester.png)\n{END}"
    text = DOCS.read_text(encoding="utf-8")
    DOCS.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S),
                    encoding="utf-8")  # fmt: skip
    shutil.copyfile(args.out / "semester.png", PLOT)
    print(f"written: {DOCS} (between the semester markers), {PLOT}")


if __name__ == "__main__":
    main()
