"""Speed and memory of grader, measured in one run on one machine; the table goes to docs/BENCHMARKS.md.

    .venv/bin/python bench/speed.py                     # the full run (N=2000, 100 req/s for 30 s, 1,000 corrections)
    .venv/bin/python bench/speed.py --n 200 --rate-seconds 5 --corrections 100 --note "development run"

The script creates its own PostgreSQL database and uses its own Redis database (both dropped and recreated:
never point it at data you keep), starts gunicorn and a Celery grading worker against them, and stops them at
the end. Measured, in this order:

1. Raw ceiling: SentenceTransformer.encode of N Mohler answers at the workers' batch size, in this process.
2. Single-answer latency: with an idle worker, one POST at a time, from the 202 to `graded` seen in the database.
3. Bulk grading: N submissions posted through the API (the bulk endpoint if the server has one, else single
   POSTs from several threads), until the last is `graded` in the database.
4. API latency: POST /api/v1/submissions/ at a fixed rate (open loop: latency counts from the scheduled send
   time) while the workers grade a backlog.
5. Peak RSS (VmHWM) of the worker's pool processes (model loaded) and of the gunicorn workers.
6. Retraining: model_retrain() on C teacher corrections (Mohler answers with their human scores).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import csv
import gc
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The benchmark data sits beside the repository, not in it: --mohler-csv or GRADER_BENCHDATA point elsewhere.
BENCHDATA = Path(os.environ.get("GRADER_BENCHDATA", PROJECT_DIR.parent / "shared" / "benchdata"))
DOCS = PROJECT_DIR / "docs" / "BENCHMARKS.md"
# One block per inference backend: "speed-onnx" (the default), "speed-onnx-int8" and "speed" (torch).
MARKER = "<!-- {name}:{end} -->"
BULK_PATH = "/api/v1/submissions/bulk/"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mohler-csv", type=Path, default=BENCHDATA / "mohler" / "mohler.csv")
    parser.add_argument("--n", type=int, default=2000, help="answers for the raw ceiling and the bulk run")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--rate", type=int, default=100, help="API requests per second")
    parser.add_argument("--rate-seconds", type=int, default=30)
    parser.add_argument(
        "--rate-runs", type=int, default=3, help="fixed-rate runs: a p99 of 3,000 requests moves a lot between runs"
    )
    parser.add_argument("--corrections", type=int, default=1000, help="corrections to retrain on (0: skip)")
    parser.add_argument(
        "--backend", choices=["onnx", "onnx-int8", "torch"], default="onnx", help="GRADER_INFERENCE_BACKEND"
    )
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery prefork processes")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes (as docker-compose)")
    parser.add_argument("--post-mode", choices=["auto", "bulk", "single"], default="auto")
    parser.add_argument("--post-threads", type=int, default=8, help="client threads for single POSTs")
    parser.add_argument("--bulk-size", type=int, default=100, help="submissions per bulk request")
    parser.add_argument("--database", default="grader_speed_bench", help="created (dropped first) on --pg")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="flushed at start")
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--note", default="", help="printed above the table, e.g. the machine's state")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    return parser.parse_args()


# --- environment ---------------------------------------------------------------------------------------------


def prepare_environment(args: argparse.Namespace, work_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{args.database}",
        "CELERY_BROKER_URL": args.redis,
        # As docker-compose deploys it: the throttle's counters in Redis, shared by the web processes.
        "CACHE_URL": args.redis.rsplit("/", 1)[0] + "/8",
        "GRADER_MODEL_DIR": str(work_dir / "models"),
        "GRADER_VAR_DIR": str(work_dir),
        "DJANGO_SETTINGS_MODULE": "grader.settings",
        # Production settings refuse the embedded key on a database server; a throwaway one for the bench.
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop"),
        "LOG_LEVEL": "WARNING",
        "GRADER_INFERENCE_BACKEND": args.backend,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # One token sends everything here; the per-token throttle (default 600/min) would turn the fixed-rate
        # phase into a measure of 429s. Twice the offered rate keeps it out of the way; 429s are counted apart.
        "GRADER_API_THROTTLE_RATE": env_throttle(args),
    }
    os.environ.update(env)
    return env


def env_throttle(args: argparse.Namespace) -> str:
    return f"{args.rate * 120}/min"


def recreate_database(args: argparse.Namespace) -> None:
    import psycopg
    import redis

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    redis.Redis.from_url(args.redis).flushdb()


@dataclass
class Workload:
    token: str
    question_ids: list[int]
    answers: list[tuple[int, str, float]]  # (question id, student answer, human score 0..5)


def load_workload(mohler_csv: Path, model_dir: Path, backend: str = "torch") -> Workload:
    """The Mohler questions (one reference each) in one course, an API token, and the base model as active."""
    from decimal import Decimal

    from django.core.management import call_command

    from grader.models import Course, ModelVersion
    from grader.scoring.model import base_model_path
    from grader.services.courses import question_create
    from grader.services.integrations import integration_create
    from grader.services.model_versions import model_version_activate
    from training.finetune import directory_sha256

    call_command("migrate", verbosity=0)
    course = Course.objects.create(code="mohler", name="Mohler et al. 2011 data structures course")
    rows = list(csv.DictReader(mohler_csv.open(encoding="utf-8")))
    questions: dict[str, int] = {}
    for row in rows:
        if row["question_id"] not in questions:
            question = question_create(
                course=course,
                key=row["question_id"].replace(".", "-"),
                prompt=row["question"],
                max_points=Decimal("5"),
                reference_answers=[row["reference_answer"]],
            )
            questions[row["question_id"]] = question.pk
    _, token = integration_create(name="bench", courses=[course])
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(base_model_path(), model_dir / "base", dirs_exist_ok=True)
    if backend != "torch":  # what training does for every version it stores (float and int8)
        from training.onnx_export import export_onnx

        export_onnx(model_dir / "base")
    version = ModelVersion.objects.create(
        name="base", artifact_path="base", sha256=directory_sha256(model_dir / "base")
    )
    model_version_activate(version=version)
    answers = [(questions[row["question_id"]], row["student_answer"], float(row["score"])) for row in rows]
    return Workload(token=token, question_ids=list(questions.values()), answers=answers)


def answers_for(workload: Workload, count: int, offset: int = 0) -> list[tuple[int, str, float]]:
    pool = workload.answers
    return [pool[(offset + index) % len(pool)] for index in range(count)]


# --- processes -----------------------------------------------------------------------------------------------


@dataclass
class Services:
    worker: subprocess.Popen
    web: subprocess.Popen
    logs: list = field(default_factory=list)

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.web, self.worker):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


def start_services(args: argparse.Namespace, env: dict[str, str], work_dir: Path) -> Services:
    bin_dir = Path(sys.executable).parent
    worker_log = (work_dir / "worker.log").open("w")
    web_log = (work_dir / "web.log").open("w")
    worker = subprocess.Popen(
        [str(bin_dir / "celery"), "-A", "grader", "worker", "-Q", "grading", "--pool", "prefork",
         "--concurrency", str(args.worker_concurrency), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=PROJECT_DIR, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    web = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "grader.wsgi", "--bind", f"127.0.0.1:{args.port}",
         "--workers", str(args.web_workers), "--log-level", "warning"],
        cwd=PROJECT_DIR, env=env, stdout=web_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    services = Services(worker=worker, web=web, logs=[worker_log, web_log])
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{args.port}/healthz", timeout=5).ok:
                return services
        except requests.RequestException:
            time.sleep(0.3)
        except BaseException:
            services.stop()
            raise
    services.stop()
    raise RuntimeError(f"gunicorn did not answer; see {work_dir / 'web.log'}")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory this process has ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- measurements --------------------------------------------------------------------------------------------


def raw_encode_rate(answers: list[str]) -> tuple[float, int]:
    """Sentences per second of a bare SentenceTransformer.encode, and the batch size used (the workers')."""
    import gc

    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from grader.scoring.model import base_model_path

    batch_size = settings.GRADER_ENCODE_BATCH_SIZE
    model = SentenceTransformer(str(base_model_path()), device="cpu")
    model.encode(answers[:batch_size], batch_size=batch_size)  # first call pays for lazy initialisation
    started = time.perf_counter()
    model.encode(answers, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    elapsed = time.perf_counter() - started
    del model
    gc.collect()
    return len(answers) / elapsed, batch_size


class PostFailed(RuntimeError):
    def __init__(self, status: int, body: str):
        super().__init__(f"POST failed: {status} {body}")
        self.status = status


def backend_agreement(workload: Workload, model_dir: Path, backend: str) -> str:
    """How the grading backend's vectors compare with SentenceTransformer's on every Mohler answer: the largest
    difference in cosine similarity to the reference, and each one's Pearson with the human scores."""
    import numpy as np
    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from grader.models import ReferenceAnswer
    from grader.scoring.model import MeanPoolingEncoder

    references = dict(ReferenceAnswer.objects.values_list("question_id", "text"))
    answers = [answer for _, answer, _ in workload.answers]
    refs = [references[question_id] for question_id, _, _ in workload.answers]
    human = np.array([score for _, _, score in workload.answers])
    reference_model = SentenceTransformer(str(model_dir), device="cpu")
    grading_model = MeanPoolingEncoder(model_dir, backend=backend, threads=os.cpu_count() or 1)
    cosines = []
    for encode in (
        lambda texts: reference_model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False),
        lambda texts: grading_model.encode(
            texts, batch_size=32, max_batch_tokens=settings.GRADER_ENCODE_MAX_BATCH_TOKENS or None
        ),
    ):
        cosines.append((encode(answers) * encode(refs)).sum(axis=1))
    gap = float(np.abs(cosines[0] - cosines[1]).max())
    pearsons = [float(np.corrcoef(cosine, human)[0, 1]) for cosine in cosines]
    return (
        f"{grading_model.backend} vs sentence-transformers on {len(answers)} Mohler answers: largest Δ cosine "
        f"{gap:.1e}; Pearson of cosine with the human scores {pearsons[1]:.4f} vs {pearsons[0]:.4f}"
    )


class Client:
    def __init__(self, args: argparse.Namespace, token: str):
        import requests

        self.base = f"http://127.0.0.1:{args.port}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self._local = threading.local()
        self._requests = requests

    @property
    def session(self):
        if not hasattr(self._local, "session"):
            self._local.session = self._requests.Session()
            self._local.session.headers.update(self.headers)
        return self._local.session

    def submit(self, question_id: int, answer: str, external_id: str) -> int:
        response = self.session.post(
            f"{self.base}/api/v1/submissions/",
            json={"question": question_id, "student_ref": "bench", "answer": answer, "external_id": external_id},
            timeout=30,
        )
        if response.status_code not in (200, 202):
            raise PostFailed(response.status_code, response.text[:200])
        return response.json()["id"]

    def has_bulk_endpoint(self) -> bool:
        # Without one, the path is the detail route of a submission called "bulk": it exists but takes no POST.
        response = self.session.options(f"{self.base}{BULK_PATH}", timeout=10)
        return response.ok and "POST" in response.headers.get("Allow", "")

    def submit_bulk(self, items: list[dict]) -> None:
        for body in ({"submissions": items}, items):  # the two shapes a bulk endpoint takes
            response = self.session.post(f"{self.base}{BULK_PATH}", json=body, timeout=120)
            if response.status_code in (200, 201, 202, 207):
                return
        raise RuntimeError(f"bulk POST failed: {response.status_code} {response.text[:300]}")


class Database:
    """Reads for the stopwatch, on their own connection (not Django's), so they never wait behind the ORM."""

    def __init__(self, url: str):
        import psycopg

        self.connection = psycopg.connect(url, autocommit=True)

    def graded_at(self, submission_id: int):
        row = self.connection.execute(
            # needs_review is graded too, only held back for a teacher (grader.scoring.decision).
            "SELECT graded_at FROM grader_submission WHERE id = %s AND status IN ('graded', 'needs_review')",
            [submission_id],
        ).fetchone()
        return row[0] if row else None

    def graded_count(self, tag: str) -> tuple[int, float | None, float | None]:
        count, first_claim, last_graded = self.connection.execute(
            "SELECT count(*), extract(epoch FROM min(grading_started_at)), extract(epoch FROM max(graded_at)) "
            "FROM grader_submission WHERE external_id LIKE %s AND status IN ('graded', 'needs_review')",
            [f"{tag}-%"],
        ).fetchone()
        return count, first_claim and float(first_claim), last_graded and float(last_graded)

    def queued_count(self) -> int:
        return self.connection.execute("SELECT count(*) FROM grader_submission WHERE status = 'queued'").fetchone()[0]


def wait_graded(database: Database, tag: str, count: int, timeout: float) -> tuple[float | None, float | None]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        graded, first_claim, last_graded = database.graded_count(tag)
        if graded >= count:
            return first_claim, last_graded
        time.sleep(0.05)
    raise RuntimeError(f"only {database.graded_count(tag)[0]} of {count} '{tag}' submissions graded in {timeout} s")


def warm_up(client: Client, database: Database, workload: Workload, processes: int) -> None:
    """Load the model in every pool process and encode every reference once, as in steady state."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda item: client.submit(item[1], "A warm-up answer.", f"warm-{item[0]}"),
                enumerate(workload.question_ids * max(1, processes)),
            )
        )
    wait_graded(database, "warm", len(workload.question_ids) * max(1, processes), timeout=600)


def single_latency(client: Client, database: Database, workload: Workload, samples: int) -> list[float]:
    """Seconds from the 202 to the moment the grade is visible in the database, one submission at a time."""
    latencies = []
    for index, (question_id, answer, _) in enumerate(answers_for(workload, samples, offset=7)):
        time.sleep(0.2)  # the worker is idle again
        submission_id = client.submit(question_id, answer, f"latency-{index}")
        accepted = time.perf_counter()
        deadline = accepted + 30
        while database.graded_at(submission_id) is None:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"submission {submission_id} not graded within 30 s")
            time.sleep(0.002)
        latencies.append(time.perf_counter() - accepted)
    return latencies


def bulk_grading(
    args: argparse.Namespace, client: Client, database: Database, workload: Workload
) -> tuple[float, float, float, str]:
    """(submissions/s end to end, posting seconds, grading-only submissions/s, how they were posted)."""
    items = [
        {"question": question_id, "student_ref": "bench", "answer": answer, "external_id": f"bulk-{index}"}
        for index, (question_id, answer, _) in enumerate(answers_for(workload, args.n))
    ]
    use_bulk = args.post_mode == "bulk" or (args.post_mode == "auto" and client.has_bulk_endpoint())
    started = time.time()
    if use_bulk:
        mode = f"bulk endpoint, {args.bulk_size} per request"
        for offset in range(0, len(items), args.bulk_size):
            client.submit_bulk(items[offset : offset + args.bulk_size])
    else:
        mode = f"single POSTs from {args.post_threads} threads (no bulk endpoint on this server)"
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.post_threads) as pool:
            list(pool.map(lambda item: client.submit(item["question"], item["answer"], item["external_id"]), items))
    posted = time.time() - started
    first_claim, last_graded = wait_graded(database, "bulk", args.n, timeout=max(600, args.n))
    return args.n / (last_graded - started), posted, args.n / (last_graded - first_claim), mode


def api_latency_under_load(
    args: argparse.Namespace, client: Client, database: Database, workload: Workload, backlog: int, run: int = 0
) -> tuple[list[float], dict[str, int], bool]:
    """POST latencies at a fixed rate while the workers grade ``backlog`` queued submissions.

    Open loop: each request has a scheduled send time and its latency counts from then, so a slow server
    cannot hide its slowness by delaying the next requests (no coordinated omission).
    """
    from grader.models import Submission

    Submission.objects.bulk_create(
        Submission(question_id=question_id, student_ref="backlog", answer=answer, external_id=f"backlog-{run}-{index}")
        for index, (question_id, answer, _) in enumerate(answers_for(workload, backlog, offset=13))
    )
    # The backlog has no messages of its own: every request's message makes a worker claim a full batch of it.
    total = args.rate * args.rate_seconds
    items = answers_for(workload, total, offset=29)
    requests_to_send = [
        post_request(
            args.port,
            client.headers,
            {"question": question_id, "student_ref": "bench", "answer": answer, "external_id": f"rate-{run}-{index}"},
        )
        for index, (question_id, answer, _) in enumerate(items)
    ]
    # This process holds torch, the model and Django: a full garbage collection of that heap stalls the event loop
    # for ~200 ms (measured), and every request due meanwhile would be charged to the server. Frozen objects are
    # never scanned again; collection is off until the phase ends.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        latencies, errors = asyncio.run(fixed_rate(args.port, requests_to_send, args.rate))
    finally:
        gc.enable()
        gc.unfreeze()
    still_busy = database.queued_count() > 0
    return latencies, errors, still_busy


def post_request(port: int, headers: dict[str, str], body: dict) -> bytes:
    """One complete HTTP/1.1 POST, serialized before the clock starts."""
    payload = json.dumps(body).encode("utf-8")
    lines = [
        "POST /api/v1/submissions/ HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",  # gunicorn's sync workers close after each response anyway
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def fixed_rate(port: int, requests_to_send: list[bytes], rate: int) -> tuple[list[float], dict[str, int]]:
    """Send ``requests_to_send`` at ``rate`` per second, open loop: each latency counts from its scheduled time.

    One event loop and prebuilt requests, not a pool of `requests` threads: the load generator shares this
    machine's cores with the server, and 32 Python threads contending for the GIL delayed the clock itself by
    milliseconds at the tail, which the server then got blamed for.
    """
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: dict[str, int] = {}  # "429", "500", "timeout", "ConnectionResetError", ...

    async def send(request: bytes, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        failure = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            writer.write(request)
            response = await asyncio.wait_for(reader.read(), 30)  # to EOF: the server closes
            writer.close()
            status = response.split(b" ", 2)[1].decode() if response.startswith(b"HTTP/") else "no response"
            failure = None if status in ("200", "202") else status
        except TimeoutError:
            failure = "timeout"
        except OSError as error:
            failure = type(error).__name__
        if failure is None:
            latencies.append(loop.time() - due)
        else:
            errors[failure] = errors.get(failure, 0) + 1

    start = loop.time() + 0.5
    await asyncio.gather(*(send(request, start + index / rate) for index, request in enumerate(requests_to_send)))
    return latencies, errors


def retrain_seconds(workload: Workload, corrections: int) -> tuple[float, int]:
    """Wall time of model_retrain() on ``corrections`` teacher corrections (Mohler answers, human scores)."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from grader.models import Correction, ModelVersion, ReferenceAnswer, Submission
    from grader.services.model_versions import model_retrain

    teacher = get_user_model().objects.create_user("bench-teacher", is_staff=True)
    references = {reference.question_id: reference for reference in ReferenceAnswer.objects.all()}
    version = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    chosen = answers_for(workload, corrections, offset=101)
    submissions = Submission.objects.bulk_create(
        Submission(
            question_id=question_id,
            student_ref="corrected",
            answer=answer,
            external_id=f"corrected-{index}",
            status=Submission.Status.GRADED,
            best_reference=references[question_id],
            model_version=version,
            points=Decimal("2.5"),
        )
        for index, (question_id, answer, _) in enumerate(chosen)
    )
    Correction.objects.bulk_create(
        Correction(submission=submission, teacher=teacher, points=Decimal(str(score)), auto_points=Decimal("2.5"))
        for submission, (_, _, score) in zip(submissions, chosen, strict=True)
    )
    started = time.perf_counter()
    trained = model_retrain()
    return time.perf_counter() - started, trained.metrics.get("steps", 0)


# --- report --------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> None:
    args = parse_args()
    work_dir = PROJECT_DIR / "var" / f"bench-{args.database}"  # models, logs; one per database
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    env = prepare_environment(args, work_dir)
    sys.path.insert(0, str(PROJECT_DIR))
    recreate_database(args)

    import django

    django.setup()
    from django.conf import settings

    import grader.celery  # noqa: F401 - makes the app current, so enqueueing goes to --redis

    cores = os.cpu_count()
    load_before = os.getloadavg()
    print(f"cores: {cores}; load average before the run: {load_before[0]:.2f}", flush=True)
    workload = load_workload(args.mohler_csv, Path(settings.GRADER_MODEL_DIR), args.backend)

    print("raw encode ceiling ...", flush=True)
    texts = [answer for _, answer, _ in answers_for(workload, args.n)]
    raw_rate, encode_batch = raw_encode_rate(texts)
    print(f"  {raw_rate:.1f} sentences/s", flush=True)
    agreement = backend_agreement(workload, Path(settings.GRADER_MODEL_DIR) / "base", args.backend)

    services = start_services(args, env, work_dir)
    try:
        client = Client(args, workload.token)
        database = Database(env["DATABASE_URL"])
        print("warming the workers up ...", flush=True)
        warm_up(client, database, workload, args.worker_concurrency)
        print("single-answer latency ...", flush=True)
        latencies = single_latency(client, database, workload, args.latency_samples)
        print("bulk grading ...", flush=True)
        bulk_rate, posting_seconds, grading_rate, post_mode = bulk_grading(args, client, database, workload)
        print(f"  {bulk_rate:.1f} submissions/s ({post_mode})", flush=True)
        print("API latency at a fixed rate, workers busy ...", flush=True)
        backlog = max(args.n, int(raw_rate * args.rate_seconds * 1.5))
        api_runs = []
        for run in range(max(1, args.rate_runs)):
            api_runs.append(api_latency_under_load(args, client, database, workload, backlog, run=run))
            print(f"  run {run + 1}: p99 {percentile(api_runs[-1][0], 0.99) * 1000:.1f} ms", flush=True)
        pool_pids = children(services.worker.pid)
        web_pids = children(services.web.pid)
        worker_rss = max((peak_rss_mib(pid) for pid in pool_pids), default=float("nan"))
        worker_main_rss = peak_rss_mib(services.worker.pid)
        web_rss = max((peak_rss_mib(pid) for pid in web_pids), default=float("nan"))
    finally:
        services.stop()

    retrain = None
    if args.corrections:
        print(f"retraining on {args.corrections} corrections ...", flush=True)
        retrain = retrain_seconds(workload, args.corrections)

    ms = 1000
    p50, p95, p99 = (percentile(latencies, q) * ms for q in (0.5, 0.95, 0.99))
    api_rows = []
    for run, (api_latencies, api_errors, still_busy) in enumerate(api_runs, start=1):
        api_p50, api_p99 = (percentile(api_latencies, q) * ms for q in (0.5, 0.99))
        failed_text = ", ".join(f"{kind}: {count}" for kind, count in sorted(api_errors.items())) or "none"
        api_rows.append(
            (
                f"API POST at {args.rate} req/s for {args.rate_seconds} s, workers busy, run {run} of {len(api_runs)} "
                f"({len(api_latencies)} ok, failed: {failed_text}; backlog left: {'yes' if still_busy else 'no'}): "
                "p50 / p99",
                f"{api_p50:.1f} / {api_p99:.1f} ms",
                f"p99 ≤ 30: {verdict(api_p99 <= 30 and not api_errors)}",
            )
        )
    ratio = bulk_rate / raw_rate
    rows = [
        (f"Raw ceiling: `SentenceTransformer.encode`, batch size {encode_batch}", f"{raw_rate:.0f} sentences/s", ""),
        (f"Bulk grading end to end, N={args.n} ({post_mode})", f"{bulk_rate:.0f} submissions/s", ""),
        ("… ratio to the raw ceiling", f"{ratio:.2f}", f"≥ 0.90: {verdict(ratio >= 0.9)}"),
        ("… posting alone took / workers alone (first claim → last graded)",
         f"{posting_seconds:.1f} s / {grading_rate:.0f} submissions/s", ""),
        (f"Single answer, 202 → graded, idle worker ({len(latencies)} samples): p50 / p95 / p99",
         f"{p50:.0f} / {p95:.0f} / {p99:.0f} ms", f"p50 ≤ 100, p99 ≤ 300: {verdict(p50 <= 100 and p99 <= 300)}"),
        *api_rows,
        (f"Peak RSS, worker pool process with the model (main process {worker_main_rss:.0f} MiB)",
         f"{worker_rss:.0f} MiB", f"≤ 600: {verdict(worker_rss <= 600)}"),
        ("Peak RSS, web (gunicorn) worker process", f"{web_rss:.0f} MiB", ""),
    ]  # fmt: skip
    if retrain is not None:
        seconds, steps = retrain
        rows.append(
            (
                f"Retrain on {args.corrections} corrections (+ seed pairs, {steps} steps)",
                f"{seconds:.0f} s",
                f"≤ 180 s for 1,000: {verdict(seconds <= 180)}"
                if args.corrections >= 1000
                else "(not the 1,000 target)",
            )
        )
    else:
        rows.append(("Retrain", "not measured (--corrections 0)", "≤ 180 s for 1,000"))
    rows.append(("Grading backend agreement", agreement, "Pearson within 0.01"))
    command = shlex.join(["python", "bench/speed.py", *sys.argv[1:]])
    header = [
        f"Machine: {cores} cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}; "
        f"load average before the run {load_before[0]:.2f}. Worker: {args.worker_concurrency} prefork processes, "
        f"{settings.GRADER_GRADING_BATCH_SIZE} submissions per claim, encode batch {encode_batch}; "
        f"gunicorn: {args.web_workers} sync workers; API throttle {env_throttle(args)}. "
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Command: `{command.strip()}`",
    ]
    if args.note:
        header = [f"**{args.note}**", "", *header]
    table = ["| measure | result | target |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    block = "\n".join([*header, "", *table])
    print()
    print(block)
    if not args.no_docs:
        text = DOCS.read_text(encoding="utf-8")
        name = "speed" if args.backend == "torch" else f"speed-{args.backend}"
        start_marker, end_marker = MARKER.format(name=name, end="start"), MARKER.format(name=name, end="end")
        before, rest = text.split(start_marker, 1)
        _, after = rest.split(end_marker, 1)
        DOCS.write_text(f"{before}{start_marker}\n{block}\n{end_marker}{after}", encoding="utf-8")
        print(f"\nwritten to {DOCS.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
