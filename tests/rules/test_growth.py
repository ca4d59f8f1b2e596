"""Growth: every row of WS/T 586-2018 and WS/T 456-2014, both sexes, at every cutoff.

Each test probes just below, at and just above a cutoff, on the first day of the band,
the day before it (previous band) and the band's last day, and compares with the
oracle in helpers.py, which reads the reference CSV files in tests/reference/. An
off-by-one in the age band or a < / <= mistake changes at least one of these answers
wherever adjacent rows differ.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from schoolhealth.rules import Measurements, ScreeningType, Sex, evaluate
from schoolhealth.rules.bmi import bmi_reference_cutoffs, stunting_cutoffs

from .helpers import (
    BIRTH,
    D01,
    HUNDRED,
    at_months,
    day_before,
    oracle_bmi,
    oracle_months,
    oracle_stunting,
    oracle_thinness,
    oracle_weight_status,
    shared_rows,
)


def columns(sex: str, on: date, height: Decimal, weight: Decimal, birth: date = BIRTH):
    ev = evaluate(Sex(sex), birth, on, Measurements(height_cm=height, weight_kg=weight))
    return ev.to_evaluation_columns()


def probe_dates(age_years: Decimal) -> list[date]:
    start = at_months(int(age_years * 12))
    return [start, day_before(start), day_before(at_months(int(age_years * 12) + 6))]


def wst586_ids(row):
    return f"{row['sex']}-{row['age_years']}"


@pytest.mark.parametrize("row", shared_rows("wst586_bmi_cutoffs.csv"), ids=wst586_ids)
def test_wst586_row_cutoffs_are_inclusive_lower_bounds(row):
    sex = row["sex"]
    age = Decimal(row["age_years"])
    checked = 0
    for cutoff in (Decimal(row["overweight_bmi"]), Decimal(row["obesity_bmi"])):
        for bmi in (cutoff - D01, cutoff, cutoff + D01):
            for on in probe_dates(age):
                months = oracle_months(BIRTH, on)
                got = columns(sex, on, HUNDRED, bmi)
                assert got["bmi"] == str(bmi)
                expected = oracle_weight_status(sex, months, bmi)
                assert got["weight_status"] == (expected or ""), (sex, on, bmi)
                checked += 1
    assert checked == 18
    # at the band's first day: the row itself decides, both boundaries inclusive
    on = at_months(int(age * 12))
    assert columns(sex, on, HUNDRED, Decimal(row["overweight_bmi"]))["weight_status"] == (
        "overweight"
    )
    assert columns(sex, on, HUNDRED, Decimal(row["obesity_bmi"]))["weight_status"] == "obese"
    below = Decimal(row["overweight_bmi"]) - D01
    assert columns(sex, on, HUNDRED, below)["weight_status"] == "normal"


@pytest.mark.parametrize("row", shared_rows("wst456_thinness_bmi_cutoffs.csv"), ids=wst586_ids)
def test_wst456_thinness_row_edges(row):
    sex = row["sex"]
    age = Decimal(row["age_years"])
    severe = Decimal(row["moderate_severe_thinness_bmi_max"])
    mild_max = Decimal(row["mild_thinness_bmi_max"])
    for bmi in (severe - D01, severe, severe + D01, mild_max - D01, mild_max, mild_max + D01):
        for on in probe_dates(age):
            months = oracle_months(BIRTH, on)
            got = columns(sex, on, HUNDRED, bmi)
            assert got["thinness"] == (oracle_thinness(sex, months, bmi) or ""), (sex, on, bmi)
    on = at_months(int(age * 12))
    assert columns(sex, on, HUNDRED, severe)["thinness"] == "moderate_severe"
    assert columns(sex, on, HUNDRED, severe + D01)["thinness"] == "mild"
    assert columns(sex, on, HUNDRED, mild_max)["thinness"] == "mild"
    assert columns(sex, on, HUNDRED, mild_max + D01)["thinness"] == "none"


@pytest.mark.parametrize("row", shared_rows("wst456_stunting_height_cutoffs.csv"), ids=wst586_ids)
def test_wst456_stunting_row_edges(row):
    sex = row["sex"]
    age = Decimal(row["age_years"])
    cutoff = Decimal(row["stunting_height_cm_max"])
    for height in (cutoff - D01, cutoff, cutoff + D01):
        for on in probe_dates(age):
            months = oracle_months(BIRTH, on)
            got = columns(sex, on, height, Decimal("30.0"))
            assert got["stunting"] == (oracle_stunting(sex, months, height) or ""), (on, height)
    on = at_months(int(age * 12))
    assert columns(sex, on, cutoff, Decimal("30.0"))["stunting"] == "yes"
    assert columns(sex, on, cutoff + D01, Decimal("30.0"))["stunting"] == "no"


# ---------------------------------------------------------------- README §8.1 vectors


def band_date(age: str) -> date:
    return at_months(int(Decimal(age) * 12))


@pytest.mark.parametrize(
    ("bmi", "expected"),
    [("19.1", "normal"), ("19.2", "overweight"), ("21.8", "overweight"), ("21.9", "obese")],
)
def test_b1_boy_10_0_inclusive_cutoffs(bmi, expected):
    assert columns("M", band_date("10.0"), HUNDRED, Decimal(bmi))["weight_status"] == expected


@pytest.mark.parametrize(
    ("bmi", "expected"), [("22.1", "normal"), ("22.2", "overweight"), ("25.0", "obese")]
)
def test_b2_girl_13_0_not_the_sql_copy_error(bmi, expected):
    assert columns("F", band_date("13.0"), HUNDRED, Decimal(bmi))["weight_status"] == expected


@pytest.mark.parametrize(
    ("bmi", "expected"),
    [("14.9", "moderate_severe"), ("15.0", "mild"), ("15.6", "mild"), ("15.7", "none")],
)
def test_b3_girl_13_5_thinness_disputed_cell(bmi, expected):
    assert columns("F", band_date("13.5"), HUNDRED, Decimal(bmi))["thinness"] == expected


@pytest.mark.parametrize(
    ("bmi", "expected"),
    [("13.2", "moderate_severe"), ("13.3", "mild"), ("13.4", "mild"), ("13.5", "none")],
)
def test_b4_boy_6_0_thinness_band_edges(bmi, expected):
    assert columns("M", band_date("6.0"), HUNDRED, Decimal(bmi))["thinness"] == expected


@pytest.mark.parametrize(("height", "expected"), [("149.6", "yes"), ("149.7", "no")])
def test_b5_boy_15_0_stunting_is_less_or_equal(height, expected):
    got = columns("M", band_date("15.0"), Decimal(height), Decimal("40.0"))
    assert got["stunting"] == expected


def test_b6_band_floor_changes_the_cutoff_row():
    birth = date(2015, 3, 10)
    # boys 9.5~ overweight 18.9, 10.0~ 19.2: BMI 19.0 flips with the birthday
    day_before = columns("M", date(2025, 3, 9), HUNDRED, Decimal("19.0"), birth)
    birthday = columns("M", date(2025, 3, 10), HUNDRED, Decimal("19.0"), birth)
    assert (day_before["age_band"], day_before["weight_status"]) == ("9.5", "overweight")
    assert (birthday["age_band"], birthday["weight_status"]) == ("10.0", "normal")


def test_b7_bmi_rounded_once_to_one_decimal():
    got = columns("M", band_date("7.0"), Decimal("140"), Decimal("33.22"))
    assert got["bmi"] == "16.9"  # 16.949..., not 16.95 -> 17.0
    assert got["weight_status"] == "normal"


def test_bmi_tie_rounds_half_up_not_half_even():
    # 200 cm: BMI = weight / 4 exactly. Boys 17.0~: moderate/severe thinness <= 16.6.
    on = band_date("17.0")
    tie = columns("M", on, Decimal("200.0"), Decimal("66.6"))  # 16.65 exactly
    assert tie["bmi"] == "16.7"
    assert tie["thinness"] == "mild"
    assert columns("M", on, Decimal("200.0"), Decimal("65.8"))["bmi"] == "16.5"  # 16.45


@pytest.mark.parametrize(
    ("height", "weight"),
    [
        ("140.0", "33.22"),
        ("123.4", "25.6"),
        ("187.3", "99.99"),
        ("80.0", "10.0"),
        ("220.0", "200.0"),
        ("151.1", "45.55"),
        ("99.9", "12.34"),
    ],
)
def test_bmi_matches_decimal_half_up(height, weight):
    h, w = Decimal(height), Decimal(weight)
    got = columns("F", band_date("12.0"), h, w)
    assert got["bmi"] == str(oracle_bmi(h, w))


# ---------------------------------------------------------------- ages outside 6-18


def test_under_six_is_not_applicable_never_normal():
    ev = evaluate(
        Sex.MALE,
        BIRTH,
        day_before(at_months(72)),
        Measurements(height_cm=Decimal("110.0"), weight_kg=Decimal("30.0")),
    )
    cols = ev.to_evaluation_columns()
    assert cols["bmi"] == "24.8"
    assert cols["weight_status"] == cols["thinness"] == cols["stunting"] == ""
    assert "not applicable" in cols["errors"]
    assert all(not f.is_classified for f in ev.findings)
    assert all(f.standard for f in ev.findings)


def test_18_0_row_applies_until_19_then_ws_t_428_adult_cutoffs():
    for months, standard in (
        (216, "WS/T 586-2018"),
        (227, "WS/T 586-2018"),
        (228, "WS/T 428-2013"),
        (290, "WS/T 428-2013"),
    ):
        on = at_months(months, date(2000, 1, 15))
        ev = evaluate(
            Sex.FEMALE,
            date(2000, 1, 15),
            on,
            Measurements(height_cm=HUNDRED, weight_kg=Decimal("24.0")),
        )
        f = ev.finding("weight_status")
        assert (f.category, f.standard) == ("overweight", standard)
        ev = evaluate(
            Sex.FEMALE,
            date(2000, 1, 15),
            on,
            Measurements(height_cm=HUNDRED, weight_kg=Decimal("23.9")),
        )
        assert ev.finding("weight_status").category == "normal"
        cols = ev.to_evaluation_columns()
        assert cols["thinness"] == "none"  # WS/T 428: 23.9 >= 18.5
        assert cols["stunting"] == ""  # WS/T 456 ends at 18.0, no adult stunting standard


@pytest.mark.parametrize("sex", [Sex.MALE, Sex.FEMALE])
@pytest.mark.parametrize("months", [216, 227, 228, 290])
def test_from_18_ws_t_428_underweight_is_bmi_below_18_5_one_grade(sex, months):
    """WS/T 428-2013: underweight if BMI < 18.5 (rounded to 0.1), reported as "mild"."""
    on = at_months(months, date(2000, 1, 15))
    for weight, category in (
        ("18.4", "mild"),
        ("18.44", "mild"),
        ("18.45", "none"),
        ("18.5", "none"),
        ("10.0", "mild"),
    ):
        ev = evaluate(
            sex, date(2000, 1, 15), on, Measurements(height_cm=HUNDRED, weight_kg=Decimal(weight))
        )
        f = ev.finding("thinness")
        assert (f.category, f.standard) == (category, "WS/T 428-2013"), weight
        assert f.refer is False  # mild thinness is advice, not a referral
        assert ev.to_evaluation_columns()["thinness"] == category


def test_the_day_before_18_still_uses_the_17_5_thinness_row():
    on = day_before(at_months(216, date(2000, 1, 15)))
    ev = evaluate(
        Sex.MALE, date(2000, 1, 15), on, Measurements(height_cm=HUNDRED, weight_kg=Decimal("18.0"))
    )
    assert ev.finding("thinness").standard == "WS/T 456-2014"


def test_thinness_and_stunting_use_17_5_row_until_18():
    on = day_before(at_months(216))
    got = columns("M", on, Decimal("157.1"), Decimal("41.9"))  # BMI 16.97.. -> 17.0
    assert got["stunting"] == "yes"
    assert got["thinness"] == "mild"  # boys 17.5~: 16.8 < BMI <= 17.9


def test_adult_bmi_can_be_switched_off():
    from schoolhealth.rules import RuleConfig

    ev = evaluate(
        Sex.MALE,
        date(2000, 1, 15),
        at_months(240, date(2000, 1, 15)),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("30.0")),
        RuleConfig(adult_bmi=False),
    )
    assert ev.to_evaluation_columns()["weight_status"] == ""
    assert ev.to_evaluation_columns()["thinness"] == ""
    assert ev.finding("weight_status").category == "not_applicable"
    assert ev.finding("thinness").category == "not_applicable"


def test_weight_without_height_is_not_evaluable_and_height_alone_gives_stunting():
    ev = evaluate(Sex.MALE, BIRTH, band_date("10.0"), Measurements(weight_kg=Decimal("30.0")))
    cols = ev.to_evaluation_columns()
    assert cols["weight_status"] == cols["bmi"] == cols["stunting"] == ""
    assert "height_cm" in cols["errors"]
    ev = evaluate(Sex.MALE, BIRTH, band_date("10.0"), Measurements(height_cm=Decimal("125.2")))
    cols = ev.to_evaluation_columns()
    assert (cols["stunting"], cols["weight_status"], cols["bmi"]) == ("yes", "", "")


def test_growth_findings_carry_standard_clause_detail_and_referral():
    ev = evaluate(
        Sex.MALE,
        BIRTH,
        band_date("10.0"),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("21.9")),
    )
    f = ev.finding("weight_status")
    assert f.screening_type is ScreeningType.GROWTH
    assert (f.category, f.severity, f.refer, f.standard) == ("obese", 2, True, "WS/T 586-2018")
    assert "10.0~" in f.clause
    assert ">= 21.9" in f.clause
    assert f.detail["bmi"] == Decimal("21.9")
    assert f.detail["obesity_cutoff"] == Decimal("21.9")
    assert f.advice_key == "growth.obese"
    assert ev.refer == (ScreeningType.GROWTH,)
    overweight = evaluate(
        Sex.MALE,
        BIRTH,
        band_date("10.0"),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("19.2")),
    )
    assert overweight.finding("weight_status").refer is False  # advice, not referral


# ---------------------------------------------------------------- chart helpers


@pytest.mark.parametrize("sex", [Sex.MALE, Sex.FEMALE])
def test_reference_cutoffs_for_charts_come_from_the_tables(sex):
    lines = bmi_reference_cutoffs(sex, "wst586")
    assert len(lines) == 25
    first_age, first = lines[0]
    row = next(
        r
        for r in shared_rows("wst586_bmi_cutoffs.csv")
        if r["sex"] == sex.value and r["age_years"] == "6.0"
    )
    assert first_age == Decimal("6.0")
    assert first["overweight"] == Decimal(row["overweight_bmi"])
    assert "mild" not in lines[-1][1]  # 18.0~: no WS/T 456 row
    assert len(stunting_cutoffs(sex)) == 24
    who = bmi_reference_cutoffs(sex, "who2007")
    assert len(who) == 168
    assert who[0][0] == Decimal("5.0833")
    cdc = bmi_reference_cutoffs(sex, "cdc2000")
    assert len(cdc) == 217
    assert cdc[0][0] == Decimal("2.0000")


@pytest.mark.parametrize(
    ("reference", "weight_standard", "thinness_standard"),
    [
        ("wst586", "WS/T 586-2018", "WS/T 456-2014"),
        ("who2007", "WHO Growth Reference 2007", "WHO Growth Reference 2007"),
        ("cdc2000", "CDC 2000 Growth Charts", "CDC 2000 Growth Charts"),
    ],
)
def test_weight_without_height_names_the_chosen_reference(
    reference, weight_standard, thinness_standard
):
    from schoolhealth.rules import RuleConfig

    ev = evaluate(
        Sex.FEMALE,
        BIRTH,
        band_date("10.0"),
        Measurements(weight_kg=Decimal("30.0")),
        RuleConfig(growth_reference=reference),
    )
    assert ev.finding("weight_status").standard == weight_standard
    assert ev.finding("thinness").standard == thinness_standard
    assert weight_standard in ev.to_evaluation_columns()["errors"]


@pytest.mark.parametrize(
    ("height", "weight"),
    [
        ("140.0", "33.22"),
        ("200.0", "66.6"),
        ("200.0", "65.8"),
        ("80.0", "10.0"),
        ("220.0", "200.0"),
        ("99.9", "12.34"),
        ("151.1", "45.55"),
    ],
)
def test_bmi_tenths_helper_is_the_half_up_bmi(height, weight):
    from schoolhealth.rules.bmi import bmi_tenths

    h, w = Decimal(height), Decimal(weight)
    got = bmi_tenths(int(h * 100), int(w * 100))
    assert Decimal(got).scaleb(-1) == oracle_bmi(h, w)
