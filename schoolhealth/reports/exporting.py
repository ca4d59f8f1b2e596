"""A report as a table: the same figures for the page, the Excel file and the CSV file."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask_babel import gettext as _

from ..cells import safe_cell
from .services import INDICATORS, Report, ReportRow
from .statistics import SMALL_CELL

HIDDEN = f"<{SMALL_CELL}"


def headers(report: Report) -> list[str]:
    by = {
        "school": _("School"),
        "grade": _("Grade"),
        "sex": _("Sex"),
        "age": _("Age"),
        None: _("Scope"),
    }[report.by]
    columns = [by, _("Enrolled"), _("Screened"), _("Coverage %")]
    for indicator in INDICATORS:
        name = str(indicator.label)
        columns += [
            _("%(finding)s: pupils", finding=name),
            _("%(finding)s: evaluated", finding=name),
            _("%(finding)s: %%", finding=name),
            _("%(finding)s: 95%% CI low", finding=name),
            _("%(finding)s: 95%% CI high", finding=name),
        ]
    return columns


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def row_values(row: ReportRow) -> list[Any]:
    if row.hidden:
        values: list[Any] = [row.label, HIDDEN, HIDDEN, None]
    else:
        values = [row.label, row.enrolled or None, row.screened, _pct(row.coverage.rate)]
    for indicator in INDICATORS:
        cell = row.cells[indicator.key]
        if cell.hidden or row.hidden:
            values += [HIDDEN, HIDDEN, None, None, None]
            continue
        proportion = cell.proportion
        interval = proportion.interval or (None, None)
        values += [
            proportion.count,
            proportion.total,
            _pct(proportion.rate),
            _pct(interval[0]),
            _pct(interval[1]),
        ]
    return values


def table(report: Report) -> list[list[Any]]:
    return [row_values(r) for r in report.rows] + [row_values(report.total)]


def to_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(report))
    for values in table(report):
        writer.writerow(["" if v is None else safe_cell(v) for v in values])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: Report, title: str, notes: list[str]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"title": title, "author": "SchoolHealth"})
    sheet = workbook.add_worksheet(_("Report")[:31])
    bold = workbook.add_format({"bold": True})
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
    number = workbook.add_format({"num_format": "#,##0"})
    rate = workbook.add_format({"num_format": "0.0"})
    total_format = workbook.add_format({"bold": True, "top": 1})
    sheet.write_string(0, 0, title, bold)
    columns = headers(report)
    first = 2
    for col, name in enumerate(columns):
        sheet.write_string(first, col, name, header)
    rows = table(report)
    for offset, values in enumerate(rows, start=1):
        is_total = offset == len(rows)
        for col, value in enumerate(values):
            cell_format = total_format if is_total else None
            if value is None:
                sheet.write_blank(first + offset, col, None, cell_format)
            elif isinstance(value, str):
                sheet.write_string(first + offset, col, safe_cell(value), cell_format)
            else:
                is_rate = col == 3 or (col >= 4 and (col - 4) % 5 >= 2)
                sheet.write_number(
                    first + offset, col, value, cell_format or (rate if is_rate else number)
                )
    sheet.set_row(first, 45)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, len(columns) - 1, 11)
    sheet.freeze_panes(first + 1, 1)
    line = first + len(rows) + 2
    for note in notes:
        sheet.write_string(line, 0, note)
        line += 1
    workbook.close()
    return buffer.getvalue()
