"""Results files (docs/formats/results.md) in, evaluation CSV (evaluation.md) out.

The offline path of ``flask rules evaluate IN OUT`` for institutions: read any file
:func:`schoolhealth.tabular.read_table` accepts, match the Chinese or English headers,
find each pupil's sex and birth date (``sex`` / ``birth_date`` columns, else the resident
id number, GB 11643), parse the measurements with the same parser as the nurse grid and
classify them with :func:`schoolhealth.rules.evaluate`. A bad row never stops the run: it
keeps its input columns, gets blank results and an ``errors`` text naming row and field.
"""

from __future__ import annotations

import csv
import logging
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .cells import safe_cell
from .rules import (
    DEFAULT_CONFIG,
    EVALUATION_COLUMNS,
    MEASUREMENT_FIELDS,
    InvalidMeasurement,
    RuleConfig,
    Sex,
    error_types,
    evaluate,
    id_number_birth_date,
    id_number_sex,
    parse_date,
    parse_measurements,
    parse_sex,
    rule_set_label,
    validate_id_number,
)
from .rules.fields import header_aliases
from .tabular import FileRejected, Table, map_headers, read_table

logger = logging.getLogger(__name__)

# Canonical field -> other accepted headers (results.md and roster.md); matching ignores
# case, width, spaces and brackets (tabular.normalize_header). dmft / DMFT differ only by
# case, so those two English headers are matched case-sensitively (see _map_columns).
HEADER_ALIASES: dict[str, list[str]] = {
    "student_number": ["学籍号", "全国学籍号", "学号", "student id", "student no"],
    "id_number": ["身份证号", "公民身份号码", "身份证号码", "resident id"],
    "name": ["姓名", "学生姓名", "student name"],
    "sex": ["性别", "gender"],
    "birth_date": ["出生日期", "出生年月日", "生日", "date of birth", "dob"],
    "screening_date": ["检查日期"],
    "absent": ["缺检"],
    **header_aliases(),  # the measurements: the field catalogue's headers
}
CASE_SENSITIVE_HEADERS = {
    "dmft": "dmft",
    "DMFT": "DMFT",
    "乳牙龋失补": "dmft",
    "恒牙龋失补": "DMFT",
}
PREFERRED_SHEETS = ("检查结果", "Results", "筛查结果")


@dataclass
class EvaluateReport:
    """What ``evaluate_file`` did: counts for the command's summary line."""

    rows: int = 0
    clean: int = 0  # rows whose values were all accepted
    with_errors: int = 0  # rows with a rejected value (those types or the row left blank)
    blank: int = 0  # rows with no result at all (row-level error)
    referred: int = 0  # rows with at least one referral
    output: Path | None = None


@dataclass
class RowResult:
    """One evaluated row: its input cells, its evaluation.md columns, its problems."""

    line: int
    values: list[str]
    columns: dict[str, str]
    problems: list[str]  # rejected values (the row or a screening type left blank)
    notes: list[str]  # values screened but not classifiable (e.g. not applicable at 5 y)
    blank: bool  # nothing could be evaluated


def _map_columns(table: Table) -> dict[str, int]:
    special: dict[str, int] = {}
    rest = []
    for index, header in enumerate(table.headers):
        text = unicodedata.normalize("NFKC", header or "").strip()
        canonical = CASE_SENSITIVE_HEADERS.get(text)
        if canonical is not None:
            if canonical in special:
                raise FileRejected(
                    f"Two columns hold {canonical}: remove one of them.",
                    key="duplicate_column",
                    field=canonical,
                )
            special[canonical] = index
            rest.append("")  # keep indexes aligned, not matched again
        else:
            rest.append(header)
    mapping = map_headers(rest, HEADER_ALIASES)
    if mapping.duplicates:
        raise FileRejected(
            "Several columns have the same meaning: "
            + ", ".join(mapping.duplicates)
            + "; keep one column per field.",
            key="duplicate_column",
        )
    columns = dict(mapping.columns)
    columns.update(special)
    return columns


def _check_columns(columns: dict[str, int]) -> None:
    if "student_number" not in columns and "id_number" not in columns:
        raise FileRejected(
            "The file needs a student_number (学籍号) or id_number (身份证号) column "
            "(docs/formats/results.md).",
            key="missing_identification",
        )
    if not any(name in columns for name in MEASUREMENT_FIELDS):
        raise FileRejected(
            "No measurement column found (e.g. 身高/height_cm, 右眼裸眼视力/ucva_right); "
            "is this a results file?",
            key="no_measurements",
        )


def _cell(values: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    if index is None or index >= len(values):
        return ""
    return values[index]


def _identity(values: list[str], columns: dict[str, int]) -> tuple[Sex, date, list[str]]:
    """Sex and birth date from their columns, else from the id number (GB 11643).

    Returns them with the problems that did not stop the row (an invalid id number next
    to explicit sex and birth date). Raises InvalidMeasurement when they cannot be known,
    or when the columns and a valid id number disagree (which one is right is unknown).
    """
    sex_text = _cell(values, columns, "sex")
    birth_text = _cell(values, columns, "birth_date")
    sex = parse_sex(sex_text) if sex_text else None
    birth = parse_date(birth_text, "birth_date") if birth_text else None
    problems: list[str] = []
    id_text = _cell(values, columns, "id_number")
    id_number = None
    if id_text:
        try:
            id_number = validate_id_number(id_text)
        except InvalidMeasurement as exc:
            if sex is None or birth is None:
                raise
            problems.append(exc.message)
    if id_number is not None:
        id_sex, id_birth = id_number_sex(id_number), id_number_birth_date(id_number)
        if sex is not None and sex is not id_sex:
            raise InvalidMeasurement(
                "sex",
                sex_text,
                f"{id_sex.value} (from id_number)",
                f"sex: {sex_text} disagrees with id_number, which says {id_sex.value}",
                key="sex_id_mismatch",
            )
        if birth is not None and birth != id_birth:
            raise InvalidMeasurement(
                "birth_date",
                birth_text,
                f"{id_birth.isoformat()} (from id_number)",
                f"birth_date: {birth.isoformat()} disagrees with id_number, which says "
                f"{id_birth.isoformat()}",
                key="birth_date_id_mismatch",
            )
        sex, birth = sex or id_sex, birth or id_birth
    if sex is None:
        raise InvalidMeasurement(
            "sex",
            "",
            "a sex or id_number column value",
            "sex: missing (no sex value and no id_number)",
            key="required",
        )
    if birth is None:
        raise InvalidMeasurement(
            "birth_date",
            "",
            "a birth_date or id_number value",
            "birth_date: missing (no birth_date value and no id_number)",
            key="required",
        )
    return sex, birth, problems


def evaluate_table_row(
    values: list[str],
    columns: dict[str, int],
    config: RuleConfig = DEFAULT_CONFIG,
    default_screening_date: date | None = None,
) -> tuple[dict[str, str], list[str], list[str], bool]:
    """(evaluation columns, problems, notes, blank) for one row; never raises for bad data."""
    blank = dict.fromkeys(EVALUATION_COLUMNS, "")
    blank["rule_set"] = rule_set_label(config)
    problems: list[str] = []
    if not (_cell(values, columns, "student_number") or _cell(values, columns, "id_number")):
        problems.append("student_number: missing (give student_number or id_number)")
    try:
        sex, birth, identity_problems = _identity(values, columns)
        problems += identity_problems
        screening_text = _cell(values, columns, "screening_date")
        screening = (
            parse_date(screening_text, "screening_date")
            if screening_text
            else default_screening_date
        )
        if screening is None:
            raise InvalidMeasurement(
                "screening_date",
                "",
                "a date",
                "screening_date: missing (no screening_date value and no --screening-date)",
                key="required",
            )
    except InvalidMeasurement as exc:
        return blank, [*problems, exc.message], [], True
    raw = {
        name: _cell(values, columns, name)
        for name in (*MEASUREMENT_FIELDS, "absent")
        if name in columns
    }
    measurements, field_errors = parse_measurements(raw)
    problems += [e.message for e in field_errors]
    bad = error_types(field_errors)
    if bad is None:
        return blank, problems, [], True
    try:
        result = evaluate(
            sex, birth, screening, measurements, config, types=measurements.screened_types() - bad
        )
    except InvalidMeasurement as exc:  # e.g. an implausible age
        return blank, [*problems, exc.message], [], True
    out = result.to_evaluation_columns()
    return out, problems, [n.message for n in result.notes], False


def iter_results(
    table: Table, config: RuleConfig = DEFAULT_CONFIG, screening_date: date | None = None
) -> Iterator[RowResult]:
    """Evaluate every row of a results table; a bad row yields blank results, never raises."""
    columns = _map_columns(table)
    _check_columns(columns)
    width = len(table.headers)
    for row in table.rows:
        values = list(row.values)
        try:
            out, problems, notes, blank = evaluate_table_row(
                values, columns, config, screening_date
            )
        except Exception as exc:  # a bug must not lose the other 1.4 M rows
            logger.exception("row %s could not be evaluated", row.line)
            out = dict.fromkeys(EVALUATION_COLUMNS, "")
            out["rule_set"] = rule_set_label(config)
            problems = [f"internal error ({type(exc).__name__}); please report it"]
            notes, blank = [], True
        if len(values) > width and any(values[width:]):
            problems.insert(0, f"{len(values) - width} cells beyond the last header were ignored")
        texts = problems + notes
        out["errors"] = f"row {row.line}: " + "; ".join(texts) if texts else ""
        inputs = (values + [""] * width)[:width]
        yield RowResult(row.line, inputs, out, problems, notes, blank)


def evaluate_file(
    in_path: str | Path,
    out_path: str | Path,
    *,
    config: RuleConfig = DEFAULT_CONFIG,
    screening_date: date | None = None,
) -> EvaluateReport:
    """Read a results file, write the evaluation CSV (UTF-8 with BOM), return counts.

    Raises :class:`schoolhealth.tabular.FileRejected` when the whole file is unusable.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if in_path.resolve() == out_path.resolve():
        raise FileRejected("The output file must differ from the input file.", key="same_file")
    table = read_table(in_path, preferred_sheets=PREFERRED_SHEETS, header_aliases=HEADER_ALIASES)
    report = EvaluateReport(output=out_path)
    with out_path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*table.headers, *EVALUATION_COLUMNS])
        for result in iter_results(table, config, screening_date):
            writer.writerow(
                [
                    *(safe_cell(v) for v in result.values),
                    *(result.columns[c] for c in EVALUATION_COLUMNS),
                ]
            )
            report.rows += 1
            report.blank += result.blank
            if result.problems:
                report.with_errors += 1
            else:
                report.clean += 1
            if result.columns["refer"]:
                report.referred += 1
    return report
