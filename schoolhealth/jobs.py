"""Background jobs for bulk imports and letter batches: a queue that survives crashes.

A job is a :class:`~schoolhealth.models.Job` row: what the user sees (status, progress,
result) and, without Redis, the queue itself. ``flask worker`` claims ``queued`` rows
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, an atomic ``UPDATE`` on SQLite) and
runs them; ``make run`` starts one next to the web server. With ``REDIS_URL`` set, RQ
carries the job's id to ``flask worker`` instead, and the worker claims the row the same
way. Either way one function, :func:`run_job`, runs the job, so the two set-ups differ
only in how a worker learns that there is work. ``JOBS_EAGER`` (tests) runs a job
inline where it was queued.

Crash safety, in three rules:

* A job's writes and its "done" commit together, and only if the row still says this
  worker runs it (a conditional ``UPDATE``): a job cancelled or reaped meanwhile has its
  work rolled back. A worker killed mid-write leaves nothing, because nothing commits.
* A running job records a heartbeat (a thread, on its own connection). A job whose
  heartbeat is older than ``JOB_STALE_SECONDS`` lost its worker: :func:`reap_stale`
  fails it, with a message the user can act on; ``flask jobs retry`` runs it again.
* Handlers are idempotent (an import of the same file twice changes nothing the second
  time), so running a failed job again is always safe.

Job handlers are thin wrappers around services, registered with :func:`job_handler`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import Job, utcnow

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job], dict[str, Any]]
HANDLERS: dict[str, JobHandler] = {}

# Statuses a job can be cancelled from, and those it never leaves.
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "expired")

_worker_app: Flask | None = None


class JobFailure(Exception):
    """A failure the user can act on ("upload the file again"), named by a message key.

    A job runs in no one's language, and its row may be read by someone else, later: the
    runner stores ``{"error": {"key": ..., "params": ...}}`` as the job's result, and the
    page translates it when shown (see :func:`failure`). ``str()`` is the English text
    kept in ``Job.error`` for operators and logs. Any exception with a string ``key`` and a
    dict ``params`` (like :class:`~schoolhealth.tabular.FileRejected`) is stored the same way.
    """

    def __init__(self, key: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


def failure(job: Job) -> tuple[str | None, dict[str, Any]]:
    """The message key and parameters of a failed job, or ``(None, {})`` for an
    unexpected error (whose only description is the technical ``Job.error``)."""
    error = (job.result or {}).get("error") if job.status == "failed" else None
    if not isinstance(error, dict) or not isinstance(error.get("key"), str):
        return None, {}
    params = error.get("params")
    return error["key"], params if isinstance(params, dict) else {}


def _failure_result(exc: Exception) -> dict[str, Any] | None:
    key, params = getattr(exc, "key", None), getattr(exc, "params", None)
    if not isinstance(key, str):
        return None
    params = params if isinstance(params, dict) else {}
    # Plain values only: the result is JSON, and a parameter is a value, not a sentence.
    plain = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool)}
    return {"error": {"key": key, "params": plain}}


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs of ``kind``; it returns the job's result dict."""

    def decorator(fn: JobHandler) -> JobHandler:
        HANDLERS[kind] = fn
        return fn

    return decorator


def uses_redis() -> bool:
    config = current_app.config
    return bool(config.get("REDIS_URL") and config.get("RQ_ASYNC"))


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def queue():
    from rq import Queue

    return Queue(current_app.config["QUEUE_NAME"], connection=redis_connection())


def enqueue(job: Job) -> Job:
    """Queue a job that is already flushed. Commits, because a worker must be able to see it.

    This is the one exception to "services never commit": handing work to another
    process needs the row to exist outside this transaction. The job then runs on a
    worker (RQ with Redis, the jobs table without), or here when ``JOBS_EAGER`` is set.
    """
    job.status = "queued"
    db.session.flush()
    db.session.commit()
    if uses_redis():
        queue().enqueue(
            "schoolhealth.jobs.run_job",
            job.id,
            job_timeout=3600,
            job_id=f"schoolhealth-job-{job.id}-{job.attempts}",
        )
    elif current_app.config.get("JOBS_EAGER"):
        run_job(job.id)
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# --- claiming and running ---------------------------------------------------------------


def claim(job_id: int | None = None, worker: str | None = None) -> int | None:
    """Take one queued job (that job, or the oldest) for ``worker``; its id, or None.

    Committed at once, so the job shows "running" while it runs. On PostgreSQL the
    candidate row is locked with SKIP LOCKED, so two workers never wait on each other nor
    take the same job; on SQLite, which has one writer at a time, the conditional UPDATE
    alone is atomic.
    """
    worker = worker or worker_name()
    candidate = select(Job.id).where(Job.status == "queued")
    if job_id is not None:
        candidate = candidate.where(Job.id == job_id)
    candidate = candidate.order_by(Job.id).limit(1).with_for_update(skip_locked=True)
    now = utcnow()
    try:
        chosen = db.session.scalar(candidate)
        if chosen is None:
            db.session.rollback()
            return None
        result = db.session.execute(
            update(Job)
            .where(Job.id == chosen, Job.status == "queued")
            .values(
                status="running",
                worker=worker,
                started_at=now,
                heartbeat_at=now,
                attempts=Job.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    return chosen if result.rowcount == 1 else None


def run_job(job_id: int) -> None:
    """Run one queued job, if it is still queued (RQ's entry point; inline runs too)."""
    if _worker_app is not None:
        with _worker_app.app_context():
            _claim_and_execute(job_id)
    else:
        _claim_and_execute(job_id)


def _claim_and_execute(job_id: int) -> None:
    worker = worker_name()
    if claim(job_id, worker) is None:
        # Done, cancelled, or taken by another worker: a re-delivered job does nothing.
        logger.info("job %s is not queued any more; nothing to do", job_id)
        return
    execute(job_id, worker)


class _Heartbeat:
    """Records a running job's heartbeat every few seconds, on its own connection.

    On PostgreSQL the statement gives up quickly if the job's row is locked (a handler
    that updated its own row holds the lock until it commits): the reaper skips locked
    rows anyway, since a live transaction means a live worker.
    """

    def __init__(self, job_id: int, worker: str, every: float) -> None:
        self.job_id, self.worker, self.every = job_id, worker, every
        self.engine = db.engine
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        if self.every > 0:
            try:
                self.thread.start()
            except RuntimeError:  # no thread to be had (memory ceiling): run without
                logger.warning("job %s runs without a heartbeat", self.job_id)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=self.every + 15)

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                    conn.execute(
                        update(Job)
                        .where(
                            Job.id == self.job_id,
                            Job.worker == self.worker,
                            Job.status == "running",
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except SQLAlchemyError as exc:  # busy, locked: the next beat will do
                logger.info("heartbeat of job %s skipped: %s", self.job_id, exc)


def execute(job_id: int, worker: str) -> None:
    """Run a job this worker claimed, and commit its work with its outcome, or neither."""
    job = db.session.get(Job, job_id)
    if job is None:
        logger.warning("job %s vanished", job_id)
        return
    every = (
        0.0
        if current_app.config.get("JOBS_EAGER")
        else current_app.config.get("JOB_HEARTBEAT_SECONDS", 5)
    )
    mine = (Job.id == job_id, Job.worker == worker, Job.status == "running")
    with _Heartbeat(job_id, worker, float(every)):
        try:
            handler = HANDLERS[job.kind]
            result = handler(job)
        except Exception as exc:  # the job's failure is data for the user, not a crash
            db.session.rollback()
            if isinstance(exc, MemoryError):
                exc = JobFailure(
                    "out_of_memory",
                    "the job needed more memory than JOB_MEMORY_LIMIT_MB allows",
                )
            logger.error("job %s (%s) failed: %s", job_id, job.kind, traceback.format_exc())
            db.session.execute(
                update(Job)
                .where(*mine)
                .values(
                    status="failed",
                    error=(str(exc) or exc.__class__.__name__)[:10000],
                    result=_failure_result(exc),
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            return
        db.session.flush()
        outcome = db.session.execute(
            update(Job)
            .where(*mine)
            .values(
                status="done",
                result=result,
                payload=None,
                error=None,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        if outcome.rowcount != 1:
            # Cancelled (or reaped) while it ran: its work must not appear.
            db.session.rollback()
            logger.warning("job %s was cancelled or reaped while running; work discarded", job_id)
            return
        db.session.commit()
        db.session.expire_all()


def set_progress(job: Job, progress: int, total: int | None = None) -> None:
    """Record progress; flushed only, visible when the job commits (or to the same session)."""
    job.progress = progress
    if total is not None:
        job.total = total


# --- stale, stuck and old jobs ------------------------------------------------------------


def reap_stale(stale_after: float | None = None, job_id: int | None = None) -> list[int]:
    """Fail running jobs whose worker stopped (no heartbeat for ``JOB_STALE_SECONDS``).

    On PostgreSQL a row still locked by a live transaction is skipped: its worker is
    alive, merely busy. A killed worker's transaction is rolled back by the database,
    which releases the row. Returns the ids of the failed jobs; commits.
    """
    seconds = stale_after if stale_after is not None else current_app.config["JOB_STALE_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=seconds)
    query = select(Job.id).where(
        Job.status == "running",
        (Job.heartbeat_at < cutoff) | (Job.heartbeat_at.is_(None) & (Job.updated_at < cutoff)),
    )
    if job_id is not None:
        query = query.where(Job.id == job_id)
    try:
        stale = list(db.session.scalars(query.with_for_update(skip_locked=True)))
        failed = []
        for stale_id in stale:
            result = db.session.execute(
                update(Job)
                .where(Job.id == stale_id, Job.status == "running")
                .values(
                    status="failed",
                    error=f"the worker running this job stopped (no heartbeat for {seconds:g} s)",
                    result={"error": {"key": "worker_lost", "params": {}}},
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                failed.append(stale_id)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    for stale_id in failed:
        logger.warning("job %s failed: its worker stopped", stale_id)
    return failed


def cancel(job: Job, user: Any = None) -> bool:
    """Cancel a queued or running job; False if it had finished already. Commits.

    A running job's worker is not interrupted, but its work is rolled back when it ends
    (see :func:`execute`), so a cancelled job never writes anything.
    """
    from .audit import record_event

    before = job.status
    result = db.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status.in_(ACTIVE))
        .values(status="cancelled", payload=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    record_event(
        "cancel",
        "job",
        job.id,
        school_id=job.school_id,
        summary=f"{job.kind} job {job.id} cancelled ({before})",
        before={"status": before},
        after={"status": "cancelled"},
        user=user,
    )
    db.session.commit()
    db.session.refresh(job)
    return True


def retry(job: Job) -> bool:
    """Queue a failed job again (its file is kept until ``JOB_KEEP_FILES_HOURS``). Commits."""
    if job.status != "failed":
        return False
    job.error = None
    job.result = None
    job.finished_at = None
    job.progress = 0
    enqueue(job)
    return True


def cleanup(now: Any = None) -> dict[str, int]:
    """Reap stale jobs, expire unconfirmed uploads and drop old files. Commits.

    Run by every worker every ``JOB_MAINTENANCE_SECONDS`` and by ``flask jobs cleanup``:
    uploaded files are kept only while someone may still need them.
    """
    config = current_app.config
    now = now or utcnow()
    reaped = reap_stale()
    expired = db.session.execute(
        update(Job)
        .where(
            Job.status == "draft",
            Job.created_at < now - timedelta(minutes=config["IMPORT_CONFIRM_MINUTES"]),
        )
        .values(status="expired", payload=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    dropped = db.session.execute(
        update(Job)
        .where(
            Job.status.in_(FINISHED),
            Job.payload.is_not(None),
            Job.updated_at < now - timedelta(hours=config["JOB_KEEP_FILES_HOURS"]),
        )
        .values(payload=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return {"reaped": len(reaped), "expired": expired, "files_dropped": dropped}


# --- workers --------------------------------------------------------------------------------


def limit_memory(app: Flask) -> None:
    """Cap this worker's address space at ``JOB_MEMORY_LIMIT_MB`` (0: no cap).

    The upload limits bound what a file can cost; this is the ceiling behind them, so
    that no job, whatever its input, can take the machine's memory from the web server:
    an allocation past it raises MemoryError, and the job fails with a message.
    """
    megabytes = float(app.config.get("JOB_MEMORY_LIMIT_MB") or 0)
    if megabytes <= 0:
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(megabytes * 1024 * 1024)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Run a worker for ``app``: on RQ when Redis is configured, on the jobs table if not."""
    limit_memory(app)
    with app.app_context():
        redis = uses_redis()
    if redis:
        run_rq_worker(app, burst=burst)
    else:
        run_db_worker(app, burst=burst)


def run_rq_worker(app: Flask, *, burst: bool = False) -> None:
    """An RQ worker whose jobs execute inside ``app`` (built once per worker)."""
    from rq import Worker

    global _worker_app
    _worker_app = app
    with app.app_context():
        conn = redis_connection()
        cleanup()
        # RQ forks a work horse per job. A pooled database connection inherited by the
        # children would be one socket shared by several processes; with an empty pool
        # each job opens its own (the parent needs none while it waits on Redis).
        db.engine.dispose()
        worker = Worker([app.config["QUEUE_NAME"]], connection=conn)
        worker.work(burst=burst, with_scheduler=False)


def run_db_worker(app: Flask, *, burst: bool = False, max_jobs: int | None = None) -> int:
    """Poll the jobs table and run queued jobs one at a time; returns how many ran.

    SIGTERM and SIGINT finish the current job, then stop. Every
    ``JOB_MAINTENANCE_SECONDS`` the worker runs :func:`cleanup` (stale jobs, expired
    uploads). ``burst`` stops when the queue is empty.
    """
    stopping = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_args: stopping.set())
    worker = worker_name()
    ran = 0
    try:
        with app.app_context():
            config = app.config
            logger.info("worker %s polling the jobs table", worker)
            next_maintenance = 0.0
            while not stopping.is_set():
                if time.monotonic() >= next_maintenance:
                    try:
                        cleanup()
                    except SQLAlchemyError:
                        logger.warning("job maintenance failed", exc_info=True)
                    next_maintenance = time.monotonic() + config["JOB_MAINTENANCE_SECONDS"]
                try:
                    job_id = claim(worker=worker)
                except SQLAlchemyError:  # the database is busy or restarting: try again
                    logger.warning("could not claim a job", exc_info=True)
                    job_id = None
                if job_id is None:
                    if burst:
                        break
                    stopping.wait(config["JOB_POLL_SECONDS"])
                    continue
                execute(job_id, worker)
                db.session.remove()
                ran += 1
                if max_jobs is not None and ran >= max_jobs:
                    break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return ran
