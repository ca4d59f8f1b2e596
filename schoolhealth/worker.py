"""``flask worker``: an RQ worker for bulk imports and letter batches."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs in the queue, then exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run a background worker on the Redis queue (needs REDIS_URL)."""
    from .jobs import run_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set; without Redis, jobs run inline.")
    run_worker(current_app._get_current_object(), burst=burst)
