"""``flask import-roster`` and ``flask export-roster``: reports, exit codes, one commit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from schoolhealth.clock import local_today
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Student
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil, xlsx_bytes
from tests.roster.fixtures.xls import xls_bytes


@pytest.fixture
def school(factories):
    return factories.SchoolFactory(code="S-A")


def student_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Student))


def write(tmp_path, rows, name="roster.csv", header=HEADER_ZH):
    path = tmp_path / name
    path.write_bytes(
        xlsx_bytes(header, rows) if name.endswith(".xlsx") else csv_bytes(header, rows)
    )
    return path


def test_import_prints_counts_commits_and_exits_0(runner, school, tmp_path):
    path = write(tmp_path, [pupil(1), pupil(2)])
    result = runner.invoke(
        args=["import-roster", str(path), "--school", "S-A", "--school-year", "2026"]
    )
    assert result.exit_code == 0, result.output
    assert "2 rows: 2 new, 0 updated, 0 unchanged, 0 with errors; 0 errors, 0 warnings." in (
        result.output
    )
    assert (
        "Imported roster.csv for 2026: 2 created, 0 updated, 0 unchanged, 1 classes created."
        in (result.output)
    )
    assert student_count() == 2
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.user_id) == ("import", None)


def test_errors_are_reported_row_by_row_and_nothing_is_imported(runner, school, tmp_path):
    bad = pupil(6, with_id=False)
    bad[3] = "2015-13-01"
    rows = [pupil(n) for n in range(1, 6)] + [bad]
    path = write(tmp_path, rows)
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 1
    assert "row 7, 出生日期 '2015-13-01': not a valid date\n" in result.output
    assert "Nothing was imported: some rows have errors" in result.output
    assert student_count() == 0


def test_dry_run_writes_nothing_and_exits_2(runner, school, tmp_path):
    path = write(tmp_path, [pupil(1)])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A", "--dry-run"])
    assert result.exit_code == 2
    assert "1 rows: 1 new" in result.output
    assert "Dry run: nothing was written." in result.output
    assert student_count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_dry_run_with_errors_exits_1(runner, school, tmp_path):
    bad = pupil(1)
    bad[2] = "?"
    path = write(tmp_path, [bad])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A", "--dry-run"])
    assert result.exit_code == 1
    assert "row 2, 性别 '?': not a valid sex" in result.output


def test_skip_invalid_rows(runner, school, tmp_path):
    bad = pupil(2)
    bad[4] = "13"
    path = write(tmp_path, [pupil(1), bad], name="roster.xlsx")
    result = runner.invoke(
        args=["import-roster", str(path), "--school", "S-A", "--skip-invalid-rows"]
    )
    assert result.exit_code == 0, result.output
    assert "row 3, 年级 '13': not a valid grade" in result.output
    assert "1 rows skipped" in result.output
    assert student_count() == 1


def test_second_run_is_all_unchanged(runner, school, tmp_path):
    path = write(tmp_path, [pupil(1), pupil(2)])
    args = ["import-roster", str(path), "--school", "S-A", "--school-year", "2026"]
    runner.invoke(args=args)
    result = runner.invoke(args=args)
    assert result.exit_code == 0
    assert "0 created, 0 updated, 2 unchanged" in result.output


def test_warnings_are_printed_but_do_not_stop_the_import(runner, school, tmp_path):
    path = write(tmp_path, [[*pupil(1), "x"]], header=[*HEADER_ZH, "备注"])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 0
    assert "file, 备注: warning: Unknown column; it is ignored." in result.output


def test_unreadable_file_exits_1(runner, school, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 1
    assert "empty.csv: The file is empty (0 bytes)." in result.output


def test_missing_column_exits_1(runner, school, tmp_path):
    path = write(tmp_path, [pupil(1)[:5]], header=HEADER_ZH[:5])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 1
    assert "file: Required column 班级 / class is missing." in result.output


def test_unknown_school_code(runner, tmp_path):
    path = write(tmp_path, [pupil(1)])
    result = runner.invoke(args=["import-roster", str(path), "--school", "NOPE"])
    assert result.exit_code == 1
    assert "No school has the code 'NOPE'." in result.output


def test_without_school_the_file_names_the_schools(runner, factories, tmp_path):
    a = factories.SchoolFactory(code="A001")
    path = write(tmp_path, [[*pupil(1), "A001"]], header=[*HEADER_ZH, "school_code"])
    result = runner.invoke(args=["import-roster", str(path)])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Student.school_id)).all() == [a.id]


def test_default_school_year_is_the_current_one(runner, school, tmp_path):
    from schoolhealth.roster.services import current_school_year

    path = write(tmp_path, [pupil(1)])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert f"for {current_school_year(local_today())}:" in result.output


# --- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_export_then_import_round_trip(runner, school, tmp_path, name):
    path = write(tmp_path, [pupil(1), pupil(2, sex="F", grade="初二", klass="三班")])
    runner.invoke(args=["import-roster", str(path), "--school", "S-A", "--school-year", "2026"])
    out = tmp_path / name
    result = runner.invoke(args=["export-roster", "--school", "S-A", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Exported 2 pupils of S-A to {out}." in result.output
    again = runner.invoke(
        args=["import-roster", str(out), "--school", "S-A", "--school-year", "2026"]
    )
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 2 unchanged" in again.output
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["import", "export", "import"]


def test_export_include_inactive(runner, school, factories, tmp_path):
    factories.StudentFactory(school_class__school=school, active=False, student_number="L0000099")
    out = tmp_path / "out.csv"
    runner.invoke(args=["export-roster", "--school", "S-A", str(out)])
    assert "L0000099" not in out.read_text(encoding="utf-8-sig")
    runner.invoke(args=["export-roster", "--school", "S-A", "--include-inactive", str(out)])
    assert "L0000099" in out.read_text(encoding="utf-8-sig")


def test_export_refuses_other_extensions(runner, school, tmp_path):
    result = runner.invoke(args=["export-roster", "--school", "S-A", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2
    assert ".csv or .xlsx" in result.output


# --- exit codes and bad files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.csv", b"", "The file is empty (0 bytes)."),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a CSV or spreadsheet"),
        ("roster.xlsx", b"PK\x03\x04garbage", "could not be opened"),
        ("roster.xls", b"<html><table></table></html>", "is a web page (HTML)"),
        ("roster.doc", b"anything", "is not a CSV or spreadsheet"),
        ("roster.csv", "学籍号,姓名\n".encode() + b"\x80\x30", "not UTF-8 or GBK/GB18030"),
    ],
    ids=["0-byte", "binary", "corrupt-xlsx", "html-as-xls", "wrong-type", "bad-encoding"],
)
def test_unreadable_files_exit_1_with_the_reason(runner, school, tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 1
    assert f"{name}: " in result.output
    assert words in result.output
    assert student_count() == 0


def test_header_only_file_exits_1(runner, school, tmp_path):
    path = write(tmp_path, [])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 1
    assert "file: The file has a header row but no pupils." in result.output
    assert "Nothing was imported: the file cannot be imported." in result.output


def test_skip_invalid_rows_with_no_valid_row_exits_1(runner, school, tmp_path):
    bad = pupil(1)
    bad[2] = "?"
    path = write(tmp_path, [bad])
    result = runner.invoke(
        args=["import-roster", str(path), "--school", "S-A", "--skip-invalid-rows"]
    )
    assert result.exit_code == 1
    assert "Nothing was imported: no row is valid." in result.output
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_xls_import_and_the_same_report_as_the_browser(runner, school, tmp_path):
    bad = pupil(2)
    bad[3] = "2015年13月1日"
    rows = [pupil(1), bad]
    rows[0][3] = date(2017, 5, 14)
    path = tmp_path / "花名册.xls"
    path.write_bytes(xls_bytes(HEADER_ZH, rows))
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A", "--dry-run"])
    assert result.exit_code == 1
    assert "row 3, 出生日期 '2015年13月1日': not a valid date\n" in result.output
    assert "2 rows: 1 new, 0 updated, 0 unchanged, 1 with errors; 1 errors, 0 warnings." in (
        result.output
    )
    path.write_bytes(xls_bytes(HEADER_ZH, rows[:1]))
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Student.birth_date)).all() == [date(2017, 5, 14)]


def test_the_import_is_all_or_nothing_when_writing_fails(runner, school, tmp_path, monkeypatch):
    """A failure half-way through the writes (here: the enrolments) leaves nothing."""
    from schoolhealth.roster import importing

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing, "_write_enrolments", broken)
    path = write(tmp_path, [pupil(1), pupil(2)])
    result = runner.invoke(args=["import-roster", str(path), "--school", "S-A"])
    assert result.exit_code != 0
    db.session.rollback()
    assert student_count() == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_export_of_an_unknown_school_exits_1(runner, tmp_path):
    result = runner.invoke(args=["export-roster", "--school", "NOPE", str(tmp_path / "r.csv")])
    assert result.exit_code == 1
    assert "No school has the code 'NOPE'." in result.output
    assert not (tmp_path / "r.csv").exists()


def test_export_is_audited_without_a_user(runner, school, tmp_path):
    runner.invoke(args=["import-roster", str(write(tmp_path, [pupil(1)])), "--school", "S-A"])
    result = runner.invoke(args=["export-roster", "--school", "S-A", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 0, result.output
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert (event.entity, event.school_id, event.user_id) == ("roster", school.id, None)
    assert event.after == {
        "file": "out.xlsx",
        "format": "xlsx",
        "pupils": 1,
        "include_inactive": False,
        "full_ids": False,
    }
