"""Real worker processes for the job tests: `flask worker` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import BASE_DIR
from schoolhealth.extensions import db
from schoolhealth.models import Job
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil

HERE = Path(__file__).resolve().parent


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the test database, without Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TEST_DATABASE_URL")}
    env.update(
        DATABASE_URL=database_url,
        SCHOOLHEALTH_CONFIG="development",
        JOBS_EAGER="0",
        JOB_POLL_SECONDS="0.2",
        JOB_HEARTBEAT_SECONDS="0.2",
        PYTHONPATH=str(BASE_DIR),
        **extra,
    )
    return env


def run_worker_burst(database_url: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`flask --app wsgi worker --burst` in its own process: runs the queue, then exits."""
    db.session.remove()  # nothing of this test's session may hold a lock meanwhile
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=BASE_DIR,
        env=worker_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def roster_rows(count: int) -> list[list[str]]:
    return [pupil(n, klass=str(n % 4 + 1), grade=str(n % 6 + 1)) for n in range(1, count + 1)]


def queued_import(nurse, rows: list[list[str]], status: str = "queued") -> Job:
    job = Job(
        kind="roster_import",
        status=status,
        user_id=nurse.id,
        school_id=nurse.school_id,
        params={"school_year": 2026, "skip_invalid_rows": False},
        payload=csv_bytes(HEADER_ZH, rows),
        payload_name="roster.csv",
        total=len(rows),
    )
    db.session.add(job)
    db.session.commit()
    return job
