"""Improbable values: inside the hard range, but unlikely for this pupil.

The hard ranges of the parser (``tables.plausible_ranges``) refuse what no child can
measure (a height of 300 cm). A height of 104 cm is possible for a child, but at 9 years
it is far more often a typing slip (140 → 104) than a child 7 SD below the median; saved
silently, the slip becomes a "stunting" flag and a letter home. These rules name such
values so the grid can ask "are you sure?" before saving; a confirmed value is saved
and flagged like any other.

Pure functions, no Flask and no database: the caller passes the pupil's sex, age in
months and, for the year-on-year check, the previous height.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .bmi import wst456_row_age
from .tables import stunting_rows
from .types import Sex

# Height for age. The WS/T 456-2014 stunting line lies about 2 SD below the median, and
# the SD of school-age height is about 5 cm (4.5–7 cm from 6 to 17 years), so
#   line - 10 cm  ≈ median - 4 SD   (|z| > 4 below)
#   line + 40 cm  ≈ median + 4..5 SD (|z| > 4 above; generous, tall teenagers are real).
# The table covers 6.0 to < 18.0 years; outside it only the hard range applies.
HEIGHT_BELOW_STUNTING_LINE_CM = Decimal("10")
HEIGHT_ABOVE_STUNTING_LINE_CM = Decimal("40")
# BMI (kg/m²) outside these is almost always a height or weight typed wrong.
BMI_MIN = Decimal("9")
BMI_MAX = Decimal("60")
# Children do not shrink: more than this below an earlier height is a slip (measurement
# error of a stadiometer is well under 1 cm).
HEIGHT_DROP_CM = Decimal("2")


@dataclass(frozen=True)
class Question:
    """One improbable value: ``key`` and ``params`` let the caller word it (translated);
    ``message`` is the English fallback."""

    field: str
    key: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)


def height_for_age_bounds(sex: Sex, age_months: int) -> tuple[Decimal, Decimal] | None:
    """(lowest, highest) plausible height in cm at this age, or None outside 6–<18 years."""
    row_age = wst456_row_age(age_months)
    if row_age is None:
        return None
    for row in stunting_rows():
        if row.sex == sex.value and row.age_years == row_age:
            return (
                row.height_max_cm - HEIGHT_BELOW_STUNTING_LINE_CM,
                row.height_max_cm + HEIGHT_ABOVE_STUNTING_LINE_CM,
            )
    return None


def question_height_for_age(sex: Sex, age_months: int, height_cm: Decimal) -> Question | None:
    """A height more than about 4 SD from the median of the pupil's age and sex."""
    bounds = height_for_age_bounds(sex, age_months)
    if bounds is None:
        return None
    low, high = bounds
    if low <= height_cm <= high:
        return None
    years, months = divmod(age_months, 12)
    return Question(
        "height_cm",
        "height_for_age",
        f"height {height_cm} cm is outside {low}–{high} cm, the plausible range at "
        f"{years} y {months} m",
        {"value": height_cm, "min": low, "max": high, "years": years, "months": months},
    )


def bmi_value(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """BMI in kg/m², one decimal (for the question's wording only)."""
    metres = height_cm / Decimal(100)
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"))


def question_bmi(height_cm: Decimal | None, weight_kg: Decimal | None) -> Question | None:
    """A BMI below 9 or above 60: the height or the weight is almost surely mistyped."""
    if height_cm is None or weight_kg is None or height_cm <= 0:
        return None
    bmi = bmi_value(height_cm, weight_kg)
    if BMI_MIN <= bmi <= BMI_MAX:
        return None
    return Question(
        "weight_kg",
        "bmi_extreme",
        f"BMI {bmi} is outside {BMI_MIN}–{BMI_MAX}",
        {"bmi": bmi, "min": BMI_MIN, "max": BMI_MAX},
    )


def question_height_drop(
    height_cm: Decimal, previous_cm: Decimal | None, previous_date: Any = None
) -> Question | None:
    """A height more than 2 cm below the pupil's earlier measured height."""
    if previous_cm is None or height_cm >= previous_cm - HEIGHT_DROP_CM:
        return None
    return Question(
        "height_cm",
        "height_dropped",
        f"height {height_cm} cm is {previous_cm - height_cm} cm below the earlier {previous_cm} cm",
        {
            "value": height_cm,
            "previous": previous_cm,
            "drop": previous_cm - height_cm,
            "previous_date": previous_date,
        },
    )


def questions(
    sex: Sex,
    age_months: int | None,
    height_cm: Decimal | None,
    weight_kg: Decimal | None,
    *,
    previous_height_cm: Decimal | None = None,
    previous_date: Any = None,
) -> list[Question]:
    """Every question the growth values raise (empty: nothing improbable)."""
    found: list[Question] = []
    if height_cm is not None:
        if age_months is not None:
            q = question_height_for_age(sex, age_months, height_cm)
            if q:
                found.append(q)
        q = question_height_drop(height_cm, previous_height_cm, previous_date)
        if q:
            found.append(q)
    q = question_bmi(height_cm, weight_kg)
    if q:
        found.append(q)
    return found
