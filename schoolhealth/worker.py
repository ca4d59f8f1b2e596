"""``flask worker`` and ``flask jobs``: run background jobs, and look after them."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs in the queue, then exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run a background worker: on Redis (RQ) if REDIS_URL is set, else on the jobs table."""
    from .jobs import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


@click.group("jobs")
def jobs_cli() -> None:
    """Look after background jobs: list, cancel, retry, clean up."""


def _job_or_fail(job_id: int):
    from .models import Job

    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"There is no job {job_id}.")
    return job


@jobs_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Finished jobs too (the last 50).")
@with_appcontext
def list_command(show_all: bool) -> None:
    """Queued and running jobs (id, kind, status, worker, heartbeat, progress)."""
    from .jobs import ACTIVE
    from .models import Job

    query = db.select(Job).order_by(Job.id.desc()).limit(50)
    if not show_all:
        query = query.where(Job.status.in_(ACTIVE))
    for job in db.session.scalars(query):
        beat = job.heartbeat_at.isoformat(sep=" ", timespec="seconds") if job.heartbeat_at else "-"
        click.echo(
            f"{job.id}\t{job.kind}\t{job.status}\t{job.worker or '-'}\t{beat}\t"
            f"{job.progress}/{job.total}"
        )


@jobs_cli.command("cancel")
@click.argument("job_id", type=int)
@with_appcontext
def cancel_command(job_id: int) -> None:
    """Cancel a queued or running job; a running job's work is rolled back."""
    from .jobs import cancel

    job = _job_or_fail(job_id)
    if not cancel(job):
        raise click.ClickException(
            f"Job {job_id} is {job.status}; only queued or running jobs can be cancelled."
        )
    click.echo(f"Job {job_id} cancelled.")


@jobs_cli.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def retry_command(job_id: int) -> None:
    """Queue a failed job again (an import of the same file is idempotent)."""
    from .jobs import retry

    job = _job_or_fail(job_id)
    if job.payload is None and job.kind == "roster_import":
        raise click.ClickException(f"Job {job_id} no longer has its file; upload it again.")
    if not retry(job):
        raise click.ClickException(
            f"Job {job_id} is {job.status}; only failed jobs can be retried."
        )
    click.echo(f"Job {job_id} queued again.")


@jobs_cli.command("reap")
@click.option("--stale-seconds", type=float, default=None, help="Default: JOB_STALE_SECONDS.")
@with_appcontext
def reap_command(stale_seconds: float | None) -> None:
    """Fail running jobs whose worker stopped sending heartbeats."""
    from .jobs import reap_stale

    failed = reap_stale(stale_seconds)
    click.echo(
        f"{len(failed)} stale job(s) failed{': ' if failed else '.'}{', '.join(map(str, failed))}"
    )


@jobs_cli.command("cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Reap stale jobs, expire unconfirmed uploads and drop old uploaded files."""
    from .jobs import cleanup

    counts = cleanup()
    click.echo(
        f"{counts['reaped']} stale job(s) failed, {counts['expired']} upload(s) expired, "
        f"{counts['files_dropped']} old file(s) dropped."
    )
