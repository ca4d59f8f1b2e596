"""``flask seed-demo`` and the demo generators (schoolhealth/demo.py, demo_data.py)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from schoolhealth import rules
from schoolhealth.clock import local_today
from schoolhealth.demo import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    ResultClassifier,
    plan_schools,
    screening_dates,
)
from schoolhealth.demo_data import (
    PupilGenerator,
    birth_date_range,
    generate_measurements,
    generate_pupils,
    make_id_number,
)
from schoolhealth.extensions import db
from schoolhealth.models import (
    AuditEvent,
    District,
    Enrolment,
    Finding,
    Institution,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
    User,
)
from schoolhealth.roster.services import name_initials
from schoolhealth.screening.results import stored_measurements
from schoolhealth.screening.sessions import session_rule_config

YEAR = 2026


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _seed(runner, *args: str):
    result = runner.invoke(args=["seed-demo", "--school-year", str(YEAR), *args])
    assert result.exit_code == 0, result.output
    return result


def _check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 words it, written out again here on purpose."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    return "10X98765432"[total % 11]


def _age_on(birth: date, day: date) -> float:
    return (day - birth).days / 365.25


# --- the command ----------------------------------------------------------------------


def test_seed_demo_creates_the_demo_district(runner):
    result = _seed(runner)

    assert _count(District) == 1
    assert _count(Institution) == 1
    assert _count(Student) == 1200
    assert _count(Enrolment) == 1200
    assert _count(ScreeningResult) == 0
    schools = db.session.scalars(select(School).order_by(School.id)).all()
    assert [s.name for s in schools] == ["示范区实验小学", "示范区九年一贯制学校"]
    for school, grades in zip(schools, (set(range(1, 7)), set(range(1, 10))), strict=True):
        found = set(
            db.session.scalars(select(SchoolClass.grade).where(SchoolClass.school_id == school.id))
        )
        assert found == grades
    sizes = db.session.execute(
        select(func.count()).select_from(Student).group_by(Student.class_id)
    ).scalars()
    assert all(30 <= size <= 45 for size in sizes)
    users = {u.username: u for u in db.session.scalars(select(User))}
    assert set(users) == {a.username for a in DEMO_ACCOUNTS}
    assert users["nurse1"].school_id == schools[0].id
    assert users["nurse2"].school_id == schools[1].id
    assert users["official"].district_id == schools[0].district_id
    assert users["clinic"].institution_id is not None
    assert all(u.check_password(DEMO_PASSWORD) for u in users.values())
    assert DEMO_PASSWORD in result.output
    assert "for this demo only" in result.output
    for username in users:
        assert username in result.output
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "roster")
        )
        == 2
    )


def test_demo_logins_sign_in(runner, client):
    _seed(runner)
    for account in DEMO_ACCOUNTS:
        response = client.post(
            "/login", data={"username": account.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, account.username
        client.post("/logout")


def test_if_empty_is_a_no_op_on_a_seeded_database(runner):
    _seed(runner)
    before = (_count(School), _count(Student), _count(User), _count(AuditEvent))

    result = _seed(runner, "--if-empty")

    assert "not loaded" in result.output
    assert (_count(School), _count(Student), _count(User), _count(AuditEvent)) == before
    assert "nurse1" in result.output  # the logins are still shown for `make run`


def test_seed_demo_refuses_a_database_with_schools(runner, factories):
    factories.SchoolFactory()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "already has schools" in result.output
    assert _count(Student) == 0


def test_seed_demo_if_empty_seeds_an_empty_database(runner):
    _seed(runner, "--if-empty", "--pupils", "300")
    assert _count(Student) == 300


def test_seed_demo_is_deterministic(runner):
    _seed(runner, "--seed", "7")
    stored = db.session.execute(
        select(
            Student.student_number, Student.name, Student.id_number, Student.birth_date
        ).order_by(Student.id)
    ).all()
    generator = PupilGenerator(seed=7, school_year=YEAR)
    expected = [
        (p["student_number"], p["name"], p["id_number"], p["birth_date"])
        for plan in plan_schools(1200)
        for p in generator.school(plan.pupils, grades=plan.grades)
    ]
    assert [tuple(row) for row in stored] == expected


def _demo_snapshot() -> dict[str, list]:
    """What a seed determines: pupils with their classes, results with their findings."""
    from schoolhealth.demo import CODE_COLUMNS, MEASURED_COLUMNS

    pupils = db.session.execute(
        select(
            School.code,
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            Student.id_number,
            SchoolClass.grade,
            SchoolClass.name,
        )
        .join(School, School.id == Student.school_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .order_by(Student.student_number)
    ).all()
    columns = [getattr(ScreeningResult, c) for c in (*MEASURED_COLUMNS, *CODE_COLUMNS)]
    results = db.session.execute(
        select(Student.student_number, ScreeningResult.screening_date, *columns)
        .join(Student, Student.id == ScreeningResult.student_id)
        .order_by(Student.student_number)
    ).all()
    findings = db.session.execute(
        select(Student.student_number, Finding.screening_type, Finding.code)
        .join(Student, Student.id == Finding.student_id)
        .order_by(Student.student_number, Finding.screening_type, Finding.code)
    ).all()
    return {"pupils": pupils, "results": results, "findings": findings}


def _empty_the_database() -> None:
    db.session.commit()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def test_the_same_seed_gives_the_same_demo_in_a_fresh_database(runner):
    _seed(runner, "--seed", "11", "--pupils", "400", "--with-results")
    first = _demo_snapshot()
    _empty_the_database()
    _seed(runner, "--seed", "11", "--pupils", "400", "--with-results")
    assert _demo_snapshot() == first
    assert len(first["pupils"]) == len(first["results"]) == 400
    assert first["findings"]
    _empty_the_database()
    _seed(runner, "--seed", "12", "--pupils", "400", "--with-results")
    other = _demo_snapshot()
    assert other["pupils"] != first["pupils"]
    assert other["results"] != first["results"]


def test_if_empty_prints_only_the_logins_that_still_work(runner, client):
    """`make run` on an existing database: the logins are shown again, except those an
    admin has since changed or switched off (their password is not the demo's any more)."""
    _seed(runner)
    nurse = db.session.scalars(select(User).where(User.username == "nurse1")).one()
    nurse.set_password("a new password of her own")
    db.session.scalars(select(User).where(User.username == "clinic")).one().active = False
    db.session.commit()

    result = _seed(runner, "--if-empty")
    shown = {
        line.split()[0]
        for line in result.output.splitlines()
        if DEMO_PASSWORD in line and not line.startswith("DEMO")
    }
    assert shown == {"admin", "nurse2", "official"}
    assert "a new password" not in result.output
    for username in shown:
        response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        client.post("/logout")


def test_identity_numbers_are_valid_and_agree_with_the_pupil(runner):
    _seed(runner)
    pupils = db.session.scalars(select(Student)).all()
    with_id = [p for p in pupils if p.id_number]
    assert 0.9 < len(with_id) / len(pupils) < 1
    assert len({p.id_number for p in with_id}) == len(with_id)
    for pupil in with_id:
        number = pupil.id_number
        assert len(number) == 18
        assert number[:17].isdigit()
        assert number[17] == _check_character(number[:17]), number
        assert number[6:14] == pupil.birth_date.strftime("%Y%m%d")
        assert int(number[16]) % 2 == (1 if pupil.sex == "M" else 0)
        assert rules.validate_id_number(number) == number
        assert pupil.student_number == "G" + number
    for pupil in pupils:
        if not pupil.id_number:
            assert pupil.student_number.startswith("L")


def test_birth_dates_fit_the_grades(runner):
    _seed(runner)
    rows = db.session.execute(
        select(Student.birth_date, SchoolClass.grade).join(
            SchoolClass, Student.class_id == SchoolClass.id
        )
    ).all()
    september = date(YEAR, 9, 1)
    on_time = 0
    ages_by_grade: dict[int, list[float]] = {}
    for birth, grade in rows:
        age = _age_on(birth, september)
        assert grade + 5 < age <= grade + 7.01, (birth, grade)
        first, last = birth_date_range(grade, YEAR)
        on_time += first <= birth <= last
        ages_by_grade.setdefault(grade, []).append(age)
    assert 0.95 < on_time / len(rows) < 1  # a few repeaters
    for grade, ages in ages_by_grade.items():
        assert abs(sum(ages) / len(ages) - (grade + 5.5)) < 0.15, grade
    sexes = Counter(db.session.scalars(select(Student.sex)))
    assert 0.45 < sexes["M"] / len(rows) < 0.62


def test_name_initials_are_the_roster_search_initials(runner):
    _seed(runner)
    for name, initials in db.session.execute(select(Student.name, Student.name_initials)):
        assert initials == name_initials(name), name
    names = {
        p["name"]: p["name_initials"] for p in generate_pupils(20000, seed=3, school_year=YEAR)
    }
    for name in random.Random(0).sample(sorted(names), 3000):
        assert names[name] == name_initials(name), name


def test_many_pupils_are_spread_over_schools(runner, factories):
    _seed(runner, "--pupils", "5000")

    assert _count(Student) == 5000
    assert _count(Enrolment) == 5000
    assert _count(School) == 3
    per_school = db.session.execute(
        select(Student.school_id, func.count()).group_by(Student.school_id)
    ).all()
    assert all(1000 < n < 2500 for _, n in per_school)
    # explicit ids were written: the next ordinary insert must still get a fresh one
    student = factories.StudentFactory()
    assert student.id > 5000


# --- results --------------------------------------------------------------------------


def test_with_results_codes_agree_with_evaluate(runner):
    _seed(runner, "--with-results")

    sessions = db.session.scalars(select(ScreeningSession)).all()
    assert len(sessions) == 2
    assert all(s.status == "closed" and s.end_date < local_today() for s in sessions)
    results = db.session.scalars(select(ScreeningResult)).all()
    assert len(results) == 1200
    findings: dict[int, set] = {}
    for f in db.session.scalars(select(Finding)):
        findings.setdefault(f.result_id, set()).add(
            (f.screening_type, f.code, f.category, f.severity, f.refer, f.standard, f.clause,
             f.advice_key)
        )  # fmt: skip
    for result in results:
        session = result.session
        student = result.student
        evaluation = rules.evaluate(
            rules.Sex(student.sex),
            student.birth_date,
            result.screening_date,
            stored_measurements(result),
            session_rule_config(session),
            session.type_list,
        )
        columns = evaluation.to_evaluation_columns()
        for name in ("weight_status", "thinness", "stunting", "vision_right", "vision_left",
                     "myopia_right", "myopia_left", "spine"):  # fmt: skip
            assert (getattr(result, name) or "") == columns[name], (name, result.id)
        assert result.bmi == (Decimal(columns["bmi"]) if columns["bmi"] else None)
        assert result.atr_max == (Decimal(columns["atr_max"]) if columns["atr_max"] else None)
        assert result.age_band == evaluation.age_band
        assert result.refer == columns["refer"]
        assert result.flagged == evaluation.is_flagged
        assert (result.eval_errors or "") == columns["errors"]
        assert result.ruleset_version == rules.RULESET_VERSION
        expected = {
            (f.screening_type.value, f.code, f.category, f.severity, f.refer, f.standard,
             f.clause, f.advice_key)
            for f in evaluation.findings
            if f.is_abnormal
        }  # fmt: skip
        assert findings.get(result.id, set()) == expected, result.id


def test_with_results_prevalences_are_plausible(runner):
    _seed(runner, "--with-results")
    results = [r for r in db.session.scalars(select(ScreeningResult)) if not r.absent]
    n = len(results)
    heavy = sum(r.weight_status in ("overweight", "obese") for r in results)
    reduced = sum(
        r.vision_right in ("mild", "moderate", "severe")
        or r.vision_left in ("mild", "moderate", "severe")
        for r in results
    )
    atr = sum(r.atr_max is not None and r.atr_max >= 5 for r in results)
    assert 0.10 < heavy / n < 0.20
    assert 0.38 < reduced / n < 0.60
    assert 0.025 < atr / n < 0.08


def test_reduced_vision_rises_with_grade() -> None:
    rng = random.Random(1)
    shares = {}
    for grade in (1, 9):
        first, _ = birth_date_range(grade, YEAR)
        reduced = 0
        for _ in range(2000):
            values = generate_measurements(
                rng, sex="F", birth_date=first, grade=grade, screening_date=date(YEAR, 10, 12)
            )
            if not values.get("absent"):
                reduced += min(values["ucva_right"], values["ucva_left"]) < Decimal("5.0")
        shares[grade] = reduced / 2000
    assert shares[1] < 0.4 < 0.6 < shares[9]


def test_classifier_reuses_findings_but_matches_evaluate() -> None:
    classifier = ResultClassifier(rules.DEFAULT_CONFIG, ("growth", "vision", "spine"))
    rng = random.Random(2)
    day = date(YEAR, 10, 12)
    for pupil in generate_pupils(400, seed=5, school_year=YEAR):
        values = generate_measurements(
            rng, sex=pupil["sex"], birth_date=pupil["birth_date"], grade=pupil["grade"],
            screening_date=day,
        )  # fmt: skip
        classified = classifier.classify(pupil["sex"], pupil["birth_date"], day, values)
        evaluation = rules.evaluate(
            rules.Sex(pupil["sex"]),
            pupil["birth_date"],
            day,
            rules.Measurements(**values),
            types=["growth", "vision", "spine"],
        )
        assert classified.columns["flagged"] == evaluation.is_flagged
        assert classified.columns["refer"] == evaluation.to_evaluation_columns()["refer"]
        assert len(classified.findings) == sum(f.is_abnormal for f in evaluation.findings)


# --- generators -----------------------------------------------------------------------


def test_generate_pupils_is_deterministic() -> None:
    first = list(generate_pupils(500, seed=11, school_year=YEAR))
    again = list(generate_pupils(500, seed=11, school_year=YEAR))
    other = list(generate_pupils(500, seed=12, school_year=YEAR))
    assert first == again
    assert [p["name"] for p in first] != [p["name"] for p in other]
    assert set(first[0]) == {
        "student_number", "name", "name_initials", "sex", "birth_date", "grade",
        "class_name", "id_number",
    }  # fmt: skip


def test_one_generator_never_repeats_an_id_number() -> None:
    generator = PupilGenerator(seed=1, school_year=YEAR)
    numbers = [
        p["id_number"]
        for _ in range(3)
        for p in generator.school(3000, grades=[1])  # ~8 pupils a day: forces collisions
        if p["id_number"]
    ]
    assert len(numbers) == len(set(numbers))
    assert len({p for p in numbers if p[14:17] == "000"}) < len(numbers) / 50


def test_make_id_number_matches_the_published_example() -> None:
    # GB 11643-1999's own example: 11010519491231002X (female, born 1949-12-31).
    assert make_id_number("110105", date(1949, 12, 31), 1, "F") == "11010519491231002X"
    male = make_id_number("330106", date(2019, 3, 5), 7, "M")
    assert male[16] in "13579"
    assert male[17] == _check_character(male[:17])


@pytest.mark.parametrize(
    ("area", "sequence", "sex"), [("33010", 0, "M"), ("330106", 500, "M"), ("330106", 0, "X")]
)
def test_make_id_number_rejects_bad_input(area, sequence, sex) -> None:
    with pytest.raises(ValueError):
        make_id_number(area, date(2019, 3, 5), sequence, sex)


def test_plan_schools_for_a_city() -> None:
    plans = plan_schools(1_450_000)
    assert len(plans) == 725
    assert sum(p.pupils for p in plans) == 1_450_000
    assert len({p.code for p in plans}) == 725
    assert max(p.district for p in plans) == 14
    assert plans[0].grades == tuple(range(1, 7))
    assert plans[1].grades == tuple(range(1, 10))


def test_screening_dates_are_in_the_past() -> None:
    assert screening_dates(2026, date(2026, 11, 23)) == (date(2026, 10, 12), date(2026, 10, 16))
    assert screening_dates(2026, date(2026, 9, 20)) == (date(2026, 9, 15), date(2026, 9, 19))
    assert screening_dates(2026, date(2026, 9, 2)) == (date(2026, 9, 1), date(2026, 9, 1))
    assert screening_dates(2025, date(2026, 11, 23)) == (date(2025, 10, 12), date(2025, 10, 16))
