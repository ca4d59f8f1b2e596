"""rules.numbers: ASCII and full-width digits only; every other digit is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schoolhealth.rules import numbers, parse_measurements
from schoolhealth.rules.errors import InvalidIdNumber
from schoolhealth.rules.idnumber import validate_id_number
from schoolhealth.rules.parsing import parse_date, parse_teeth


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("130", Decimal("130")),
        (" 128.5 ", Decimal("128.5")),
        ("１２８．５", Decimal("128.5")),
        ("－０.７５", Decimal("-0.75")),
        ("\u22120.5", Decimal("-0.5")),
        (".5", Decimal("0.5")),
        ("", None),
        (None, None),
    ],
)
def test_decimals_in_ascii_or_full_width_digits_are_read(text, expected):
    assert numbers.parse_decimal(text) == expected


@pytest.mark.parametrize(
    ("text", "char"),
    [
        ("٣", "٣"),  # Arabic-Indic: float() and Decimal() read it as 3
        ("1٣0", "٣"),
        ("۱۳۰", "۱"),  # Extended Arabic-Indic (Persian)
        ("१३०", "१"),  # Devanagari
        ("③", "③"),  # NFKC would make it 3
        ("13²", "²"),
        ("𝟏𝟑𝟎", "𝟏"),  # mathematical bold digits
        ("½", "½"),
    ],
)
def test_other_digits_are_refused_naming_the_digit(text, char):
    with pytest.raises(numbers.NotANumber) as caught:
        numbers.parse_decimal(text)
    assert caught.value.char == char
    assert numbers.foreign_digit(text) == char


@pytest.mark.parametrize("text", ["1e3", "NaN", "inf", "1,300", "12.3.4", "+", "abc", "--1"])
def test_what_is_not_a_plain_number_is_refused(text):
    with pytest.raises(numbers.NotANumber):
        numbers.parse_decimal(text)


def test_whole_numbers_and_their_range():
    assert numbers.parse_int("０４２") == 42
    assert numbers.parse_int(" 7 ", 1, 12) == 7
    assert numbers.parse_int("") is None
    for bad in ("٣", "13", "0", "1.0", "9" * 40):
        with pytest.raises(ValueError):
            numbers.parse_int(bad, 1, 12)
    assert numbers.coerce_int("５") == 5
    with pytest.raises(ValueError):
        numbers.coerce_int("٥")


def test_the_measurement_parser_refuses_foreign_digits_with_its_own_key():
    parsed, errors = parse_measurements({"height_cm": "١٣٠", "ucva_left": "４.９"})
    assert parsed.height_cm is None
    assert parsed.ucva_left == Decimal("4.9")
    (error,) = errors
    assert (error.field, error.key, error.params["char"]) == ("height_cm", "foreign_digit", "١")


def test_teeth_dates_and_id_numbers_refuse_foreign_digits():
    assert parse_teeth("caries_teeth", "１６ 55") == (16, 55)
    with pytest.raises(ValueError):
        parse_teeth("caries_teeth", "١٦")
    assert str(parse_date("２０１５-3-2")) == "2015-03-02"
    with pytest.raises(ValueError):
        parse_date("٢٠١٥-3-2")
    with pytest.raises(InvalidIdNumber):
        # A valid number with its first digit written as a circled one.
        validate_id_number("①10101201503021234")


def test_nfkc_folds_full_width_but_keeps_other_digits_for_the_parsers_to_refuse():
    assert numbers.nfkc("ＡＢ１２") == "AB12"
    assert numbers.nfkc("张三") == "张三"
    assert numbers.nfkc("１２③") == "12③"
    assert numbers.nfkc("x²") == "x²"
    assert numbers.nfkc("٣") == "٣"
