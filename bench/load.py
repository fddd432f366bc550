"""The load run: 5,000 submissions from 50 concurrent clients against gunicorn + Celery on loopback.

Runs tests/reliability/test_load.py (the same assertions: no 5xx, every submission graded exactly once, counts
checked in the database) with a larger N, then writes the timings into docs/BENCHMARKS.md between the
`<!-- load:start -->` and `<!-- load:end -->` markers.

    python bench/load.py                       # 5,000 submissions, 50 clients
    python bench/load.py --submissions 1000 --clients 20

Needs what `make test` needs (PostgreSQL, Redis); TEST_DATABASE_URL / TEST_BROKER_URL as for `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCHMARKS = PROJECT_DIR / "docs" / "BENCHMARKS.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=3600, help="seconds before the run gives up")
    parser.add_argument("--no-write", action="store_true", help="print the result, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "load.json"
        env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/grader"),
            "CELERY_BROKER_URL": os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15"),
            "DJANGO_SECRET_KEY": os.environ.get(
                "DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop"
            ),
            "GRADER_LOAD_SUBMISSIONS": str(args.submissions),
            "GRADER_LOAD_CLIENTS": str(args.clients),
            "GRADER_LOAD_DEADLINE_SECONDS": str(args.deadline),
            "GRADER_LOAD_REPORT": str(report_path),
        }
        started = time.monotonic()
        outcome = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability/test_load.py"],
            cwd=PROJECT_DIR,
            env=env,
            check=False,
        )
        wall = time.monotonic() - started
        if outcome.returncode != 0 or not report_path.exists():
            print(f"load run failed (pytest exit {outcome.returncode})", file=sys.stderr)
            return 1
        report = json.loads(report_path.read_text())
    load_after = os.getloadavg()
    print(json.dumps(report, indent=2))
    if not args.no_write:
        write_section(render(report, wall=wall, load_before=load_before, load_after=load_after))
    return 0


def render(report: dict, *, wall: float, load_before: tuple, load_after: tuple) -> str:
    cpu = platform.processor() or platform.machine()
    return "\n".join(
        [
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), load average "
            f"{load_before[0]:.1f} before and {load_after[0]:.1f} after (the machine was shared).",
            "gunicorn 2 workers x 4 threads, one Celery worker with 2 pool processes (1 torch thread each),",
            "the base model,"
            " PostgreSQL and Redis on loopback. Command: `.venv/bin/python bench/load.py"
            f" --submissions {report['submissions']} --clients {report['clients']}`.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| submissions / concurrent clients | {report['submissions']} / {report['clients']} |",
            "| responses | all 202, no 5xx, no timeouts (asserted) |",
            "| graded exactly once | yes: one claim and one grade written per submission (asserted) |",
            f"| all submitted after | {report['submit_seconds']} s ({report['requests_per_second']} requests/s) |",
            f"| POST latency p50 / p95 / max | {report['latency_p50_ms']} / {report['latency_p95_ms']} / "
            f"{report['latency_max_ms']} ms |",
            f"| all graded after | {report['all_graded_seconds']} s ({report['graded_per_second']} graded/s, "
            "including worker start and model load) |",
            f"| whole run (process start to stop) | {wall:.0f} s |",
        ]
    )


def write_section(body: str) -> None:
    text = BENCHMARKS.read_text()
    block = f"<!-- load:start -->\n{body}\n<!-- load:end -->"
    if "<!-- load:start -->" in text:
        text = re.sub(r"<!-- load:start -->.*?<!-- load:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + f"\n\n## Load (5,000 submissions, 50 clients)\n\n{block}\n"
    BENCHMARKS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
