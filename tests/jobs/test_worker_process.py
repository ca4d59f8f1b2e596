"""`flask worker` as its own process on the jobs table (no Redis): the embedded default.

The browser's confirm only queues the import; the worker process writes it. A worker
killed with SIGKILL in the middle of an import's writes leaves none of its rows, the
reaper fails its job, and running the same import again gives exactly one clean import.
Both run on SQLite and on PostgreSQL (TEST_DATABASE_URL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from config import BASE_DIR
from schoolhealth import jobs
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment, Job, SchoolClass, Student, User
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes
from tests.roster.test_import_routes import count_of, job_id_of, upload

from .helpers import HERE, queued_import, roster_rows, run_worker_burst, worker_env


@pytest.fixture
def queue_mode(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    monkeypatch.setitem(app.config, "REDIS_URL", "")


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(school=factories.SchoolFactory(code="S-W"))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_import_confirmed_in_the_browser_is_written_by_the_worker_process(
    app, client, login_as, nurse, queue_mode, database_url
):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, roster_rows(25))))
    assert count_of(client.get(f"/roster/import/{job_id}").get_data(as_text=True), "new") == 25
    client.post(f"/roster/import/{job_id}/confirm")
    db.session.expire_all()
    # The request only queued it.
    assert (db.session.get(Job, job_id).status, count(Student)) == ("queued", 0)
    waiting = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert 'id="cancel-job"' in waiting

    worker = run_worker_burst(database_url)
    assert worker.returncode == 0, worker.stderr
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.status, job.attempts, job.payload) == ("done", 1, None), job.error
    assert count(Student) == 25
    result = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(result, "created") == 25


def test_a_large_upload_is_checked_by_the_worker_process_not_the_request(
    app, client, login_as, nurse, queue_mode, database_url, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_INLINE_BYTES", 1000)
    login_as(nurse)
    data = csv_bytes(HEADER_ZH, roster_rows(40))
    assert len(data) > 1000
    job_id = job_id_of(upload(client, data))
    db.session.expire_all()
    preview = db.session.get(Job, db.session.get(Job, job_id).params["preview_job_id"])
    assert (preview.status, preview.total) == ("queued", 0)  # not read in the request
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    assert (status["state"], status["finished"]) == ("queued", False)

    worker = run_worker_burst(database_url)
    assert worker.returncode == 0, worker.stderr
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    assert (status["state"], status["finished"], status["progress"]) == ("done", True, 40)
    assert count_of(client.get(f"/roster/import/{job_id}").get_data(as_text=True), "new") == 40


def _wait_for(path, process: subprocess.Popen, log, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the worker ended early ({process.returncode}): {log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the worker never reached the writes")
        time.sleep(0.05)


def _roster_state() -> list[tuple]:
    """Every pupil as the import leaves it: number, name, sex, birth, class and enrolment."""
    return db.session.execute(
        select(
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            Student.id_number,
            SchoolClass.grade,
            SchoolClass.name,
            Enrolment.school_year,
        )
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .join(
            Enrolment, (Enrolment.student_id == Student.id) & (Enrolment.class_id == SchoolClass.id)
        )
        .order_by(Student.student_number)
    ).all()


def test_sigkill_mid_write_leaves_nothing_and_the_same_import_again_is_one_clean_import(
    app, nurse, queue_mode, database_url, tmp_path, monkeypatch
):
    rows = roster_rows(300)
    job_id, nurse_id = queued_import(nurse, rows).id, nurse.id
    db.session.remove()
    signal_file = tmp_path / "writing"
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, str(HERE / "pausing_worker.py"), str(signal_file)],
            cwd=BASE_DIR,
            env=worker_env(database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _wait_for(signal_file, worker, tmp_path / "worker.log")
    # Mid-write: the worker has inserted the 300 pupils in its transaction, and holds it.
    running = db.session.get(Job, job_id)
    assert (running.status, running.worker.endswith(f":{worker.pid}")) == ("running", True)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(30)
    assert worker.returncode == -signal.SIGKILL

    # None of the import is there; the reaper fails the job once its heartbeat is stale.
    db.session.remove()
    assert (count(Student), count(SchoolClass), count(Enrolment), count(AuditEvent)) == (0, 0, 0, 0)
    time.sleep(1.2)
    assert jobs.reap_stale(stale_after=1.0) == [job_id]
    failed = db.session.get(Job, job_id)
    assert failed.status == "failed"
    assert jobs.failure(failed) == ("worker_lost", {})
    assert failed.payload is not None  # kept, so the same import can run again

    # The same import again, by a real worker: exactly one clean import.
    retried = app.test_cli_runner().invoke(args=["jobs", "retry", str(job_id)])
    assert retried.exit_code == 0, retried.output
    finished = run_worker_burst(database_url)
    assert finished.returncode == 0, finished.stderr
    db.session.expire_all()
    done = db.session.get(Job, job_id)
    assert (done.status, done.attempts) == ("done", 2), done.error
    assert done.result["summary"]["created"] == 300
    state = _roster_state()
    expected = sorted(
        (
            r[0],
            r[1],
            "M" if r[2] == "男" else "F",
            date.fromisoformat(r[3]),
            r[6],
            int(r[4]),
            r[5],
            2026,
        )
        for r in rows
    )
    assert [tuple(s) for s in state] == expected
    assert count(SchoolClass) == len({(r[4], r[5]) for r in rows})  # each class once
    imports = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert len(imports) == 1

    # And once more: an identical import changes nothing.
    again_id = queued_import(db.session.get(User, nurse_id), rows).id
    assert run_worker_burst(database_url).returncode == 0
    db.session.expire_all()
    summary = db.session.get(Job, again_id).result["summary"]
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 300)
    assert [tuple(s) for s in _roster_state()] == expected


def test_a_job_past_the_memory_ceiling_fails_and_the_worker_goes_on(
    app, nurse, queue_mode, database_url
):
    greedy = Job(kind="test_allocate", params={"megabytes": 1500})
    modest = Job(kind="test_allocate", params={"megabytes": 50})
    db.session.add_all([greedy, modest])
    db.session.commit()
    greedy_id, modest_id = greedy.id, modest.id
    db.session.remove()
    worker = subprocess.run(
        [sys.executable, str(HERE / "allocating_worker.py")],
        cwd=BASE_DIR,
        env=worker_env(database_url, JOB_MEMORY_LIMIT_MB="1024"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    greedy, modest = db.session.get(Job, greedy_id), db.session.get(Job, modest_id)
    assert (greedy.status, jobs.failure(greedy)) == ("failed", ("out_of_memory", {}))
    assert (modest.status, modest.result) == ("done", {"allocated": 50 * 1024 * 1024})
