"""Roster export: the roster.md columns, full ID numbers only here, audited, round trip."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent
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
            id_number(BIRTH, "M", sequence=1),
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
    assert event.after == {"file": "r.csv", "format": "csv", "pupils": 2, "include_inactive": False}


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
    assert first[6] == id_number(BIRTH, "M", sequence=1)  # text: all 18 characters


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
    assert id_number(BIRTH, "M", sequence=1) in text  # full ID numbers in exports only
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
