"""A session's flags: the pupils with abnormal findings, filtered, counted and exported.

The queries here take a session and a :class:`FlagFilters` and return plain rows, so
the flags page, its Excel export, and later the reports and letters read the same
numbers. Nothing here touches the Flask request; the caller has already checked that
the user may see the session (``access.get_session_or_404``).

Every query starts from ``findings.session_id`` (index ``ix_findings_session_type`` on
session, type, category) or ``screening_results.session_id`` (the unique session/student
index), so a page reads only one session's rows however large the database grows. A
page is a LIMIT/OFFSET over the pupils matching the filters; their findings are read
in one more query with ``IN`` (no per-row queries).

The class of a pupil is the pupil's current class (``students.class_id``), as on the
session page and the class grid.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, insert, select

from .. import rules
from ..audit import record_event
from ..cells import safe_cell
from ..extensions import db
from ..labels import class_label as grade_class_label
from ..models import (
    SCREENING_TYPES,
    AuditEvent,
    Finding,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
    User,
    mask_id_number,
    mask_ids,
)
from ..rules import numbers
from . import fields

# Every (screening type, category) a stored finding can have, in the order the counts
# table and the "category" sort show them: per type, the most serious first. Within a
# type the category alone names the finding ("mild" in growth is mild thinness, in
# vision mild reduced vision), which is why the findings index is (type, category).
CATEGORY_LABELS: dict[tuple[str, str], Any] = {
    ("growth", "obese"): _l("Obesity"),
    ("growth", "overweight"): _l("Overweight"),
    ("growth", "moderate_severe"): _l("Moderate or severe thinness"),
    ("growth", "mild"): _l("Mild thinness"),
    ("growth", "yes"): _l("Stunting"),
    ("vision", "severe"): _l("Reduced vision (severe)"),
    ("vision", "moderate"): _l("Reduced vision (moderate)"),
    ("vision", "mild"): _l("Reduced vision (mild)"),
    ("vision", "yes"): _l("Suspected myopia"),
    ("vision", "unknown"): _l("Myopia not assessed (no refraction)"),
    ("spine", "suspected_scoliosis"): _l("Suspected scoliosis"),
    ("spine", "sagittal_abnormal"): _l("Sagittal curvature abnormality"),
    ("spine", "postural"): _l("Postural spine asymmetry"),
    ("dental", "yes"): _l("Untreated caries"),
}
CATEGORY_ORDER: tuple[tuple[str, str], ...] = tuple(CATEGORY_LABELS)

SORTS = ("class", "name", "severity", "category")

# Which measurements explain a finding of each type: shown beside the flags and
# written into the export, blank for the other types.
RELEVANT_FIELDS: dict[str, tuple[str, ...]] = {
    "growth": ("height_cm", "weight_kg", "bmi"),
    "vision": ("ucva_right", "ucva_left", "glasses", "se_right", "se_left"),
    "spine": ("adams", "atr_max", "sagittal"),
    "dental": ("caries_teeth", "dmft", "DMFT"),
}
MEASUREMENT_LABELS: dict[str, Any] = {
    **fields.FIELD_LABELS,
    "bmi": _l("BMI (kg/m²)"),
    "atr_max": _l("Largest ATR (°)"),
}
# Short names for the flags table (the long one is the tooltip), with units.
SHORT_LABELS: dict[str, tuple[Any, str]] = {
    "height_cm": (_l("Height"), "cm"),
    "weight_kg": (_l("Weight"), "kg"),
    "bmi": (_l("BMI"), ""),
    "ucva_right": (_l("UCVA R"), ""),
    "ucva_left": (_l("UCVA L"), ""),
    "glasses": (_l("Glasses"), ""),
    "se_right": (_l("SE R"), "D"),
    "se_left": (_l("SE L"), "D"),
    "adams": (_l("Bend test"), ""),
    "atr_max": (_l("ATR"), "°"),
    "sagittal": (_l("Sagittal"), ""),
    "caries_teeth": (_l("Decayed"), ""),
    "dmft": (_l("dmft"), ""),
    "DMFT": (_l("DMFT"), ""),
}
_RESULT_COLUMNS = tuple(dict.fromkeys(f for fs in RELEVANT_FIELDS.values() for f in fs))


def category_label(screening_type: str, category: str) -> str:
    """The translated name of a category of findings ("Obesity", "Suspected myopia")."""
    label = CATEGORY_LABELS.get((screening_type, category))
    return str(label) if label is not None else f"{screening_type}: {category}"


# ----------------------------------------------------------------- filters


@dataclass(frozen=True)
class FlagFilters:
    """What the flags list is narrowed to; every part is optional.

    ``category`` is meaningful with its screening type (see CATEGORY_LABELS); a
    category alone matches that category in any type.
    """

    screening_type: str | None = None
    category: str | None = None
    grade: int | None = None
    class_id: int | None = None
    sort: str = "class"

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> FlagFilters:
        """Read filters from query-string values; anything unknown is ignored, not an error.

        ``category`` may be given as ``"vision:mild"``, which also sets the type.
        """
        screening_type = _text(args.get("type"))
        if screening_type not in SCREENING_TYPES:
            screening_type = None
        category = _text(args.get("category"))
        if category and ":" in category:
            cat_type, _sep, category = category.partition(":")
            if screening_type is None and cat_type in SCREENING_TYPES:
                screening_type = cat_type
            elif cat_type != screening_type:
                category = None
        known = {c for _t, c in CATEGORY_ORDER}
        if category not in known or (
            screening_type is not None and (screening_type, category) not in CATEGORY_LABELS
        ):
            category = None
        sort = _text(args.get("sort")) or "class"
        return cls(
            screening_type=screening_type,
            category=category,
            grade=_int(args.get("grade"), 1, 12),
            class_id=_int(args.get("class_id"), 1, 2**31 - 1),
            sort=sort if sort in SORTS else "class",
        )

    @property
    def category_value(self) -> str:
        """The category as the filter form's option value ("vision:mild")."""
        if not self.category:
            return ""
        return f"{self.screening_type}:{self.category}" if self.screening_type else self.category

    def to_args(self, *, with_sort: bool = True) -> dict[str, Any]:
        """Query-string values that reproduce these filters (for links and the export)."""
        args: dict[str, Any] = {
            "type": self.screening_type,
            "category": self.category_value or None,
            "grade": self.grade,
            "class_id": self.class_id,
            "sort": self.sort if with_sort and self.sort != "class" else None,
        }
        return {k: v for k, v in args.items() if v is not None}

    def describe(self) -> dict[str, Any]:
        """The filters as stored in the audit trail."""
        return {
            "type": self.screening_type,
            "category": self.category,
            "grade": self.grade,
            "class_id": self.class_id,
            "sort": self.sort,
        }

    @property
    def narrows_pupils(self) -> bool:
        return self.grade is not None or self.class_id is not None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:40] or None


def _int(value: Any, low: int, high: int) -> int | None:
    try:
        return numbers.parse_int(None if value is None else str(value), low, high)
    except numbers.NotANumber:
        return None


# ----------------------------------------------------------------- query pieces


def _category_rank() -> Any:
    """CATEGORY_ORDER as a SQL expression (unknown categories sort last)."""
    return case(
        *[
            (and_(Finding.screening_type == t, Finding.category == c), i)
            for i, (t, c) in enumerate(CATEGORY_ORDER)
        ],
        else_=len(CATEGORY_ORDER),
    )


def _finding_conditions(session: ScreeningSession, filters: FlagFilters) -> list[Any]:
    conditions = [Finding.session_id == session.id]
    if filters.screening_type:
        conditions.append(Finding.screening_type == filters.screening_type)
    if filters.category:
        conditions.append(Finding.category == filters.category)
    return conditions


def _narrow_pupils(
    query: Select, session: ScreeningSession, filters: FlagFilters, student_id: Any
) -> Select:
    """Restrict a query to the filtered grade/class through the pupil's current class.

    The pupils are looked up within the session's school, so the (school_id, class_id)
    index of students answers it.
    """
    if filters.class_id is None and filters.grade is None:
        return query
    pupils = select(Student.id).where(Student.school_id == session.school_id)
    if filters.class_id is not None:
        pupils = pupils.where(Student.class_id == filters.class_id)
    if filters.grade is not None:
        pupils = pupils.where(
            Student.class_id.in_(
                select(SchoolClass.id).where(
                    SchoolClass.school_id == session.school_id,
                    SchoolClass.grade == filters.grade,
                )
            )
        )
    return query.where(student_id.in_(pupils))


def _matched_results(session: ScreeningSession, filters: FlagFilters) -> Any:
    """Per result with a matching finding: its worst severity and first category rank."""
    query = (
        select(
            Finding.result_id.label("result_id"),
            Finding.student_id.label("student_id"),
            func.max(Finding.severity).label("severity"),
            func.min(_category_rank()).label("category_rank"),
            func.max(case((Finding.refer.is_(True), 1), else_=0)).label("refer"),
        )
        .where(*_finding_conditions(session, filters))
        # session_id (a constant here) leads the grouping so that SQLite reads the
        # session's rows through ix_findings_session_type instead of walking the whole
        # table in result_id order to skip a sort; PostgreSQL hashes either way.
        .group_by(Finding.session_id, Finding.result_id, Finding.student_id)
    )
    return _narrow_pupils(query, session, filters, Finding.student_id).subquery("matched")


def _order_by(filters: FlagFilters, matched: Any) -> list[Any]:
    by_class = [
        SchoolClass.grade,
        func.length(SchoolClass.name),
        SchoolClass.name,
        Student.name_initials,
        Student.name,
        Student.id,
    ]
    by_name = [Student.name_initials, Student.name, Student.student_number, Student.id]
    if filters.sort == "name":
        return by_name
    if filters.sort == "severity":
        return [matched.c.severity.desc(), *by_class]
    if filters.sort == "category":
        return [matched.c.category_rank, matched.c.severity.desc(), *by_class]
    return by_class


# ----------------------------------------------------------------- the list


@dataclass
class FlagRow:
    """One flagged pupil of the page: who, where, the findings as chips, the values."""

    result_id: int
    student_id: int
    student_number: str
    name: str
    sex: str
    age: rules.Age | None
    grade: int | None
    class_name: str | None
    masked_id: str
    screening_date: date | None
    severity: int
    refer: bool
    flags: list[dict[str, Any]] = field(default_factory=list)
    values: list[MeasuredValue] = field(default_factory=list)

    @property
    def class_label(self) -> str:
        """The pupil's class as people say it, in the reader's language ("—" for none)."""
        return grade_class_label(self.grade, self.class_name)


@dataclass
class FlagPage:
    """A page of flagged pupils; the attributes the pagination macro reads."""

    items: list[FlagRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def flagged_pupils(
    session: ScreeningSession, filters: FlagFilters, *, page: int = 1, per_page: int = 50
) -> FlagPage:
    """The page of pupils with at least one finding matching ``filters``.

    Two queries whatever the page size: the page (LIMIT/OFFSET over the matched results
    joined to pupil, class and result, with the total as a window count) and the page's
    findings. A page past the end costs one count more and shows the last page.
    """
    page = max(1, page)
    per_page = max(1, per_page)
    matched = _matched_results(session, filters)
    records = db.session.execute(
        _page_query(matched, session.school_id, filters, page, per_page)
    ).all()
    total = int(records[0].total) if records else 0
    if not records and page > 1:
        total = int(db.session.scalar(select(func.count()).select_from(matched)) or 0)
        if total:
            page = math.ceil(total / per_page)
            records = db.session.execute(
                _page_query(matched, session.school_id, filters, page, per_page)
            ).all()
    chips = _chips_of(session, [r.result_id for r in records])
    labels = value_labels()
    words = choice_words()
    items = []
    for rec in records:
        flags = chips.get(rec.result_id, [])
        types = [t for t in SCREENING_TYPES if any(f["screening_type"] == t for f in flags)]
        items.append(
            FlagRow(
                result_id=rec.result_id,
                student_id=rec.student_id,
                student_number=mask_ids(rec.student_number),
                name=rec.name,
                sex=rec.sex,
                age=_age(rec.birth_date, rec.screening_date),
                grade=rec.grade,
                class_name=rec.class_name,
                masked_id=mask_id_number(rec.id_number),
                screening_date=rec.screening_date,
                severity=int(rec.severity or 0),
                refer=bool(rec.refer),
                flags=flags,
                values=relevant_values(rec, types, labels, words),
            )
        )
    return FlagPage(items=items, page=page, per_page=per_page, total=total)


def _page_query(
    matched: Any, school_id: int, filters: FlagFilters, page: int, per_page: int
) -> Select:
    """The page's rows in two steps: first order the matched results by pupil and class
    (narrow rows: the pupil's sort keys and the few columns shown) and cut the page, then
    read the results' measurements for the page's rows only, not for every match."""
    order = _order_by(filters, matched)
    page_rows = (
        select(
            matched.c.result_id,
            matched.c.severity,
            matched.c.refer,
            func.count().over().label("total"),
            func.row_number().over(order_by=order).label("position"),
            Student.id.label("student_id"),
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            Student.id_number,
            SchoolClass.grade,
            SchoolClass.name.label("class_name"),
        )
        .select_from(matched)
        # The school condition is redundant (a session's findings are its school's
        # pupils) but lets PostgreSQL read the school's pupils and classes by their
        # school_id indexes and hash-join them, instead of one lookup per match.
        .join(
            Student,
            and_(Student.id == matched.c.student_id, Student.school_id == school_id),
        )
        .outerjoin(
            SchoolClass,
            and_(SchoolClass.id == Student.class_id, SchoolClass.school_id == school_id),
        )
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page_rows")
    )
    return (
        select(
            page_rows,
            ScreeningResult.screening_date,
            *[getattr(ScreeningResult, f) for f in _RESULT_COLUMNS],
        )
        .join(ScreeningResult, ScreeningResult.id == page_rows.c.result_id)
        .order_by(page_rows.c.position)
    )


def _chips_of(session: ScreeningSession, result_ids: Sequence[int]) -> dict[int, list[dict]]:
    """All findings of the given results as flag chips (fields.flag_label), in one query."""
    if not result_ids:
        return {}
    rows = db.session.execute(
        select(
            Finding.result_id,
            Finding.code,
            Finding.category,
            Finding.severity,
            Finding.screening_type,
            Finding.refer,
        ).where(Finding.session_id == session.id, Finding.result_id.in_(list(result_ids)))
    ).all()
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.result_id, []).append(row)
    return {result_id: chips(findings) for result_id, findings in grouped.items()}


def chips(findings: Iterable[Any]) -> list[dict[str, Any]]:
    """Findings (rows or Finding objects) as flag chips, like results.flag_labels.

    code, category, label (translated), severity, eye, screening_type and refer, in
    fields.FLAG_ORDER; each label is translated once per language and kept.
    """
    order = {code: i for i, code in enumerate(fields.FLAG_ORDER)}
    ordered = sorted(findings, key=lambda f: (order.get(f.code, len(order)), f.code))
    if not ordered:
        return []
    locale = str(get_locale())
    return [_chip(f, fields.flag_label(f.code, f.category, locale)) for f in ordered]


def _chip(row: Any, label: str) -> dict[str, Any]:
    eye = "right" if row.code.endswith("_right") else "left" if row.code.endswith("_left") else None
    return {
        "code": row.code,
        "category": row.category,
        "label": label,
        "severity": row.severity,
        "eye": eye,
        "screening_type": row.screening_type,
        "refer": bool(row.refer),
    }


def _age(birth_date: date | None, on: date | None) -> rules.Age | None:
    if birth_date is None or on is None:
        return None
    try:
        return rules.compute_age(birth_date, on)
    except rules.InvalidMeasurement:
        return None


def choice_words() -> dict[str, dict[str, str]]:
    """The words of every choice field (glasses, bend test ...), translated once."""
    return {
        name: {code: str(label) for code, label in choices}
        for name, choices in fields.CHOICES.items()
    }


def format_value(
    name: str, value: Any, words: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """A stored value as text: numbers without trailing noise, choices translated.

    ``words`` is :func:`choice_words`, passed in when many values are formatted.
    """
    if value is None:
        return ""
    if name in fields.CHOICES:
        if words is not None:
            return words[name].get(value, value)
        return str(dict(fields.CHOICES[name]).get(value, value))
    if name in fields.TOOTH_FIELDS:
        return value or "0"  # examined, no such teeth
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass(frozen=True)
class MeasuredValue:
    """A measurement beside a flag: short label, long label (tooltip), value with unit."""

    field: str
    label: str
    title: str
    value: str


def value_labels() -> dict[str, tuple[str, str, str]]:
    """(short label, long label, unit) of each relevant field, translated once."""
    return {
        name: (str(short), str(MEASUREMENT_LABELS[name]), unit)
        for name, (short, unit) in SHORT_LABELS.items()
    }


def relevant_values(
    record: Any,
    types: Iterable[str],
    labels: Mapping[str, tuple[str, str, str]] | None = None,
    words: Mapping[str, Mapping[str, str]] | None = None,
) -> list[MeasuredValue]:
    """The measurements that explain findings of ``types`` (RELEVANT_FIELDS), as text.

    ``labels`` is :func:`value_labels` and ``words`` :func:`choice_words`, passed in
    when many rows are formatted.
    """
    labels = labels or value_labels()
    words = words or choice_words()
    out = []
    for screening_type in types:
        for name in RELEVANT_FIELDS.get(screening_type, ()):
            value = getattr(record, name, None)
            if value is None:
                continue
            short, title, unit = labels[name]
            text = format_value(name, value, words)
            if unit:
                text += unit if unit == "°" else f" {unit}"
            out.append(MeasuredValue(name, short, title, text))
    return out


def session_classes(session: ScreeningSession) -> list[SchoolClass]:
    """The classes of the pupils with a result in the session, for the class filter.

    Asked per class of the school (EXISTS: its first pupil with a result answers), not by
    collecting the class of every result of the session.
    """
    has_result = (
        select(Student.id)
        .join(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(Student.school_id == session.school_id, Student.class_id == SchoolClass.id)
        .exists()
    )
    return list(
        db.session.scalars(
            select(SchoolClass)
            .where(SchoolClass.school_id == session.school_id, has_result)
            .order_by(
                SchoolClass.school_year.desc(),
                SchoolClass.grade,
                func.length(SchoolClass.name),
                SchoolClass.name,
            )
        )
    )


# ----------------------------------------------------------------- counts


@dataclass(frozen=True)
class CategoryCount:
    screening_type: str
    category: str
    label: str
    pupils: int


@dataclass
class FlagCounts:
    """How many pupils of the session (within the grade/class filter) have which finding.

    Counts are of pupils, not findings: a pupil with reduced vision in both eyes counts
    once. ``screened_by_type`` is the denominator of each type (entered and not absent).
    """

    categories: list[CategoryCount]
    pupils_by_type: dict[str, int]
    screened_by_type: dict[str, int]
    flagged: int
    referred: int
    screened: int
    absent: int
    roster: int

    def for_type(self, screening_type: str) -> list[CategoryCount]:
        return [c for c in self.categories if c.screening_type == screening_type]


def flag_counts(session: ScreeningSession, filters: FlagFilters) -> FlagCounts:
    """Counts per type and category, flagged, referred and screened / roster.

    The screening type and category filters do not apply (the counts are the overview
    the filters are chosen from); the grade and class filters do.
    """
    scope = FlagFilters(grade=filters.grade, class_id=filters.class_id)
    by_category = _narrow_pupils(
        select(
            Finding.screening_type,
            Finding.category,
            func.count(func.distinct(Finding.student_id)),
        )
        .where(Finding.session_id == session.id)
        .group_by(Finding.screening_type, Finding.category),
        session,
        scope,
        Finding.student_id,
    )
    found = {(t, c): int(n) for t, c, n in db.session.execute(by_category)}
    ordered = [k for k in CATEGORY_ORDER if k in found]
    ordered += sorted(k for k in found if k not in CATEGORY_LABELS)
    categories = [CategoryCount(t, c, category_label(t, c), found[(t, c)]) for t, c in ordered]

    by_type = _narrow_pupils(
        select(Finding.screening_type, func.count(func.distinct(Finding.student_id)))
        .where(Finding.session_id == session.id)
        .group_by(Finding.screening_type),
        session,
        scope,
        Finding.student_id,
    )
    pupils_by_type = {t: int(n) for t, n in db.session.execute(by_type)}

    present = ScreeningResult.absent.is_(False)
    screened_columns = [
        func.coalesce(
            func.sum(
                case(
                    (
                        and_(
                            present,
                            *[
                                getattr(ScreeningResult, f).is_not(None)
                                for f in fields.REQUIRED_FIELDS[t]
                            ],
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            0,
        )
        for t in SCREENING_TYPES
    ]
    totals = _narrow_pupils(
        select(
            func.coalesce(func.sum(case((present, 1), else_=0)), 0),
            func.coalesce(func.sum(case((present, 0), else_=1)), 0),
            func.coalesce(func.sum(case((ScreeningResult.flagged.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((ScreeningResult.refer != "", 1), else_=0)), 0),
            *screened_columns,
        ).where(ScreeningResult.session_id == session.id),
        session,
        scope,
        ScreeningResult.student_id,
    )
    screened, absent, flagged, referred, *per_type = db.session.execute(totals).one()

    roster_query = select(func.count(Student.id)).where(
        Student.school_id == session.school_id, Student.active.is_(True)
    )
    if scope.class_id is not None:
        roster_query = roster_query.where(Student.class_id == scope.class_id)
    if scope.grade is not None:
        roster_query = roster_query.join(SchoolClass, SchoolClass.id == Student.class_id).where(
            SchoolClass.grade == scope.grade
        )
    return FlagCounts(
        categories=categories,
        pupils_by_type=pupils_by_type,
        screened_by_type={
            t: int(n)
            for t, n in zip(SCREENING_TYPES, per_type, strict=True)
            if t in session.type_list
        },
        flagged=int(flagged),
        referred=int(referred),
        screened=int(screened),
        absent=int(absent),
        roster=int(db.session.scalar(roster_query) or 0),
    )


# ----------------------------------------------------------------- export


def _identity_headers() -> list[str]:
    return [
        _("Student number"),
        _("Name"),
        _("Sex"),
        _("Age (years)"),
        _("Grade"),
        _("Class"),
        _("Resident ID number (masked)"),
        _("Screening date"),
    ]


def export_headers() -> list[str]:
    """The Findings sheet's column titles in the reader's language (one row per finding).

    No internal codes here: the codes of docs/formats/evaluation.md are on the Codes sheet.
    """
    return [
        *_identity_headers(),
        _("Screening"),
        _("Finding"),
        _("Referral"),
        *[str(MEASUREMENT_LABELS[f]) for f in _RESULT_COLUMNS],
        _("Standard"),
    ]


def pupil_headers() -> list[str]:
    """The Pupils sheet's column titles: one row per pupil, every finding in one cell."""
    return [
        *_identity_headers(),
        _("Findings"),
        _("Referral"),
        *[str(MEASUREMENT_LABELS[f]) for f in _RESULT_COLUMNS],
    ]


# The Codes sheet is for data work (the evaluation.md codes), the same in every language.
CODE_HEADERS = [
    "student_number",
    "screening_date",
    "screening_type",
    "code",
    "category",
    "severity",
    "refer",
    "advice_key",
    "standard",
]


def export_query(session: ScreeningSession, filters: FlagFilters) -> Select:
    """Every finding matching ``filters`` with its pupil, class and result values."""
    order = {
        "name": [Student.name_initials, Student.name, Student.student_number],
        "severity": [Finding.severity.desc(), SchoolClass.grade, SchoolClass.name, Student.name],
        "category": [_category_rank(), Finding.severity.desc(), SchoolClass.grade, Student.name],
    }.get(
        filters.sort,
        [
            SchoolClass.grade,
            func.length(SchoolClass.name),
            SchoolClass.name,
            Student.name_initials,
            Student.name,
        ],
    )
    flag_order = case(
        *[(Finding.code == code, i) for i, code in enumerate(fields.FLAG_ORDER)],
        else_=len(fields.FLAG_ORDER),
    )
    query = (
        select(
            Finding.student_id,
            Finding.screening_type,
            Finding.code,
            Finding.category,
            Finding.severity,
            Finding.refer,
            Finding.advice_key,
            Finding.standard,
            ScreeningResult.screening_date,
            *[getattr(ScreeningResult, f) for f in _RESULT_COLUMNS],
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            Student.id_number,
            SchoolClass.grade,
            SchoolClass.name.label("class_name"),
        )
        .join(ScreeningResult, ScreeningResult.id == Finding.result_id)
        .join(Student, Student.id == Finding.student_id)
        .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
        .where(*_finding_conditions(session, filters))
        .order_by(*order, Student.id, flag_order, Finding.code)
    )
    return _narrow_pupils(query, session, filters, Finding.student_id)


@dataclass
class FlagsWorkbook:
    """The three sheets of the flags export, rows in each sheet's header order."""

    pupils: list[list[Any]] = field(default_factory=list)
    findings: list[list[Any]] = field(default_factory=list)
    codes: list[list[Any]] = field(default_factory=list)


def export_rows(session: ScreeningSession, filters: FlagFilters) -> FlagsWorkbook:
    """The export's rows: per pupil, per finding, and the codes; ID numbers masked."""
    words: dict[tuple[Any, ...], Any] = {}

    def cached(make: Any, *args: Any) -> Any:
        """Each translated word once, not once per row (gettext is not free)."""
        key = (make, *args)
        if key not in words:
            words[key] = make(*args)
        return words[key]

    sex_labels = {"M": _("Male"), "F": _("Female")}
    yes_no = {True: _("Yes"), False: _("No")}
    locale = str(get_locale())
    book = FlagsWorkbook()
    # one row per pupil (and screening date), in the order the pupils first appear
    pupils: dict[tuple[Any, ...], tuple[list[Any], list[str], list[bool]]] = {}

    for rec in db.session.execute(export_query(session, filters)):
        age = _age(rec.birth_date, rec.screening_date)
        relevant = RELEVANT_FIELDS.get(rec.screening_type, ())
        identity = [
            mask_ids(rec.student_number),
            rec.name,
            sex_labels.get(rec.sex, rec.sex),
            age.years if age else None,
            rec.grade,
            rec.class_name,
            mask_id_number(rec.id_number),
            rec.screening_date,
        ]
        label = fields.flag_label(rec.code, rec.category, locale)
        values = [cached(_export_value, f, getattr(rec, f)) for f in _RESULT_COLUMNS]
        book.findings.append(
            [
                *identity,
                cached(_type_label, rec.screening_type),
                label,
                yes_no[bool(rec.refer)],
                *[
                    v if f in relevant else None
                    for f, v in zip(_RESULT_COLUMNS, values, strict=True)
                ],
                rec.standard,
            ]
        )
        book.codes.append(
            [
                mask_ids(rec.student_number),
                rec.screening_date,
                rec.screening_type,
                rec.code,
                rec.category,
                rec.severity,
                int(bool(rec.refer)),
                rec.advice_key,
                rec.standard,
            ]
        )
        row, labels, refers = pupils.setdefault(
            (rec.student_id, rec.screening_date), ([*identity, None, None, *values], [], [])
        )
        labels.append(label)
        refers.append(bool(rec.refer))
    at = len(_identity_headers())  # the findings and referral cells follow the identity
    for row, labels, refers in pupils.values():
        row[at], row[at + 1] = "; ".join(labels), yes_no[any(refers)]
        book.pupils.append(row)
    return book


def _type_label(screening_type: str) -> str:
    return str(fields.TYPE_LABELS.get(screening_type, screening_type))


def _export_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal | int):
        return value
    return format_value(name, value)


def write_xlsx(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str) -> bytes:
    """A one-sheet .xlsx of the rows (see :func:`write_workbook`)."""
    return write_workbook([(title, headers, rows)])


def write_workbook(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """An .xlsx workbook (XlsxWriter), one sheet per (title, headers, rows).

    Numbers stay numbers and dates dates; the first column (student numbers) and ID
    numbers are written as text so Excel keeps their digits. Every string is a string cell,
    neutralised by cells.safe_cell, so "=HYPERLINK(...)" in a name stays text.
    """
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    try:
        bold = workbook.add_format({"bold": True, "bg_color": "#F0F2F6"})
        iso_date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        text = workbook.add_format({"num_format": "@"})
        for title, headers, rows in sheets:
            sheet = workbook.add_worksheet(title[:31] or "Sheet")
            id_column = next(
                (i for i, h in enumerate(headers) if h == _("Resident ID number (masked)")), -1
            )
            for column, header in enumerate(headers):
                sheet.write_string(0, column, header, bold)
            sheet.set_column(0, 0, 16)
            sheet.set_column(1, 1, 12)
            if id_column >= 0:
                sheet.set_column(id_column, id_column, 22)
            sheet.freeze_panes(1, 2)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, date):
                        sheet.write_datetime(r, c, value, iso_date)
                    elif isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, int | float | Decimal):
                        sheet.write_number(r, c, float(value))
                    elif c in (0, id_column):
                        sheet.write_string(r, c, safe_cell(str(value)), text)
                    else:
                        sheet.write_string(r, c, safe_cell(str(value)))
            if rows:
                sheet.autofilter(0, 0, len(rows), len(headers) - 1)
    finally:
        workbook.close()
    return buffer.getvalue()


def export_flags(
    session: ScreeningSession,
    filters: FlagFilters,
    *,
    user: User | None,
    ip_address: str | None = None,
) -> tuple[bytes, str, int]:
    """Build the flags workbook and audit it: returns (bytes, file name, rows written).

    Adds one "export" event (filters and row count) and, because every read of a pupil's
    health record is audited, one "view" event per pupil in the file (bulk insert; the
    caller commits).
    """
    book = export_rows(session, filters)
    rows = book.findings
    file_name = f"flags-session-{session.id}.xlsx"
    content = write_workbook(
        [
            (pgettext("sheet name", "Pupils"), pupil_headers(), book.pupils),
            (pgettext("sheet name", "Findings"), export_headers(), book.findings),
            (pgettext("sheet name", "Codes"), CODE_HEADERS, book.codes),
        ]
    )
    student_ids = sorted(set(_student_ids(session, filters)))
    record_event(
        "export",
        "screening_flags",
        session.id,
        school_id=session.school_id,
        summary=(
            f"flags of session {session.id} exported to {file_name}: {len(rows)} findings "
            f"of {len(student_ids)} pupils, ID numbers masked"
        ),
        after={
            "file": file_name,
            "filters": filters.describe(),
            "rows": len(rows),
            "pupils": len(student_ids),
        },
        user=user,
    )
    record_student_views(
        student_ids,
        school_id=session.school_id,
        summary=f"in the flags export of session {session.id}",
        user=user,
        ip_address=ip_address,
    )
    db.session.flush()
    return content, file_name, len(rows)


def _student_ids(session: ScreeningSession, filters: FlagFilters) -> list[int]:
    query = select(Finding.student_id).where(*_finding_conditions(session, filters)).distinct()
    return list(db.session.scalars(_narrow_pupils(query, session, filters, Finding.student_id)))


def record_student_views(
    student_ids: Sequence[int],
    *,
    school_id: int | None,
    summary: str,
    user: User | None,
    ip_address: str | None = None,
) -> int:
    """One audit "view" event per pupil whose record was read, as one bulk insert."""
    if not student_ids:
        return 0
    actor_id = user.id if user is not None else None
    db.session.execute(
        insert(AuditEvent),
        [
            {
                "user_id": actor_id,
                "action": "view",
                "entity": "student",
                "entity_id": str(student_id),
                "school_id": school_id,
                "summary": summary[:500],
                "ip_address": ip_address,
            }
            for student_id in student_ids
        ],
    )
    return len(student_ids)
