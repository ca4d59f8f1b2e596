"""Views of a session's flags (list and Excel export) and of one pupil's screening record.

Access, all through :mod:`schoolhealth.access`: nurses see their school's pupils and
sessions, institution users the sessions assigned to their institution (and, on a
pupil's record, only those sessions' results), administrators everything; anything
out of scope is 404. Officials, who never see names, get 403.

Reading a pupil's record is audited (action "view", entity "student"), and so is every
pupil in a flags export (plus one "export" event with the filters and row count).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from wtforms import SelectChoice, SelectField

from .. import labels, rules
from ..access import (
    get_session_or_404,
    get_student_or_404,
    page_arg,
    roles_required,
    scoped_sessions,
)
from ..audit import record_view
from ..clock import local_today
from ..extensions import db
from ..models import (
    SCREENING_TYPES,
    AuditEvent,
    Role,
    ScreeningResult,
    ScreeningSession,
    Student,
)
from . import bp, charts, fields, flags, grid, sessions

# Who reads named pupils' screening records; officials read aggregates elsewhere (403).
RECORD_ROLES = (Role.ADMIN, Role.NURSE, Role.INSTITUTION)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SORT_LABELS = {
    "class": _l("Class, then name"),
    "name": _l("Name"),
    "severity": _l("Most serious first"),
    "category": _l("Finding"),
}


# ----------------------------------------------------------------- flags


class FlagFilterForm(FlaskForm):
    """The flags list's filter bar (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    type = SelectField(_l("Screening"), validate_choice=False)
    category = SelectField(_l("Finding"), validate_choice=False)
    grade = SelectField(_l("Grade"), validate_choice=False)
    class_id = SelectField(_l("Class"), validate_choice=False)
    sort = SelectField(_l("Sort by"), validate_choice=False)

    def __init__(
        self,
        session: ScreeningSession,
        filters: flags.FlagFilters,
        classes: list[Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(formdata=None, **kwargs)
        types = session.type_list
        self.type.choices = [SelectChoice("", _("All screenings"))] + [
            SelectChoice(t, str(fields.TYPE_LABELS[t])) for t in types
        ]
        self.category.choices = [SelectChoice("", _("All findings"))] + [
            SelectChoice(f"{t}:{c}", str(label), optgroup=str(fields.TYPE_LABELS[t]))
            for (t, c), label in flags.CATEGORY_LABELS.items()
            if t in types
        ]
        grades = sorted({c.grade for c in classes})
        self.grade.choices = [SelectChoice("", _("All grades"))] + [
            SelectChoice(str(g), labels.grade_label(g)) for g in grades
        ]
        self.class_id.choices = [SelectChoice("", _("All classes"))] + [
            SelectChoice(str(c.id), labels.class_label(c.grade, c.name)) for c in classes
        ]
        self.sort.choices = [SelectChoice(k, str(v)) for k, v in SORT_LABELS.items()]
        self.type.data = filters.screening_type or ""
        self.category.data = filters.category_value
        self.grade.data = str(filters.grade) if filters.grade is not None else ""
        self.class_id.data = str(filters.class_id) if filters.class_id is not None else ""
        self.sort.data = filters.sort


@bp.route("/sessions/<int:session_id>/flags")
@roles_required(*RECORD_ROLES)
def list_flags(session_id: int):
    """The session's flagged pupils with counts per finding, filtered, sorted, paged."""
    session = get_session_or_404(session_id)
    filters = flags.FlagFilters.from_args(request.args)
    page = flags.flagged_pupils(
        session,
        filters,
        page=request.args.get("page", 1, type=page_arg),
        per_page=current_app.config["PAGE_SIZE"],
    )
    counts = flags.flag_counts(session, filters)
    classes = flags.session_classes(session)
    html = render_template(
        "screening/flags_list.html",
        session=session,
        filters=filters,
        page=page,
        counts=counts,
        form=FlagFilterForm(session, filters, classes),
        link_args=filters.to_args(),
        export_args=filters.to_args(),
        sex_labels={"M": _("Male"), "F": _("Female")},
        type_labels={t: str(label) for t, label in fields.TYPE_LABELS.items()},
        screening_types=[t for t in SCREENING_TYPES if t in session.type_list],
    )
    # One event per page view listing the pupils on this page (after rendering).
    record_view(
        "screening_flags",
        session.id,
        school_id=session.school_id,
        summary=f"flagged pupils of session {session.id}, page {page.page}: "
        f"{len(page.items)} pupils",
        pupil_ids=[row.student_id for row in page.items],
        details={"session_id": session.id, "filters": filters.describe(), "page": page.page},
    )
    db.session.commit()
    return html


@bp.route("/sessions/<int:session_id>/flags/export.xlsx")
@roles_required(*RECORD_ROLES)
def export_flags(session_id: int):
    """The filtered flags as an Excel file, one row per finding, ID numbers masked."""
    session = get_session_or_404(session_id)
    filters = flags.FlagFilters.from_args(request.args)
    content, file_name, _rows = flags.export_flags(
        session, filters, user=current_user, ip_address=request.remote_addr
    )
    db.session.commit()
    return send_file(
        io.BytesIO(content),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name=file_name,
        max_age=0,
    )


# ----------------------------------------------------------------- the pupil's record


@dataclass(frozen=True)
class Column:
    """One column of a result table: a measurement, a derived code, or the age."""

    name: str
    label: Any
    kind: str  # "measure", "code" or "age"
    title: Any = None  # the long name (abbr title), when the label is short


def _m(name: str, label: Any) -> Column:
    return Column(name, label, "measure", fields.FIELD_LABELS.get(name))


def _c(name: str, label: Any) -> Column:
    return Column(name, label, "code")


TYPE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "growth": (
        Column("age", _l("Age"), "age"),
        _m("height_cm", _l("Height (cm)")),
        _m("weight_kg", _l("Weight (kg)")),
        Column("bmi", _l("BMI"), "measure", _l("BMI (kg/m²)")),
        _c("weight_status", _l("Weight status")),
        _c("thinness", _l("Thinness")),
        _c("stunting", _l("Stunting")),
    ),
    "vision": (
        _m("ucva_right", _l("UCVA R")),
        _m("ucva_left", _l("UCVA L")),
        _m("glasses", _l("Glasses")),
        _m("cva_right", _l("CVA R")),
        _m("cva_left", _l("CVA L")),
        _m("se_right", _l("SE R")),
        _m("se_left", _l("SE L")),
        _c("vision_right", _l("Vision R")),
        _c("vision_left", _l("Vision L")),
        _c("myopia_right", _l("Myopia R")),
        _c("myopia_left", _l("Myopia L")),
    ),
    "spine": (
        _m("spine_general", _l("General")),
        _m("adams", _l("Bend test")),
        _m("atr_thoracic", _l("ATR T")),
        _m("atr_thoracolumbar", _l("ATR TL")),
        _m("atr_lumbar", _l("ATR L")),
        _m("motion_test", _l("Motion")),
        _m("sagittal", _l("Sagittal")),
        _m("prone_test", _l("Prone")),
        _c("spine", _l("Spine")),
    ),
    "dental": (
        _m("caries_teeth", _l("Decayed")),
        _m("filled_teeth", _l("Filled")),
        _m("missing_teeth", _l("Missing")),
        _m("sealed_teeth", _l("Sealed")),
        _m("dmft", _l("dmft")),
        _m("DMFT", _l("DMFT")),
        _c("caries", _l("Caries")),
    ),
}

_VISION_CODES = {
    "normal": _l("Normal"),
    "mild": _l("Reduced vision (mild)"),
    "moderate": _l("Reduced vision (moderate)"),
    "severe": _l("Reduced vision (severe)"),
}
_MYOPIA_CODES = {"no": _l("No"), "yes": _l("Suspected myopia"), "unknown": _l("Not assessed")}
# evaluation.md codes as words, per column.
CODE_LABELS: dict[str, dict[str, Any]] = {
    "weight_status": {
        "normal": _l("Normal"),
        "overweight": _l("Overweight"),
        "obese": _l("Obesity"),
    },
    "thinness": {
        "none": _l("None"),
        "mild": _l("Mild thinness"),
        "moderate_severe": _l("Moderate or severe thinness"),
    },
    "stunting": {"no": _l("No"), "yes": _l("Stunting")},
    "vision_right": _VISION_CODES,
    "vision_left": _VISION_CODES,
    "myopia_right": _MYOPIA_CODES,
    "myopia_left": _MYOPIA_CODES,
    "spine": {
        "normal": _l("Normal"),
        "postural": _l("Postural asymmetry"),
        "suspected_scoliosis": _l("Suspected scoliosis"),
        "sagittal_abnormal": _l("Sagittal curvature abnormality"),
    },
    "caries": {"no": _l("No"), "yes": _l("Untreated caries")},
}
NORMAL_CODES = {"normal", "none", "no"}

HISTORY_LABELS: dict[str, Any] = {
    **flags.MEASUREMENT_LABELS,
    "screening_date": _l("Screening date"),
}


def code_label(column: str, code: str | None) -> str:
    """A stored evaluation.md code in words ("obese" -> "Obesity")."""
    if code is None:
        return ""
    return str(CODE_LABELS.get(column, {}).get(code, code))


@dataclass
class RecordRow:
    result: ScreeningResult
    session: ScreeningSession
    can_open: bool
    cells: list[tuple[str, str]]  # (text, css class)
    flags: list[dict[str, Any]]


@dataclass
class TypeTable:
    screening_type: str
    label: Any
    columns: tuple[Column, ...]
    rows: list[RecordRow] = field(default_factory=list)


@dataclass
class HistoryEntry:
    at: datetime
    who: str
    action: str
    changes: list[tuple[str, str, str]]  # (field label, before, after)


@dataclass
class ResultHistory:
    result: ScreeningResult
    entries: list[HistoryEntry]


def _age(birth_date: date, on: date | None) -> rules.Age | None:
    if on is None:
        return None
    try:
        return rules.compute_age(birth_date, on)
    except rules.InvalidMeasurement:
        return None


def pupil_results(student: Student) -> list[ScreeningResult]:
    """The pupil's results in every session the user may read, newest first.

    Nurses and administrators read the pupil's whole history (also from a school the
    pupil attended before); institution users only the sessions assigned to them.
    Sessions and findings come in the same two queries, whatever the number of results.
    """
    query = (
        select(ScreeningResult)
        .join(ScreeningSession, ScreeningSession.id == ScreeningResult.session_id)
        .where(ScreeningResult.student_id == student.id)
        .options(
            contains_eager(ScreeningResult.session),
            selectinload(ScreeningResult.findings),
        )
        .order_by(
            func.coalesce(ScreeningResult.screening_date, ScreeningSession.start_date).desc(),
            ScreeningResult.id.desc(),
        )
    )
    if current_user.role == Role.INSTITUTION:
        query = query.where(
            ScreeningResult.session_id.in_(
                scoped_sessions(current_user).with_only_columns(ScreeningSession.id)
            )
        )
    return list(db.session.scalars(query).unique())


def _openable_sessions(results: list[ScreeningResult]) -> set[int]:
    ids = {r.session_id for r in results}
    if not ids:
        return set()
    return set(
        db.session.scalars(
            scoped_sessions(current_user)
            .with_only_columns(ScreeningSession.id)
            .where(ScreeningSession.id.in_(ids))
        )
    )


def _has_type(result: ScreeningResult, screening_type: str) -> bool:
    if screening_type not in result.session.type_list:
        return False
    if result.absent:
        return True
    return any(
        getattr(result, name) is not None
        for name, t in rules.MEASUREMENT_FIELDS.items()
        if t.value == screening_type
    )


def _cell(student: Student, result: ScreeningResult, column: Column) -> tuple[str, str]:
    if column.kind == "age":
        age = _age(student.birth_date, result.screening_date)
        return (format(age.years, "f") if age else "", "num")
    value = getattr(result, column.name)
    if column.kind == "code":
        css = "code" if value is None or value in NORMAL_CODES else "code code-abnormal"
        return code_label(column.name, value), css
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return flags.format_value(column.name, value), "num"
    return flags.format_value(column.name, value), ""


def type_tables(student: Student, results: list[ScreeningResult], openable: set[int]):
    """One table per screening type with the pupil's results of that type, newest first."""
    tables = []
    all_chips = {r.id: flags.chips(r.findings) for r in results}
    for screening_type in SCREENING_TYPES:
        table = TypeTable(
            screening_type, fields.TYPE_LABELS[screening_type], TYPE_COLUMNS[screening_type]
        )
        for result in results:
            if not _has_type(result, screening_type):
                continue
            chips = grid.with_evidence(
                result,
                [f for f in all_chips[result.id] if f["screening_type"] == screening_type],
            )
            table.rows.append(
                RecordRow(
                    result=result,
                    session=result.session,
                    can_open=result.session_id in openable,
                    cells=[]
                    if result.absent
                    else [_cell(student, result, c) for c in table.columns],
                    flags=chips,
                )
            )
        if table.rows:
            tables.append(table)
    return tables


def _history_value(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name == "absent":
        return _("Yes") if value else _("No")
    if name in fields.CHOICES:
        return flags.format_value(name, value)
    return str(value)


def result_history(results: list[ScreeningResult]) -> list[ResultHistory]:
    """Every audited change of the results (entity "screening_result"), oldest first.

    One query for all results (the (entity, entity_id) index), users joined in.
    """
    if not results:
        return []
    by_id = {str(r.id): r for r in results}
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "screening_result", AuditEvent.entity_id.in_(list(by_id)))
        .options(joinedload(AuditEvent.user))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    grouped: dict[str, list[HistoryEntry]] = {}
    for event in events:
        before, after = event.before or {}, event.after or {}
        names = list(dict.fromkeys([*after, *before]))
        changes = [
            (
                str(HISTORY_LABELS.get(n, n)),
                _history_value(n, before.get(n)),
                _history_value(n, after.get(n)),
            )
            for n in names
        ]
        if not changes:
            changes = [(event.action, "—", "—")]
        who = (event.user.display_name or event.user.username) if event.user else _("system")
        grouped.setdefault(event.entity_id or "", []).append(
            HistoryEntry(at=event.at, who=who, action=event.action, changes=changes)
        )
    return [ResultHistory(by_id[k], grouped[k]) for k in by_id if k in grouped]


# --- charts


def _sex_words(sex: str) -> str:
    return _("boys") if sex == "M" else _("girls")


REFERENCE_NAMES = labels.GROWTH_REFERENCE_NAMES


def _bmi_line_labels(reference: str) -> dict[str, str]:
    if reference == "who2007":
        return {
            "overweight": _("Overweight (> +1 SD)"),
            "obese": _("Obesity (> +2 SD)"),
            "thinness": _("Thinness (< −2 SD)"),
        }
    if reference == "cdc2000":
        return {
            "overweight": _("Overweight (≥ P85)"),
            "obese": _("Obesity (≥ P95)"),
            "thinness": _("Underweight (< P5)"),
        }
    return {
        "overweight": _("Overweight (≥, WS/T 586)"),
        "obese": _("Obesity (≥, WS/T 586)"),
        "thinness": _("Thinness (≤, WS/T 456)"),
    }


@dataclass
class ChartBlock:
    """One chart of the page; ``rows`` is the same data as a table (the text alternative)."""

    key: str
    title: str
    svg: Markup
    note: str = ""


@dataclass
class ChartGroup:
    """Charts that share one data table (height, weight and BMI share the growth table)."""

    charts: list[ChartBlock]
    headers: list[str]
    rows: list[list[str]]


def growth_charts(student: Student, results: list[ScreeningResult]) -> ChartGroup | None:
    """Height-, weight- and BMI-for-age of the pupil; None when nothing was measured."""
    measured = [
        (r, _age(student.birth_date, r.screening_date))
        for r in reversed(results)
        if not r.absent and r.screening_date and (r.height_cm is not None or r.weight_kg)
    ]
    measured = [(r, a) for r, a in measured if a is not None]
    if not measured:
        return None
    sex = rules.Sex(student.sex)
    who = _sex_words(student.sex)
    with_bmi = [r for r, _a in measured if r.bmi is not None]
    reference = "wst586"
    if with_bmi:
        reference = sessions.session_rule_config(with_bmi[-1].session).growth_reference
    age_label = _("Age (years)")
    height_points = [
        (a.years, r.height_cm, r.screening_date) for r, a in measured if r.height_cm is not None
    ]
    weight_points = [
        (a.years, r.weight_kg, r.screening_date) for r, a in measured if r.weight_kg is not None
    ]
    bmi_points = [(a.years, r.bmi, r.screening_date) for r, a in measured if r.bmi is not None]
    around = float(measured[-1][1].years)

    height_text = charts.ChartText(
        title=_("Height for age"),
        description=_(
            "The pupil's height at %(count)s screenings, with the WS/T 456-2014 stunting "
            "cutoff for %(who)s: a height on or below the line is stunting.",
            count=len(height_points),
            who=who,
        ),
        x_label=age_label,
        y_label=_("Height"),
        unit="cm",
        no_data=_("No height measured yet."),
        lines={"stunting": _("Stunting (≤, WS/T 456)")},
    )
    reference_name = REFERENCE_NAMES.get(reference, reference)
    latest_height = next(
        (r.height_cm for r, _a in reversed(measured) if r.height_cm is not None), None
    )
    weight_text = charts.ChartText(
        title=_("Weight for age"),
        description=_("The pupil's weight at %(count)s screenings.", count=len(weight_points))
        + (
            " "
            + _(
                "The lines are the %(reference)s BMI cutoffs as weights at the latest height "
                "(%(height)s cm).",
                reference=reference_name,
                height=flags.format_value("height_cm", latest_height),
            )
            if latest_height is not None
            else ""
        ),
        x_label=age_label,
        y_label=_("Weight"),
        unit="kg",
        no_data=_("No weight measured yet."),
    )
    weight_lines = (
        charts.weight_lines_at_height(sex, reference, latest_height, _bmi_line_labels(reference))
        if latest_height is not None
        else []
    )
    bmi_text = charts.ChartText(
        title=_("BMI for age"),
        description=_(
            "The pupil's BMI at %(count)s screenings, with the overweight, obesity and "
            "thinness lines of %(reference)s for %(who)s.",
            count=len(bmi_points),
            reference=reference_name,
            who=who,
        ),
        x_label=age_label,
        y_label=_("BMI"),
        unit="kg/m²",
        no_data=_("No BMI yet (height and weight are both needed)."),
        lines=_bmi_line_labels(reference),
    )
    headers = [_("Date"), age_label, _("Height (cm)"), _("Weight (kg)"), _("BMI")]
    table = [
        [
            r.screening_date.isoformat(),
            format(a.years, "f"),
            flags.format_value("height_cm", r.height_cm),
            flags.format_value("weight_kg", r.weight_kg),
            flags.format_value("bmi", r.bmi),
        ]
        for r, a in measured
    ]
    blocks = [
        ChartBlock(
            "height",
            height_text.title,
            Markup(
                charts.height_for_age_chart(
                    height_points,
                    sex,
                    text=height_text,
                    chart_id="chart-height",
                    around_age=around,
                )
            ),
        ),
        ChartBlock(
            "weight",
            weight_text.title,
            Markup(
                charts.weight_for_age_chart(
                    weight_points,
                    weight_lines,
                    text=weight_text,
                    chart_id="chart-weight",
                    around_age=around,
                )
            ),
            note=_(
                "Lines: the BMI cutoffs of %(reference)s at the latest height (%(height)s cm).",
                reference=reference_name,
                height=flags.format_value("height_cm", latest_height),
            )
            if latest_height is not None
            else "",
        ),
        ChartBlock(
            "bmi",
            bmi_text.title,
            Markup(
                charts.bmi_for_age_chart(
                    bmi_points,
                    sex,
                    reference,
                    text=bmi_text,
                    chart_id="chart-bmi",
                    around_age=around,
                )
            ),
            note=_(
                "Lines of %(reference)s, the growth reference of the latest session.",
                reference=reference_name,
            ),
        ),
    ]
    return ChartGroup(blocks, headers, table)


def acuity_chart(results: list[ScreeningResult]) -> ChartGroup | None:
    """Uncorrected visual acuity of both eyes over time; None when never measured."""
    measured = [
        r
        for r in reversed(results)
        if not r.absent
        and r.screening_date
        and (r.ucva_right is not None or r.ucva_left is not None)
    ]
    if not measured:
        return None
    right = [(r.screening_date, r.ucva_right) for r in measured if r.ucva_right is not None]
    left = [(r.screening_date, r.ucva_left) for r in measured if r.ucva_left is not None]
    text = charts.ChartText(
        title=_("Uncorrected visual acuity"),
        description=_(
            "Uncorrected distance visual acuity of each eye at %(count)s screenings, "
            "five-point scale (GB/T 11533); below the line at 5.0 is reduced vision.",
            count=len(measured),
        ),
        x_label=_("Screening date"),
        y_label=_("Visual acuity"),
        no_data=_("No visual acuity measured yet."),
        lines={"normal_vision": _("5.0 normal")},
        series={"right": _("Right eye"), "left": _("Left eye")},
    )
    svg = Markup(charts.acuity_chart(right, left, text=text, chart_id="chart-acuity"))
    return ChartGroup(
        [ChartBlock("acuity", text.title, svg)],
        [_("Date"), _("Right eye"), _("Left eye")],
        [
            [
                r.screening_date.isoformat(),
                flags.format_value("ucva_right", r.ucva_right),
                flags.format_value("ucva_left", r.ucva_left),
            ]
            for r in measured
        ],
    )


@bp.route("/pupils/<int:student_id>")
@roles_required(*RECORD_ROLES)
def pupil_record(student_id: int):
    """One pupil's screening record: results per screening, growth and vision charts,
    and every change of each result (from the audit trail). Reading it is audited."""
    student = get_student_or_404(student_id)
    results = pupil_results(student)
    openable = _openable_sessions(results)
    age_now = _age(student.birth_date, local_today())
    growth = growth_charts(student, results)
    acuity = acuity_chart(results)
    page = render_template(
        "screening/pupil_record.html",
        not_screened_label=grid.not_screened_label,
        student=student,
        age_now=age_now,
        results=results,
        tables=type_tables(student, results, openable),
        growth_charts=growth,
        acuity_chart=acuity,
        history=result_history(results),
        openable=openable,
        roster_url=(
            url_for("roster.show_student", student_id=student.id)
            if "roster.show_student" in current_app.view_functions
            else None
        ),
        sex_labels={"M": _("Male"), "F": _("Female")},
    )
    # Audited after rendering: committing first would expire what the page reads.
    record_view(
        "student",
        student.id,
        school_id=student.school_id,
        summary=f"screening record of pupil {student.id} viewed",
        pupil_ids=[student.id],
        details={"page": "pupil_record"},
    )
    db.session.commit()
    return page
