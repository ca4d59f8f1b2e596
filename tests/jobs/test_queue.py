"""The jobs table as a queue: claims, heartbeats, the reaper, cancel, clean-up, CLI."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from schoolhealth import jobs
from schoolhealth.audit import record_event
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Job, Student, utcnow

from .helpers import queued_import, roster_rows


@pytest.fixture
def queue_mode(app, monkeypatch):
    """Jobs wait in the table for a worker (the embedded default), heartbeats are quick."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_SECONDS", 0.1)


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(school=factories.SchoolFactory(code="S-Q"))


def _job(kind: str = "test_wait", status: str = "queued", **fields) -> Job:
    job = Job(kind=kind, status=status, params={}, **fields)
    db.session.add(job)
    db.session.commit()
    return job


def test_each_queued_job_is_claimed_once_oldest_first(app, queue_mode):
    first, second = _job(), _job()
    _job(status="draft")  # an unconfirmed upload is not work
    assert jobs.claim(worker="w:1") == first.id
    assert jobs.claim(worker="w:2") == second.id
    assert jobs.claim(worker="w:3") is None
    claimed = db.session.get(Job, first.id)
    assert (claimed.status, claimed.worker, claimed.attempts) == ("running", "w:1", 1)
    assert claimed.heartbeat_at is not None
    assert claimed.started_at is not None


def test_concurrent_workers_never_take_the_same_job(app, queue_mode):
    ids = {_job().id for _ in range(40)}
    taken: list[int] = []
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with app.app_context():
                while (job_id := jobs.claim(worker=name)) is not None:
                    taken.append(job_id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w:{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(taken) == sorted(ids)  # every job once, none twice


def _register_waiting_handler(monkeypatch, started: threading.Event, release: threading.Event):
    """A job that waits until released (a long import, say), then writes."""

    def handler(job: Job) -> dict:
        started.set()
        release.wait(30)
        record_event("create", "test", job.id, summary="written by the job")
        db.session.flush()
        return {"ok": True}

    monkeypatch.setitem(jobs.HANDLERS, "test_wait", handler)


def _run_in_thread(app, job_id: int) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            jobs.run_job(job_id)
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_running_job_records_heartbeats(app, queue_mode, monkeypatch):
    started, release = threading.Event(), threading.Event()
    monkeypatch.setitem(
        jobs.HANDLERS, "test_wait", lambda job: (started.set(), release.wait(30), {})[2]
    )
    job = _job()
    thread = _run_in_thread(app, job.id)
    assert started.wait(10)
    db.session.expire_all()  # read what the worker committed, not this session's copy
    first = db.session.get(Job, job.id).heartbeat_at
    time.sleep(0.5)
    db.session.expire_all()
    later = db.session.get(Job, job.id).heartbeat_at
    release.set()
    thread.join(30)
    assert later > first
    assert jobs.reap_stale(stale_after=0.3) == []  # finished: nothing to reap
    assert db.session.get(Job, job.id).status == "done"


def test_a_job_cancelled_while_running_writes_nothing(app, queue_mode, monkeypatch, factories):
    started, release = threading.Event(), threading.Event()
    _register_waiting_handler(monkeypatch, started, release)
    admin = factories.AdminFactory()
    job_id = _job().id
    thread = _run_in_thread(app, job_id)
    assert started.wait(10)
    assert jobs.cancel(db.session.get(Job, job_id), admin) is True
    release.set()
    thread.join(30)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "cancelled"
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.entity == "test")).all() == []
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cancel")).one()
    assert (event.entity, event.entity_id, event.user_id) == ("job", str(job.id), admin.id)


def test_a_cancelled_queued_job_is_never_run(app, queue_mode, monkeypatch):
    ran = []
    monkeypatch.setitem(jobs.HANDLERS, "test_wait", lambda job: ran.append(job.id) or {})
    job = _job()
    assert jobs.cancel(job) is True
    jobs.run_job(job.id)  # as when RQ delivers it anyway
    assert jobs.run_db_worker(app, burst=True) == 0
    assert ran == []
    assert jobs.cancel(db.session.get(Job, job.id)) is False  # finished: nothing to cancel


def test_the_reaper_fails_only_jobs_with_a_stale_heartbeat(app, queue_mode):
    old = utcnow() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 5)
    dead = _job(status="running", worker="gone:1", heartbeat_at=old)
    alive = _job(status="running", worker="here:1", heartbeat_at=utcnow())
    queued = _job()
    assert jobs.reap_stale() == [dead.id]
    db.session.expire_all()
    statuses = [db.session.get(Job, j.id).status for j in (dead, alive, queued)]
    assert statuses == ["failed", "running", "queued"]
    assert "stopped" in db.session.get(Job, dead.id).error


def test_cleanup_expires_old_drafts_and_drops_old_files(app, queue_mode, nurse):
    fresh = queued_import(nurse, roster_rows(2), status="draft")
    stale = queued_import(nurse, roster_rows(2), status="draft")
    failed = queued_import(nurse, roster_rows(2), status="failed")
    stale.created_at = utcnow() - timedelta(minutes=app.config["IMPORT_CONFIRM_MINUTES"] + 1)
    failed.updated_at = utcnow() - timedelta(hours=app.config["JOB_KEEP_FILES_HOURS"] + 1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "1 upload(s) expired, 1 old file(s) dropped" in result.output
    db.session.expire_all()
    assert db.session.get(Job, fresh.id).payload is not None
    assert (db.session.get(Job, stale.id).status, db.session.get(Job, stale.id).payload) == (
        "expired",
        None,
    )
    assert db.session.get(Job, failed.id).payload is None


def test_flask_jobs_cancel_list_and_retry(app, queue_mode, nurse):
    runner = app.test_cli_runner()
    job = queued_import(nurse, roster_rows(3))
    listed = runner.invoke(args=["jobs", "list"])
    assert f"{job.id}\troster_import\tqueued" in listed.output
    assert runner.invoke(args=["jobs", "cancel", str(job.id)]).exit_code == 0
    again = runner.invoke(args=["jobs", "cancel", str(job.id)])
    assert again.exit_code == 1
    assert "only queued or running" in again.output
    assert runner.invoke(args=["jobs", "retry", str(job.id)]).exit_code == 1
    missing = runner.invoke(args=["jobs", "cancel", "999999"])
    assert missing.exit_code == 1
    assert "There is no job 999999" in missing.output


def test_the_in_process_worker_runs_an_import_and_stops_when_the_queue_is_empty(
    app, queue_mode, nurse
):
    job = queued_import(nurse, roster_rows(12))
    assert jobs.run_db_worker(app, burst=True) == 1
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.status, job.payload, job.worker is not None) == ("done", None, True)
    assert db.session.scalar(select(func.count()).select_from(Student)) == 12
