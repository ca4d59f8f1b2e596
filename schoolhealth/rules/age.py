"""Age at screening: completed months, exact age and the half-year band.

WS/T 586-2018 and WS/T 456-2014 use 实足年龄 (exact age on the measurement date) in
half-year bands whose label is the band's start: "9.5~" is 9.5 y up to, not including,
10.0 y, so the band is the exact age *floored* to the half year, never rounded
(tests/reference/README.md §1.2, §8 item 1; test vector B6). WHO 2007 and CDC 2000 are
looked up by completed months (README §7.1, §7.2).

A month is completed on the same day of a later month; when that day does not exist
(born on the 31st, or on 29 February) it is completed on the 1st of the next month.
So a child born on 2016-02-29 turns 10 on 2026-03-01.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .errors import InvalidMeasurement
from .tables import constants

AGE_PLAUSIBLE_MIN_YEARS = int(constants()["age"]["plausible_min_years"])
AGE_PLAUSIBLE_MAX_YEARS = int(constants()["age"]["plausible_max_years"])


def completed_months(birth_date: date, on: date) -> int:
    """Whole months lived on ``on`` (day-of-month rule above). Negative before birth."""
    months = (on.year - birth_date.year) * 12 + (on.month - birth_date.month)
    if on.day < birth_date.day:
        months -= 1
    return months


def month_anniversary(birth_date: date, months: int) -> date:
    """The date on which ``months`` completed months are reached."""
    index = birth_date.month - 1 + months
    year, month = birth_date.year + index // 12, index % 12 + 1
    if birth_date.day <= calendar.monthrange(year, month)[1]:
        return date(year, month, birth_date.day)
    return date(year + (month == 12), month % 12 + 1, 1)


def half_year_band(months: int) -> Decimal:
    """The half-year band of WS/T 586 / WS/T 456: completed months floored to 6, in years."""
    return Decimal(months // 6 * 5).scaleb(-1)


@dataclass(frozen=True)
class Age:
    """A pupil's age on the screening date."""

    months: int  # completed months
    years: Decimal  # exact age, 2 decimals, floored (never reaches a band early)
    band: Decimal  # half-year band start, e.g. Decimal("9.5")

    @property
    def completed_years(self) -> int:
        return self.months // 12


def compute_age(birth_date: date, screening_date: date) -> Age:
    """Age on the screening date; rejects a date before birth or an implausible age."""
    if isinstance(birth_date, datetime):
        birth_date = birth_date.date()
    if isinstance(screening_date, datetime):
        screening_date = screening_date.date()
    if not isinstance(birth_date, date) or not isinstance(screening_date, date):
        raise InvalidMeasurement(
            "birth_date" if not isinstance(birth_date, date) else "screening_date",
            birth_date if not isinstance(birth_date, date) else screening_date,
            "a calendar date",
            key="invalid_date",
        )
    if screening_date < birth_date:
        raise InvalidMeasurement(
            "screening_date",
            screening_date.isoformat(),
            f"on or after the birth date {birth_date.isoformat()}",
            f"screening_date: {screening_date.isoformat()} is before the birth date "
            f"{birth_date.isoformat()}",
            key="screening_before_birth",
            params={"birth_date": birth_date.isoformat()},
        )
    months = completed_months(birth_date, screening_date)
    start = month_anniversary(birth_date, months)
    end = month_anniversary(birth_date, months + 1)
    # exact age = (months + days_into_month / days_of_month) / 12, floored to 0.01 exactly
    into, length = (screening_date - start).days, (end - start).days
    years = Decimal((100 * (months * length + into)) // (12 * length)).scaleb(-2)
    if not AGE_PLAUSIBLE_MIN_YEARS <= months / 12 <= AGE_PLAUSIBLE_MAX_YEARS:
        allowed = f"{AGE_PLAUSIBLE_MIN_YEARS}-{AGE_PLAUSIBLE_MAX_YEARS} years"
        raise InvalidMeasurement(
            "birth_date",
            birth_date.isoformat(),
            allowed,
            f"birth_date: {birth_date.isoformat()} gives an age of {years} years on "
            f"{screening_date.isoformat()}, outside the plausible range {allowed}",
            key="age_out_of_range",
            params={
                "age": format(years, "f"),
                "min": AGE_PLAUSIBLE_MIN_YEARS,
                "max": AGE_PLAUSIBLE_MAX_YEARS,
            },
        )
    return Age(months=months, years=years, band=half_year_band(months))
