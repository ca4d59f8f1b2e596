"""``flask import-roster`` and ``flask export-roster``: reports, exit codes, one commit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Student
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil, xlsx_bytes


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
    assert f"for {current_school_year(date.today())}:" in result.output


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
