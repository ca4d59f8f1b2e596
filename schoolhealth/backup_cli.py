"""``flask backup OUT`` and ``flask restore IN``: the commands around schoolhealth/backup.py.

Both are audited. A backup records its event before the copy is taken, so the copy
itself says when it was made and by which command; a restore records its event in the
restored database, the one that lives on.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .audit import record_event
from .backup import BackupError, backup_database, check_backup, restore_database
from .extensions import db


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"  # pragma: no cover


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(out: str) -> None:
    """Write a consistent copy of the whole database to OUT (pg_dump, or SQLite's backup API).

    Restore it with `flask restore OUT`. The copy holds children's health data: keep it
    encrypted and access-controlled like the database itself.
    """
    url = db.engine.url
    record_event(
        "backup",
        "database",
        summary=f"Database backup to {Path(out).name} ({url.get_backend_name()})",
    )
    db.session.commit()
    db.session.remove()
    try:
        info = backup_database(url, out)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Backed up the {info.dialect} database to {info.path} ({_human_size(info.size_bytes)})."
    )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: str, yes: bool) -> None:
    """Replace the WHOLE database with the backup SOURCE made by `flask backup`.

    Everything written since the backup is lost. Stop the app servers and workers first.
    """
    url = db.engine.url
    try:
        check_backup(source, url.get_backend_name())
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    where = url.render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Replace every record in {where} with the backup {source}?", abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        restore_database(url, source)
    except BackupError as error:
        raise click.ClickException(f"{error} Nothing was changed.") from error
    db.engine.dispose()
    record_event("restore", "database", summary=f"Database restored from {Path(source).name}")
    db.session.commit()
    current_app.logger.info("database restored from %s", source)
    click.echo(
        f"Restored {where} from {source}. Run `flask db upgrade` if the backup is older "
        "than this release."
    )
