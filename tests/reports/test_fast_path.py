"""The report page's fast path against a direct, slow aggregate of the same rows.

The page sums one school year once and lends that total to the trend line
(services.trend(report=...)); the covering index only changes how the database reads.
Here generated data over two school years, with edits, deletions, an unenrolled pupil,
a pupil moved to another class and a pupil whose sex was corrected, is summed once in
plain Python from the ORM rows, and every grouping, filter and the trend must match it.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import Enrolment, SchoolClass, ScreeningResult, ScreeningSession, Student
from schoolhealth.reports import services
from schoolhealth.reports.services import ReportScope

REDUCED = ("mild", "moderate", "severe")
CODES = {
    "weight_status": (None, "normal", "normal", "overweight", "obese"),
    "thinness": (None, "none", "none", "mild", "moderate_severe"),
    "stunting": (None, "no", "no", "yes"),
    "vision_right": (None, "normal", "mild", "moderate", "severe"),
    "vision_left": (None, "normal", "normal", "severe"),
    "myopia_right": (None, "no", "yes"),
    "myopia_left": (None, "no", "no", "yes"),
    "spine": (None, "normal", "normal", "postural", "suspected_scoliosis"),
    "caries": (None, "no", "yes"),
}


def random_codes(rng: random.Random) -> dict:
    return {name: rng.choice(choices) for name, choices in CODES.items()}


@pytest.fixture
def generated(factories):
    """Two districts, three schools, sessions in 2025 and 2026, then edits of every kind."""
    f = factories
    rng = random.Random(11)
    district_a, district_b = f.DistrictFactory(name="甲区"), f.DistrictFactory(name="乙区")
    schools = [
        f.SchoolFactory(district=district_a),
        f.SchoolFactory(district=district_a),
        f.SchoolFactory(district=district_b),
    ]
    sessions = []
    for school in schools:
        classes = {
            (year, grade): f.SchoolClassFactory(
                school=school, school_year=year, grade=grade, name="1"
            )
            for year in (2025, 2026)
            for grade in (2, 3, 4)
        }
        pupils = []
        for grade in (2, 3):
            for _ in range(14):
                student = f.StudentFactory(
                    school_class=classes[(2026, grade + 1)], sex=rng.choice("MF")
                )
                for year, g in ((2025, grade), (2026, grade + 1)):
                    db.session.add(
                        Enrolment(
                            student_id=student.id, school_year=year, class_id=classes[(year, g)].id
                        )
                    )
                pupils.append(student)
        # on the roster of the school but with no enrolment: left out of the grade grouping
        unenrolled = f.StudentFactory(school_class=classes[(2026, 3)])
        for start in (date(2025, 10, 9), date(2026, 3, 2), date(2026, 10, 14)):
            session = f.ScreeningSessionFactory(
                school=school, start_date=start, types="growth,vision,spine,dental"
            )
            sessions.append(session)
            for student in [*pupils, unenrolled]:
                if rng.random() < 0.1:
                    continue  # not screened in this session
                absent = rng.random() < 0.08
                f.ScreeningResultFactory(
                    session=session,
                    student=student,
                    absent=absent,
                    age_band=rng.choice((None, Decimal("8.5"), Decimal("9.0"), Decimal("10.5"))),
                    **({} if absent else random_codes(rng)),
                )
    db.session.commit()

    results = list(db.session.scalars(select(ScreeningResult).order_by(ScreeningResult.id)))
    for result in rng.sample(results, 40):  # corrected measurements re-derive the codes
        for name, value in random_codes(rng).items():
            setattr(result, name, value)
    for result in rng.sample(results, 10):
        result.absent = not result.absent
    for result in rng.sample(results, 15):
        db.session.delete(result)
    moved = db.session.scalars(select(Enrolment).where(Enrolment.school_year == 2026)).first()
    other = db.session.scalars(
        select(SchoolClass).where(
            SchoolClass.school_id == db.session.get(SchoolClass, moved.class_id).school_id,
            SchoolClass.school_year == 2026,
            SchoolClass.id != moved.class_id,
        )
    ).first()
    moved.class_id = other.id
    corrected = db.session.scalars(select(Student).order_by(Student.id)).first()
    corrected.sex = "F" if corrected.sex == "M" else "M"
    db.session.commit()
    return schools, sessions, (district_a, district_b)


def slow_aggregate(scope: ReportScope, by: str | None) -> tuple[dict, dict, dict]:
    """Figures summed row by row in Python: per key, per school year, enrolled per key."""
    sessions = [
        s
        for s in db.session.scalars(select(ScreeningSession))
        if (scope.school_ids is None or s.school_id in scope.school_ids)
        and (scope.district_id is None or s.school.district_id == scope.district_id)
        and (scope.session_id is None or s.id == scope.session_id)
        and (
            scope.school_year is None or services.school_year_of(s.start_date) == scope.school_year
        )
        and (scope.date_from is None or s.start_date >= scope.date_from)
        and (scope.date_to is None or s.start_date <= scope.date_to)
    ]
    grade_of = {
        (e.student_id, e.school_year): db.session.get(SchoolClass, e.class_id).grade
        for e in db.session.scalars(select(Enrolment))
    }

    def key(session: ScreeningSession, student: Student, age_band) -> object:
        year = services.school_year_of(session.start_date)
        return {
            None: 0,
            "school": session.school_id,
            "grade": grade_of.get((student.id, year), "none"),
            "sex": student.sex,
            "age": None if age_band is None else math.floor(age_band),
        }[by]

    rows: dict = defaultdict(Counter)
    years: dict = defaultdict(Counter)
    enrolled: dict = Counter()
    for session in sessions:
        year = services.school_year_of(session.start_date)
        for r in db.session.scalars(
            select(ScreeningResult).where(ScreeningResult.session_id == session.id)
        ):
            k = key(session, r.student, r.age_band)
            for target in (rows[k], years[year]):
                if by == "grade" and k == "none" and target is rows[k]:
                    continue
                target["results"] += 1
                if r.absent:
                    continue
                target["screened"] += 1
                for name, (numerator, evaluated) in {
                    "overweight": (r.weight_status == "overweight", r.weight_status),
                    "obesity": (r.weight_status == "obese", r.weight_status),
                    "thinness": (r.thinness in ("mild", "moderate_severe"), r.thinness),
                    "stunting": (r.stunting == "yes", r.stunting),
                    "reduced_vision": (
                        r.vision_right in REDUCED or r.vision_left in REDUCED,
                        r.vision_right or r.vision_left,
                    ),
                    "myopia": (
                        "yes" in (r.myopia_right, r.myopia_left),
                        r.myopia_right or r.myopia_left,
                    ),
                    "suspected_scoliosis": (r.spine == "suspected_scoliosis", r.spine),
                    "caries": (r.caries == "yes", r.caries),
                }.items():
                    target[f"n_{name}"] += bool(numerator)
                    target[f"d_{name}"] += evaluated is not None
        for klass in db.session.scalars(
            select(SchoolClass).where(
                SchoolClass.school_id == session.school_id, SchoolClass.school_year == year
            )
        ):
            for e in db.session.scalars(select(Enrolment).where(Enrolment.class_id == klass.id)):
                student = db.session.get(Student, e.student_id)
                enrolled[key(session, student, None) if by != "age" else None] += 1
    rows.pop("none", None)
    return rows, years, enrolled


def assert_row(row, want: Counter, enrolled: int | None, where) -> None:
    assert row.screened == want["screened"], where
    if enrolled is not None:
        assert row.enrolled == enrolled, where
    for indicator in services.INDICATOR_KEYS:
        p = row.cells[indicator].proportion
        assert (p.count, p.total) == (want[f"n_{indicator}"], want[f"d_{indicator}"]), (
            where,
            indicator,
        )


SCOPES = {
    "everything": lambda s, d: ReportScope(),
    "district": lambda s, d: ReportScope(district_id=d[0].id),
    "school year": lambda s, d: ReportScope(school_year=2025),
    "district and year": lambda s, d: ReportScope(district_id=d[0].id, school_year=2026),
    "one session": lambda s, d: ReportScope(session_id=s[1].id),
    "date range": lambda s, d: ReportScope(date_from=date(2026, 1, 1), date_to=date(2026, 6, 30)),
    "schools": lambda s, d: ReportScope(school_ids=(s[0].school_id, s[-1].school_id)),
}


@pytest.mark.parametrize("by", [None, "school", "grade", "sex", "age"])
def test_the_report_equals_a_direct_aggregate(generated, by):
    _schools, sessions, districts = generated
    for scope_name, make_scope in SCOPES.items():
        scope = make_scope(sessions, districts)
        report = services.build_report(scope, by)
        rows, _years, enrolled = slow_aggregate(scope, by)
        keys = set(rows) | ({*enrolled} if by != "age" else set())
        assert {r.key for r in report.rows} == keys, scope_name
        for row in report.rows:
            on_roll = enrolled[row.key] if by != "age" else None
            assert_row(row, rows[row.key], on_roll, (scope_name, row.key))
        total = Counter()
        for counts in rows.values():
            total.update(counts)
        assert_row(report.total, total, sum(enrolled.values()), (scope_name, "total"))


@pytest.mark.parametrize("suppress", [False, True])
def test_the_trend_with_the_lent_sums_equals_the_trend_summed_apart(generated, suppress):
    _schools, _sessions, (district_a, _b) = generated
    wide = ReportScope(district_id=district_a.id)
    years = range(2022, 2027)
    apart = services.trend(wide, years, suppress=suppress)
    _rows, slow_years, _enrolled = slow_aggregate(wide, "school")
    for year, row in apart:
        assert_row(row, slow_years.get(year, Counter()), None, year)
    whole_years = (
        ReportScope(district_id=district_a.id, school_year=2025),
        ReportScope(district_id=district_a.id, school_year=2026),
        ReportScope(district_id=district_a.id),  # every year
        ReportScope(  # 2025 whole and part of 2026
            district_id=district_a.id, date_from=date(2025, 9, 1), date_to=date(2026, 12, 31)
        ),
    )
    for by in ("school", "grade", "sex", "age"):
        for year in whole_years:
            report = services.build_report(year, by, suppress=suppress)
            fast = services.trend(wide, years, suppress=suppress, report=report)
            assert [y for y, _ in fast] == list(years)
            for (_, got), (_, want) in zip(fast, apart, strict=True):
                assert (got.key, got.label, got.enrolled, got.screened, got.hidden) == (
                    want.key,
                    want.label,
                    want.enrolled,
                    want.screened,
                    want.hidden,
                ), (by, year)
                for key, cell in got.cells.items():
                    expected_cell = want.cells[key]
                    assert (cell.proportion, cell.hidden) == (
                        expected_cell.proportion,
                        expected_cell.hidden,
                    ), (by, year, key)
            assert report.total.label == "All"


def test_a_filtered_report_lends_nothing_to_the_trend(generated):
    """A session, date range or other schools' report is not a whole year of the trend's."""
    _schools, sessions, (district_a, _b) = generated
    wide = ReportScope(district_id=district_a.id)
    apart = dict(services.trend(wide, [2026]))
    for scope in (
        ReportScope(district_id=district_a.id, school_year=2026, session_id=sessions[2].id),
        ReportScope(district_id=district_a.id, school_year=2026, date_to=date(2026, 10, 13)),
        ReportScope(school_year=2026),
    ):
        report = services.build_report(scope, "school")
        assert report.total.screened != apart[2026].screened  # lending it would show
        lent = dict(services.trend(wide, [2026], report=report))
        assert lent[2026].screened == apart[2026].screened
        assert lent[2026].enrolled == apart[2026].enrolled
