"""Resident identity numbers (公民身份号码, GB 11643-1999): check digit, birth date, sex.

18 characters: 6-digit address code, 8-digit birth date (digits 7-14, YYYYMMDD), 3-digit
sequence whose last digit (digit 17) is odd for men and even for women, and an ISO 7064
MOD 11-2 check character (0-9 or X). Used by the results CLI when a file has no
sex / birth_date columns, and by the roster import.
"""

from __future__ import annotations

import re
from datetime import date

from .errors import InvalidIdNumber
from .numbers import foreign_digit
from .parsing import normalize_text
from .types import Sex

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
ALLOWED = "18 characters: 17 digits and a check digit (0-9 or X) per GB 11643"


def check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(text: str) -> str:
    """The normalised number (trimmed, half-width, upper-case X) or :class:`InvalidIdNumber`."""
    value = normalize_text(text).upper().replace(" ", "")
    # NFKC would turn "③" into "3": only ASCII and full-width digits make an ID number.
    if foreign_digit(text) is not None or not _SHAPE.fullmatch(value):
        raise InvalidIdNumber(
            "id_number",
            value,
            ALLOWED,
            f"id_number: {value or '(blank)'} is not {ALLOWED}",
            key="invalid_id_number",
        )
    expected = check_character(value[:17])
    if value[17] != expected:
        raise InvalidIdNumber(
            "id_number",
            value,
            ALLOWED,
            f"id_number: {value} has check digit {value[17]}, but GB 11643 gives {expected}; "
            "the number was mistyped",
            key="id_check_digit",
            params={"expected": expected},
        )
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber(
            "id_number",
            value,
            ALLOWED,
            f"id_number: {value} holds the impossible birth date {value[6:14]}",
            key="id_birth_date",
        ) from exc
    return value


def id_number_birth_date(text: str) -> date:
    """Birth date from digits 7-14 (validates the number first)."""
    value = validate_id_number(text)
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_number_sex(text: str) -> Sex:
    """Sex from digit 17: odd = male, even = female (validates the number first)."""
    value = validate_id_number(text)
    return Sex.MALE if int(value[16]) % 2 else Sex.FEMALE
