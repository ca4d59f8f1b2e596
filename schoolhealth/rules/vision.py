"""Vision: reduced uncorrected vision grades and screening myopia, per eye.

* Notation: 5-point logarithmic values (GB/T 11533-2011, L = 5 + lg V). Decimal values
  are converted only through the chart's printed equivalents (README §3.1): the formula
  would give 5.1 -> 1.3 and 5.2 -> 1.6 where the chart prints 1.2 and 1.5.
* 视力不良 (README §3.2, VERIFIED): age >= 6, UCVA >= 5.0 normal, 4.9 mild, 4.6-4.8
  moderate, <= 4.5 severe (``vision_grades_6plus.csv``). Under 6: not applicable (the
  under-6 thresholds are single-source, UNVERIFIED).
* 筛查性近视 (README §3.3): age >= 6, UCVA < 5.0 and non-cycloplegic SE <= -0.50 D (the
  operator is UNVERIFIED and configurable; B8, B9). SE = sphere + cylinder/2 when not
  given. UCVA < 5.0 without SE -> "unknown".
* Orthokeratology lenses reshape the cornea overnight, so a wearer's uncorrected acuity
  and refraction say nothing about the eye (README §8 item 4): "not evaluable".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from .errors import InvalidMeasurement
from .tables import constants, notation_rows, vision_grade_rows
from .types import NOT_APPLICABLE, NOT_EVALUABLE, Finding, ScreeningType

NOTATION_STANDARD = "GB/T 11533-2011"
GUIDELINE = "NHC 2019 儿童青少年近视防控适宜技术指南"
REDUCED_VISION_CLAUSE = (
    "名词术语 4 (视力不良): age >= 6, UCVA 4.9 mild, 4.6-4.8 moderate, <= 4.5 severe"
)

_V = constants()["vision"]
VISION_MIN_MONTHS = int(_V["min_age_years"]) * 12
MYOPIA_UCVA_BELOW = Decimal(_V["myopia_ucva_below"])  # UCVA < 5.0 (strict)
SE_TOLERANCE_DIOPTRES = Decimal(_V["se_tolerance_dioptres"])
DECADE_SHIFT_BELOW = Decimal(_V["decade_shift_below_decimal"])

# The canonical field is the 5-point value with one decimal (README §3.1).
FIVE_POINT_MIN, FIVE_POINT_MAX = Decimal("3.0"), Decimal("5.3")
DECIMAL_MIN, DECIMAL_MAX = Decimal("0.01"), Decimal("2.0")

VISION_SEVERITY = {"normal": 0, "mild": 1, "moderate": 2, "severe": 3}
MYOPIA_SEVERITY = {"no": 0, "unknown": 1, "yes": 2}
VISION_ADVICE = {
    "normal": "vision.normal",
    "mild": "vision.reduced_mild",
    "moderate": "vision.reduced_moderate",
    "severe": "vision.reduced_severe",
}
MYOPIA_ADVICE = {
    "no": "vision.no_myopia",
    "yes": "vision.screening_myopia",
    "unknown": "vision.myopia_unknown",
}


@cache
def _decimal_to_five_point() -> dict[Decimal, Decimal]:
    table: dict[Decimal, Decimal] = {}
    for row in notation_rows():
        table[row.decimal.normalize()] = row.five_point
        # One decade lower: V/10 <-> L - 1 (L = 5 + lg V). Derived, UNVERIFIED as printed.
        if row.decimal < DECADE_SHIFT_BELOW * 10:
            table[(row.decimal / 10).normalize()] = row.five_point - 1
    return table


def chart_decimal_values() -> list[Decimal]:
    """Decimal-notation values that convert (GB/T 11533 rows, plus the rows a decade down)."""
    return sorted(_decimal_to_five_point())


def decimal_to_five_point(value: Decimal, field: str = "visual_acuity") -> Decimal:
    """Decimal acuity -> 5-point, only via the chart table (never round(10 ** (L - 5)))."""
    five = _decimal_to_five_point().get(value.normalize())
    if five is None:
        shown = ", ".join(format(v, "f") for v in chart_decimal_values())
        raise InvalidMeasurement(
            field,
            value,
            f"a GB/T 11533 chart value ({shown})",
            f"{field}: {format(value, 'f')} is not a decimal value of the GB/T 11533 chart; "
            f"use one of {shown}, or enter the 5-point value (3.0-5.3)",
            key="not_a_chart_value",
            params={"values": shown},
        )
    return five


def five_point_to_decimal(value: Decimal) -> Decimal | None:
    """5-point -> printed decimal equivalent (None if the value is not a chart row)."""
    for decimal_value, five in _decimal_to_five_point().items():
        if five == value:
            return decimal_value
    return None


@dataclass(frozen=True)
class VisionRules:
    """Compiled vision rules: grade per UCVA tenth, SE cut in thousandths of a dioptre."""

    grades: tuple[str, ...]  # index = UCVA * 10 (30..53)
    se_cut_milli: int  # myopia if se_milli < se_cut_milli
    se_dioptres: Decimal
    se_operator: str
    ucva_below_tenths: int


@cache
def compile_vision(se_dioptres: Decimal, se_operator: str) -> VisionRules:
    grades = ["" for _ in range(int(FIVE_POINT_MAX * 10) + 1)]
    for t in range(int(FIVE_POINT_MIN * 10), len(grades)):
        value = Decimal(t).scaleb(-1)
        matches = [
            row.grade
            for row in vision_grade_rows()
            if (row.ucva_min is None or value >= row.ucva_min)
            and (row.ucva_max is None or value <= row.ucva_max)
        ]
        if len(matches) != 1:
            raise ValueError(f"vision_grades_6plus.csv does not grade {value} exactly once")
        grades[t] = matches[0]
    milli = int(se_dioptres * 1000)
    cut = milli + 1 if se_operator == "<=" else milli
    return VisionRules(tuple(grades), cut, se_dioptres, se_operator, int(MYOPIA_UCVA_BELOW * 10))


def classify_eye(
    rules: VisionRules, months: int, ucva_t: int | None, se_milli: int | None, ortho_k: bool
) -> tuple[str | None, str | None]:
    """Hot path for one eye: (vision grade, screening myopia) from integer inputs.

    ``ucva_t`` = UCVA x 10; ``se_milli`` = SE in thousandths of a dioptre.
    """
    if ucva_t is None:
        return (None, None)
    if months < VISION_MIN_MONTHS:
        return (NOT_APPLICABLE, NOT_APPLICABLE)
    if ortho_k:
        return (NOT_EVALUABLE, NOT_EVALUABLE)
    grade = rules.grades[ucva_t]
    if ucva_t >= rules.ucva_below_tenths:
        return (grade, "no")
    if se_milli is None:
        return (grade, "unknown")
    return (grade, "yes" if se_milli < rules.se_cut_milli else "no")


def vision_findings(
    eye: str,
    codes: tuple[str | None, str | None],
    ucva: Decimal | None,
    se: Decimal | None,
    rules: VisionRules,
    refer_policy: dict[str, frozenset[str]],
) -> list[Finding]:
    """Findings for one eye ("right"/"left") from :func:`classify_eye`'s codes."""
    grade, myopia = codes
    out: list[Finding] = []
    detail: dict[str, Any] = {"eye": eye, "ucva": ucva}
    if ucva is not None:
        detail["ucva_decimal"] = five_point_to_decimal(ucva)
    v = ScreeningType.VISION
    if grade in (NOT_APPLICABLE, NOT_EVALUABLE):
        if grade == NOT_APPLICABLE:
            clause, advice = (
                "applies from age 6 (under-6 thresholds UNVERIFIED)",
                "vision.not_applicable_under_6",
            )
        else:
            clause, advice = (
                ("orthokeratology wearer: uncorrected acuity and refraction are not evaluable"),
                "vision.ortho_k_not_evaluable",
            )
        out.append(Finding(v, f"vision_{eye}", grade, 0, False, GUIDELINE, clause, advice, detail))
        out.append(
            Finding(
                v, f"myopia_{eye}", grade, 0, False, GUIDELINE, clause, advice, {**detail, "se": se}
            )
        )
        return out
    if grade is not None:
        out.append(
            Finding(
                v,
                f"vision_{eye}",
                grade,
                VISION_SEVERITY[grade],
                grade in refer_policy["vision"],
                GUIDELINE,
                REDUCED_VISION_CLAUSE,
                VISION_ADVICE[grade],
                detail,
            )
        )
    if myopia is not None:
        clause = (
            f"名词术语 6 (筛查性近视): age >= 6, UCVA < {MYOPIA_UCVA_BELOW} and "
            f"non-cycloplegic SE {rules.se_operator} {rules.se_dioptres} D"
        )
        if myopia == "unknown":
            clause += "; SE not measured"
        out.append(
            Finding(
                v,
                f"myopia_{eye}",
                myopia,
                MYOPIA_SEVERITY[myopia],
                myopia in refer_policy["myopia"],
                GUIDELINE,
                clause,
                MYOPIA_ADVICE[myopia],
                {**detail, "se": se},
            )
        )
    return out


def spherical_equivalent(sph: Decimal | None, cyl: Decimal | None) -> Decimal | None:
    """SE = sphere + cylinder / 2 (WS/T 663-2020 def. 3.5, README §3.3); None if one is missing."""
    if sph is None or cyl is None:
        return None
    return sph + cyl / 2
