"""Improbable values are named at their boundaries (schoolhealth.rules.plausibility)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from schoolhealth.rules import Sex
from schoolhealth.rules import plausibility as p

NINE_YEARS = 9 * 12  # WS/T 456 row 9.0~, boys' stunting line 120.6 cm


def test_height_bounds_come_from_the_stunting_line_of_the_age_row() -> None:
    assert p.height_for_age_bounds(Sex.MALE, NINE_YEARS) == (D("110.6"), D("160.6"))
    assert p.height_for_age_bounds(Sex.MALE, NINE_YEARS + 5) == (D("110.6"), D("160.6"))


@pytest.mark.parametrize("months", [6 * 12 - 1, 18 * 12])
def test_no_height_bounds_outside_the_table(months: int) -> None:
    assert p.height_for_age_bounds(Sex.FEMALE, months) is None
    assert p.question_height_for_age(Sex.FEMALE, months, D("60.0")) is None


@pytest.mark.parametrize(
    ("height", "asked"),
    [
        ("104.0", True),  # the example: 140 typed as 104 at 9 years
        ("110.5", True),
        ("110.6", False),
        ("135.0", False),
        ("160.6", False),
        ("160.7", True),
    ],
)
def test_height_for_age_boundaries(height: str, asked: bool) -> None:
    question = p.question_height_for_age(Sex.MALE, NINE_YEARS, D(height))
    assert (question is not None) is asked
    if question:
        assert question.key == "height_for_age"
        assert question.params["min"] == D("110.6")
        assert question.params["years"] == 9


@pytest.mark.parametrize(
    ("height", "weight", "asked"),
    [
        ("130.0", "28.0", False),
        ("100.0", "9.0", False),  # BMI 9.0 exactly
        ("100.0", "8.9", True),  # 8.9
        ("100.0", "60.0", False),  # 60.0
        ("100.0", "60.1", True),
        ("130.0", "148.7", True),  # BMI 88, the example
    ],
)
def test_bmi_boundaries(height: str, weight: str, asked: bool) -> None:
    question = p.question_bmi(D(height), D(weight))
    assert (question is not None) is asked
    if question:
        assert question.key == "bmi_extreme"


def test_bmi_needs_both_values() -> None:
    assert p.question_bmi(None, D("80")) is None
    assert p.question_bmi(D("120"), None) is None


@pytest.mark.parametrize(
    ("height", "asked"), [("138.0", False), ("136.0", False), ("135.9", True), ("133.0", True)]
)
def test_height_drop_of_more_than_two_cm(height: str, asked: bool) -> None:
    question = p.question_height_drop(D(height), D("138.0"))
    assert (question is not None) is asked
    if question:
        assert question.params["drop"] == D("138.0") - D(height)


def test_no_earlier_height_no_drop_question() -> None:
    assert p.question_height_drop(D("100.0"), None) is None


def test_questions_collects_every_reason() -> None:
    found = p.questions(Sex.MALE, NINE_YEARS, D("104.0"), D("95.0"), previous_height_cm=D("138.0"))
    assert [q.key for q in found] == ["height_for_age", "height_dropped", "bmi_extreme"]
    assert p.questions(Sex.MALE, NINE_YEARS, D("135.0"), D("30.0")) == []
