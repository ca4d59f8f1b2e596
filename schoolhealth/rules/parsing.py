"""Text -> measurements: the one parser behind the nurse grid, uploads, the API and the CLI.

Input is the canonical results.md field names with string values as typed or read from a
file. Full-width digits (０.６), surrounding spaces, units (cm, kg, °, D) and the Chinese
words of results.md (阴性/阳性, 正常/异常, 是/否, 不戴镜/框架眼镜/隐形眼镜/角膜塑形镜 ...)
are accepted; a blank is "not measured". Every rejection names the field, the value and
the allowed range, with a message key and params for translation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from .dental import FDI_ALLOWED, TOOTH_LIST_FIELDS, check_tooth_list
from .engine import RANGE_OF_FIELD, check_range, field_problems
from .errors import FieldError, InvalidMeasurement
from .fields import CHOICE, FIELDS, choice_words
from .numbers import foreign_digit
from .types import MEASUREMENT_FIELDS, Measurements, ScreeningType, Sex
from .vision import DECIMAL_MAX, DECIMAL_MIN, FIVE_POINT_MAX, FIVE_POINT_MIN, decimal_to_five_point

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_UNITS = {
    "height_cm": ("cm", "厘米"),
    "weight_kg": ("kg", "公斤", "千克"),
    "atr": ("°", "度", "deg"),
    "sph": ("ds", "d"),
    "cyl": ("dc", "d"),
    "se": ("d",),
}


def normalize_text(text: str | None) -> str:
    """NFKC (full-width -> half-width), trimmed, with the minus-sign look-alikes as '-'."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).strip()
    return text.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")


def check_digits(field: str, text: str | None) -> None:
    """Refuse a value written with digits other than ASCII or full-width (rules.numbers).

    Checked on the raw text, before NFKC, which would turn "③" or "³" into "3".
    """
    char = foreign_digit(text)
    if char is not None:
        value = str(text).strip()
        raise InvalidMeasurement(
            field,
            value,
            "0-9",
            f"{field}: {value} contains the digit {char!r}; type numbers with 0-9",
            key="foreign_digit",
            params={"char": char},
        )


def _key(text: str) -> str:
    return re.sub(r"[\s()\[\]（）【】_\-]+", "", normalize_text(text).lower())


def parse_decimal(field: str, text: str | None) -> Decimal | None:
    """A plain decimal number (no exponent, no thousands separator), unit suffix allowed."""
    check_digits(field, text)
    value = normalize_text(text)
    if not value:
        return None
    lowered = value.lower()
    for unit in _UNITS.get(RANGE_OF_FIELD.get(field, field), ()):
        if lowered.endswith(unit):
            lowered = lowered[: -len(unit)].strip()
            break
    if not _NUMBER.fullmatch(lowered):
        raise InvalidMeasurement(
            field, value, "a number", f"{field}: {value} is not a number", key="not_a_number"
        )
    try:
        return Decimal(lowered)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise InvalidMeasurement(field, value, "a number", key="not_a_number") from exc


def parse_number_field(field: str, text: str | None) -> Decimal | None:
    """A numeric results.md field, checked against its plausible range and decimals."""
    value = parse_decimal(field, text)
    return None if value is None else check_range(field, value)


def parse_visual_acuity(text: str | None, field: str = "visual_acuity") -> Decimal | None:
    """Visual acuity as 5-point notation (GB/T 11533), from 5-point or decimal text.

    3.0-5.3 is 5-point (one decimal); 0.01-2.0 is decimal, converted only through the
    chart's printed equivalents ("0.6" -> 4.8, "1.2" -> 5.1, "1.5" -> 5.2); values
    between 2.0 and 3.0 are ambiguous and rejected (results.md).
    """
    value = parse_decimal(field, text)
    if value is None:
        return None
    allowed = (
        f"{FIVE_POINT_MIN}-{FIVE_POINT_MAX} (5-point) or {DECIMAL_MIN}-{DECIMAL_MAX} (decimal)"
    )
    if DECIMAL_MAX < value < FIVE_POINT_MIN:
        raise InvalidMeasurement(
            field,
            value,
            allowed,
            f"{field}: {format(value, 'f')} is ambiguous (between {DECIMAL_MAX} and "
            f"{FIVE_POINT_MIN}); enter 5-point ({FIVE_POINT_MIN}-{FIVE_POINT_MAX}) or decimal "
            f"({DECIMAL_MIN}-{DECIMAL_MAX}) notation",
            key="ambiguous_visual_acuity",
        )
    if value < DECIMAL_MIN or value > FIVE_POINT_MAX:
        raise InvalidMeasurement(
            field,
            value,
            allowed,
            f"{field}: {format(value, 'f')} is outside the plausible range {allowed}",
            key="out_of_range",
            params={
                "min": format(FIVE_POINT_MIN, "f"),
                "max": format(FIVE_POINT_MAX, "f"),
                "unit": "(5-point)",
            },
        )
    if value <= DECIMAL_MAX:
        return decimal_to_five_point(value, field)
    if value != value.quantize(Decimal("0.1")):
        raise InvalidMeasurement(
            field,
            value,
            f"{FIVE_POINT_MIN}-{FIVE_POINT_MAX} with one decimal",
            f"{field}: {format(value, 'f')} has too many decimal places (5-point notation has "
            "one decimal; half-lines are not used)",
            key="too_many_decimals",
            params={"decimals": 1},
        )
    return value.quantize(Decimal("0.1"))


_SEX_WORDS = {
    "男": Sex.MALE,
    "m": Sex.MALE,
    "male": Sex.MALE,
    "1": Sex.MALE,
    "boy": Sex.MALE,
    "女": Sex.FEMALE,
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "2": Sex.FEMALE,
    "girl": Sex.FEMALE,
}
SEX_ALLOWED = "男/女, M/F, male/female, 1/2"


def parse_sex(text: str | None) -> Sex:
    """Sex from 男/女, M/F, male/female or GB/T 2261.1 codes 1/2 (roster.md)."""
    value = normalize_text(text)
    sex = _SEX_WORDS.get(value.lower())
    if sex is None:
        raise InvalidMeasurement(
            "sex",
            value,
            SEX_ALLOWED,
            f"sex: {value or '(blank)'} is not one of {SEX_ALLOWED}",
            key="invalid_sex",
        )
    return sex


_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?", re.ASCII),
    re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", re.ASCII),
)
DATE_ALLOWED = "2015-03-02, 2015/3/2, 2015.3.2, 20150302 or 2015年3月2日"


def parse_date(text: str | None, field: str = "date") -> date | None:
    """A calendar date in the roster.md forms; blank -> None."""
    check_digits(field, text)
    value = normalize_text(text)
    if not value:
        return None
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(value)
        if match:
            try:
                return date(*(int(g) for g in match.groups()))
            except ValueError:
                break
    raise InvalidMeasurement(
        field,
        value,
        DATE_ALLOWED,
        f"{field}: {value} is not a valid date (use {DATE_ALLOWED})",
        key="invalid_date",
    )


# choice field -> accepted spelling (lower case) -> code, and the list a message shows
_CHOICES: dict[str, dict[str, str]] = {f.name: choice_words(f) for f in FIELDS if f.kind == CHOICE}
_CHOICE_SHOWN = {f.name: f.shown for f in FIELDS if f.kind == CHOICE}
_YES_NO = {
    "是": True,
    "否": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "缺检": True,
}


def parse_choice(field: str, text: str | None) -> str | None:
    """A coded results.md value (English code or the Chinese word)."""
    value = normalize_text(text)
    if not value:
        return None
    table = _CHOICES[field]
    code = table.get(value.lower()) or table.get(_key(value))
    if code is None:
        raise InvalidMeasurement(
            field,
            value,
            _CHOICE_SHOWN[field],
            f"{field}: {value} is not one of {_CHOICE_SHOWN[field]}",
            key="unknown_choice",
            params={"choices": _CHOICE_SHOWN[field]},
        )
    return code


def parse_yes_no(field: str, text: str | None) -> bool | None:
    value = normalize_text(text)
    if not value:
        return None
    answer = _YES_NO.get(value.lower())
    if answer is None:
        raise InvalidMeasurement(
            field,
            value,
            "是/否, yes/no, 1/0",
            f"{field}: {value} is not one of 是/否, yes/no, 1/0",
            key="unknown_choice",
            params={"choices": "是/否, yes/no, 1/0"},
        )
    return answer


_TOOTH_SPLIT = re.compile(r"[\s,;、]+")
_NO_TEETH = {"无", "none", "0", "-", "/", "无龋", "nil"}


def parse_teeth(field: str, text: str | None) -> tuple[int, ...] | None:
    """FDI codes separated by comma, space or 、; 无/none/0 = examined, none (empty tuple)."""
    check_digits(field, text)
    value = normalize_text(text)
    if not value:
        return None
    if value.lower() in _NO_TEETH:
        return ()
    teeth = []
    for token in _TOOTH_SPLIT.split(value):
        if not token:
            continue
        if not re.fullmatch(r"[0-9]{2}", token):
            raise InvalidMeasurement(
                field,
                token,
                FDI_ALLOWED,
                f"{field}: {token} is not a tooth code; allowed: {FDI_ALLOWED}",
                key="invalid_tooth_code",
            )
        teeth.append(int(token))
    result = tuple(teeth)
    check_tooth_list(field, result)
    return result


def parse_count(field: str, text: str | None) -> int | None:
    value = parse_decimal(field, text)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise InvalidMeasurement(
            field,
            value,
            "a whole number",
            f"{field}: {format(value, 'f')} is not a whole number",
            key="not_a_number",
        )
    check_range(field, value)
    return int(value)


def parse_field(field: str, text: str | None) -> object:
    """Parse one results.md measurement field (or ``absent``)."""
    if field == "absent":
        return parse_yes_no(field, text)
    if field.startswith(("ucva_", "cva_")):
        return parse_visual_acuity(text, field)
    if field in _CHOICES:
        return parse_choice(field, text)
    if field in TOOTH_LIST_FIELDS:
        return parse_teeth(field, text)
    if field in ("dmft", "DMFT"):
        return parse_count(field, text)
    if field in RANGE_OF_FIELD:
        return parse_number_field(field, text)
    raise KeyError(field)


def error_types(errors: list[FieldError]) -> set[ScreeningType] | None:
    """Screening types touched by ``errors``; None when an error concerns the whole row."""
    out: set[ScreeningType] = set()
    for e in errors:
        t = MEASUREMENT_FIELDS.get(e.field)
        if t is None:
            return None
        out.add(t)
    return out


def parse_measurements(raw: Mapping[str, str | None]) -> tuple[Measurements, list[FieldError]]:
    """Parse the results.md fields of ``raw`` (other keys are ignored).

    Returns the measurements and every problem found. All fields of a screening type
    with a problem are left out (None), so that type is "not screened" rather than
    classified from partial data (a rejected ATR must never yield "normal"); an
    ``absent`` problem leaves out everything.
    """
    values: dict[str, object] = {}
    errors: list[FieldError] = []
    for f in fields(Measurements):
        if f.name not in raw:
            continue
        try:
            parsed = parse_field(f.name, raw[f.name])
        except InvalidMeasurement as exc:
            errors.append(exc.to_field_error())
            continue
        if parsed is not None:
            values[f.name] = parsed
    measurements = Measurements(**values)  # type: ignore[arg-type]
    errors += [p.to_field_error() for p in field_problems(measurements)]
    bad = error_types(errors)
    if bad is None:
        return Measurements(), errors
    if bad:
        cleared = {name: None for name, t in MEASUREMENT_FIELDS.items() if t in bad}
        measurements = replace(measurements, **cleared)  # type: ignore[arg-type]
    return measurements, errors
