"""The hand-written adversarial benchmark (bench/adversarial/answers.csv) → docs/BENCHMARKS.md + docs/adversarial.png.

    .venv/bin/python bench/adversarial.py            # base model, deployed calibration and checks (≈ 1 min)
    .venv/bin/python bench/adversarial.py --no-docs  # print only

Runs `manage.py evaluate --protocol adversarial` (the workers' grading pipeline) and writes its report between the
<!-- adversarial:start --> and <!-- adversarial:end --> markers. The checks are tuned on the dev half only; the test
half is reported, never tuned on.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")

DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- adversarial:start -->", "<!-- adversarial:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, default=ROOT / "bench" / "adversarial" / "answers.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-adversarial")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    import django
    from django.core.management import call_command

    django.setup()
    call_command("evaluate", str(args.csv), protocol="adversarial", out=args.out, stdout=open(os.devnull, "w"))
    report = (args.out / "adversarial.md").read_text(encoding="utf-8")
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (
        f"Run finished {finished} on {platform.machine()} ({os.cpu_count()} cores), `python bench/adversarial.py`.\n\n"
        + report
        + "\n![per kind and reliability](adversarial.png)\n"
    )
    print(text)
    if args.no_docs:
        return
    shutil.copyfile(args.out / "adversarial.png", ROOT / "docs" / "adversarial.png")
    document = DOC.read_text(encoding="utf-8")
    if START not in document:
        document = document.replace(
            "## Grading quality\n",
            f"## Not fooled: hand-written adversarial answers\n\n{START}\n{END}\n\n## Grading quality\n",
            1,
        )
    start, end = document.index(START) + len(START), document.index(END)
    DOC.write_text(document[:start] + "\n" + text + document[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
