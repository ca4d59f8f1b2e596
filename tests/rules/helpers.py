"""Independent oracle for the rules tests.

Everything here is written straight from tests/reference/README.md with Decimal
arithmetic and reads the reference CSV files in tests/reference/ (not the package
copies), so the tests check the package's integer fast path and its data copy
against the specification.
Age uses dateutil's relativedelta (an independent implementation) for birth days <= 28,
where every month-counting convention agrees.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from dateutil.relativedelta import relativedelta

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
"""The independent reference tables (tests/reference/, copied from the clinical specification)."""
SEXES = ("M", "F")
BIRTH = date(2010, 1, 15)  # day 15 exists in every month


@cache
def shared_rows(name: str) -> tuple[dict[str, str], ...]:
    with (REFERENCE / name).open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def at_months(months: int, birth: date = BIRTH) -> date:
    """The screening date on which exactly ``months`` completed months are reached."""
    return birth + relativedelta(months=months)


def day_before(d: date) -> date:
    return d - timedelta(days=1)


def oracle_months(birth: date, on: date) -> int:
    assert birth.day <= 28
    delta = relativedelta(on, birth)
    return delta.years * 12 + delta.months


def oracle_band(months: int) -> Decimal:
    """Half-year band, floored (README §8 item 1)."""
    return Decimal(months // 6) / 2


def oracle_bmi(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """weight / height(m)^2, rounded half-up to one decimal (README §1.2)."""
    exact = weight_kg / ((height_cm / 100) ** 2)
    return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _row(name: str, sex: str, age: Decimal) -> dict[str, str]:
    rows = [r for r in shared_rows(name) if r["sex"] == sex and Decimal(r["age_years"]) <= age]
    return max(rows, key=lambda r: Decimal(r["age_years"]))


def oracle_weight_status(sex: str, months: int, bmi: Decimal) -> str | None:
    """WS/T 586-2018 (>= cutoffs) 6.0 to <19, WS/T 428 adults; None = not applicable."""
    if months < 72:
        return None
    if months >= 228:
        ow, ob = Decimal("24.0"), Decimal("28.0")
    else:
        row = _row("wst586_bmi_cutoffs.csv", sex, oracle_band(months))
        ow, ob = Decimal(row["overweight_bmi"]), Decimal(row["obesity_bmi"])
    if bmi >= ob:
        return "obese"
    if bmi >= ow:
        return "overweight"
    return "normal"


def oracle_thinness(sex: str, months: int, bmi: Decimal) -> str | None:
    """WS/T 456-2014: <= moderate/severe max; mild in [mild_min, mild_max]; 6.0 to <18.

    From 18 y, WS/T 428-2013 adults: underweight if BMI < 18.5 (one grade: "mild").
    """
    if months < 72:
        return None
    if months >= 216:
        return "mild" if bmi < Decimal("18.5") else "none"
    row = _row("wst456_thinness_bmi_cutoffs.csv", sex, oracle_band(months))
    if bmi <= Decimal(row["moderate_severe_thinness_bmi_max"]):
        return "moderate_severe"
    if Decimal(row["mild_thinness_bmi_min"]) <= bmi <= Decimal(row["mild_thinness_bmi_max"]):
        return "mild"
    return "none"


def oracle_stunting(sex: str, months: int, height: Decimal) -> str | None:
    if months < 72 or months >= 216:
        return None
    row = _row("wst456_stunting_height_cutoffs.csv", sex, oracle_band(months))
    return "yes" if height <= Decimal(row["stunting_height_cm_max"]) else "no"


def oracle_vision_grade(ucva: Decimal) -> str:
    names = {
        "normal": "normal",
        "mild_low_vision": "mild",
        "moderate_low_vision": "moderate",
        "severe_low_vision": "severe",
    }
    for row in shared_rows("vision_grades_6plus.csv"):
        low = Decimal(row["ucva_five_point_min"]) if row["ucva_five_point_min"] else None
        high = Decimal(row["ucva_five_point_max"]) if row["ucva_five_point_max"] else None
        if (low is None or ucva >= low) and (high is None or ucva <= high):
            return names[row["grade"]]
    raise AssertionError(f"no grade for {ucva}")


def oracle_myopia(ucva: Decimal, se: Decimal | None) -> str:
    """UCVA < 5.0 and SE <= -0.50 D (README §3.3, '<=' adopted); unknown without SE."""
    if ucva >= Decimal("5.0"):
        return "no"
    if se is None:
        return "unknown"
    return "yes" if se <= Decimal("-0.50") else "no"


def who_rows(sex: str) -> dict[int, dict[str, str]]:
    return {
        int(r["age_months"]): r
        for r in shared_rows("who2007_bmi_for_age_5_19.csv")
        if r["sex"] == sex
    }


def cdc_rows(sex: str) -> dict[Decimal, dict[str, str]]:
    return {
        Decimal(r["agemos"]): r
        for r in shared_rows("cdc2000_bmi_for_age_2_20.csv")
        if r["sex"] == sex
    }


def tenth(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.1"))


D01 = Decimal("0.1")
HUNDRED = Decimal("100.0")  # a height of 100.0 cm makes BMI == weight exactly
