"""Background jobs on RQ (Redis) for bulk imports and letter batches.

A job is a :class:`~schoolhealth.models.Job` row (what the user sees: status, progress,
result) plus, when ``REDIS_URL`` is set, an RQ job that runs it on a worker. Without
Redis (the embedded default) the job runs inline in the request or command that queued
it, through the very same code path. Job handlers are thin wrappers around services;
they must be idempotent, because a crashed worker's jobs are re-queued on restart.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from .extensions import db
from .models import Job, utcnow

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job], dict[str, Any]]
HANDLERS: dict[str, JobHandler] = {}

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


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def queue():
    from rq import Queue

    return Queue(current_app.config["QUEUE_NAME"], connection=redis_connection())


def enqueue(job: Job) -> Job:
    """Queue a job that is already flushed. Commits, because a worker must be able to see it.

    This is the one exception to "services never commit": handing work to another
    process needs the row to exist outside this transaction.
    """
    db.session.flush()
    db.session.commit()
    if current_app.config.get("RQ_ASYNC") and current_app.config.get("REDIS_URL"):
        queue().enqueue(
            "schoolhealth.jobs.run_job",
            job.id,
            job_timeout=3600,
            job_id=f"schoolhealth-job-{job.id}",
        )
    else:
        run_job(job.id)
    return job


def run_job(job_id: int) -> None:
    """Entry point for RQ workers (and inline runs): run one job in an app context."""
    if _worker_app is not None:
        with _worker_app.app_context():
            _run(job_id)
    else:
        _run(job_id)


def _run(job_id: int) -> None:
    job = db.session.get(Job, job_id)
    if job is None:
        logger.warning("job %s vanished", job_id)
        return
    if job.status == "done":
        return  # idempotent: a re-queued job that already finished does nothing
    job.status = "running"
    db.session.commit()
    try:
        result = HANDLERS[job.kind](job)
    except Exception as exc:  # the job's failure is data for the user, not a crash
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status = "failed"
        job.error = str(exc) or exc.__class__.__name__
        job.result = _failure_result(exc)
        job.finished_at = utcnow()
        logger.error("job %s (%s) failed: %s", job_id, job.kind, traceback.format_exc())
        db.session.commit()
        return
    job.status = "done"
    job.result = result
    job.payload = None
    job.finished_at = utcnow()
    db.session.commit()


def set_progress(job: Job, progress: int, total: int | None = None) -> None:
    """Record progress; flushed only, visible when the job commits (or to the same session)."""
    job.progress = progress
    if total is not None:
        job.total = total


def requeue_interrupted(app: Flask) -> int:
    """Put back jobs a crashed worker left "running"; safe because handlers are idempotent."""
    with app.app_context():
        stuck = db.session.scalars(db.select(Job).where(Job.status == "running")).all()
        for job in stuck:
            job.status = "queued"
        db.session.commit()
        for job in stuck:
            queue().enqueue("schoolhealth.jobs.run_job", job.id, job_timeout=3600)
        return len(stuck)


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Run an RQ worker whose jobs execute inside ``app`` (built once per worker)."""
    from rq import Worker

    global _worker_app
    _worker_app = app
    with app.app_context():
        conn = redis_connection()
        requeue_interrupted(app)
        # RQ forks a work horse per job. A pooled database connection inherited by the
        # children would be one socket shared by several processes; with an empty pool
        # each job opens its own (the parent needs none while it waits on Redis).
        db.engine.dispose()
        worker = Worker([app.config["QUEUE_NAME"]], connection=conn)
        worker.work(burst=burst, with_scheduler=False)
