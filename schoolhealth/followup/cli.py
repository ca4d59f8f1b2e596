"""``flask followup``: expire overdue cases, open cases for existing results, import outcomes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..extensions import db
from ..models import Role, ScreeningSession, User
from . import importing, services


@click.group("followup")
def followup_cli() -> None:
    """Follow-up of referrals."""


@followup_cli.command("expire")
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Pretend today is.")
@with_appcontext
def expire_command(on) -> None:
    """Mark cases without an outcome lost after FOLLOWUP_LOST_AFTER_DAYS, and pick up
    letter-register changes (run daily; the worklist also does this when read)."""
    day: date | None = on.date() if on else None
    changed = services.expire(on=day)
    db.session.commit()
    click.echo(f"{changed} cases updated (lost after {services.lost_after().days} days).")


@followup_cli.command("sync")
@click.option("--session", "session_id", type=int, help="One screening session (default: all).")
@with_appcontext
def sync_command(session_id: int | None) -> None:
    """Open the cases of referred results entered before follow-up existed (idempotent)."""
    query = select(ScreeningSession).order_by(ScreeningSession.id)
    if session_id is not None:
        query = query.where(ScreeningSession.id == session_id)
    sessions = db.session.scalars(query).all()
    if session_id is not None and not sessions:
        raise click.BadParameter(f"no session {session_id}", param_hint="--session")
    results = 0
    for session in sessions:
        results += services.sync_session(session)
        db.session.commit()
    click.echo(f"{len(sessions)} sessions, {results} results checked.")


@followup_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="Whose rights and name the import uses.")
@click.option("--dry-run", is_flag=True, help="Check and report, save nothing.")
@with_appcontext
def import_command(path: Path, username: str, dry_run: bool) -> None:
    """Import hospital outcomes (docs/formats/followup-outcomes.md): all rows or none."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or user.role not in (Role.ADMIN, Role.NURSE, Role.INSTITUTION):
        raise click.BadParameter(
            "no admin, nurse or institution user of that name", param_hint="--user"
        )
    data = path.read_bytes()
    with force_locale("en"):
        report = (importing.check_file if dry_run else importing.apply_file)(data, path.name, user)
        problems = importing.issues_text(report.issues)
    for line in problems:
        click.echo(line, err=True)
    if problems:
        db.session.rollback()
        raise SystemExit(1)
    db.session.commit()
    counts = report.counts()
    verb = "would save" if dry_run else "saved"
    saved = counts["new"] + counts["changed"] if dry_run else report.applied
    click.echo(
        f"{len(report.rows)} rows: {counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged; {verb} {saved}."
    )
