"""The rule set's data: cutoff tables (CSV) and named constants (rules.toml).

The tables are the files of tests/reference/ copied unchanged into ``data/`` and read
with :mod:`importlib.resources`, so a wheel carries them and nothing is re-typed.
Each loader is cached: the files are parsed once per process.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

DATA_PACKAGE = __package__ or "schoolhealth.rules"


def read_data_text(name: str) -> str:
    """Text of one file in ``schoolhealth/rules/data/``."""
    return resources.files(DATA_PACKAGE).joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_data_text(name))))


@cache
def constants() -> dict[str, Any]:
    """rules.toml as a dict (ruleset version, named constants, plausible ranges)."""
    return tomllib.loads(read_data_text("rules.toml"))


@dataclass(frozen=True)
class Wst586Row:
    """WS/T 586-2018 Table 1 row: overweight / obesity BMI cutoffs, both inclusive (>=)."""

    sex: str
    age_years: Decimal
    overweight_bmi: Decimal
    obesity_bmi: Decimal


@dataclass(frozen=True)
class StuntingRow:
    """WS/T 456-2014 stunting row: stunting if height <= height_max_cm."""

    sex: str
    age_years: Decimal
    height_max_cm: Decimal


@dataclass(frozen=True)
class ThinnessRow:
    """WS/T 456-2014 thinness row.

    Moderate/severe if BMI <= moderate_severe_max; mild if moderate_severe_max < BMI <= mild_max.
    """

    sex: str
    age_years: Decimal
    moderate_severe_max: Decimal
    mild_min: Decimal
    mild_max: Decimal


@dataclass(frozen=True)
class NotationRow:
    """GB/T 11533-2011 chart row: 5-point value and its printed decimal equivalent."""

    five_point: Decimal
    decimal: Decimal


@dataclass(frozen=True)
class VisionGradeRow:
    """Reduced-vision grade by UCVA (5-point, inclusive bounds; None = open)."""

    grade: str
    ucva_min: Decimal | None
    ucva_max: Decimal | None


@dataclass(frozen=True)
class LmsRow:
    """One LMS row of a BMI-for-age reference (WHO 2007 by month, CDC 2000 by agemos)."""

    sex: str
    age_months: Decimal
    L: float
    M: float
    S: float
    cutoffs: dict[str, Decimal]


def _dec(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text) if text else None


@cache
def wst586_rows() -> tuple[Wst586Row, ...]:
    return tuple(
        Wst586Row(
            r["sex"],
            Decimal(r["age_years"]),
            Decimal(r["overweight_bmi"]),
            Decimal(r["obesity_bmi"]),
        )
        for r in _rows("wst586_bmi_cutoffs.csv")
    )


@cache
def stunting_rows() -> tuple[StuntingRow, ...]:
    return tuple(
        StuntingRow(r["sex"], Decimal(r["age_years"]), Decimal(r["stunting_height_cm_max"]))
        for r in _rows("wst456_stunting_height_cutoffs.csv")
    )


@cache
def thinness_rows() -> tuple[ThinnessRow, ...]:
    return tuple(
        ThinnessRow(
            r["sex"],
            Decimal(r["age_years"]),
            Decimal(r["moderate_severe_thinness_bmi_max"]),
            Decimal(r["mild_thinness_bmi_min"]),
            Decimal(r["mild_thinness_bmi_max"]),
        )
        for r in _rows("wst456_thinness_bmi_cutoffs.csv")
    )


@cache
def notation_rows() -> tuple[NotationRow, ...]:
    return tuple(
        NotationRow(Decimal(r["five_point_L"]), Decimal(r["decimal_V"]))
        for r in _rows("gbt11533_visual_acuity_notation.csv")
    )


# vision_grades_6plus.csv names -> evaluation.md codes
VISION_GRADE_CODES = {
    "normal": "normal",
    "mild_low_vision": "mild",
    "moderate_low_vision": "moderate",
    "severe_low_vision": "severe",
}


@cache
def vision_grade_rows() -> tuple[VisionGradeRow, ...]:
    return tuple(
        VisionGradeRow(
            VISION_GRADE_CODES[r["grade"]],
            _dec(r["ucva_five_point_min"]),
            _dec(r["ucva_five_point_max"]),
        )
        for r in _rows("vision_grades_6plus.csv")
    )


@cache
def who2007_rows() -> tuple[LmsRow, ...]:
    cutoff_columns = {
        "minus3sd": "bmi_minus3sd",
        "minus2sd": "bmi_minus2sd_thinness",
        "plus1sd": "bmi_plus1sd_overweight",
        "plus2sd": "bmi_plus2sd_obesity",
        "plus3sd": "bmi_plus3sd",
    }
    return tuple(
        LmsRow(
            r["sex"],
            Decimal(r["age_months"]),
            float(r["L"]),
            float(r["M"]),
            float(r["S"]),
            {k: Decimal(r[c]) for k, c in cutoff_columns.items()},
        )
        for r in _rows("who2007_bmi_for_age_5_19.csv")
    )


@cache
def cdc2000_rows() -> tuple[LmsRow, ...]:
    cutoff_columns = {"p5": "P5_underweight", "p85": "P85_overweight", "p95": "P95_obesity"}
    return tuple(
        LmsRow(
            r["sex"],
            Decimal(r["agemos"]),
            float(r["L"]),
            float(r["M"]),
            float(r["S"]),
            {k: Decimal(r[c]) for k, c in cutoff_columns.items()},
        )
        for r in _rows("cdc2000_bmi_for_age_2_20.csv")
    )


@dataclass(frozen=True)
class RangeSpec:
    """Plausible range of a results.md field (inclusive) and its allowed decimal places."""

    low: Decimal
    high: Decimal
    unit: str
    decimals: int

    @property
    def low_text(self) -> str:
        return format(self.low, "f")

    @property
    def high_text(self) -> str:
        return format(self.high, "f")


@cache
def plausible_ranges() -> dict[str, RangeSpec]:
    out = {}
    for name, (low, high, unit, decimals) in constants()["plausible"].items():
        out[name] = RangeSpec(Decimal(low), Decimal(high), unit, int(decimals))
    return out
