"""Age at screening: completed months, exact age, half-year band (floor, never round)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schoolhealth.rules import InvalidMeasurement, compute_age
from schoolhealth.rules.age import completed_months, half_year_band

from .helpers import at_months, day_before, oracle_band, oracle_months


def test_b6_day_before_tenth_birthday_is_band_9_5_and_birthday_is_10_0():
    birth = date(2015, 3, 10)
    assert compute_age(birth, date(2025, 3, 9)).band == Decimal("9.5")
    assert compute_age(birth, date(2025, 3, 10)).band == Decimal("10.0")


@pytest.mark.parametrize("half_years", range(12, 37))
def test_band_changes_exactly_on_the_half_birthday(half_years):
    birth = date(2011, 7, 20)
    start = at_months(half_years * 6, birth)
    assert compute_age(birth, start).band == Decimal(half_years) / 2
    assert compute_age(birth, day_before(start)).band == Decimal(half_years - 1) / 2
    last_day = day_before(at_months(half_years * 6 + 6, birth))
    assert compute_age(birth, last_day).band == Decimal(half_years) / 2


def test_band_is_floored_not_rounded():
    # 9 y 11 m is the 9.5~ band, not 10.0 (README §1.2: the SQL dump's "round" is wrong)
    birth = date(2014, 1, 1)
    age = compute_age(birth, date(2023, 12, 31))
    assert age.months == 119
    assert age.band == Decimal("9.5")
    assert age.years == Decimal("9.99")


def test_exact_age_has_two_decimals_and_never_reaches_a_band_early():
    birth = date(2014, 5, 31)
    age = compute_age(birth, date(2024, 5, 30))
    assert age.years == Decimal("9.99")
    assert compute_age(birth, date(2024, 5, 31)).years == Decimal("10.00")
    assert compute_age(birth, date(2019, 11, 30)).years < Decimal("5.5")


def test_leap_day_birthday_is_completed_on_march_first():
    birth = date(2016, 2, 29)
    assert compute_age(birth, date(2026, 2, 28)).months == 119
    assert compute_age(birth, date(2026, 3, 1)).months == 120
    assert compute_age(birth, date(2024, 2, 29)).months == 96


def test_month_end_birthday_completes_a_short_month_on_the_first():
    birth = date(2015, 1, 31)
    assert completed_months(birth, date(2015, 2, 28)) == 0
    assert completed_months(birth, date(2015, 3, 1)) == 1
    assert completed_months(birth, date(2015, 3, 31)) == 2
    assert completed_months(birth, date(2015, 4, 30)) == 2
    assert completed_months(birth, date(2015, 5, 1)) == 3


def test_screening_before_birth_is_rejected_with_the_field_named():
    with pytest.raises(InvalidMeasurement) as info:
        compute_age(date(2015, 3, 10), date(2015, 3, 9))
    assert info.value.field == "screening_date"
    assert "before the birth date 2015-03-10" in str(info.value)
    assert info.value.key == "screening_before_birth"


@pytest.mark.parametrize(
    ("birth", "on"),
    [
        (date(2025, 1, 1), date(2026, 1, 1)),  # 1 year old
        (date(1990, 1, 1), date(2026, 1, 1)),  # 36 years old
    ],
)
def test_implausible_age_is_rejected_with_range(birth, on):
    with pytest.raises(InvalidMeasurement) as info:
        compute_age(birth, on)
    assert info.value.field == "birth_date"
    assert "2-25 years" in str(info.value)


def test_plausible_age_limits_are_inclusive():
    assert compute_age(date(2020, 1, 1), date(2022, 1, 1)).months == 24
    assert compute_age(date(2000, 1, 1), date(2025, 1, 1)).months == 300


@given(
    birth=st.dates(min_value=date(2000, 1, 1), max_value=date(2020, 12, 28)).filter(
        lambda d: d.day <= 28
    ),
    days=st.integers(min_value=3 * 365, max_value=20 * 365),
)
def test_age_agrees_with_dateutil_and_band_is_floor_of_exact_age(birth, days):
    on = birth + timedelta(days=days)
    age = compute_age(birth, on)
    assert age.months == oracle_months(birth, on)
    assert age.band == oracle_band(age.months)
    assert age.band == half_year_band(age.months)
    # the 2-decimal exact age floors to the same band and lies within the month
    assert (age.years * 2).to_integral_value(rounding="ROUND_FLOOR") / 2 == age.band
    assert Decimal(age.months) / 12 - Decimal("0.01") < age.years < Decimal(age.months + 1) / 12
