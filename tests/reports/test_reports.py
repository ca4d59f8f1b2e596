"""Reports: figures checked against an independent count of generated data, scoping,
suppression, exports and the command line."""

from __future__ import annotations

import io
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from flask import g
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment
from schoolhealth.reports import services
from schoolhealth.reports.services import ReportScope

WEIGHT = ("normal", "normal", "normal", "overweight", "obese")
VISION = ("normal", "normal", "mild", "moderate", "severe")
SPINE = ("normal",) * 12 + ("suspected_scoliosis", "postural")


@dataclass
class Pupil:
    school: str
    district: str
    grade: int
    sex: str
    age: int
    absent: bool
    codes: dict


@pytest.fixture
def sign_in(login_as):
    def _sign_in(user) -> None:
        login_as(user)
        g.pop("_login_user", None)

    return _sign_in


@pytest.fixture
def city(factories):
    """Two districts: A with two schools, B with one; every pupil's codes recorded aside."""
    f = factories
    rng = random.Random(2026)
    district_a, district_b = f.DistrictFactory(name="A区"), f.DistrictFactory(name="B区")
    schools = {
        "A1": f.SchoolFactory(district=district_a, name="A1 小学"),
        "A2": f.SchoolFactory(district=district_a, name="A2 小学"),
        "B1": f.SchoolFactory(district=district_b, name="B1 小学"),
    }
    sessions = {}
    pupils: list[Pupil] = []
    for code, school in schools.items():
        session = f.ScreeningSessionFactory(
            school=school, types="growth,vision,spine", start_date=date(2026, 10, 12)
        )
        sessions[code] = session
        size = {"A1": 19, "A2": 11, "B1": 8}[code]
        for grade in (1, 2, 3):
            klass = f.SchoolClassFactory(school=school, grade=grade, name="1", school_year=2026)
            for n in range(size if grade != 3 else 3):  # grade 3: a tiny class
                sex = rng.choice("MF")
                student = f.StudentFactory(school_class=klass, sex=sex)
                db.session.add(
                    Enrolment(student_id=student.id, school_year=2026, class_id=klass.id)
                )
                absent = rng.random() < 0.05
                not_enrolled_result = n % 17 == 16  # enrolled but never screened
                if not_enrolled_result:
                    pupils.append(Pupil(code, school.district.name, grade, sex, 0, True, {}))
                    continue
                codes = {}
                if not absent:
                    weight = rng.choice(WEIGHT)
                    codes = {
                        "weight_status": weight,
                        "thinness": "mild" if weight == "normal" and rng.random() < 0.1 else "none",
                        "stunting": "no",
                        "vision_right": rng.choice(VISION),
                        "vision_left": rng.choice(VISION),
                        "spine": rng.choice(SPINE),
                    }
                    reduced = codes["vision_right"] != "normal" or codes["vision_left"] != "normal"
                    codes["myopia_right"] = "yes" if reduced and rng.random() < 0.6 else "no"
                    codes["myopia_left"] = "no"
                age = 5 + grade + rng.choice((0, 1))
                f.ScreeningResultFactory(
                    session=session,
                    student=student,
                    absent=absent,
                    age_band=Decimal(age) + Decimal("0.5"),
                    **codes,
                )
                pupils.append(Pupil(code, school.district.name, grade, sex, age, absent, codes))
    db.session.commit()
    return schools, sessions, pupils, (district_a, district_b)


def expected(pupils: list[Pupil], key) -> dict:
    """The figures counted by hand in Python: the independent computation."""
    out: dict = defaultdict(lambda: Counter())
    for p in pupils:
        k = key(p)
        row = out[k]
        row["enrolled"] += 1
        if p.absent:
            continue
        row["screened"] += 1
        c = p.codes
        if c.get("weight_status"):
            row["d_overweight"] += 1
            row["d_obesity"] += 1
            row["n_overweight"] += c["weight_status"] == "overweight"
            row["n_obesity"] += c["weight_status"] == "obese"
        if c.get("vision_right"):
            row["d_reduced_vision"] += 1
            row["n_reduced_vision"] += c["vision_right"] != "normal" or c["vision_left"] != "normal"
            row["d_myopia"] += 1
            row["n_myopia"] += c["myopia_right"] == "yes" or c["myopia_left"] == "yes"
        if c.get("spine"):
            row["d_suspected_scoliosis"] += 1
            row["n_suspected_scoliosis"] += c["spine"] == "suspected_scoliosis"
    return out


def screened_only(pupils):
    """Pupils with a result row (the 'enrolled but never screened' have none)."""
    return [p for p in pupils if p.codes or p.absent and p.age]


@pytest.mark.parametrize("by", ["school", "grade", "sex", "age"])
def test_figures_match_an_independent_count(city, by):
    schools, _sessions, pupils, (district_a, _b) = city
    names = {code: s.name for code, s in schools.items()}
    key = {
        "school": lambda p: names[p.school],
        "grade": lambda p: f"Grade {p.grade}",
        "sex": lambda p: {"M": "male", "F": "female"}[p.sex],
        "age": lambda p: f"{p.age} years",
    }[by]
    in_a = [p for p in pupils if p.district == "A区"]
    report = services.build_report(ReportScope(district_id=district_a.id), by)
    want = expected(in_a if by != "age" else screened_only(in_a), key)
    got = {row.label: row for row in report.rows}
    assert set(got) == set(want)
    for label, row in got.items():
        w = want[label]
        if by != "age":
            assert row.enrolled == w["enrolled"], label
        assert row.screened == w["screened"], label
        for indicator in (
            "overweight",
            "obesity",
            "reduced_vision",
            "myopia",
            "suspected_scoliosis",
        ):
            cell = row.cells[indicator].proportion
            assert (cell.count, cell.total) == (w[f"n_{indicator}"], w[f"d_{indicator}"]), (
                label,
                indicator,
            )
    total = expected(in_a, lambda p: "all")["all"]
    assert report.total.screened == total["screened"]
    assert report.total.enrolled == total["enrolled"]
    assert report.total.cells["myopia"].proportion.count == total["n_myopia"]
    assert report.sessions == 2


def test_a_session_report_covers_that_session_only(city):
    _schools, sessions, pupils, _d = city
    report = services.build_report(ReportScope(session_id=sessions["B1"].id), "grade")
    want = expected([p for p in pupils if p.school == "B1"], lambda p: "all")["all"]
    assert report.total.screened == want["screened"]
    assert report.total.cells["obesity"].proportion.count == want["n_obesity"]


def test_another_school_year_is_empty(city):
    report = services.build_report(ReportScope(school_year=2025), "school")
    assert report.rows == []
    assert report.total.screened == 0


def test_an_official_reads_their_district_only(city, client, factories, sign_in):
    schools, sessions, _pupils, (district_a, district_b) = city
    official = factories.OfficialFactory(district=district_a)
    db.session.commit()
    sign_in(official)

    page = client.get("/reports/?by=school&school_year=2026")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "A1 小学" in text
    assert "A2 小学" in text
    assert "B1 小学" not in text
    # Another district's school, district or session: as if they did not exist.
    assert client.get(f"/reports/?school={schools['B1'].id}").status_code == 404
    assert client.get(f"/reports/?district={district_b.id}").status_code == 404
    assert client.get(f"/reports/?session={sessions['B1'].id}").status_code == 404
    assert client.get(f"/reports/export.csv?school={schools['B1'].id}").status_code == 404
    # Never a pupil's name.
    assert "Pupil " not in text


def test_officials_see_small_cells_suppressed_and_administrators_do_not(
    city, client, factories, sign_in
):
    _schools, _sessions, _pupils, (district_a, _b) = city
    official = factories.OfficialFactory(district=district_a)
    admin = factories.AdminFactory()
    db.session.commit()

    sign_in(official)
    suppressed = client.get("/reports/?by=grade&school_year=2026").get_data(as_text=True)
    # Grade 3 is a class of three pupils in each school of district A: its counts are small.
    assert 'class="num suppressed"' in suppressed
    assert "&lt;5" in suppressed
    csv_text = client.get("/reports/export.csv?by=grade&school_year=2026").data.decode("utf-8-sig")
    assert "<5" in csv_text

    sign_in(admin)
    full = client.get(f"/reports/?by=grade&school_year=2026&district={district_a.id}")
    assert full.status_code == 200
    assert 'class="num suppressed"' not in full.get_data(as_text=True)


def test_suppressed_cells_cannot_be_recovered_from_the_total(city):
    _schools, _sessions, _pupils, (district_a, _b) = city
    report = services.build_report(ReportScope(district_id=district_a.id), "grade", suppress=True)
    for indicator in services.INDICATOR_KEYS:
        total = report.total.cells[indicator]
        if 0 < total.proportion.count < 5:
            assert total.hidden, indicator
        hidden = [r for r in report.rows if r.cells[indicator].hidden or r.hidden]
        assert len(hidden) != 1, indicator
        for row in report.rows:
            count = row.cells[indicator].proportion.count
            if 0 < count < 5:
                assert row.cells[indicator].hidden or row.hidden, (indicator, row.label)


def test_a_nurse_reads_her_school_and_no_other(city, client, factories, sign_in):
    schools, sessions, _pupils, _d = city
    nurse = factories.NurseFactory(school=schools["A1"])
    db.session.commit()
    sign_in(nurse)
    text = client.get("/reports/?by=school&school_year=2026").get_data(as_text=True)
    assert "A1 小学" in text
    assert "A2 小学" not in text
    assert client.get(f"/reports/?session={sessions['A2'].id}").status_code == 404
    assert client.get(f"/reports/?school={schools['A2'].id}").status_code == 404


def test_institution_users_have_no_reports(client, factories, sign_in):
    user = factories.InstitutionUserFactory()
    db.session.commit()
    sign_in(user)
    assert client.get("/reports/").status_code == 403


def test_the_excel_export_has_the_page_figures_and_is_audited(city, client, factories, sign_in):
    _schools, _sessions, pupils, (district_a, _b) = city
    admin = factories.AdminFactory()
    db.session.commit()
    sign_in(admin)
    response = client.get(f"/reports/export.xlsx?by=sex&school_year=2026&district={district_a.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(response.data)).get_sheet_by_index(0)
    rows = sheet.to_python()
    header = rows[2]
    total = rows[-1] if rows[-1][0] else [r for r in rows if r and r[0] == "All"][0]
    body = {r[0]: r for r in rows[3:] if r and r[0] in ("male", "female", "All")}
    want = expected([p for p in pupils if p.district == "A区"], lambda p: "all")["all"]
    assert body["All"][header.index("Screened")] == want["screened"]
    assert body["All"][header.index("Screening myopia (either eye): pupils")] == want["n_myopia"]
    assert total is not None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity == "report")).one()
    assert event.action == "export"


def test_bad_filters_are_answered_without_an_error(city, client, factories, sign_in):
    admin = factories.AdminFactory()
    db.session.commit()
    sign_in(admin)
    for query in (
        "by=nonsense",
        "school_year=abc",
        "session=abc",
        "session=99999999999999",
        "date_from=2026-13-40",
        "date_from=2026-10-01&date_to=2026-09-01",
        "district=x",
        "indicator=%00",
    ):
        response = client.get(f"/reports/?{query}")
        assert response.status_code in (200, 400, 404), query


def test_flask_report_writes_the_same_figures(city, runner, tmp_path):
    _schools, sessions, pupils, _d = city
    out = tmp_path / "report.csv"
    result = runner.invoke(
        args=["report", str(out), "--session", str(sessions["A1"].id), "--by", "sex"]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    header, *rows = [line.split(",") for line in lines]
    total = rows[-1]
    want = expected([p for p in pupils if p.school == "A1"], lambda p: "all")["all"]
    assert int(total[header.index("Screened")]) == want["screened"]
    assert runner.invoke(args=["report", str(tmp_path / "x.txt")]).exit_code != 0
    assert runner.invoke(args=["report", str(out), "--district", "nowhere"]).exit_code == 1
