"""Large roster files run on a real RQ worker (Redis), with a progress page and JSON."""

from __future__ import annotations

import signal
import uuid
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from schoolhealth import jobs
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Job, Student, utcnow
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil
from tests.roster.test_import_routes import count_of, job_id_of, upload

pytestmark = pytest.mark.redis


@pytest.fixture
def background(app, redis_url, monkeypatch):
    """Queue checks of files over 1,000 bytes, and every import, on Redis; the worker
    runs jobs in this app."""
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "RQ_ASYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_INLINE_BYTES", 1000)
    # A queue of its own: a worker of another test run on the same Redis must not take it.
    monkeypatch.setitem(app.config, "QUEUE_NAME", f"roster-import-test-{uuid.uuid4().hex}")
    monkeypatch.setattr(jobs, "_worker_app", app)
    connection = Redis.from_url(redis_url)
    queue = Queue(app.config["QUEUE_NAME"], connection=connection)

    def work() -> None:
        SimpleWorker([queue], connection=connection).work(burst=True)
        db.session.expire_all()

    yield queue, work
    connection.close()


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(school=factories.SchoolFactory(code="S-A"))


def test_large_file_is_checked_and_imported_by_a_worker(client, login_as, nurse, background):
    queue, work = background
    login_as(nurse)
    rows = [pupil(n, klass=str(n % 3 + 1)) for n in range(1, 31)]
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, rows)))

    # The check is queued: the page shows progress and polls the JSON endpoint.
    page = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert f'data-poll-url="/roster/import/{job_id}/status.json"' in page
    assert "roster_import.js" in page
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    # Not read in the request: the number of rows is not known yet.
    assert (status["state"], status["finished"], status["total"]) == ("queued", False, 0)
    assert queue.count == 1

    work()
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    assert (status["state"], status["finished"], status["progress"]) == ("done", True, 30)
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(report, "new") == 30
    assert db.session.scalar(select(func.count()).select_from(Student)) == 0

    # Confirming queues the import itself.
    client.post(f"/roster/import/{job_id}/confirm")
    job = db.session.get(Job, job_id)
    assert (job.status, queue.count) == ("queued", 1)
    assert "Importing" in client.get(f"/roster/import/{job_id}").get_data(as_text=True)

    work()
    job = db.session.get(Job, job_id)
    assert job.status == "done", job.error
    assert (job.progress, job.total, job.payload) == (30, 30, None)
    assert job.finished_at is not None
    assert job.result["summary"]["created"] == 30
    assert job.result["summary"]["classes_created"] == 3
    assert db.session.scalar(select(func.count()).select_from(Student)) == 30
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).one()
    assert event.user_id == nurse.id
    result = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(result, "created") == 30


def test_small_files_are_checked_inline_but_imported_by_the_worker(
    client, login_as, nurse, background
):
    queue, work = background
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), pupil(2)])))
    assert queue.count == 0  # the check ran in the request
    assert count_of(client.get(f"/roster/import/{job_id}").get_data(as_text=True), "new") == 2
    client.post(f"/roster/import/{job_id}/confirm")
    assert queue.count == 1  # the import did not
    assert db.session.get(Job, job_id).status == "queued"
    work()
    assert db.session.get(Job, job_id).status == "done"
    assert db.session.scalar(select(func.count()).select_from(Student)) == 2


def test_a_failed_background_import_writes_nothing(client, login_as, nurse, background, factories):
    queue, work = background
    login_as(nurse)
    rows = [pupil(n) for n in range(1, 21)]
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, rows)))
    work()
    client.post(f"/roster/import/{job_id}/confirm")
    # Between the check and the import, another school gets one of the student numbers.
    factories.StudentFactory(student_number="L0000000007")
    work()
    job = db.session.get(Job, job_id)
    assert job.status == "done"
    assert job.result["summary"]["applied"] is False
    students = db.session.scalars(select(Student.student_number)).all()
    assert students == ["L0000000007"]
    page = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert 'id="import-refused"' in page
    assert "another school" in page


def test_a_requeued_finished_job_does_nothing(client, login_as, nurse, background):
    queue, work = background
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 21)])))
    work()
    client.post(f"/roster/import/{job_id}/confirm")
    work()
    queue.enqueue("schoolhealth.jobs.run_job", job_id)  # as after a worker crash
    work()
    assert db.session.scalar(select(func.count()).select_from(Student)) == 20
    assert len(db.session.scalars(select(AuditEvent)).all()) == 1


# --- failures and recovery ------------------------------------------------------------------


def _stored_import(nurse, rows: int = 20, payload: bytes | None = None) -> Job:
    data = csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, rows + 1)])
    job = Job(
        kind="roster_import",
        status="queued",
        user_id=nurse.id,
        school_id=nurse.school_id,
        params={"school_year": 2026, "skip_invalid_rows": False},
        payload=data if payload is None else payload,
        payload_name="roster.csv",
        total=rows,
    )
    db.session.add(job)
    db.session.commit()
    return job


def test_a_job_whose_worker_died_is_failed_and_can_be_retried(app, nurse, background):
    """A worker killed mid-job leaves the row "running" with a heartbeat that stops; the
    reaper fails it, and `flask jobs retry` queues it again."""
    queue, work = background
    job = _stored_import(nurse)
    job.status = "running"  # what a crashed worker leaves behind
    job.worker = "gone:1"
    job.heartbeat_at = utcnow() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 1)
    db.session.commit()

    assert jobs.reap_stale() == [job.id]
    job = db.session.get(Job, job.id)
    assert job.status == "failed"
    assert jobs.failure(job) == ("worker_lost", {})
    result = app.test_cli_runner().invoke(args=["jobs", "retry", str(job.id)])
    assert result.exit_code == 0, result.output
    assert queue.count == 1
    work()
    job = db.session.get(Job, job.id)
    assert (job.status, job.payload, job.attempts) == ("done", None, 1)
    assert db.session.scalar(select(func.count()).select_from(Student)) == 20


def test_a_failing_job_is_marked_failed_keeps_its_file_and_writes_nothing(
    client, login_as, nurse, background
):
    queue, work = background
    job = _stored_import(nurse, payload=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    queue.enqueue("schoolhealth.jobs.run_job", job.id)
    work()
    job = db.session.get(Job, job.id)
    assert job.status == "failed"
    assert "not a CSV or spreadsheet" in job.error
    assert job.payload is not None  # kept, so the job can be run again
    assert job.finished_at is not None
    assert db.session.scalar(select(func.count()).select_from(Student)) == 0
    login_as(nurse)
    page = client.get(f"/roster/import/{job.id}").get_data(as_text=True)
    assert 'id="import-failed"' in page


def test_an_exception_half_way_through_the_writes_rolls_the_job_back(
    nurse, background, monkeypatch
):
    from schoolhealth.roster import importing

    queue, work = background

    def broken(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(importing, "_write_enrolments", broken)
    job = _stored_import(nurse)
    queue.enqueue("schoolhealth.jobs.run_job", job.id)
    work()
    job = db.session.get(Job, job.id)
    assert (job.status, job.error) == ("failed", "connection lost")
    assert db.session.scalar(select(func.count()).select_from(Student)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_flask_worker_burst_runs_the_queued_jobs(app, runner, nurse, background):
    """The real `flask worker` (a forking RQ worker) runs a queued import and exits."""
    queue, _work = background
    job_id = _stored_import(nurse).id
    queue.enqueue("schoolhealth.jobs.run_job", job_id, job_id=f"schoolhealth-job-{job_id}")
    # The worker empties the connection pool before it forks (see jobs.run_worker); a
    # connection this test's session still held would be left to the garbage collector.
    db.session.remove()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = runner.invoke(args=["worker", "--burst"])
    finally:
        for sig, handler in handlers.items():  # RQ installs its own
            signal.signal(sig, handler)
    assert result.exit_code == 0, result.output
    job = db.session.get(Job, job_id)
    assert job.status == "done", job.error
    assert db.session.scalar(select(func.count()).select_from(Student)) == 20


def test_a_job_cancelled_before_the_rq_worker_takes_it_never_runs(
    client, login_as, nurse, background
):
    queue, work = background
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), pupil(2)])))
    client.post(f"/roster/import/{job_id}/confirm")
    assert queue.count == 1
    client.post(f"/roster/import/{job_id}/cancel")
    work()
    assert db.session.get(Job, job_id).status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(Student)) == 0
