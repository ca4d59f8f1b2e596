"""Roster import in two phases (docs/DEVELOPING.md, habit 6): check everything, then write.

:func:`parse_roster` is phase 1. It maps the file's headers to the fields of
docs/formats/roster.md, normalises every cell and checks each row against the file
itself and the database (duplicates, another school's student number, an ID number
already on another pupil). It writes nothing, so it *is* the dry run, and it plans the
change of every row (new / updated / unchanged) for the report.

:func:`apply_roster` is phase 2. It writes the plan in bulk, by student number, inside
the caller's transaction (flush only; the view, CLI command or job commits once). A file
with any error writes nothing unless the user explicitly chose ``skip_invalid_rows``.

Both phases are built for 100,000-pupil files (bench/roster_import.py): one query loads
the existing pupils of the school, single values are parsed once per distinct text,
and no ORM object is built per pupil. On PostgreSQL new pupils, enrolments and audit
events go in by COPY and changed pupils by one UPDATE ... FROM a COPYed temporary
table; other databases get executemany statements.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Column,
    MetaData,
    any_,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.dialects.postgresql import ARRAY

from ..access import school_ids_for
from ..audit import record_event
from ..cells import formula_like
from ..clock import local_today
from ..extensions import db
from ..jobs import JobFailure, job_handler
from ..labels import sex_label
from ..models import (
    AuditEvent,
    Enrolment,
    Job,
    School,
    SchoolClass,
    Student,
    User,
    is_masked,
    mask_ids,
    utcnow,
)
from ..models import mask_id_number as _mask
from ..rules import InvalidMeasurement, parse_date, parse_sex
from ..rules.idnumber import validate_id_number
from ..tabular import (
    MB,
    FileRejected,
    Table,
    UploadLimits,
    map_headers,
    normalize_header,
    read_table,
)
from .services import name_initials, normalize_class_name, parse_grade

logger = logging.getLogger(__name__)

# --- the contract: docs/formats/roster.md ----------------------------------------------


@dataclass(frozen=True)
class RosterField:
    name: str  # canonical English header
    chinese: str  # 中文表头
    aliases: tuple[str, ...]  # "also accepted", in order of preference
    required: bool


ROSTER_FIELDS: tuple[RosterField, ...] = (
    RosterField(
        "student_number", "学籍号", ("全国学籍号", "学号", "student id", "student no"), True
    ),
    RosterField("name", "姓名", ("学生姓名", "student name"), True),
    RosterField("sex", "性别", ("gender",), True),
    RosterField("birth_date", "出生日期", ("出生年月日", "生日", "date of birth", "dob"), True),
    RosterField("grade", "年级", ("grade level",), True),
    RosterField("class", "班级", ("班", "class name"), True),
    RosterField("id_number", "身份证号", ("公民身份号码", "身份证号码", "resident id"), False),
    RosterField("school_code", "学校代码", ("学校标识码",), False),
    RosterField("guardian_phone", "家长电话", ("联系电话", "监护人电话"), False),
    RosterField("guardian_language", "家长语言", ("letter language",), False),
)
FIELDS_BY_NAME = {f.name: f for f in ROSTER_FIELDS}
REQUIRED_FIELDS = tuple(f.name for f in ROSTER_FIELDS if f.required)
HEADER_ALIASES: dict[str, list[str]] = {f.name: [f.chinese, *f.aliases] for f in ROSTER_FIELDS}
# Canonical headers in file order, for exports and templates.
EXPORT_HEADERS = tuple(f.name for f in ROSTER_FIELDS)
SHEET_NAMES = ("花名册", "Roster")

STUDENTS = Student.__table__
# Student columns an import may change; ``class`` is handled through classes/enrolments.
UPDATABLE = ("name", "sex", "birth_date", "id_number", "guardian_phone", "guardian_language")

_STUDENT_NUMBER = re.compile(r"[0-9A-Za-z]{6,32}")
# A student number as a masked export writes it: "G" + an ID masked by mask_ids.
_MASKED_STUDENT_NUMBER = re.compile(r"[0-9A-Za-z]{0,14}[0-9]{4}\*{10}[0-9]{3}[0-9Xx]")
_PHONE = re.compile(r"[0-9][0-9 \-]*")
# re.ASCII: \d alone also matches "٣", which float() then reads as 3.
_EXCEL_SERIAL = re.compile(r"[1-9]\d{4}(?:\.\d+)?", re.ASCII)
_EXCEL_NUMBER = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+", re.ASCII)
_ISO_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?", re.ASCII)
_LANGUAGES = {
    "zh": "zh",
    "en": "en",
    "中文": "zh",
    "英文": "en",
    "chinese": "zh",
    "english": "en",
    "zh-cn": "zh",
    "zh_cn": "zh",
    "zh-hans": "zh",
    "en-us": "en",
    "en-gb": "en",
}
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's 1900 date system, for serials after 1900-02
CHUNK = 5000  # rows per IN-list query and per bulk statement (inside every driver's limits)
MAX_STORED_ISSUES = 5000  # issues a job keeps for the report; the rest are counted
ERROR, WARNING = "error", "warning"

# --- messages ----------------------------------------------------------------------------

# Every problem has a key; the text is translated when shown, so a report computed by a
# background job reads in the language of whoever opens it. Parameters are plain values.
MESSAGES: dict[str, Any] = {
    "missing_column": _l("Required column %(chinese)s / %(name)s is missing."),
    "unknown_column": _l("Unknown column; it is ignored."),
    "duplicate_column": _l(
        "This column also means %(name)s; the column %(used)s is used and this one is ignored."
    ),
    "no_rows": _l("The file has a header row but no pupils."),
    "required": _l("required value is missing"),
    "student_number": _l("a student number has 6–32 letters or digits"),
    "duplicate_student_number": _l("the same student number is on rows %(lines)s"),
    "masked_student_number": _l(
        "this student number is masked and matches no single pupil of the school with this "
        "birth date; type the full number, or import an export made with full ID numbers"
    ),
    "masked_id_new_pupil": _l(
        "the ID number is masked, so this new pupil is added without one; type the full number"
    ),
    "other_school": _l(
        "this student number belongs to a pupil of another school; "
        "a transfer is made explicitly, not by import"
    ),
    "name_length": _l("a name has 1–50 characters"),
    "name_formula": _l(
        "a name cannot begin with =, +, -, @ or a tab: a spreadsheet would run it as a formula"
    ),
    "sex": _l("not a valid sex (use 男/女, M/F, male/female or 1/2)"),
    "date": _l("not a valid date"),
    "date_future": _l("the birth date is in the future"),
    "age_unusual": _l("the pupil would be %(age)s years old at the start of the school year"),
    "grade": _l("not a valid grade (1–12, 一年级…六年级, 七年级…九年级, 初一…初三, 高一…高三)"),
    "class": _l("not a valid class (e.g. 3, 3班, (3)班, 三班)"),
    "invalid_id_number": _l("not a valid ID number: 18 characters, 17 digits and a check digit"),
    "id_check_digit": _l(
        "the check digit should be %(expected)s (GB 11643); the number was mistyped"
    ),
    "id_birth_date": _l("the ID number holds an impossible birth date"),
    "id_number_excel": _l(
        "Excel turned this ID number into a number and lost digits; "
        "format the column as text and type it again"
    ),
    "id_numbers_excel_column": _l(
        "%(count)s ID numbers were damaged by Excel and were not imported (rows %(lines)s); "
        "format the column as text to bring them in. ID numbers already recorded are kept."
    ),
    "id_birth_mismatch": _l(
        "the ID number gives the birth date %(id_date)s, but the birth date is %(date)s"
    ),
    "id_sex_mismatch": _l("the ID number gives the sex %(id_sex)s, but the sex is %(sex)s"),
    "duplicate_id_number": _l("the same ID number is on rows %(lines)s"),
    "id_number_taken": _l("this ID number is already recorded for the pupil %(other)s"),
    "id_number_taken_elsewhere": _l("this ID number is already recorded for another pupil"),
    "phone": _l("a phone number holds only digits, spaces and dashes"),
    "phone_length": _l("a phone number has 5–20 digits"),
    "language": _l("the letter language is zh or en"),
    "school_code_unknown": _l("no school you may import into has this code"),
    "school_code_mismatch": _l("this import is for the school %(code)s"),
    "school_code_missing": _l(
        "no school: choose a school for the import or fill the school_code column"
    ),
    "inactive": _l(
        "this pupil is marked as left; the import updates the record but does not re-activate it"
    ),
}

# Parameters stored as codes ("M"/"F") and shown in the reader's words (男/女, male/female).
SHOWN_AS: dict[str, Callable[[Any], str]] = {"sex": sex_label, "id_sex": sex_label}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem of the report: ``(line, column, value, message, severity)``.

    ``line`` is the row number a spreadsheet shows (the header is row 1), or None for a
    problem of the whole file; ``column`` is the header as written in the file.
    """

    line: int | None
    column: str
    value: str
    key: str
    severity: str = ERROR
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # The report is shown in the preview, printed by the CLI and kept with the job:
        # an ID number in a cell or a message (a "G" + ID student number) is masked.
        object.__setattr__(self, "value", mask_ids(self.value))
        for name, value in self.params.items():
            if isinstance(value, str):
                self.params[name] = mask_ids(value)

    @property
    def message(self) -> str:
        """The problem in the request's language; English outside a request (CLI, jobs)."""
        if has_request_context():
            return self._render()
        with force_locale("en"):
            return self._render()

    def _render(self) -> str:
        text = str(MESSAGES[self.key])
        if not self.params:
            return text
        params = {
            name: SHOWN_AS[name](value) if name in SHOWN_AS else value
            for name, value in self.params.items()
        }
        return text % params

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        """One line of the report: ``row 7, 出生日期 '2015-13-01': not a valid date``."""
        where = f"row {self.line}" if self.line is not None else "file"
        column = f", {self.column}" if self.column else ""
        value = f" '{self.value}'" if self.value else ""
        prefix = "" if self.is_error else "warning: "
        return f"{where}{column}{value}: {prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "key": self.key,
            "severity": self.severity,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            line=data["line"],
            column=data["column"],
            value=data["value"],
            key=data["key"],
            severity=data["severity"],
            params=data.get("params") or {},
        )


class _Problem(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# --- results of the two phases -----------------------------------------------------------

NEW, UPDATED, UNCHANGED, INVALID = "new", "updated", "unchanged", "invalid"


@dataclass(slots=True)
class RosterRow:
    """One pupil row after phase 1: normalised values and the planned change."""

    line: int
    values: dict[str, Any]  # canonical field -> normalised value; blank cells are absent
    school_id: int | None = None
    status: str = NEW
    student_id: int | None = None
    class_id: int | None = None  # this school year's class, when it exists already
    changes: dict[str, Any] = field(default_factory=dict)  # field -> new value
    before: dict[str, Any] = field(default_factory=dict)  # field -> old value
    set_current_class: bool = False  # students.class_id moves to this year's class
    enrolment: str = ""  # "", "insert" or "update"
    enrolment_id: int | None = None
    masked_id: bool = False  # the file had a masked ID number: the stored one is kept

    @property
    def class_key(self) -> tuple[int, int, str]:
        return (self.school_id or 0, self.values["grade"], self.values["class"])


@dataclass
class RosterParse:
    """Phase 1's result: the rows, the plan for each, and the report of problems."""

    file_name: str
    school_id: int | None
    school_year: int
    fields: tuple[str, ...] = ()  # canonical fields present in the file
    rows: list[RosterRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    total_rows: int = 0
    # (school_id, school_year, grade, name) -> id, for every class of the involved schools
    class_ids: dict[tuple[int, int, int, str], int] = field(default_factory=dict)
    class_labels: dict[int, str] = field(default_factory=dict)
    applied: bool = False  # a plan is written once; parse again to import again
    header_line: int = 1  # the file's row used as the header (title rows above skipped)
    # The first rows as read (name, sex, birth date, grade, class), so the nurse sees the
    # file was understood before confirming.
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file_errors(self) -> list[Issue]:
        return [i for i in self.issues if i.line is None and i.is_error]

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.issues if i.is_error)

    @property
    def warning_count(self) -> int:
        return sum(1 for i in self.issues if not i.is_error)

    @property
    def has_errors(self) -> bool:
        return any(i.is_error for i in self.issues)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def counts(self) -> dict[str, int]:
        """What applying would do; ``invalid`` rows are the ones with an error."""
        tally = {NEW: 0, UPDATED: 0, UNCHANGED: 0, INVALID: 0}
        for row in self.rows:
            tally[row.status] += 1
        return {
            "rows": self.total_rows,
            "new": tally[NEW],
            "updated": tally[UPDATED],
            "unchanged": tally[UNCHANGED],
            "invalid": tally[INVALID],
            "errors": self.error_count,
            "warnings": self.warning_count,
        }

    def report(self, max_issues: int = MAX_STORED_ISSUES) -> dict[str, Any]:
        """A JSON-ready report (a job stores it; the preview page pages through it)."""
        issues = sorted(self.issues, key=_issue_order)
        return {
            "file_name": self.file_name,
            "school_year": self.school_year,
            "header_line": self.header_line,
            "sample": self.sample,
            "counts": self.counts(),
            "groups": group_issues(issues),
            "issues": [i.to_dict() for i in issues[:max_issues]],
            "issues_total": len(issues),
        }


def group_issues(issues: Sequence[Issue], max_groups: int = 200) -> list[dict[str, Any]]:
    """Repeated problems folded: one entry per column and problem, rows listed compactly.

    "身份证号: not a valid ID number — rows 3–40, 52 (39 rows)" reads better than 39 lines;
    problems whose wording differs (another expected check digit) stay apart.
    """
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for issue in issues:
        params = tuple(sorted((k, repr(v)) for k, v in issue.params.items()))
        key = (issue.severity, issue.column, issue.key, params, issue.line is None)
        group = groups.get(key)
        if group is None:
            if len(groups) >= max_groups:
                continue
            group = groups[key] = {**issue.to_dict(), "lines": [], "values": []}
        if issue.line is not None:
            group["lines"].append(issue.line)
        if issue.value and len(group["values"]) < 3 and issue.value not in group["values"]:
            group["values"].append(issue.value)
    out = []
    for group in groups.values():
        lines = group.pop("lines")
        group["count"] = len(lines)
        group["rows"] = compact_lines(lines) if lines else ""
        out.append(group)
    return out


@dataclass
class ImportSummary:
    """Phase 2's result. ``applied`` is False when nothing was written, with the reason."""

    applied: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    classes_created: int = 0
    skipped: int = 0  # rows with errors left out under skip_invalid_rows
    skipped_lines: list[int] = field(default_factory=list)
    reason: str = ""  # "file_errors" | "row_errors" | "no_valid_rows" when not applied

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "classes_created": self.classes_created,
            "skipped": self.skipped,
            "skipped_lines": self.skipped_lines[:1000],
            "reason": self.reason,
        }


def _issue_order(issue: Issue) -> tuple[int, int, str]:
    return (0 if issue.line is None else 1, issue.line or 0, issue.column)


# --- reading -----------------------------------------------------------------------------


def upload_limits() -> UploadLimits:
    """The configured limits of an uploaded file (config.py, ``IMPORT_MAX_*``)."""
    config = current_app.config
    return UploadLimits(
        text_bytes=int(config["IMPORT_MAX_CSV_MB"] * MB),
        xls_bytes=int(config["IMPORT_MAX_XLS_MB"] * MB),
        uncompressed_bytes=int(config["IMPORT_MAX_UNCOMPRESSED_MB"] * MB),
        compression_ratio=float(config["IMPORT_MAX_COMPRESSION_RATIO"]),
    )


def read_roster(
    source: bytes | str | Path,
    filename: str | None = None,
    *,
    one_school: bool = False,
    limits: UploadLimits | None = None,
) -> Table:
    """Read a roster file (sheet 花名册/Roster if present); raises ``FileRejected``.

    A file for ``one_school`` stops being read past ``IMPORT_MAX_ROWS_PER_SCHOOL`` rows
    (key ``too_many_rows_per_school``, with the file's row count); a file of several
    schools may hold ``IMPORT_MAX_ROWS``, and :func:`parse_roster` counts each school's.
    """
    config = current_app.config
    max_rows = config.get("IMPORT_MAX_ROWS", 200_000)
    per_school = config.get("IMPORT_MAX_ROWS_PER_SCHOOL", 20_000)
    school_cap = one_school and per_school < max_rows
    try:
        return read_table(
            source,
            filename,
            preferred_sheets=SHEET_NAMES,
            max_rows=per_school if school_cap else max_rows,
            limits=limits,
            header_aliases=HEADER_ALIASES,
        )
    except FileRejected as exc:
        if school_cap and exc.key == "too_many_rows":
            raise _too_many_for_a_school(
                exc.params.get("rows", per_school + 1), per_school
            ) from exc
        raise


def _too_many_for_a_school(rows: Any, max_rows: int, code: str = "") -> FileRejected:
    if code:
        return FileRejected(
            f"The file has {rows:,} pupils for the school {code}; at most {max_rows:,} can "
            "be imported for a school.",
            key="too_many_rows_for_school_code",
            rows=rows,
            max_rows=max_rows,
            code=code,
        )
    return FileRejected(
        f"The file has {rows:,} pupils for one school; at most {max_rows:,} can be "
        "imported for a school.",
        key="too_many_rows_per_school",
        rows=rows,
        max_rows=max_rows,
    )


def map_roster_headers(headers: Sequence[str]) -> tuple[dict[str, int], list[Issue]]:
    """Canonical field -> column index, and the header problems of the file.

    When two columns mean the same field (a file with both 全国学籍号 and 学号), the one
    named first in roster.md's list wins rather than the leftmost, so the national
    number is used over a school's own.
    """
    header_map = map_headers(list(headers), HEADER_ALIASES)
    columns = dict(header_map.columns)
    issues: list[Issue] = []
    rank = {
        normalize_header(name): position
        for f in ROSTER_FIELDS
        for position, name in enumerate([f.name, *HEADER_ALIASES[f.name]])
    }
    by_field: dict[str, list[int]] = defaultdict(list)
    for index, header in enumerate(headers):
        canonical = map_headers([header], HEADER_ALIASES).columns
        if canonical:
            by_field[next(iter(canonical))].append(index)
    for name, indexes in by_field.items():
        if len(indexes) < 2:
            continue
        best = min(indexes, key=lambda i: (rank[normalize_header(headers[i])], i))
        columns[name] = best
        for index in indexes:
            if index != best:
                issues.append(
                    Issue(
                        None,
                        headers[index],
                        "",
                        "duplicate_column",
                        WARNING,
                        {"name": name, "used": headers[best]},
                    )
                )
    for header in header_map.unknown:
        issues.append(Issue(None, header, "", "unknown_column", WARNING))
    for f in ROSTER_FIELDS:
        if f.required and f.name not in columns:
            issues.append(
                Issue(None, "", "", "missing_column", ERROR, {"chinese": f.chinese, "name": f.name})
            )
    return columns, issues


# --- normalising single values (cached: rosters repeat dates, grades and classes) --------


@lru_cache(maxsize=65536)
def parse_birth_date(text: str) -> date:
    """A date in any roster.md form, including Excel serial numbers (1900 date system)."""
    if _EXCEL_SERIAL.fullmatch(text):
        # Five digits: 10000 is 1927-05-18, 99999 is 2173; a bare "2015" is a year, no date.
        return EXCEL_EPOCH + timedelta(days=int(float(text)))
    match = _ISO_DATETIME.fullmatch(text)
    if match:
        text = match.group(1)
    try:
        value = parse_date(text, "birth_date")
    except InvalidMeasurement as exc:
        raise _Problem("date") from exc
    if value is None:
        raise _Problem("required")
    return value


@lru_cache(maxsize=64)
def _sex(text: str) -> str:
    try:
        return parse_sex(text).value
    except InvalidMeasurement as exc:
        raise _Problem("sex") from exc


@lru_cache(maxsize=1024)
def _grade(text: str) -> int:
    try:
        grade = parse_grade(text)
    except ValueError as exc:
        raise _Problem("grade") from exc
    if not 1 <= grade <= 12:
        raise _Problem("grade")
    return grade


@lru_cache(maxsize=4096)
def _class(text: str) -> str:
    try:
        name = normalize_class_name(text)
    except ValueError as exc:
        raise _Problem("class") from exc
    if not name or len(name) > 32:
        raise _Problem("class")
    return name


def _student_number(text: str) -> str:
    if _MASKED_STUDENT_NUMBER.fullmatch(text):
        return text.upper()  # resolved against the school's pupils in phase 1 (see below)
    if not _STUDENT_NUMBER.fullmatch(text):
        raise _Problem("student_number")
    return text.upper()


def _name(text: str) -> str:
    name = " ".join(text.split())
    if not 1 <= len(name) <= 50:
        raise _Problem("name_length")
    if formula_like(name):
        raise _Problem("name_formula")
    return name


def _id_number(text: str) -> str:
    if _EXCEL_NUMBER.fullmatch(text):
        raise _Problem("id_number_excel")
    try:
        return validate_id_number(text)
    except InvalidMeasurement as exc:
        if exc.key == "id_check_digit" and text.isdigit() and text.endswith("000"):
            # Excel keeps 15 significant digits: 130104202006212345 becomes ...212000
            raise _Problem("id_number_excel") from exc
        key = exc.key if exc.key in MESSAGES else "invalid_id_number"
        raise _Problem(key, **exc.params) from exc


def compact_lines(lines: Sequence[int], limit: int = 12) -> str:
    """Row numbers as a reader scans them: ``3–7, 9, 12`` and ``… (+310 more)``."""
    runs: list[list[int]] = []
    for line in sorted(set(lines)):
        if runs and line == runs[-1][1] + 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in runs[:limit]]
    hidden = sum(b - a + 1 for a, b in runs[limit:])
    return ", ".join(parts) + (f" … (+{hidden})" if hidden else "")


def _phone(text: str) -> str:
    if not _PHONE.fullmatch(text):
        raise _Problem("phone")
    digits = text.replace(" ", "").replace("-", "")
    if not 5 <= len(digits) <= 20:
        raise _Problem("phone_length")
    return digits


def _language(text: str) -> str:
    try:
        return _LANGUAGES[text.lower()]
    except KeyError:
        raise _Problem("language") from None


_NORMALISERS: dict[str, Callable[[str], Any]] = {
    "student_number": _student_number,
    "name": _name,
    "sex": _sex,
    "birth_date": parse_birth_date,
    "grade": _grade,
    "class": _class,
    "id_number": _id_number,
    "guardian_phone": _phone,
    "guardian_language": _language,
}


# --- phase 1 -----------------------------------------------------------------------------


def parse_roster(
    table: Table,
    *,
    school: School | None,
    school_year: int,
    user: User | None = None,
    file_name: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> RosterParse:
    """Phase 1: check every row and plan its change; reads the database, writes nothing.

    ``school`` is the school chosen for the import (the caller has checked the user may
    use it); without it every row needs a ``school_code``, which must name a school in
    ``user``'s scope (any school when ``user`` is None, as in the CLI). ``progress`` is
    called as ``progress(rows_checked, total)`` every few thousand rows.
    """
    result = RosterParse(
        file_name=file_name,
        school_id=school.id if school is not None else None,
        school_year=school_year,
        total_rows=len(table.rows),
        header_line=table.header_line,
    )
    columns, header_issues = map_roster_headers(table.headers)
    result.issues.extend(header_issues)
    result.fields = tuple(f.name for f in ROSTER_FIELDS if f.name in columns)
    if result.file_errors:
        return result
    if not table.rows:
        result.issues.append(Issue(None, "", "", "no_rows"))
        return result

    headers = table.headers
    issues = result.issues
    school_of_code = _resolve_school_codes(table, columns, school, user)
    start = date(school_year, 9, 1)  # ages are counted at the start of the school year
    window = (local_today(), _years_before(start, 26) + timedelta(days=1), _years_before(start, 3))
    birth_header = headers[columns["birth_date"]]
    id_header = headers[columns["id_number"]] if "id_number" in columns else ""
    normalisers = [
        (name, columns[name], _NORMALISERS[name]) for name in result.fields if name in _NORMALISERS
    ]
    code_index = columns.get("school_code")
    total = len(table.rows)
    rows = result.rows
    # A column Excel damaged (IDs turned into numbers) never blocks the pupils: the IDs
    # are left out (a stored one is kept) and the column gets one warning with the count.
    excel_damaged: list[int] = []

    for position, table_row in enumerate(table.rows, start=1):
        line = table_row.line
        cells = table_row.values
        width = len(cells)
        values: dict[str, Any] = {}
        bad = False
        masked_id = False
        for name, index, normalise in normalisers:
            text = cells[index] if index < width else ""
            if not text:
                if name in REQUIRED_FIELDS:
                    issues.append(Issue(line, headers[index], "", "required"))
                    bad = True
                continue
            if name == "id_number" and is_masked(text):
                # A masked export re-imported: like a blank cell, it keeps the stored ID.
                masked_id = True
                continue
            try:
                values[name] = normalise(text)
            except _Problem as problem:
                if problem.key == "id_number_excel":
                    excel_damaged.append(line)
                    continue
                issues.append(
                    Issue(line, headers[index], text[:100], problem.key, ERROR, problem.params)
                )
                bad = True
        row = RosterRow(line=line, values=values, school_id=result.school_id, masked_id=masked_id)
        code = cells[code_index] if code_index is not None and code_index < width else ""
        if code:
            school_id = school_of_code.get(code)
            if school_id is None:
                key = "school_code_unknown" if school is None else "school_code_mismatch"
                params = {} if school is None else {"code": school.code}
                issues.append(Issue(line, headers[code_index], code[:100], key, ERROR, params))
                bad = True
            else:
                row.school_id = school_id
        elif row.school_id is None:
            header = headers[code_index] if code_index is not None else ""
            issues.append(Issue(line, header, "", "school_code_missing"))
            bad = True
        if not bad:
            bad = _check_row_consistency(row, issues, birth_header, id_header, window)
        if bad:
            row.status = INVALID
        rows.append(row)
        if progress is not None and position % CHUNK == 0:
            progress(position, total)

    if excel_damaged:
        issues.append(
            Issue(
                None,
                id_header,
                "",
                "id_numbers_excel_column",
                WARNING,
                {"count": len(excel_damaged), "lines": compact_lines(excel_damaged)},
            )
        )
    _check_rows_per_school(result, school_of_code)
    _check_duplicates(result, headers, columns, "student_number", "duplicate_student_number")
    _check_duplicates(result, headers, columns, "id_number", "duplicate_id_number")
    _plan_against_database(result, headers, columns, school_year)
    result.sample = [_sample_row(r, table.rows[i], columns) for i, r in enumerate(rows[:5])]
    if progress is not None:
        progress(total, total)
    return result


SAMPLE_FIELDS = ("student_number", "name", "sex", "birth_date", "grade", "class")


def _sample_row(row: RosterRow, table_row: Any, columns: dict[str, int]) -> dict[str, Any]:
    """A row as understood (normalised values), or as written where it could not be read."""
    out: dict[str, Any] = {"line": row.line, "ok": row.status != INVALID}
    for name in SAMPLE_FIELDS:
        value = row.values.get(name)
        if value is None:
            out[name] = mask_ids(table_row.get(columns.get(name))[:50])
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, str):
            out[name] = mask_ids(value)  # a student number may hold an ID number
        else:
            out[name] = value
    return out


def _check_rows_per_school(result: RosterParse, school_of_code: dict[str, int]) -> None:
    """A file of several schools may not bring more than the cap of pupils to any one."""
    cap = current_app.config.get("IMPORT_MAX_ROWS_PER_SCHOOL", 20_000)
    counts: dict[int, int] = defaultdict(int)
    for row in result.rows:
        if row.school_id is not None:
            counts[row.school_id] += 1
    code_of = {school_id: code for code, school_id in school_of_code.items()}
    for school_id, count in sorted(counts.items()):
        if count > cap:
            raise _too_many_for_a_school(count, cap, code_of.get(school_id, ""))


def _check_row_consistency(
    row: RosterRow,
    issues: list[Issue],
    birth_header: str,
    id_header: str,
    window: tuple[date, date, date],
) -> bool:
    """ID number against birth date and sex; birth date against today. True if bad.

    ``window`` is (today, the earliest and the latest birth date of a pupil aged 3 to 25
    at the start of the school year); outside it the age is only a warning.
    """
    values = row.values
    birth = values["birth_date"]
    today, earliest, latest = window
    bad = False
    if birth > today:
        issues.append(Issue(row.line, birth_header, birth.isoformat(), "date_future"))
        bad = True
    elif not earliest <= birth <= latest:
        start = date(latest.year + 3, latest.month, latest.day)
        age = start.year - birth.year - ((start.month, start.day) < (birth.month, birth.day))
        issues.append(
            Issue(row.line, birth_header, birth.isoformat(), "age_unusual", WARNING, {"age": age})
        )
    id_number = values.get("id_number")
    if id_number is not None:
        if id_number[6:14] != _compact_date(birth):
            id_birth = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
            issues.append(
                Issue(
                    row.line,
                    id_header,
                    id_number,
                    "id_birth_mismatch",
                    ERROR,
                    {"id_date": id_birth, "date": birth.isoformat()},
                )
            )
            bad = True
        id_sex = "M" if id_number[16] in "13579" else "F"
        if id_sex != values["sex"]:
            issues.append(
                Issue(
                    row.line,
                    id_header,
                    id_number,
                    "id_sex_mismatch",
                    ERROR,
                    {"id_sex": id_sex, "sex": values["sex"]},
                )
            )
            bad = True
    return bad


@lru_cache(maxsize=65536)
def _compact_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _resolve_school_codes(
    table: Table, columns: dict[str, int], school: School | None, user: User | None
) -> dict[str, int]:
    """School code -> id for the codes of the file that name a school the import may use."""
    index = columns.get("school_code")
    if index is None:
        return {}
    codes = {row.get(index) for row in table.rows} - {""}
    if not codes:
        return {}
    if school is not None:
        return {school.code: school.id} if school.code in codes else {}
    query = select(School.code, School.id).where(School.code.in_(sorted(codes)))
    if user is not None:
        scope = school_ids_for(user)
        if scope is not None:
            query = query.where(School.id.in_(scope))
    return dict(db.session.execute(query).tuples().all())


def _check_duplicates(
    result: RosterParse, headers: list[str], columns: dict[str, int], name: str, key: str
) -> None:
    """A value on two rows is an error on both (neither row can be trusted to win)."""
    if name not in columns:
        return
    first_of: dict[Any, RosterRow] = {}
    repeats: dict[Any, list[RosterRow]] = {}
    for row in result.rows:
        value = row.values.get(name)
        if value is None:
            continue
        first = first_of.setdefault(value, row)
        if first is not row:
            repeats.setdefault(value, [first]).append(row)
    header = headers[columns[name]]
    for value, rows in repeats.items():
        lines = ", ".join(str(r.line) for r in rows)
        for row in rows:
            result.issues.append(Issue(row.line, header, value, key, ERROR, {"lines": lines}))
            row.status = INVALID


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_EXISTING_COLUMNS = (
    Student.id,
    Student.school_id,
    Student.student_number,
    Student.name,
    Student.sex,
    Student.birth_date,
    Student.id_number,
    Student.guardian_phone,
    Student.guardian_language,
    Student.name_initials,
    Student.class_id,
    Student.active,
)
# Positions in an existing pupil's tuple (plain tuples: the plan reads 100,000 of them).
_ID, _SCHOOL, _NUMBER = 0, 1, 2
_FIELD_POSITION = {name: 3 + i for i, name in enumerate(UPDATABLE)}
_INITIALS, _CLASS, _ACTIVE = 9, 10, 11


def _one_of(column: Any, values: Sequence[Any]) -> list[Any]:
    """WHERE clauses that together select ``column`` in ``values``, by the column's index.

    PostgreSQL takes the values as one array parameter (``= ANY(...)``); elsewhere they
    go in IN lists of CHUNK values, inside every driver's parameter limit.
    """
    if not values:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in _chunks(values)]


def _read(query: Any) -> Any:
    """Run a SELECT of plain columns on the session's connection, in its transaction.

    Core rather than ORM execution: the plan reads 100,000-row results and needs tuples,
    not the ORM's per-row loading machinery (twice as fast).
    """
    return db.session.connection().execute(query)


def _matching(query: Any, column: Any, values: Sequence[Any]) -> Iterator[Any]:
    """Rows of ``query`` whose ``column`` is one of ``values``."""
    for clause in _one_of(column, values):
        yield from _read(query.where(clause))


def _load_existing(result: RosterParse, school_ids: set[int]) -> dict[str, tuple[Any, ...]]:
    """The pupils the file's student numbers name, in any school (to catch other schools').

    The pupils of the import's schools come in one query; numbers they lack (new pupils,
    or another school's) are then looked up by the unique index.
    """
    existing: dict[str, tuple[Any, ...]] = {}
    if school_ids:
        query = select(*_EXISTING_COLUMNS).where(Student.school_id.in_(sorted(school_ids)))
        existing = {rec[_NUMBER]: tuple(rec) for rec in _read(query)}
    missing = [
        n
        for n in (r.values.get("student_number") for r in result.rows)
        if n is not None and n not in existing
    ]
    for rec in _matching(select(*_EXISTING_COLUMNS), Student.student_number, missing):
        existing[rec[_NUMBER]] = tuple(rec)
    return existing


def _resolve_masked_numbers(result: RosterParse, header: str) -> None:
    """Replace masked student numbers (a masked export re-imported) by the stored ones.

    A masked number keeps only the first and last four digits of the ID in it, which
    many pupils of one city share; with the birth date of the row it names one pupil of
    the row's school, or the row is refused (never guessed).
    """
    masked = [
        r for r in result.rows if r.status != INVALID and "*" in r.values.get("student_number", "")
    ]
    if not masked:
        return
    school_ids = sorted({r.school_id for r in masked if r.school_id is not None})
    known: dict[tuple[int, str, date], list[str]] = {}
    query = select(Student.school_id, Student.student_number, Student.birth_date).where(
        Student.school_id.in_(school_ids)
    )
    for school_id, number, birth in _read(query):
        known.setdefault((school_id, mask_ids(number), birth), []).append(number)
    for row in masked:
        shown = row.values["student_number"]
        key = (row.school_id or 0, shown, row.values.get("birth_date"))
        found = known.get(key, [])  # type: ignore[arg-type]
        if len(found) == 1:
            row.values["student_number"] = found[0]
        else:
            result.issues.append(Issue(row.line, header, shown, "masked_student_number"))
            row.status = INVALID


def _plan_against_database(
    result: RosterParse, headers: list[str], columns: dict[str, int], school_year: int
) -> None:
    """Compare each valid row with the database: conflicts become errors, the rest a plan."""
    school_ids = {r.school_id for r in result.rows if r.school_id is not None}
    number_header = headers[columns["student_number"]]
    _resolve_masked_numbers(result, number_header)
    existing = _load_existing(result, school_ids)
    if "id_number" in columns:
        _check_id_numbers_in_use(result, headers[columns["id_number"]], existing, school_ids)

    # Classes of the involved schools (all years: a pupil's current class may be older).
    class_year: dict[int, int] = {}
    if school_ids:
        for rec in _read(
            select(
                SchoolClass.id,
                SchoolClass.school_id,
                SchoolClass.school_year,
                SchoolClass.grade,
                SchoolClass.name,
            ).where(SchoolClass.school_id.in_(sorted(school_ids)))
        ):
            result.class_ids[(rec.school_id, rec.school_year, rec.grade, rec.name)] = rec.id
            result.class_labels[rec.id] = f"{rec.school_year} {rec.grade}-{rec.name}"
            class_year[rec.id] = rec.school_year

    # This school year's enrolments of the schools' pupils, in one query.
    enrolled: dict[int, tuple[int, int]] = {}
    if school_ids:
        for student_id, enrolment_id, class_id in _read(
            select(Enrolment.student_id, Enrolment.id, Enrolment.class_id)
            .join(Student, Student.id == Enrolment.student_id)
            .where(Student.school_id.in_(sorted(school_ids)), Enrolment.school_year == school_year)
        ):
            enrolled[student_id] = (enrolment_id, class_id)

    present = [(f, _FIELD_POSITION[f]) for f in UPDATABLE if f in result.fields]
    class_ids = result.class_ids
    issues = result.issues
    for row in result.rows:
        values = row.values
        number = values.get("student_number")
        record = existing.get(number) if number is not None else None
        if record is not None and row.school_id is not None and record[_SCHOOL] != row.school_id:
            issues.append(Issue(row.line, number_header, number, "other_school"))
            row.status = INVALID
            continue
        if row.status == INVALID:
            continue
        row.class_id = class_id = class_ids.get(
            (row.school_id, school_year, values["grade"], values["class"])
        )
        if record is None:
            row.status = NEW
            if row.masked_id:
                header = headers[columns["id_number"]]
                issues.append(Issue(row.line, header, "", "masked_id_new_pupil", WARNING))
            continue
        row.student_id = record[_ID]
        if not record[_ACTIVE]:
            issues.append(Issue(row.line, number_header, number, "inactive", WARNING))
        changes = row.changes
        for name, position in present:
            new = values.get(name)
            # A blank cell never erases: "unknown in this file" is not "delete".
            if new is not None and new != record[position]:
                changes[name] = new
                row.before[name] = record[position]
        if "name" in changes or not record[_INITIALS]:
            changes["name_initials"] = None  # computed in phase 2, only when needed
        old_class = record[_CLASS]
        not_older = old_class is None or class_year.get(old_class, 0) <= school_year
        if not_older and (class_id is None or old_class != class_id):
            row.set_current_class = True
        enrolment = enrolled.get(record[_ID])
        if enrolment is None:
            row.enrolment = "insert"
        elif class_id is None or enrolment[1] != class_id:
            row.enrolment = "update"
            row.enrolment_id = enrolment[0]
        if row.enrolment or row.set_current_class:
            old = enrolment[1] if enrolment is not None else old_class
            row.before["class"] = result.class_labels.get(old) if old is not None else None
            changes["class"] = _class_label(school_year, values)
        row.status = UPDATED if changes else UNCHANGED


def _check_id_numbers_in_use(
    result: RosterParse,
    header: str,
    existing: dict[str, tuple[Any, ...]],
    school_ids: set[int],
) -> None:
    """An ID number already recorded for another pupil (by student number) is an error."""
    wanted = {
        r.values["id_number"]: r
        for r in result.rows
        if r.status != INVALID and "id_number" in r.values
    }
    id_position = _FIELD_POSITION["id_number"]
    holders = {
        rec[id_position]: (rec[_NUMBER], rec[_SCHOOL])
        for rec in existing.values()
        if rec[id_position]
    }
    lookup = [n for n in wanted if n not in holders]
    query = select(Student.id_number, Student.student_number, Student.school_id)
    for id_number, number, school_id in _matching(query, Student.id_number, lookup):
        holders[id_number] = (number, school_id)
    for id_number, row in wanted.items():
        holder = holders.get(id_number)
        if holder is None or holder[0] == row.values["student_number"]:
            continue
        if holder[1] in school_ids:
            issue = Issue(
                row.line, header, id_number, "id_number_taken", ERROR, {"other": holder[0]}
            )
        else:
            issue = Issue(row.line, header, id_number, "id_number_taken_elsewhere")
        result.issues.append(issue)
        row.status = INVALID


def _class_label(school_year: int, values: dict[str, Any]) -> str:
    return f"{school_year} {values['grade']}-{values['class']}"


# --- phase 2 -----------------------------------------------------------------------------


def apply_roster(
    parse: RosterParse,
    *,
    school: School | None,
    school_year: int,
    user: User | None,
    skip_invalid_rows: bool = False,
) -> ImportSummary:
    """Phase 2: write the plan of :func:`parse_roster`; flushes, the caller commits.

    Run it in the transaction ``parse`` was computed in (the CLI, the job and the
    confirm step all parse again right before applying), so the plan is current.

    Auditing: one ``import`` event for the whole file (counts and file name), plus one
    ``update`` event per changed pupil with the changed fields before and after. Created
    pupils get no event each: the import event records them in bulk, and the rows
    themselves (their values and ``created_at``) are the "after"; the "before" of a new
    pupil is nothing. 100,000 identical events would bury the trail's useful entries
    and double the write. A re-import that changes nothing writes only the import event.
    ID numbers appear masked in audit events, as everywhere outside exports.
    """
    if school is not None and parse.school_id not in (None, school.id):
        raise ValueError("apply_roster: the parse was made for another school")
    if school_year != parse.school_year:
        raise ValueError("apply_roster: the parse was made for another school year")
    if parse.applied:
        raise ValueError("apply_roster: this parse was applied already; parse the file again")
    summary = ImportSummary(applied=False)
    if parse.file_errors or not parse.rows:
        summary.reason = "file_errors"
        return summary
    invalid = [r.line for r in parse.rows if r.status == INVALID]
    if (invalid or parse.has_errors) and not skip_invalid_rows:
        summary.reason = "row_errors"
        summary.skipped_lines = invalid
        return summary
    rows = [r for r in parse.rows if r.status != INVALID]
    summary.skipped = len(invalid)
    summary.skipped_lines = invalid
    if not rows:
        summary.reason = "no_valid_rows"
        return summary

    now = utcnow()
    class_ids = _create_missing_classes(parse, rows, school_year, now, summary)
    new_rows = [r for r in rows if r.status == NEW]
    changed = [r for r in rows if r.status == UPDATED]
    _insert_students(new_rows, class_ids, school_year, now)
    _update_students(changed, class_ids, school_year, now)
    _write_enrolments(new_rows, changed, class_ids, school_year)

    summary.applied = parse.applied = True
    summary.created = len(new_rows)
    summary.updated = len(changed)
    summary.unchanged = sum(1 for r in rows if r.status == UNCHANGED)
    _audit(parse, changed, summary, school, user, now)
    db.session.flush()
    return summary


def _create_missing_classes(
    parse: RosterParse, rows: list[RosterRow], school_year: int, now: Any, summary: ImportSummary
) -> dict[tuple[int, int, str], int]:
    """(school_id, grade, name) -> class id of this school year, creating what is missing."""
    wanted = {r.class_key for r in rows}
    class_ids = {
        key: parse.class_ids[(key[0], school_year, key[1], key[2])]
        for key in wanted
        if (key[0], school_year, key[1], key[2]) in parse.class_ids
    }
    missing = sorted(wanted - class_ids.keys())
    if missing:
        table = SchoolClass.__table__
        created = db.session.execute(
            insert(table).returning(table.c.id, table.c.school_id, table.c.grade, table.c.name),
            [
                {
                    "school_id": s,
                    "school_year": school_year,
                    "grade": g,
                    "name": n,
                    "created_at": now,
                    "updated_at": now,
                }
                for s, g, n in missing
            ],
        )
        for rec in created:
            class_ids[(rec.school_id, rec.grade, rec.name)] = rec.id
        summary.classes_created = len(missing)
    return class_ids


def _initials(name: str) -> str:
    return name_initials(name)[:50]


_STUDENT_INSERT_COLUMNS = (
    "school_id",
    "student_number",
    "name",
    "name_initials",
    "sex",
    "birth_date",
    "id_number",
    "guardian_phone",
    "guardian_language",
    "class_id",
    "active",
    "created_at",
    "updated_at",
)


def _insert_students(
    rows: list[RosterRow], class_ids: dict[tuple[int, int, str], int], school_year: int, now: Any
) -> None:
    """Insert the new pupils in bulk (their enrolments follow in :func:`_write_enrolments`).

    The records are a generator: on PostgreSQL the database indexes the rows already sent
    while Python computes the pinyin initials of the next ones (on another core).
    """
    initials = lru_cache(maxsize=None)(_initials)  # names repeat; pinyin lookups need not
    records = (
        (
            row.school_id,
            row.values["student_number"],
            row.values["name"],
            initials(row.values["name"]),
            row.values["sex"],
            row.values["birth_date"],
            row.values.get("id_number"),
            row.values.get("guardian_phone"),
            row.values.get("guardian_language", "zh"),
            class_ids[row.class_key],
            True,
            now,
            now,
        )
        for row in rows
    )
    bulk_insert(STUDENTS, _STUDENT_INSERT_COLUMNS, records)


def bulk_insert(table: Any, columns: Sequence[str], records: Iterable[tuple[Any, ...]]) -> None:
    """Insert many rows in the session's transaction, as fast as the database allows.

    PostgreSQL gets ``COPY ... FROM STDIN`` on the session's own connection: several
    times faster than multi-row INSERTs, whose statement text psycopg must parse for
    every batch, and the server works on the rows while later ones are still being made.
    SQLite gets the driver's executemany, with each value converted by the column type's
    own bind processor (the stored text is exactly what SQLAlchemy writes) but without
    SQLAlchemy's per-row statement machinery. Other databases get Core executemany.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
        as_json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for record in records:
                if as_json:
                    record = list(record)
                    for i in as_json:
                        record[i] = None if record[i] is None else json.dumps(record[i])
                copy.write_row(record)
        return
    if dialect.name == "sqlite":
        processors = [table.c[c].type.bind_processor(dialect) for c in columns]
        names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
        statement = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            for chunk in _chunks_of(records):
                cursor.executemany(
                    statement,
                    [
                        tuple(
                            v if p is None or v is None else p(v)
                            for p, v in zip(processors, r, strict=True)
                        )
                        for r in chunk
                    ],
                )
        finally:
            cursor.close()
        return
    for chunk in _chunks_of(records):
        connection.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in chunk])


def _chunks_of(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _update_students(
    rows: list[RosterRow], class_ids: dict[tuple[int, int, str], int], school_year: int, now: Any
) -> None:
    """Bulk UPDATE by primary key, one statement per set of changed columns."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        params: dict[str, Any] = {}
        for name, value in row.changes.items():
            if name == "class":
                continue
            if name == "name_initials":
                params["name_initials"] = _initials(row.values["name"])
            else:
                params[name] = value
        if row.set_current_class:
            params["class_id"] = class_ids[row.class_key]
        row.changes.pop("name_initials", None)
        if not params:
            continue
        params["updated_at"] = now
        keys = tuple(sorted(params))
        groups[keys].append((row.student_id, *(params[k] for k in keys)))
    for keys, records in groups.items():
        bulk_update(STUDENTS, keys, records)


def bulk_update(table: Any, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
    """Set ``columns`` of many rows by id; each record is ``(id, *values)``.

    PostgreSQL: the values are COPYed into a temporary table and applied with one
    ``UPDATE ... FROM`` (100,000 single-row UPDATEs would each be planned and run on
    their own). Elsewhere: an executemany ``UPDATE ... WHERE id = ?``.
    """
    if not records:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        names = [quote(c) for c in columns]
        scratch = f"roster_update_{table.name}"
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "
            f"SELECT id, {', '.join(names)} FROM {table.name} WITH NO DATA"
        )
        bulk_insert(_scratch_table(scratch, table, columns), ("id", *columns), records)
        assignments = ", ".join(f"{n} = s.{n}" for n in names)
        connection.exec_driver_sql(
            f"UPDATE {table.name} AS t SET {assignments} FROM {scratch} AS s WHERE t.id = s.id"
        )
        connection.exec_driver_sql(f"DROP TABLE {scratch}")
        return
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )
    for chunk in _chunks(records):
        connection.execute(
            statement,
            [
                {"row_id": r[0], **{f"new_{c}": v for c, v in zip(columns, r[1:], strict=True)}}
                for r in chunk
            ],
        )


def _scratch_table(name: str, like: Any, columns: Sequence[str]) -> Any:
    """A table object for a temporary table with ``like``'s id and ``columns``."""
    return SqlTable(
        name,
        MetaData(),
        Column("id", like.c.id.type),
        *(Column(c, like.c[c].type) for c in columns),
    )


def _write_enrolments(
    new_rows: list[RosterRow],
    changed: list[RosterRow],
    class_ids: dict[tuple[int, int, str], int],
    school_year: int,
) -> None:
    # New pupils: INSERT ... SELECT by student number, so their ids never travel.
    source = select(Student.id, literal(school_year), Student.class_id)
    numbers = [r.values["student_number"] for r in new_rows]
    for clause in _one_of(Student.student_number, numbers):
        db.session.execute(
            insert(Enrolment.__table__).from_select(
                ["student_id", "school_year", "class_id"], source.where(clause)
            )
        )
    inserts = [
        (r.student_id, school_year, class_ids[r.class_key])
        for r in changed
        if r.enrolment == "insert"
    ]
    bulk_insert(Enrolment.__table__, ("student_id", "school_year", "class_id"), inserts)
    updates = [(r.enrolment_id, class_ids[r.class_key]) for r in changed if r.enrolment == "update"]
    bulk_update(Enrolment.__table__, ("class_id",), updates)


def _audit(
    parse: RosterParse,
    changed: list[RosterRow],
    summary: ImportSummary,
    school: School | None,
    user: User | None,
    now: Any,
) -> None:
    school_ids = sorted({r.school_id for r in parse.rows if r.school_id is not None})
    school_id = (
        school.id if school is not None else (school_ids[0] if len(school_ids) == 1 else None)
    )
    name = parse.file_name or "(unnamed file)"
    record_event(
        "import",
        "roster",
        school_id,
        school_id=school_id,
        summary=(
            f"roster {name} for {parse.school_year}: {summary.created} created, "
            f"{summary.updated} updated, {summary.unchanged} unchanged, "
            f"{summary.classes_created} classes created, {summary.skipped} rows skipped"
        ),
        after={
            "file": name,
            "school_year": parse.school_year,
            "schools": school_ids,
            **summary.to_dict(),
        },
        user=user,
    )
    if not changed:
        return
    actor_id, ip = _actor(user)
    columns = (
        "at",
        "user_id",
        "action",
        "entity",
        "entity_id",
        "school_id",
        "summary",
        "before",
        "after",
        "ip_address",
    )
    events = (
        (
            now,
            actor_id,
            "update",
            "student",
            str(row.student_id),
            row.school_id,
            f"roster import {name}: {', '.join(sorted(row.before))}"[:500],
            {k: _audit_value(k, v) for k, v in row.before.items()},
            {k: _audit_value(k, row.changes[k]) for k in row.before},
            ip,
        )
        for row in changed
    )
    bulk_insert(AuditEvent.__table__, columns, events)


def _audit_value(name: str, value: Any) -> Any:
    if name == "id_number":
        return _mask(value) or None  # as roster.services stores it
    if isinstance(value, date):
        return value.isoformat()
    return value


def _actor(user: User | None) -> tuple[int | None, str | None]:
    """The user and IP address an audit event names, as :func:`audit.record_event` does."""
    ip = request.remote_addr if has_request_context() else None
    if user is None and has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            user = current_user
    return (user.id if user is not None else None), ip


# --- background jobs ---------------------------------------------------------------------


def import_job_params(job: Job) -> tuple[School | None, int, bool]:
    school = db.session.get(School, job.school_id) if job.school_id is not None else None
    return school, int(job.params["school_year"]), bool(job.params.get("skip_invalid_rows"))


def _progress_reporter(job_id: int) -> Callable[[int, int], None]:
    """Write progress on its own connection, so a page polling the job sees it move.

    Only phase 1 reports (it holds no write lock, so this works on SQLite too); the
    writes of phase 2 are one short transaction.
    """
    from sqlalchemy.exc import SQLAlchemyError

    def report(done: int, total: int) -> None:
        try:
            with db.engine.begin() as conn:
                conn.execute(update(Job).where(Job.id == job_id).values(progress=done, total=total))
        except SQLAlchemyError:  # progress is cosmetic; the import must not fail over it
            logger.warning("could not record progress of job %s", job_id, exc_info=True)

    return report


@job_handler("roster_preview")
def run_roster_preview(job: Job) -> dict[str, Any]:
    """Phase 1 of an uploaded file (the dry run) for the import job named in the params."""
    source = db.session.get(Job, job.params["import_job_id"])
    if source is None or source.payload is None:
        raise JobFailure("upload_gone", "the uploaded file is no longer available; upload it again")
    school, school_year, _skip = import_job_params(source)
    table = read_roster(
        source.payload, source.payload_name, one_school=school is not None, limits=upload_limits()
    )
    parse = parse_roster(
        table,
        school=school,
        school_year=school_year,
        user=_job_user(source),
        file_name=source.payload_name or "",
        progress=_progress_reporter(job.id),
    )
    return parse.report()


@job_handler("roster_import")
def run_roster_import(job: Job) -> dict[str, Any]:
    """Both phases on the kept file; idempotent, so a re-queued job is harmless."""
    if job.payload is None:
        raise JobFailure("upload_gone", "the uploaded file is no longer available; upload it again")
    school, school_year, skip = import_job_params(job)
    user = _job_user(job)
    table = read_roster(
        job.payload, job.payload_name, one_school=school is not None, limits=upload_limits()
    )
    parse = parse_roster(
        table,
        school=school,
        school_year=school_year,
        user=user,
        file_name=job.payload_name or "",
        progress=_progress_reporter(job.id),
    )
    summary = apply_roster(
        parse, school=school, school_year=school_year, user=user, skip_invalid_rows=skip
    )
    return {"summary": summary.to_dict(), "report": parse.report()}


def _job_user(job: Job) -> User | None:
    return db.session.get(User, job.user_id) if job.user_id is not None else None
