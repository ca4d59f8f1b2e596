"""``flask report``: the report page's figures as a CSV or Excel file, from a shell.

The same services and the same definitions as the page; no suppression (an operator
with shell access reads the database anyway). The export is audited.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..audit import record_event
from ..clock import local_today
from ..extensions import db
from ..models import District, School, ScreeningSession
from . import exporting, services
from .services import ReportScope


@click.command("report")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--session", "session_id", type=int, help="One screening session (its id).")
@click.option("--school-year", type=int, help="Sessions of a school year, e.g. 2026 for 2026–27.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Sessions from.")
@click.option("--until", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Sessions until.")
@click.option("--district", help="A district's name or code.")
@click.option("--school", "school_code", metavar="CODE", help="One school.")
@click.option(
    "--by",
    type=click.Choice(services.GROUPINGS),
    default="school",
    show_default=True,
    help="One row per school, grade, sex or age.",
)
@with_appcontext
def report_command(
    out: Path,
    session_id: int | None,
    school_year: int | None,
    date_from,
    date_to,
    district: str | None,
    school_code: str | None,
    by: str,
) -> None:
    """Write prevalence, coverage and 95% intervals to OUT (.csv or .xlsx)."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise click.UsageError("OUT must end in .csv or .xlsx.")
    district_id = None
    if district:
        found = db.session.scalar(
            select(District).where((District.name == district) | (District.code == district))
        )
        if found is None:
            raise click.ClickException(f"No district is named {district!r}.")
        district_id = found.id
    school_ids = None
    if school_code:
        school = db.session.scalar(select(School).where(School.code == school_code))
        if school is None:
            raise click.ClickException(f"No school has the code {school_code!r}.")
        school_ids = (school.id,)
    if session_id is not None and db.session.get(ScreeningSession, session_id) is None:
        raise click.ClickException(f"No screening session has the id {session_id}.")
    scope = ReportScope(
        school_ids=school_ids,
        district_id=district_id,
        session_id=session_id,
        school_year=school_year,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    report = services.build_report(scope, by)
    title = f"Screening report by {by}"
    if suffix == ".csv":
        out.write_bytes(exporting.to_csv(report))
    else:
        out.write_bytes(exporting.to_xlsx(report, title, [f"Made {local_today().isoformat()}."]))
    record_event(
        "export",
        "report",
        summary=f"Report exported from the command line ({suffix[1:]}, by {by})",
        after={"by": by, "session_id": session_id, "school_year": school_year},
    )
    db.session.commit()
    click.echo(
        f"Wrote {len(report.rows)} rows and the total ({report.total.screened} screened in "
        f"{report.sessions} sessions) to {out}."
    )
