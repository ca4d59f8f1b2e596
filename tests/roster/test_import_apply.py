"""Phase 2 of the roster import: all-or-nothing writes, upserts by student number, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment, SchoolClass, Student
from schoolhealth.roster.importing import apply_roster, parse_roster, read_roster
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, id_number, pupil

BIRTH = date(2017, 5, 14)


@pytest.fixture
def school(factories):
    return factories.SchoolFactory(code="S-A")


@pytest.fixture
def nurse(factories, school):
    return factories.NurseFactory(school=school)


def run_import(
    rows, *, school, user, header=HEADER_ZH, year=2026, file_name="roster.csv", **options
):
    """Both phases and the commit, as the CLI and the job do them."""
    table = read_roster(csv_bytes(header, rows), file_name)
    parse = parse_roster(table, school=school, school_year=year, user=user, file_name=file_name)
    summary = apply_roster(parse, school=school, school_year=year, user=user, **options)
    db.session.commit()
    return parse, summary


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def students() -> dict[str, Student]:
    db.session.expire_all()
    return {s.student_number: s for s in db.session.scalars(select(Student))}


def update_events():
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update").order_by(AuditEvent.id)
    ).all()


def test_import_creates_pupils_classes_and_enrolments(school, nurse):
    rows = [
        pupil(1, name="张小明", phone="138 0013 8000"),
        pupil(2, name="李红", sex="F", grade="初一", klass="(3)班"),
    ]
    parse, summary = run_import(rows, school=school, user=nurse)
    assert summary.applied
    assert (summary.created, summary.updated, summary.unchanged, summary.classes_created) == (
        2,
        0,
        0,
        2,
    )
    pupils = students()
    ming = pupils["L0000000001"]
    assert (ming.name, ming.sex, ming.birth_date, ming.school_id) == (
        "张小明",
        "M",
        BIRTH,
        school.id,
    )
    assert ming.name_initials == "zxm"
    assert ming.id_number == id_number(BIRTH, "M", sequence=1)
    assert ming.guardian_phone == "13800138000"
    assert ming.guardian_language == "zh"
    assert ming.active
    hong = pupils["L0000000002"]
    assert (hong.school_class.school_year, hong.school_class.grade, hong.school_class.name) == (
        2026,
        7,
        "3",
    )
    enrolments = db.session.execute(
        select(Enrolment.student_id, Enrolment.class_id, Enrolment.school_year)
    ).all()
    assert sorted(enrolments) == sorted(
        [(ming.id, ming.class_id, 2026), (hong.id, hong.class_id, 2026)]
    )


def test_one_bad_row_writes_nothing(school, nurse):
    bad = pupil(3)
    bad[3] = "2015-13-01"
    parse, summary = run_import([pupil(1), pupil(2), bad], school=school, user=nurse)
    assert not summary.applied
    assert summary.reason == "row_errors"
    assert summary.skipped_lines == [4]
    assert (count(Student), count(SchoolClass), count(Enrolment), count(AuditEvent)) == (0, 0, 0, 0)


def test_skip_invalid_rows_imports_the_valid_ones_and_reports_the_rest(school, nurse):
    bad = pupil(3)
    bad[2] = "?"
    duplicate = pupil(4)
    duplicate[0] = pupil(1)[0]
    parse, summary = run_import(
        [pupil(1), pupil(2), bad, duplicate], school=school, user=nurse, skip_invalid_rows=True
    )
    assert summary.applied
    assert (summary.created, summary.skipped, summary.skipped_lines) == (1, 3, [2, 4, 5])
    assert set(students()) == {"L0000000002"}
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).one()
    assert event.after["skipped"] == 3


def test_the_bulk_writes_belong_to_the_callers_transaction(school, nurse):
    """COPY (PostgreSQL) and the driver's executemany (SQLite) join the session's
    transaction: a caller that rolls back leaves no pupil, class or enrolment."""
    table = read_roster(csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 51)]), "r.csv")
    parse = parse_roster(table, school=school, school_year=2026)
    summary = apply_roster(parse, school=school, school_year=2026, user=nurse)
    assert summary.created == 50
    assert count(Student) == 50  # visible inside the transaction
    db.session.rollback()
    assert (count(Student), count(SchoolClass), count(Enrolment), count(AuditEvent)) == (0, 0, 0, 0)


def test_file_errors_cannot_be_skipped(school, nurse):
    header = HEADER_ZH[:-3]  # no 班级
    rows = [pupil(1)[:-3]]
    parse, summary = run_import(
        rows, header=header, school=school, user=nurse, skip_invalid_rows=True
    )
    assert (summary.applied, summary.reason) == (False, "file_errors")
    assert count(Student) == 0


def test_reimporting_the_same_file_changes_nothing(school, nurse):
    rows = [pupil(n, phone="13800138000") for n in range(1, 6)]
    run_import(rows, school=school, user=nurse)
    before = {n: (s.updated_at, s.class_id) for n, s in students().items()}
    parse, summary = run_import(rows, school=school, user=nurse)
    assert (summary.created, summary.updated, summary.unchanged, summary.classes_created) == (
        0,
        0,
        5,
        0,
    )
    assert {n: (s.updated_at, s.class_id) for n, s in students().items()} == before
    assert update_events() == []
    imports = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert len(imports) == 2
    assert count(AuditEvent) == 2
    assert count(Enrolment) == 5


def test_update_by_student_number_changes_only_what_differs_and_audits_it(school, nurse):
    run_import([pupil(1, name="张小明", phone="13800138000"), pupil(2)], school=school, user=nurse)
    changed = pupil(1, name="张晓明", phone="13900139000", grade="4", klass="1")
    parse, summary = run_import([changed, pupil(2)], school=school, user=nurse)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    ming = students()["L0000000001"]
    assert (ming.name, ming.name_initials, ming.guardian_phone) == ("张晓明", "zxm", "13900139000")
    assert (ming.school_class.grade, ming.school_class.name) == (4, "1")
    [event] = update_events()
    assert (event.entity, event.entity_id, event.school_id, event.user_id) == (
        "student",
        str(ming.id),
        school.id,
        nurse.id,
    )
    assert event.before == {"name": "张小明", "guardian_phone": "13800138000", "class": "2026 3-2"}
    assert event.after == {"name": "张晓明", "guardian_phone": "13900139000", "class": "2026 4-1"}
    # The enrolment of the year follows the class; there is still one per pupil and year.
    assert db.session.execute(
        select(Enrolment.class_id).where(Enrolment.student_id == ming.id)
    ).scalars().all() == [ming.class_id]


def test_columns_absent_from_the_file_and_blank_cells_are_left_alone(school, nurse):
    run_import([pupil(1, phone="13800138000")], school=school, user=nurse)
    without_phone = [h for h in HEADER_ZH if h != "家长电话"]
    parse, summary = run_import([pupil(1)[:-1]], header=without_phone, school=school, user=nurse)
    assert summary.unchanged == 1
    blank_id = pupil(1, with_id=False)  # id_number and phone cells blank
    parse, summary = run_import([blank_id], school=school, user=nurse)
    assert summary.unchanged == 1
    ming = students()["L0000000001"]
    assert ming.guardian_phone == "13800138000"
    assert ming.id_number == id_number(BIRTH, "M", sequence=1)


def test_id_number_changes_are_audited_masked(school, nurse):
    run_import([pupil(1, with_id=False)], school=school, user=nurse)
    parse, summary = run_import([pupil(1)], school=school, user=nurse)
    assert summary.updated == 1
    [event] = update_events()
    full = id_number(BIRTH, "M", sequence=1)
    assert event.before == {"id_number": None}
    assert event.after == {"id_number": full[:4] + "*" * 10 + full[-4:]}


def test_pupils_missing_from_the_file_are_left_alone(school, nurse, factories):
    other = factories.StudentFactory(school_class__school=school, student_number="L0000000099")
    run_import([pupil(1)], school=school, user=nurse)
    kept = students()["L0000000099"]
    assert (kept.active, kept.name, kept.class_id) == (True, other.name, other.class_id)


def test_importing_an_earlier_school_year_keeps_the_current_class(school, nurse):
    run_import([pupil(1, grade="4", klass="1")], school=school, user=nurse, year=2026)
    parse, summary = run_import(
        [pupil(1, grade="3", klass="5")], school=school, user=nurse, year=2025
    )
    assert summary.updated == 1
    ming = students()["L0000000001"]
    assert (ming.school_class.school_year, ming.school_class.grade) == (2026, 4)
    years = db.session.execute(
        select(Enrolment.school_year, SchoolClass.grade, SchoolClass.name)
        .join(SchoolClass, Enrolment.class_id == SchoolClass.id)
        .order_by(Enrolment.school_year)
    ).all()
    assert [tuple(r) for r in years] == [(2025, 3, "5"), (2026, 4, "1")]


def test_a_left_pupil_is_updated_but_not_reactivated(school, nurse, factories):
    factories.StudentFactory(
        school_class__school=school,
        student_number="L0000000001",
        active=False,
        sex="M",
        birth_date=BIRTH,
    )
    parse, summary = run_import([pupil(1)], school=school, user=nurse)
    assert [i.key for i in parse.issues] == ["inactive"]
    assert summary.updated == 1
    assert students()["L0000000001"].active is False


def test_other_school_student_number_stops_the_import(school, nurse, factories):
    factories.StudentFactory(student_number="L0000000002")
    parse, summary = run_import([pupil(1), pupil(2)], school=school, user=nurse)
    assert not summary.applied
    assert count(Student) == 1


def test_one_import_event_with_counts_and_file_name(school, nurse):
    run_import([pupil(1), pupil(2)], school=school, user=nurse, file_name="三年级花名册.csv")
    [event] = db.session.scalars(select(AuditEvent)).all()
    assert (event.action, event.entity, event.school_id, event.user_id) == (
        "import",
        "roster",
        school.id,
        nurse.id,
    )
    assert "三年级花名册.csv" in event.summary
    assert "2 created" in event.summary
    assert event.after["file"] == "三年级花名册.csv"
    assert (event.after["created"], event.after["updated"], event.after["unchanged"]) == (2, 0, 0)


def test_several_schools_in_one_file(factories):
    a = factories.SchoolFactory(code="A001")
    b = factories.SchoolFactory(code="B002")
    admin = factories.AdminFactory()
    header = [*HEADER_ZH, "学校代码"]
    parse, summary = run_import(
        [[*pupil(1), "A001"], [*pupil(2), "B002"]], header=header, school=None, user=admin
    )
    assert summary.created == 2
    assert summary.classes_created == 2
    pupils = students()
    assert (pupils["L0000000001"].school_id, pupils["L0000000002"].school_id) == (a.id, b.id)
    assert pupils["L0000000002"].school_class.school_id == b.id


def test_apply_refuses_a_parse_made_for_another_school_or_year(school, nurse, factories):
    table = read_roster(csv_bytes(HEADER_ZH, [pupil(1)]), "r.csv")
    parse = parse_roster(table, school=school, school_year=2026)
    with pytest.raises(ValueError, match="another school"):
        apply_roster(parse, school=factories.SchoolFactory(), school_year=2026, user=nurse)
    with pytest.raises(ValueError, match="another school year"):
        apply_roster(parse, school=school, school_year=2025, user=nurse)
    apply_roster(parse, school=school, school_year=2026, user=nurse)
    with pytest.raises(ValueError, match="applied already"):
        apply_roster(parse, school=school, school_year=2026, user=nurse)


def test_large_import_goes_through_in_bulk(school, nurse):
    rows = [
        pupil(n, with_id=n % 2 == 0, grade=str(n % 9 + 1), klass=str(n % 7 + 1))
        for n in range(1, 12_001)
    ]
    parse, summary = run_import(rows, school=school, user=nurse)
    assert (summary.created, summary.classes_created) == (12_000, 63)
    assert count(Student) == count(Enrolment) == 12_000
    rows[5][1] = "新名字"
    parse, summary = run_import(rows, school=school, user=nurse)
    assert (summary.updated, summary.unchanged) == (1, 11_999)
    assert len(update_events()) == 1
