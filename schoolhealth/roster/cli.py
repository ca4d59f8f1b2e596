"""``flask import-roster`` and ``flask export-roster``: the roster services from a shell.

The import prints the same row-level report as the browser (one line per problem,
``row 7, 出生日期 '2015-13-01': not a valid date``), then the counts, and commits once.
Exit status: 0 when pupils were imported, 1 when errors stopped the import (or the
file could not be read), 2 after a clean ``--dry-run``.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..clock import local_today
from ..extensions import db
from ..models import School
from ..tabular import FileRejected
from .exporting import export_format, export_roster
from .importing import apply_roster, parse_roster, read_roster
from .services import current_school_year

EXIT_ERRORS = 1
EXIT_DRY_RUN = 2


def _school_by_code(code: str) -> School:
    school = db.session.execute(select(School).where(School.code == code)).scalar_one_or_none()
    if school is None:
        raise click.ClickException(f"No school has the code {code!r}.")
    return school


@click.command("import-roster")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--school",
    "school_code",
    metavar="CODE",
    help="School to import into. Without it, every row needs a school_code.",
)
@click.option("--school-year", type=int, help="Year the school year starts in (default: current).")
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--skip-invalid-rows",
    is_flag=True,
    help="Import the valid rows even when other rows have errors (default: all or nothing).",
)
@with_appcontext
def import_roster_command(
    file: Path,
    school_code: str | None,
    school_year: int | None,
    dry_run: bool,
    skip_invalid_rows: bool,
) -> None:
    """Import a roster file (CSV, .xlsx, .xls or .ods; see docs/formats/roster.md)."""
    school = _school_by_code(school_code) if school_code else None
    year = school_year or current_school_year(local_today())
    with force_locale("en"):
        try:
            table = read_roster(file, one_school=school is not None)
            parse = parse_roster(table, school=school, school_year=year, file_name=file.name)
        except FileRejected as exc:
            click.echo(f"{file.name}: {exc}", err=True)
            raise SystemExit(EXIT_ERRORS) from None
        if table.header_line > 1:
            click.echo(
                f"Row {table.header_line} is the header; the title rows above it were skipped."
            )
        for issue in sorted(parse.issues, key=lambda i: (i.line or 0, i.column)):
            click.echo(issue.format())
        counts = parse.counts()
        click.echo(
            f"{counts['rows']} rows: {counts['new']} new, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged, {counts['invalid']} with errors; "
            f"{counts['errors']} errors, {counts['warnings']} warnings."
        )
        if dry_run:
            db.session.rollback()
            click.echo("Dry run: nothing was written.")
            raise SystemExit(EXIT_ERRORS if parse.has_errors else EXIT_DRY_RUN)
        summary = apply_roster(
            parse, school=school, school_year=year, user=None, skip_invalid_rows=skip_invalid_rows
        )
        if not summary.applied:
            db.session.rollback()
            reason = {
                "file_errors": "the file cannot be imported",
                "row_errors": "some rows have errors (fix them, or use --skip-invalid-rows)",
                "no_valid_rows": "no row is valid",
            }[summary.reason]
            click.echo(f"Nothing was imported: {reason}.", err=True)
            raise SystemExit(EXIT_ERRORS)
        db.session.commit()
        skipped = f", {summary.skipped} rows skipped" if summary.skipped else ""
        click.echo(
            f"Imported {file.name} for {year}: {summary.created} created, {summary.updated} "
            f"updated, {summary.unchanged} unchanged, {summary.classes_created} classes "
            f"created{skipped}."
        )


@click.command("export-roster")
@click.option("--school", "school_code", required=True, metavar="CODE", help="School to export.")
@click.option("--include-inactive", is_flag=True, help="Also export pupils marked as left.")
@click.option(
    "--full-ids",
    is_flag=True,
    help="Write resident ID numbers and student numbers unmasked (a registry submission; "
    "audited as such).",
)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def export_roster_command(
    school_code: str, include_inactive: bool, full_ids: bool, out: Path
) -> None:
    """Export a school's roster to OUT (.csv UTF-8 with BOM, or .xlsx), ID numbers masked.

    ``--full-ids`` writes them in full, for the registry; the audit event records it.
    """
    try:
        fmt = export_format(out)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="OUT") from None
    school = _school_by_code(school_code)
    count = export_roster(
        school, out, fmt=fmt, include_inactive=include_inactive, user=None, full_ids=full_ids
    )
    db.session.commit()
    click.echo(f"Exported {count} pupils of {school.code} to {out}.")
