"""Strict numbers from text: ASCII digits 0-9 and full-width digits ０-９, nothing else.

Python's ``int()``, ``float()``, ``Decimal()``, ``str.isdigit()`` and the regex ``\\d``
accept every Unicode digit, and NFKC turns superscripts, circled and mathematical digits
into ASCII: "٣" (Arabic-Indic three) was stored as 3.0, "③" as 3. A Chinese school enters
numbers with a PC keyboard (ASCII) or a Chinese input method (full-width); any other
digit in a health record is a typing or import accident, never a measurement, so it is
refused with a clear message rather than guessed. Forms, the grid save, the uploads and
the importers all read numbers through this module (pure: no Flask, no database).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９．＋－",
    "0123456789.+-",
)
ASCII_DIGITS = frozenset("0123456789")
FULL_WIDTH_DIGITS = frozenset("０１２３４５６７８９")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# Minus-sign look-alikes typed or pasted from word processors.
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


class NotANumber(ValueError):
    """Text that is not a number in the accepted digits; ``char`` is the foreign digit
    that made it so (empty when the text is simply not a number)."""

    def __init__(self, text: str, char: str = "") -> None:
        self.text = text
        self.char = char
        super().__init__(f"{text!r} is not a number" + (f" (digit {char!r})" if char else ""))


def is_digit_like(char: str) -> bool:
    """True for any character Unicode treats as a digit or number (٣, ③, ³, 𝟑, ½ ...)."""
    return unicodedata.category(char) in {"Nd", "No", "Nl"}


def foreign_digit(text: str | None) -> str | None:
    """The first digit in ``text`` that is neither ASCII nor full-width, else None."""
    if not text:
        return None
    for char in str(text):
        if char in ASCII_DIGITS or char in FULL_WIDTH_DIGITS:
            continue
        if is_digit_like(char):
            return char
    return None


def to_ascii(text: str | None) -> str:
    """``text`` trimmed, with full-width digits, point and signs as ASCII.

    Raises :class:`NotANumber` when it holds any other kind of digit.
    """
    if text is None:
        return ""
    text = str(text)
    char = foreign_digit(text)
    if char is not None:
        raise NotANumber(text.strip(), char)
    return text.translate(FULL_WIDTH).translate(_MINUS).replace("\u3000", " ").strip()


def parse_decimal(text: str | None) -> Decimal | None:
    """A plain decimal number ("12", "-0.75", "１２８．５"); blank is None.

    No exponent, no thousands separator, no NaN or infinity: those are never typed as a
    measurement and would otherwise slip through ``Decimal()``.
    """
    value = to_ascii(text)
    if not value:
        return None
    if not _DECIMAL.fullmatch(value):
        raise NotANumber(value)
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise NotANumber(value) from exc


def parse_int(text: str | None, low: int | None = None, high: int | None = None) -> int | None:
    """A whole number, optionally within ``low``..``high``; blank is None.

    Out of range raises :class:`NotANumber` too: callers use this for ids, versions and
    years, where an out-of-range value is as meaningless as a word.
    """
    value = to_ascii(text)
    if not value:
        return None
    if not _INTEGER.fullmatch(value) or len(value) > 30:
        raise NotANumber(value)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise NotANumber(value)
    return number


def coerce_int(value: object) -> int:
    """``coerce=`` for a WTForms select of ids: like ``int`` but strict about digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = parse_int(None if value is None else str(value))
    if number is None:
        raise ValueError("blank")
    return number


def nfkc(text: str) -> str:
    """NFKC (full-width to half-width), except that other digits are kept as they are.

    Uploads and forms fold every value with NFKC, which would silently turn "③", "²" or
    "𝟑" into ASCII digits before any number parser could refuse them. Text without such
    a digit (nearly all) costs one NFKC call, as before.
    """
    folded = unicodedata.normalize("NFKC", text)
    if folded == text or foreign_digit(text) is None:
        return folded
    return "".join(
        char
        if char not in ASCII_DIGITS and char not in FULL_WIDTH_DIGITS and is_digit_like(char)
        else unicodedata.normalize("NFKC", char)
        for char in text
    )
