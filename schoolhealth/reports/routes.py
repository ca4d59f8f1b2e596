"""The report page and its exports: thin views over reports/services.py.

Who sees what (through schoolhealth/access.py): an official their district's schools,
with small cells suppressed, never a pupil; a nurse her school; an administrator every
school. A school, district or session outside that scope is 404.
"""

from __future__ import annotations

import io
from typing import Any

from flask import abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import distinct, select
from wtforms import SelectChoice

from ..access import district_school_ids, roles_required
from ..audit import record_event
from ..clock import local_today
from ..extensions import db
from ..followup.services import completion_by_school as followup_completion
from ..followup.services import lost_after as followup_lost_after
from ..models import District, Role, School, ScreeningSession
from . import bp, charts, exporting, services
from .forms import BY_LABELS, ReportFilterForm
from .services import HEADLINE, INDICATORS, ReportScope

REPORT_ROLES = (Role.ADMIN, Role.OFFICIAL, Role.NURSE)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TREND_YEARS = 5


def _allowed_school_ids() -> tuple[int, ...] | None:
    ids = district_school_ids(current_user)
    return None if ids is None else tuple(db.session.scalars(ids))


def _years_with_sessions(allowed: tuple[int, ...] | None) -> list[int]:
    query = select(distinct(ScreeningSession.start_date))
    if allowed is not None:
        query = query.where(ScreeningSession.school_id.in_(allowed))
    return sorted({services.school_year_of(d) for d in db.session.scalars(query)}, reverse=True)


def _prepare(form: ReportFilterForm) -> tuple[ReportScope, ReportScope, tuple[int, ...] | None]:
    """The report's scope and the wider scope of its trend lines; 404 outside the user's."""
    allowed = _allowed_school_ids()
    years = _years_with_sessions(allowed)
    this_year = services.school_year_of(local_today())
    form.school_year.choices = [SelectChoice("", _("Any school year"))] + [
        SelectChoice(str(y), f"{y}–{y + 1}") for y in sorted(set(years) | {this_year}, reverse=True)
    ]
    if "school_year" not in request.args:
        form.school_year.data = str(years[0] if years and this_year not in years else this_year)

    districts = services.district_choices(allowed)
    form.district.choices = [SelectChoice("", _("All districts"))] + [
        SelectChoice(str(d.id), d.name) for d in districts
    ]
    district_id = form.district_id
    if district_id is not None and district_id not in {d.id for d in districts}:
        abort(404)
    schools_query = select(School).order_by(School.code)
    if allowed is not None:
        schools_query = schools_query.where(School.id.in_(allowed))
    if district_id is not None:
        schools_query = schools_query.where(School.district_id == district_id)
    schools = list(db.session.scalars(schools_query))
    form.school.choices = [SelectChoice("", _("All schools"))] + [
        SelectChoice(str(s.id), s.name) for s in schools
    ]
    school_id = form.school_id
    if school_id is not None and school_id not in {s.id for s in schools}:
        abort(404)

    school_ids = (school_id,) if school_id is not None else allowed
    wide = ReportScope(school_ids=school_ids, district_id=district_id)
    scope = ReportScope(
        school_ids=school_ids,
        district_id=district_id,
        session_id=form.session.data if form.session.data and not form.session.errors else None,
        school_year=form.year,
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
    )
    if (
        scope.session_id is not None
        and services.count_sessions(ReportScope(school_ids=school_ids, session_id=scope.session_id))
        == 0
    ):
        abort(404)
    return scope, wide, allowed


def _title(scope: ReportScope) -> str:
    parts = [_("Screening report")]
    if scope.school_year is not None:
        parts.append(f"{scope.school_year}–{scope.school_year + 1}")
    if scope.session_id is not None:
        session = db.session.get(ScreeningSession, scope.session_id)
        if session is not None:
            parts.append(session.name)
    if scope.district_id is not None:
        district = db.session.get(District, scope.district_id)
        if district is not None:
            parts.append(district.name)
    if scope.school_ids is not None and len(scope.school_ids) == 1:
        school = db.session.get(School, scope.school_ids[0])
        if school is not None:
            parts.append(school.name)
    return " · ".join(parts)


def _figure(row: Any, key: str) -> tuple[Any, bool]:
    """A headline figure of a total row and whether it is suppressed."""
    if key == "coverage":
        return row.coverage, row.hidden
    return row.cells[key].proportion, row.cells[key].hidden or row.hidden


def _glance(series: dict[int, Any], year: int | None) -> list[dict[str, Any]]:
    """The headline figures of ``year`` against the year before (officials' dashboard)."""
    if year is None or year not in series:
        return []
    now, before = series[year], series.get(year - 1)
    labels = {i.key: str(i.label) for i in INDICATORS}
    labels["coverage"] = _("Coverage")
    cards = []
    for key in ("coverage", *HEADLINE):
        now_value, now_hidden = _figure(now, key)
        before_value, before_hidden = _figure(before, key) if before else (None, True)
        cards.append(
            {
                "label": labels[key],
                "now": now_value,
                "before": before_value,
                "hidden": now_hidden,
                "before_hidden": before_hidden or not before or not before.screened,
                "higher_is_better": key == "coverage",
            }
        )
    return cards


@bp.route("/")
@roles_required(*REPORT_ROLES)
def show_report():
    """Prevalence by school, grade, sex or age, with coverage, intervals and charts."""
    form = ReportFilterForm(request.args)
    form.validate()
    scope, wide, _allowed = _prepare(form)
    by = form.by.data if form.by.data in services.GROUPINGS else "school"
    suppress = current_user.role == Role.OFFICIAL
    report = services.build_report(scope, by, suppress=suppress)
    indicator = form.indicator.data if form.indicator.data in services.INDICATOR_KEYS else "myopia"
    labels = {i.key: str(i.label) for i in INDICATORS}
    chart = charts.bar_chart(report, indicator, labels[indicator])
    last = scope.school_year or services.school_year_of(local_today())
    series = services.trend(
        wide, range(last - TREND_YEARS + 1, last + 1), suppress=suppress, report=report
    )
    shown = [(y, row) for y, row in series if row.screened]
    trend = charts.trend_chart(shown, [(k, labels[k]) for k in HEADLINE])
    completion_rows, completion_total = followup_completion(scope, suppress=suppress)
    return render_template(
        "reports/report.html",
        form=form,
        report=report,
        title=_title(scope),
        chart=chart,
        trend=trend,
        glance=_glance(dict(series), scope.school_year) if scope.session_id is None else [],
        indicators=INDICATORS,
        hidden_text=exporting.HIDDEN,
        by_label=BY_LABELS[by],
        query=request.args.to_dict(),
        completion_rows=completion_rows,
        completion_total=completion_total,
        export_query=request.args.to_dict(),
        lost_days=followup_lost_after().days,
    )


@bp.route("/export.<any(xlsx, csv):fmt>")
@roles_required(*REPORT_ROLES)
def export_report(fmt: str):
    """The page's table as Excel or CSV: the same figures, the same suppression (audited)."""
    form = ReportFilterForm(request.args)
    form.validate()
    scope, _wide, _allowed = _prepare(form)
    by = form.by.data if form.by.data in services.GROUPINGS else "school"
    suppress = current_user.role == Role.OFFICIAL
    report = services.build_report(scope, by, suppress=suppress)
    title = _title(scope)
    record_event(
        "export",
        "report",
        summary=f"Report exported ({fmt}, by {by}): {title}"[:500],
        after={
            "by": by,
            "school_year": scope.school_year,
            "session_id": scope.session_id,
            "district_id": scope.district_id,
            "schools": None if scope.school_ids is None else len(scope.school_ids),
            "suppressed": report.suppressed,
        },
    )
    db.session.commit()
    stamp = local_today().isoformat()
    if fmt == "csv":
        content, mimetype = exporting.to_csv(report), "text/csv"
    else:
        notes = [_("Definitions: see the report page."), _("Made %(date)s.", date=stamp)]
        if report.suppressed:
            notes.append(_("Counts of 1–4 pupils and groups under 5 pupils are shown as <5."))
        content, mimetype = exporting.to_xlsx(report, title, notes), XLSX_MIMETYPE
    response = send_file(
        io.BytesIO(content),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"screening-report-{by}-{stamp}.{fmt}",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
