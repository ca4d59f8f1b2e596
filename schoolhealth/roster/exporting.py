"""Roster export: a school's pupils as a roster.md file that imports back unchanged.

The columns are the canonical English headers of docs/formats/roster.md; sex is M/F,
dates ISO, the grade a number and the class its name. Resident ID numbers, and student
numbers that embed one, are masked unless an admin asks for full ones (``full_ids``: a
registry submission), the one place they can leave the system in full; every export is
audited (action "export") and says which it was. A masked export imports back without
harm: a masked ID keeps the stored one (see importing.py). Every cell goes through
:func:`schoolhealth.cells.safe_cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, func, select

from ..access import scoped_students
from ..audit import record_event
from ..cells import safe_cell
from ..extensions import db
from ..models import School, SchoolClass, Student, User, mask_id_number, mask_ids
from .importing import EXPORT_HEADERS

FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Text columns Excel would otherwise turn into numbers (losing an ID number's last digits).
_TEXT_COLUMNS = {"student_number", "id_number", "guardian_phone", "school_code", "class"}


def export_format(path: str | Path) -> str:
    """Return "csv" or "xlsx" from a file name; ValueError for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"{Path(path).name}: the export file must end in .csv or .xlsx")
    return suffix


def roster_query(school: School, *, include_inactive: bool, user: User | None) -> Select:
    """The pupils of ``school`` in roster order (grade, class, student number).

    With a user it starts from :func:`access.scoped_students`, so a view can never export
    a school outside the user's scope; the CLI (user None) sees every school.
    """
    base = scoped_students(user) if user is not None else select(Student)
    query = (
        base.outerjoin(SchoolClass, Student.class_id == SchoolClass.id)
        .where(Student.school_id == school.id)
        .with_only_columns(
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            SchoolClass.grade,
            SchoolClass.name.label("class_name"),
            Student.id_number,
            Student.guardian_phone,
            Student.guardian_language,
        )
        .order_by(
            SchoolClass.grade,
            func.length(SchoolClass.name),
            SchoolClass.name,
            Student.student_number,
        )
    )
    if not include_inactive:
        query = query.where(Student.active.is_(True))
    return query


def roster_records(
    school: School,
    *,
    include_inactive: bool = False,
    user: User | None = None,
    full_ids: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """Rows in EXPORT_HEADERS order, streamed from the database in batches.

    ID numbers (alone and inside student numbers) are masked unless ``full_ids``; every
    text cell is made formula-safe.
    """
    result = db.session.execute(
        roster_query(school, include_inactive=include_inactive, user=user),
        execution_options={"yield_per": 2000},
    )
    for rec in result:
        number = rec.student_number if full_ids else mask_ids(rec.student_number)
        id_number = rec.id_number if full_ids else mask_id_number(rec.id_number)
        yield tuple(
            safe_cell(v)
            for v in (
                number,
                rec.name,
                rec.sex,
                rec.birth_date,
                rec.grade,
                rec.class_name or "",
                id_number or "",
                school.code,
                rec.guardian_phone or "",
                rec.guardian_language or "zh",
            )
        )


def export_roster(
    school: School,
    out: str | Path | IO[bytes],
    *,
    fmt: str,
    include_inactive: bool = False,
    user: User | None = None,
    file_name: str = "",
    full_ids: bool = False,
) -> int:
    """Write the roster of ``school`` to ``out`` (a path, or a binary stream for CSV).

    ``full_ids`` writes resident ID numbers and student numbers unmasked: the caller
    decides who may ask (an admin in the browser, ``--full-ids`` on the CLI); the audit
    event records the choice.

    Returns the number of pupils written and adds the audit event (flush only; the
    caller commits). XLSX is written with XlsxWriter's constant_memory mode, which needs
    a path: rows go to disk as they come, so 100,000 pupils take little memory.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    records = roster_records(
        school, include_inactive=include_inactive, user=user, full_ids=full_ids
    )
    count = _write_csv(records, out) if fmt == "csv" else _write_xlsx(records, out)
    name = file_name or (Path(out).name if isinstance(out, str | Path) else f"roster.{fmt}")
    record_event(
        "export",
        "roster",
        school.id,
        school_id=school.id,
        summary=(
            f"roster of {school.code} exported to {name}: {count} pupils"
            f"{' including those who left' if include_inactive else ''}, "
            f"{'FULL ID numbers' if full_ids else 'ID numbers masked'}"
        ),
        after={
            "file": name,
            "format": fmt,
            "pupils": count,
            "include_inactive": include_inactive,
            "full_ids": full_ids,
        },
        user=user,
    )
    db.session.flush()
    return count


def _write_csv(records: Iterator[tuple[Any, ...]], out: str | Path | IO[bytes]) -> int:
    """UTF-8 with BOM, so Excel on a Chinese Windows opens it without garbling names."""
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8-sig", newline="") as handle:
            return _csv_rows(records, handle)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        return _csv_rows(records, text)
    finally:
        text.flush()
        text.detach()


def _csv_rows(records: Iterator[tuple[Any, ...]], handle: IO[str]) -> int:
    writer = csv.writer(handle)
    writer.writerow(EXPORT_HEADERS)
    count = 0
    for record in records:
        writer.writerow(
            [v.isoformat() if isinstance(v, date) else ("" if v is None else v) for v in record]
        )
        count += 1
    return count


def _write_xlsx(records: Iterator[tuple[Any, ...]], out: str | Path | IO[bytes]) -> int:
    import xlsxwriter

    if not isinstance(out, str | Path):
        raise TypeError("an .xlsx export is written to a file path (constant_memory mode)")
    workbook = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet("Roster")
        bold = workbook.add_format({"bold": True})
        iso_date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        text = workbook.add_format({"num_format": "@"})
        for column, header in enumerate(EXPORT_HEADERS):
            sheet.write_string(0, column, header, bold)
            sheet.set_column(column, column, 20 if header in ("name", "id_number") else 14)
        count = 0
        for row, record in enumerate(records, start=1):
            for column, (header, value) in enumerate(zip(EXPORT_HEADERS, record, strict=True)):
                if value is None or value == "":
                    continue
                if isinstance(value, date):
                    sheet.write_datetime(row, column, value, iso_date)
                elif header in _TEXT_COLUMNS or isinstance(value, str):
                    sheet.write_string(row, column, str(value), text)
                else:
                    sheet.write_number(row, column, value)
            count += 1
    finally:
        workbook.close()
    return count
