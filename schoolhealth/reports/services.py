"""Prevalence reports: counts, rates and 95% intervals by school, grade, sex or age.

Every figure is one SQL aggregation over the stored evaluation codes of the results
(``screening_results``' derived columns, written by the rules core), so a district of
1.45 million results is summed by the database, not by Python. The definitions below
are the ones printed on the report page and in README:

* **Unit**: one screening result, i.e. one pupil in one screening session. A pupil
  screened in two sessions of the period counts in both.
* **Screened** (coverage numerator): results not marked absent. **Enrolled**: pupils
  in the session's school's classes of the session's school year (the roster history).
* **Prevalence of a finding**: results with the finding ÷ results in which the finding
  could be evaluated (its evaluation code is present). A type not screened, an absent
  pupil or an unevaluable value is in neither.
* **Age**: the whole years of the half-year age band the standards use (exact age at
  the screening date, floored).
* **Grade**: the pupil's class in the school year of the session.
* Officials' figures hide counts of 1–4 and groups under 5 pupils, with complementary
  suppression (statistics.py).

The module flushes nothing and commits nothing: it only reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, and_, case, cast, extract, false, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from .. import labels
from ..extensions import db
from ..models import (
    District,
    Enrolment,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
)
from .statistics import Proportion, is_small, suppress_column, suppress_groups

SCHOOL_YEAR_START_MONTH = 9
GROUPINGS = ("school", "grade", "sex", "age")
REDUCED = ("mild", "moderate", "severe")

R = ScreeningResult


@dataclass(frozen=True)
class Indicator:
    """One prevalence figure: which results count above the line and which below it."""

    key: str
    label: Any
    screening_type: str
    numerator: ColumnElement[bool]
    denominator: ColumnElement[bool]


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "overweight",
        _l("Overweight"),
        "growth",
        R.weight_status == "overweight",
        R.weight_status.is_not(None),
    ),
    Indicator(
        "obesity", _l("Obesity"), "growth", R.weight_status == "obese", R.weight_status.is_not(None)
    ),
    Indicator(
        "thinness",
        _l("Thinness (mild to severe)"),
        "growth",
        R.thinness.in_(("mild", "moderate_severe")),
        R.thinness.is_not(None),
    ),
    Indicator("stunting", _l("Stunting"), "growth", R.stunting == "yes", R.stunting.is_not(None)),
    Indicator(
        "reduced_vision",
        _l("Reduced vision (either eye)"),
        "vision",
        or_(R.vision_right.in_(REDUCED), R.vision_left.in_(REDUCED)),
        or_(R.vision_right.is_not(None), R.vision_left.is_not(None)),
    ),
    Indicator(
        "myopia",
        _l("Screening myopia (either eye)"),
        "vision",
        or_(R.myopia_right == "yes", R.myopia_left == "yes"),
        or_(R.myopia_right.is_not(None), R.myopia_left.is_not(None)),
    ),
    Indicator(
        "suspected_scoliosis",
        _l("Suspected scoliosis"),
        "spine",
        R.spine == "suspected_scoliosis",
        R.spine.is_not(None),
    ),
    Indicator("caries", _l("Untreated caries"), "dental", R.caries == "yes", R.caries.is_not(None)),
)
INDICATOR_KEYS = tuple(i.key for i in INDICATORS)
# The district dashboard's headline figures.
HEADLINE = ("myopia", "obesity", "caries", "suspected_scoliosis")


class ReportError(Exception):
    """A report that cannot be made as asked (e.g. an unknown grouping)."""


@dataclass(frozen=True)
class ReportScope:
    """Which sessions a report covers. ``school_ids=None`` means every school (admin)."""

    school_ids: tuple[int, ...] | None = None
    district_id: int | None = None
    session_id: int | None = None
    school_year: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class Cell:
    proportion: Proportion
    hidden: bool = False


@dataclass
class ReportRow:
    key: Any
    label: str
    enrolled: int
    screened: int
    cells: dict[str, Cell]
    hidden: bool = False  # the group's own size is suppressed

    @property
    def coverage(self) -> Proportion:
        return Proportion(min(self.screened, self.enrolled), self.enrolled)


@dataclass
class Report:
    scope: ReportScope
    by: str | None
    rows: list[ReportRow]
    total: ReportRow
    sessions: int
    suppressed: bool
    indicators: tuple[Indicator, ...] = field(default=INDICATORS)
    # Each school year's results summed, with those in no group (by grade: pupils without
    # an enrolment that year), and its pupils on the roll ("enrolled"): the trend line
    # reuses the years the report covers whole rather than summing them again.
    whole: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)


def school_year_of(day: date) -> int:
    return day.year if day.month >= SCHOOL_YEAR_START_MONTH else day.year - 1


def _session_school_year() -> ColumnElement[int]:
    """The session's school year in SQL (September starts a year), on SQLite and PostgreSQL."""
    start = ScreeningSession.start_date
    return cast(extract("year", start), Integer) - case(
        (cast(extract("month", start), Integer) < SCHOOL_YEAR_START_MONTH, 1), else_=0
    )


def session_filter(scope: ReportScope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.school_ids is not None:
        conditions.append(
            ScreeningSession.school_id.in_(scope.school_ids) if scope.school_ids else false()
        )
    if scope.district_id is not None:
        conditions.append(
            ScreeningSession.school_id.in_(
                select(School.id).where(School.district_id == scope.district_id)
            )
        )
    if scope.session_id is not None:
        conditions.append(ScreeningSession.id == scope.session_id)
    if scope.school_year is not None:
        conditions.append(
            ScreeningSession.start_date.between(
                date(scope.school_year, SCHOOL_YEAR_START_MONTH, 1),
                date(scope.school_year + 1, SCHOOL_YEAR_START_MONTH, 1) - timedelta(days=1),
            )
        )
    if scope.date_from is not None:
        conditions.append(ScreeningSession.start_date >= scope.date_from)
    if scope.date_to is not None:
        conditions.append(ScreeningSession.start_date <= scope.date_to)
    return conditions


def _group_column(by: str | None) -> ColumnElement[Any]:
    if by is None:
        return literal(0)
    if by == "school":
        return ScreeningSession.school_id
    if by == "grade":
        return SchoolClass.grade
    if by == "sex":
        return Student.sex
    if by == "age":
        # floor, not a bare cast: PostgreSQL rounds 6.5 up to 7, SQLite truncates. On
        # SQLite, SQLAlchemy supplies floor() as Python's math.floor, which raises on NULL
        # (a result without an age band): the CASE never hands it one.
        return case((R.age_band.is_not(None), cast(func.floor(R.age_band), Integer)), else_=None)
    if by == "year":  # internal: the year-on-year lines, one query for every year
        return _session_school_year()
    raise ReportError(f"unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}")


def _result_counts(
    scope: ReportScope, by: str | None, *, by_year: bool = False
) -> dict[Any, dict[str, int]]:
    """The counts of each group; ``by_year``: of each (session start date, group) pair.

    The start date, not the school year: a plain column groups faster than an expression
    computed for every result, and the caller folds the few dates into school years.
    """
    key = _group_column(by).label("key")
    year = ScreeningSession.start_date.label("year")
    columns = [
        *([year] if by_year else []),
        key,
        func.count().label("results"),
        func.sum(case((R.absent.is_(False), 1), else_=0)).label("screened"),
    ]
    for indicator in INDICATORS:
        columns.append(
            func.sum(case((and_(indicator.numerator, R.absent.is_(False)), 1), else_=0)).label(
                f"n_{indicator.key}"
            )
        )
        columns.append(
            func.sum(case((and_(indicator.denominator, R.absent.is_(False)), 1), else_=0)).label(
                f"d_{indicator.key}"
            )
        )
    query = (
        select(*columns)
        .select_from(R)
        .join(ScreeningSession, ScreeningSession.id == R.session_id)
        .where(*session_filter(scope))
        .group_by(*([year] if by_year else []), key)
    )
    if by == "sex":
        query = query.join(Student, Student.id == R.student_id)
    if by == "grade":
        # outer joins: results of pupils without an enrolment that year come back under
        # the key None, out of the grade rows but in the report's ``whole``
        query = query.outerjoin(
            Enrolment,
            and_(
                Enrolment.student_id == R.student_id,
                Enrolment.school_year == _session_school_year(),
            ),
        ).outerjoin(SchoolClass, SchoolClass.id == Enrolment.class_id)
    rows = db.session.execute(query)
    if by_year:
        return {(row.year, row.key): row._asdict() for row in rows}
    return {row.key: row._asdict() for row in rows}


def _enrolled_counts(
    scope: ReportScope, by: str | None, *, by_year: bool = False
) -> dict[Any, int]:
    """Pupils on the roll of each session's school in its school year, by the same key
    (``by_year``: by session start date and key, as ``_result_counts``)."""
    if by == "age":
        return {}
    key = _group_column(by).label("key")
    year = ScreeningSession.start_date.label("year")
    query = (
        select(*([year] if by_year else []), key, func.count().label("pupils"))
        .select_from(ScreeningSession)
        .join(
            SchoolClass,
            and_(
                SchoolClass.school_id == ScreeningSession.school_id,
                SchoolClass.school_year == _session_school_year(),
            ),
        )
        .join(Enrolment, Enrolment.class_id == SchoolClass.id)
        .where(*session_filter(scope))
        .group_by(*([year] if by_year else []), key)
    )
    if by == "sex":
        query = query.join(Student, Student.id == Enrolment.student_id)
    if by_year:
        return {(row.year, row.key): row.pupils for row in db.session.execute(query)}
    return dict(db.session.execute(query).tuples().all())


def _labels(by: str | None, keys: Sequence[Any]) -> dict[Any, str]:
    from ..labels import sex_label

    if by == "school":
        names = dict(
            db.session.execute(select(School.id, School.name).where(School.id.in_(keys)))
            .tuples()
            .all()
        )
        return {k: names.get(k, str(k)) for k in keys}
    if by == "grade":
        return {k: labels.grade_label(k) for k in keys}
    if by == "sex":
        return {k: sex_label(k) for k in keys}
    if by == "age":
        return {k: gettext("%(years)s years", years=k) if k is not None else "?" for k in keys}
    return dict.fromkeys(keys, "")


def count_sessions(scope: ReportScope) -> int:
    return db.session.scalar(
        select(func.count()).select_from(ScreeningSession).where(*session_filter(scope))
    )


def _row(key: Any, label: str, data: dict[str, int], pupils: int) -> ReportRow:
    cells = {
        i.key: Cell(Proportion(int(data.get(f"n_{i.key}") or 0), int(data.get(f"d_{i.key}") or 0)))
        for i in INDICATORS
    }
    return ReportRow(key, label, pupils, int(data.get("screened") or 0), cells)


def build_report(scope: ReportScope, by: str | None = None, *, suppress: bool = False) -> Report:
    """The report of ``scope`` grouped ``by`` school/grade/sex/age (or one total row)."""
    if by is not None and by not in GROUPINGS:
        raise ReportError(f"unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}")
    # One query each, by session start date too: folded into school years, those sums are
    # the trend's (see ``whole``).
    yearly = _result_counts(scope, by, by_year=True)
    yearly_roll = _enrolled_counts(scope, by if by != "age" else None, by_year=True)
    counts: dict[Any, list[dict[str, Any]]] = {}
    whole: dict[int, dict[str, int]] = {}
    for (started, key), data in yearly.items():
        year = school_year_of(started)
        whole[year] = _summed([whole.get(year, {}), data])
        if key is not None or by != "grade":  # grade None: no enrolment that year
            counts.setdefault(key, []).append(data)
    enrolled: dict[Any, int] = {}
    for (started, key), pupils in yearly_roll.items():
        year = school_year_of(started)
        whole.setdefault(year, {})
        whole[year]["enrolled"] = whole[year].get("enrolled", 0) + pupils
        if by != "age":
            enrolled[key] = enrolled.get(key, 0) + pupils
    keys = sorted(set(counts) | set(enrolled), key=lambda k: (k is None, k))
    labels = _labels(by, keys)

    sums = {k: _summed(counts.get(k, [])) for k in keys}
    rows = [_row(k, labels[k], sums[k], enrolled.get(k, 0)) for k in keys]
    on_roll = sum(yearly_roll.values())
    total = _row(None, gettext("All"), _summed(sums.values()), on_roll)
    if suppress:
        _suppress(rows, total)
    return Report(scope, by, rows, total, count_sessions(scope), suppress, whole=whole)


def _summed(groups: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The counts of several groups added up (a total row)."""
    grand: dict[str, int] = {}
    for data in groups:
        for name, value in data.items():
            if name not in ("key", "year"):
                grand[name] = grand.get(name, 0) + int(value or 0)
    return grand


def _suppress_total(total: ReportRow) -> None:
    total.hidden = is_small(total.screened)
    for cell in total.cells.values():
        cell.hidden = is_small(cell.proportion.count) or is_small(cell.proportion.total)


def _suppress(rows: list[ReportRow], total: ReportRow) -> None:
    """Hide small cells in place so officials cannot see or subtract their way to them.

    The total row follows the same small-count rule: "1 pupil in the district" is as
    identifying as a cell.
    """
    _suppress_total(total)
    hidden_groups = suppress_groups([r.screened for r in rows])
    hidden_enrolled = suppress_groups([r.enrolled for r in rows])
    for row, hidden, hidden_roll in zip(rows, hidden_groups, hidden_enrolled, strict=True):
        row.hidden = hidden or hidden_roll
    for indicator in INDICATORS:
        cells = [r.cells[indicator.key] for r in rows]
        hide = suppress_column(
            [c.proportion.count for c in cells],
            [c.proportion.total for c in cells],
            [r.hidden for r in rows],
        )
        denominators_hidden = suppress_groups([c.proportion.total for c in cells])
        for cell, h, hd in zip(cells, hide, denominators_hidden, strict=True):
            cell.hidden = h or hd


def trend(
    scope: ReportScope,
    years: Sequence[int],
    *,
    suppress: bool = False,
    report: Report | None = None,
) -> list[tuple[int, ReportRow]]:
    """The totals of each school year in ``years`` (oldest first), in one query.

    Each year is a total of its own, so under ``suppress`` each follows the total row's
    small-count rule rather than being paired with another year. ``report``, the page's
    own report over the same schools, lends its sums to the years it covers whole (see
    ``_covered_years``): the same figures, and those results are not summed a second
    time on the page; only the other years are queried.
    """
    if not years:
        return []
    covered = _covered_years(report, scope, years) if report is not None else set()
    result: dict[int, ReportRow] = {}
    for year in covered:
        assert report is not None
        sums = report.whole.get(year, {})
        result[year] = _row(year, str(year), sums, sums.get("enrolled", 0))
    rest = [y for y in years if y not in covered]
    if rest:
        first, last = min(rest), max(rest)
        span = ReportScope(
            school_ids=scope.school_ids,
            district_id=scope.district_id,
            date_from=date(first, SCHOOL_YEAR_START_MONTH, 1),
            date_to=date(last + 1, SCHOOL_YEAR_START_MONTH, 1) - timedelta(days=1),
        )
        counts = _result_counts(span, "year")
        enrolled = _enrolled_counts(span, "year")
        for year in rest:
            result[year] = _row(year, str(year), counts.get(year, {}), enrolled.get(year, 0))
    if suppress:
        for row in result.values():
            _suppress_total(row)
    return [(year, result[year]) for year in sorted(years)]


def _covered_years(report: Report, scope: ReportScope, years: Sequence[int]) -> set[int]:
    """The years of ``years`` whose every session of the trend's schools ``report`` summed.

    The report must be of the same schools and district with no session filter; a school
    year filter keeps that year only, and a date range the years wholly inside it. Such a
    year's ``report.whole`` counts every result (grouped or not) and every enrolled pupil
    of the year, exactly the trend's row.
    """
    chosen = report.scope
    if (
        chosen.session_id is not None
        or chosen.school_ids != scope.school_ids
        or chosen.district_id != scope.district_id
    ):
        return set()
    covered = set()
    for year in years:
        first = date(year, SCHOOL_YEAR_START_MONTH, 1)
        last = date(year + 1, SCHOOL_YEAR_START_MONTH, 1) - timedelta(days=1)
        if (
            chosen.school_year in (None, year)
            and (chosen.date_from is None or chosen.date_from <= first)
            and (chosen.date_to is None or chosen.date_to >= last)
        ):
            covered.add(year)
    return covered


def district_choices(school_ids: tuple[int, ...] | None) -> list[District]:
    query = select(District).order_by(District.name)
    if school_ids is not None:
        query = query.where(
            District.id.in_(select(School.district_id).where(School.id.in_(school_ids)))
        )
    return list(db.session.scalars(query))
