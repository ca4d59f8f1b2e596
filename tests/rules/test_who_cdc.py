"""WHO 2007 and CDC 2000 BMI-for-age, with rcpchgrowth (AGPL, tests only) as the oracle."""

from __future__ import annotations

import json
import math
import warnings
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolhealth.rules import Measurements, RuleConfig, Sex, evaluate
from schoolhealth.rules.bmi import lms_value, who_z

from .helpers import BIRTH, HUNDRED, at_months, cdc_rows, day_before, who_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from rcpchgrowth.constants import BMI, WHO
    from rcpchgrowth.global_functions import measurement_from_sds, sds_for_measurement

WHO_CONFIG = RuleConfig(growth_reference="who2007")
CDC_CONFIG = RuleConfig(growth_reference="cdc2000")
RCPCH_SEX = {"M": "male", "F": "female"}
CENT = Decimal("0.01")


def rcpch_table(path: str) -> dict:
    text = resources.files("rcpchgrowth").joinpath(path).read_text(encoding="utf-8")
    return json.loads(text)["measurement"]["bmi"]


def classify(sex: str, months: int, bmi: Decimal, config: RuleConfig, on: date | None = None):
    on = on or at_months(months)
    ev = evaluate(Sex(sex), BIRTH, on, Measurements(height_cm=HUNDRED, weight_kg=bmi), config)
    return ev


def outward(cutoff: Decimal) -> tuple[Decimal, Decimal]:
    """A BMI (2 decimals) clearly below and clearly above a 4-decimal cutoff."""
    below = (cutoff - Decimal("0.001")).quantize(CENT, rounding=ROUND_FLOOR)
    above = (cutoff + Decimal("0.001")).quantize(CENT, rounding=ROUND_CEILING)
    return below, above


def test_b11_boy_120_months_strict_plus_one_sd():
    assert (
        classify("M", 120, Decimal("18.47"), WHO_CONFIG).finding("weight_status").category
        == "normal"
    )
    ev = classify("M", 120, Decimal("18.48"), WHO_CONFIG)
    f = ev.finding("weight_status")
    assert f.category == "overweight"
    assert f.standard == "WHO Growth Reference 2007"
    assert f.detail["z"] > 1
    assert f.detail["overweight_cutoff"] == Decimal("18.4798")
    assert ev.to_evaluation_columns()["bmi"] == "18.5"  # shown rounded, z from 18.48


@pytest.mark.parametrize("sex", ["M", "F"])
def test_who_lms_rows_equal_rcpchgrowth_copy(sex):
    theirs = {
        round(r["decimal_age"] * 12): r
        for r in rcpch_table("data_tables/who/who_2007_children.json")[RCPCH_SEX[sex]]
    }
    for months, row in who_rows(sex).items():
        r = theirs[months]
        assert (float(row["L"]), float(row["M"]), float(row["S"])) == (r["L"], r["M"], r["S"])


@pytest.mark.parametrize("sex", ["M", "F"])
def test_who_every_row_cutoffs_strict(sex):
    """All 168 months (61-228): BMI just below / above +1, +2, -2, -3 SD."""
    for months, row in who_rows(sex).items():
        plus1, plus2 = Decimal(row["bmi_plus1sd_overweight"]), Decimal(row["bmi_plus2sd_obesity"])
        minus2, minus3 = Decimal(row["bmi_minus2sd_thinness"]), Decimal(row["bmi_minus3sd"])
        for cutoff, low_ws, high_ws in (
            (plus1, "normal", "overweight"),
            (plus2, "overweight", "obese"),
        ):
            below, above = outward(cutoff)
            assert (
                classify(sex, months, below, WHO_CONFIG).finding("weight_status").category == low_ws
            ), (months, below)
            assert (
                classify(sex, months, above, WHO_CONFIG).finding("weight_status").category
                == high_ws
            ), (months, above)
        for cutoff, low_th, high_th in (
            (minus3, "moderate_severe", "mild"),
            (minus2, "mild", "none"),
        ):
            below, above = outward(cutoff)
            if below < Decimal("10.0"):
                continue  # below the plausible weight range at height 100 cm
            assert (
                classify(sex, months, below, WHO_CONFIG).finding("thinness").category == low_th
            ), (months, below)
            assert (
                classify(sex, months, above, WHO_CONFIG).finding("thinness").category == high_th
            ), (months, above)


@pytest.mark.parametrize("sex", ["M", "F"])
def test_who_uses_completed_month_row(sex):
    """Day before a month anniversary uses the previous month's row."""
    rows = who_rows(sex)
    for months in range(73, 229):
        prev, cur = (
            Decimal(rows[months - 1]["bmi_plus1sd_overweight"]),
            Decimal(rows[months]["bmi_plus1sd_overweight"]),
        )
        if abs(prev - cur) < Decimal("0.003"):
            continue
        bmi = ((prev + cur) / 2).quantize(CENT)
        expect_prev = "overweight" if bmi > prev else "normal"
        expect_cur = "overweight" if bmi > cur else "normal"
        on = at_months(months)
        assert (
            classify(sex, months, bmi, WHO_CONFIG, on).finding("weight_status").category
            == expect_cur
        )
        assert (
            classify(sex, months, bmi, WHO_CONFIG, day_before(on)).finding("weight_status").category
            == expect_prev
        )


def test_who_outside_61_to_228_months_is_not_applicable():
    birth = date(2000, 1, 15)
    ev = evaluate(
        Sex.MALE,
        birth,
        at_months(229, birth),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("30.0")),
        WHO_CONFIG,
    )
    assert ev.finding("weight_status").category == "not_applicable"
    assert ev.to_evaluation_columns()["weight_status"] == ""
    ev = evaluate(
        Sex.MALE,
        birth,
        at_months(228, birth),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("30.0")),
        WHO_CONFIG,
    )
    assert ev.finding("weight_status").category == "obese"
    young = date(2020, 1, 15)
    ev = evaluate(
        Sex.FEMALE,
        young,
        at_months(61, young),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("15.0")),
        WHO_CONFIG,
    )
    assert ev.finding("weight_status").category == "normal"
    assert ev.finding("stunting").category == "not_applicable"  # WS/T 456 from 6 y
    ev = evaluate(
        Sex.FEMALE,
        young,
        day_before(at_months(61, young)),
        Measurements(height_cm=HUNDRED, weight_kg=Decimal("15.0")),
        WHO_CONFIG,
    )
    assert ev.finding("weight_status").category == "not_applicable"


@settings(max_examples=400, deadline=None)
@given(
    sex=st.sampled_from(["M", "F"]),
    months=st.integers(min_value=72, max_value=228),
    height_tenths=st.integers(min_value=1000, max_value=2000),
    weight_hundredths=st.integers(min_value=1500, max_value=12000),
)
def test_who_z_and_category_agree_with_rcpchgrowth(sex, months, height_tenths, weight_hundredths):
    m = Measurements(
        height_cm=Decimal(height_tenths).scaleb(-1), weight_kg=Decimal(weight_hundredths).scaleb(-2)
    )
    ev = evaluate(Sex(sex), BIRTH, at_months(months), m, WHO_CONFIG)
    bmi = ev.finding("weight_status").detail["bmi_unrounded"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = sds_for_measurement(
            reference=WHO,
            age=months / 12,
            measurement_method=BMI,
            observation_value=bmi,
            sex=RCPCH_SEX[sex],
        )
    ours = ev.finding("weight_status").detail["z"]
    assert math.isclose(ours, z, rel_tol=1e-9, abs_tol=1e-9)
    if abs(z - 1) > 1e-9 and abs(z - 2) > 1e-9:
        expected = "obese" if z > 2 else "overweight" if z > 1 else "normal"
        assert ev.finding("weight_status").category == expected
    if abs(z + 2) > 1e-9 and abs(z + 3) > 1e-9:
        expected = "moderate_severe" if z < -3 else "mild" if z < -2 else "none"
        assert ev.finding("thinness").category == expected


@pytest.mark.parametrize("sex", ["M", "F"])
def test_who_cutoff_columns_equal_rcpchgrowth_measurement_from_sds(sex):
    for months, row in list(who_rows(sex).items())[::7]:
        for z, column in (
            (1, "bmi_plus1sd_overweight"),
            (2, "bmi_plus2sd_obesity"),
            (-2, "bmi_minus2sd_thinness"),
            (-3, "bmi_minus3sd"),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = measurement_from_sds(WHO, z, BMI, RCPCH_SEX[sex], months / 12)
            ours = lms_value(z, float(row["L"]), float(row["M"]), float(row["S"]))
            assert abs(ours - theirs) < 1e-4
            assert abs(Decimal(row[column]) - Decimal(str(theirs))) < Decimal("0.00011")


def test_who_restricted_z_beyond_three_sd():
    L, M, S = -1.3653, 20.4376, 0.12567
    sd3, sd2 = lms_value(3, L, M, S), lms_value(2, L, M, S)
    assert who_z(sd3 + (sd3 - sd2), L, M, S) == pytest.approx(4.0)


# ---------------------------------------------------------------- CDC 2000


@pytest.mark.parametrize("sex", ["M", "F"])
def test_cdc_lms_rows_equal_rcpchgrowth_copy(sex):
    theirs = rcpch_table("data_tables/cdc2-20.json")[RCPCH_SEX[sex]]
    ours = list(cdc_rows(sex).values())
    assert len(ours) == len(theirs)
    for row, r in zip(ours, theirs, strict=True):
        assert (float(row["L"]), float(row["M"]), float(row["S"])) == (r["L"], r["M"], r["S"])


@pytest.mark.parametrize("sex", ["M", "F"])
def test_cdc_every_month_p85_p95_p5_using_row_x_5(sex):
    rows = cdc_rows(sex)
    for months in range(24, 241):  # every completed month the reference covers
        row = rows[Decimal(months) + Decimal("0.5")]
        for column, low, high, code in (
            ("P85_overweight", "normal", "overweight", "weight_status"),
            ("P95_obesity", "overweight", "obese", "weight_status"),
            ("P5_underweight", "mild", "none", "thinness"),
        ):
            below, above = outward(Decimal(row[column]))
            assert classify(sex, months, below, CDC_CONFIG).finding(code).category == low, (
                months,
                column,
                below,
            )
            assert classify(sex, months, above, CDC_CONFIG).finding(code).category == high, (
                months,
                column,
                above,
            )


def test_cdc_finding_names_reference_and_row():
    ev = classify("F", 150, Decimal("30.0"), CDC_CONFIG)
    f = ev.finding("weight_status")
    assert (f.category, f.standard) == ("obese", "CDC 2000 Growth Charts")
    assert f.detail["lms_row"] == Decimal("150.5")
    assert "150.5" in f.clause


def test_who_cutoffs_are_strict_at_exactly_one_sd():
    """Synthetic LMS row where BMI 17.0 is exactly +1 SD (L=1, M=16, S=1/16)."""
    from schoolhealth.rules.bmi import classify_growth

    entry = (2, 1.0, 16.0, 0.0625, None, None)  # kind WHO
    entries = ((entry,) * 400, (entry,) * 400)
    # height 100.00 cm, weight 17.00 kg: BMI 17.0, z = (17/16 - 1) / (1/16) = 1.0 exactly
    assert classify_growth(entries, 0, 120, 10000, 1700)[0] == "normal"
    assert classify_growth(entries, 0, 120, 10000, 1701)[0] == "overweight"
    # z = -2 exactly at BMI 14.0 (L=1: (14/16 - 1) * 16 = -2): strict "<" means not thin
    assert classify_growth(entries, 0, 120, 10000, 1400)[1] == "none"
    assert classify_growth(entries, 0, 120, 10000, 1399)[1] == "mild"


def test_who_obesity_and_severe_thinness_are_strict_at_exactly_two_and_three_sd():
    from schoolhealth.rules.bmi import classify_growth

    entry = (2, 1.0, 16.0, 0.0625, None, None)  # kind WHO, z = BMI - 16 exactly
    entries = ((entry,) * 400, (entry,) * 400)
    assert classify_growth(entries, 1, 120, 10000, 1800)[0] == "overweight"  # z = +2.0
    assert classify_growth(entries, 1, 120, 10000, 1801)[0] == "obese"
    assert classify_growth(entries, 1, 120, 10000, 1300)[1] == "mild"  # z = -3.0
    assert classify_growth(entries, 1, 120, 10000, 1299)[1] == "moderate_severe"


def test_cdc_percentile_cutoffs_are_inclusive_for_p85_p95_and_strict_for_p5(monkeypatch):
    """README §7.2: overweight >= P85, obesity >= P95, underweight < P5.

    The real percentile z-values are irrational, so they are replaced by round ones to
    put a BMI exactly on each cutoff (synthetic LMS row: z = BMI - 16).
    """
    from schoolhealth.rules import bmi

    monkeypatch.setattr(bmi, "CDC2000_OVERWEIGHT_Z", 1.0)
    monkeypatch.setattr(bmi, "CDC2000_OBESITY_Z", 2.0)
    monkeypatch.setattr(bmi, "CDC2000_UNDERWEIGHT_Z", -2.0)
    entry = (3, 1.0, 16.0, 0.0625, None, None)  # kind CDC
    entries = ((entry,) * 400, (entry,) * 400)
    assert bmi.classify_growth(entries, 0, 120, 10000, 1699)[0] == "normal"
    assert bmi.classify_growth(entries, 0, 120, 10000, 1700)[0] == "overweight"  # = P85
    assert bmi.classify_growth(entries, 0, 120, 10000, 1799)[0] == "overweight"
    assert bmi.classify_growth(entries, 0, 120, 10000, 1800)[0] == "obese"  # = P95
    assert bmi.classify_growth(entries, 0, 120, 10000, 1400)[1] == "none"  # = P5
    assert bmi.classify_growth(entries, 0, 120, 10000, 1399)[1] == "mild"
