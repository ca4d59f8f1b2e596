"""Vision: GB/T 11533 notation, reduced-vision grades, screening myopia per eye."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from schoolhealth.rules import (
    InvalidMeasurement,
    Measurements,
    RuleConfig,
    ScreeningType,
    Sex,
    decimal_to_five_point,
    evaluate,
    five_point_to_decimal,
    parse_visual_acuity,
)

from .helpers import BIRTH, at_months, day_before, oracle_myopia, oracle_vision_grade, shared_rows

AGE_10 = at_months(120)
TENTHS = [Decimal(t).scaleb(-1) for t in range(30, 54)]


def vision(m: Measurements, on: date = AGE_10, config: RuleConfig | None = None):
    ev = evaluate(Sex.FEMALE, BIRTH, on, m, config or RuleConfig())
    return ev, ev.to_evaluation_columns()


@pytest.mark.parametrize(
    "row", shared_rows("gbt11533_visual_acuity_notation.csv"), ids=lambda r: r["five_point_L"]
)
def test_every_chart_row_converts_by_table(row):
    five, dec = Decimal(row["five_point_L"]), Decimal(row["decimal_V"])
    assert parse_visual_acuity(row["decimal_V"]) == five
    assert parse_visual_acuity(row["five_point_L"]) == five
    assert decimal_to_five_point(dec) == five
    assert five_point_to_decimal(five).normalize() == dec.normalize()
    # one decade down (0.08 -> 3.9 ... 0.01 -> 3.0): L = 5 + lg V
    if dec < 1:
        assert parse_visual_acuity(format(dec / 10, "f")) == five - 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2", "5.1"),
        ("1.5", "5.2"),
        ("0.12", "4.1"),
        ("2.0", "5.3"),
        ("2", "5.3"),
        ("1", "5.0"),
        ("1.00", "5.0"),
        ("0.60", "4.8"),
        ("5", "5.0"),
        ("3", "3.0"),
        ("０．６", "4.8"),
        (" 4.8 ", "4.8"),
        ("0.08", "3.9"),
        ("0.01", "3.0"),
    ],
)
def test_parse_visual_acuity_examples(text, expected):
    # the formula round(10 ** (L - 5), 1) would say 5.1 <-> 1.3 and 5.2 <-> 1.6
    assert parse_visual_acuity(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("2.5", "ambiguous_visual_acuity", "ambiguous"),
        ("2.01", "ambiguous_visual_acuity", "ambiguous"),
        ("2.99", "ambiguous_visual_acuity", "ambiguous"),
        ("6.1", "out_of_range", "outside the plausible range 3.0-5.3 (5-point) or 0.01-2.0"),
        ("5.4", "out_of_range", "outside the plausible range"),
        ("0", "out_of_range", "outside"),
        ("-0.5", "out_of_range", "outside"),
        ("0.7", "not_a_chart_value", "GB/T 11533"),
        ("1.3", "not_a_chart_value", "GB/T 11533"),
        ("4.85", "too_many_decimals", "one decimal"),
        ("abc", "not_a_number", "not a number"),
    ],
)
def test_parse_visual_acuity_rejections(text, key, words):
    with pytest.raises(InvalidMeasurement) as info:
        parse_visual_acuity(text, "ucva_right")
    assert info.value.key == key
    assert info.value.field == "ucva_right"
    assert words in str(info.value)
    assert str(info.value).startswith("ucva_right: ")


@pytest.mark.parametrize("ucva", TENTHS, ids=str)
def test_every_acuity_value_graded_as_the_shared_table_says(ucva):
    ev, cols = vision(Measurements(ucva_right=ucva, ucva_left=ucva))
    expected = oracle_vision_grade(ucva)
    assert cols["vision_right"] == cols["vision_left"] == expected
    assert cols["myopia_right"] == oracle_myopia(ucva, None)
    f = ev.finding("vision_right")
    assert f.refer is (expected != "normal")
    assert f.severity == {"normal": 0, "mild": 1, "moderate": 2, "severe": 3}[expected]


@pytest.mark.parametrize(
    ("ucva", "grade"),
    [
        ("5.0", "normal"),
        ("4.9", "mild"),
        ("4.8", "moderate"),
        ("4.6", "moderate"),
        ("4.5", "severe"),
        ("3.0", "severe"),
        ("5.3", "normal"),
    ],
)
def test_grade_edges(ucva, grade):
    assert vision(Measurements(ucva_right=Decimal(ucva)))[1]["vision_right"] == grade


def test_b8_se_exactly_minus_half_is_screening_myopia():
    m = Measurements(
        ucva_right=Decimal("4.9"), sph_right=Decimal("-0.25"), cyl_right=Decimal("-0.50")
    )
    ev, cols = vision(m)
    assert (cols["vision_right"], cols["myopia_right"]) == ("mild", "yes")
    assert ev.se_right == Decimal("-0.50")
    assert "<= -0.50" in ev.finding("myopia_right").clause


def test_b8_with_the_strict_operator_option_is_not_myopia():
    m = Measurements(
        ucva_right=Decimal("4.9"), sph_right=Decimal("-0.25"), cyl_right=Decimal("-0.50")
    )
    cols = vision(m, config=RuleConfig(myopia_se_operator="<"))[1]
    assert cols["myopia_right"] == "no"


def test_b9_good_acuity_is_never_screening_myopia():
    cols = vision(Measurements(ucva_right=Decimal("5.0"), se_right=Decimal("-1.00")))[1]
    assert (cols["vision_right"], cols["myopia_right"]) == ("normal", "no")


def test_b10_age_12_ucva_4_5_is_severe():
    cols = vision(Measurements(ucva_left=Decimal("4.5")), at_months(144))[1]
    assert cols["vision_left"] == "severe"
    assert cols["vision_right"] == ""


@pytest.mark.parametrize(
    ("se", "expected"),
    [("-0.49", "no"), ("-0.50", "yes"), ("-0.51", "yes"), ("0.00", "no"), ("-6.00", "yes")],
)
def test_se_boundary_with_given_se(se, expected):
    cols = vision(Measurements(ucva_right=Decimal("4.8"), se_right=Decimal(se)))[1]
    assert cols["myopia_right"] == expected == oracle_myopia(Decimal("4.8"), Decimal(se))


@pytest.mark.parametrize(
    ("sph", "cyl", "expected"),
    [
        ("-0.25", "-0.25", "no"),  # SE -0.375
        ("-0.50", "-0.25", "yes"),  # SE -0.625
        ("0.00", "-1.00", "yes"),  # SE -0.50
        ("-0.75", "0.50", "yes"),  # plus-cylinder notation: SE -0.50
        ("-0.25", "-0.49", "no"),  # SE -0.495
    ],
)
def test_se_from_sphere_and_cylinder(sph, cyl, expected):
    m = Measurements(ucva_right=Decimal("4.7"), sph_right=Decimal(sph), cyl_right=Decimal(cyl))
    ev, cols = vision(m)
    assert cols["myopia_right"] == expected
    assert ev.se_right == Decimal(sph) + Decimal(cyl) / 2


def test_missing_se_with_reduced_acuity_is_unknown_and_referred():
    ev, cols = vision(Measurements(ucva_right=Decimal("4.7")))
    assert cols["myopia_right"] == "unknown"
    assert ev.finding("myopia_right").refer
    assert cols["refer"] == "vision"


def test_sphere_without_cylinder_gives_no_se_and_says_why():
    ev, cols = vision(Measurements(ucva_right=Decimal("4.7"), sph_right=Decimal("-2.00")))
    assert cols["myopia_right"] == "unknown"
    assert "cyl_right is missing" in cols["errors"]


def test_eyes_are_independent_and_pupil_level_is_the_worse_eye():
    m = Measurements(
        ucva_right=Decimal("5.0"),
        ucva_left=Decimal("4.6"),
        se_right=Decimal("-1.00"),
        se_left=Decimal("-1.00"),
    )
    ev, cols = vision(m)
    assert (cols["vision_right"], cols["vision_left"]) == ("normal", "moderate")
    assert (cols["myopia_right"], cols["myopia_left"]) == ("no", "yes")
    assert ev.worst(ScreeningType.VISION).code == "vision_left"
    assert ev.pupil_vision() == ("moderate", "yes")


def test_one_eye_only_leaves_the_other_blank():
    cols = vision(Measurements(ucva_left=Decimal("5.1")))[1]
    assert (cols["vision_right"], cols["myopia_right"]) == ("", "")
    assert (cols["vision_left"], cols["myopia_left"]) == ("normal", "no")
    assert cols["refer"] == ""


def test_orthokeratology_wearer_is_not_evaluable_never_normal():
    m = Measurements(
        ucva_right=Decimal("5.0"),
        ucva_left=Decimal("5.1"),
        glasses="ortho_k",
        se_right=Decimal("0.00"),
    )
    ev, cols = vision(m)
    for column in ("vision_right", "vision_left", "myopia_right", "myopia_left"):
        assert cols[column] == ""
        assert ev.finding(column).category == "not_evaluable"
        assert ev.finding(column).advice_key == "vision.ortho_k_not_evaluable"
    assert "orthokeratology" in cols["errors"]


def test_frame_glasses_wearer_is_graded_on_uncorrected_acuity():
    m = Measurements(
        ucva_right=Decimal("4.3"),
        cva_right=Decimal("5.0"),
        glasses="frame",
        se_right=Decimal("-3.00"),
    )
    cols = vision(m)[1]
    assert (cols["vision_right"], cols["myopia_right"]) == ("severe", "yes")


def test_under_six_is_not_applicable_and_six_is_graded():
    sixth = at_months(72)
    ev, cols = vision(Measurements(ucva_right=Decimal("4.6")), day_before(sixth))
    assert cols["vision_right"] == cols["myopia_right"] == ""
    assert ev.finding("vision_right").category == "not_applicable"
    assert "age 6" in cols["errors"]
    assert vision(Measurements(ucva_right=Decimal("4.6")), sixth)[1]["vision_right"] == ("moderate")


def test_se_that_disagrees_with_sphere_and_cylinder_is_rejected():
    m = Measurements(
        ucva_right=Decimal("4.8"),
        sph_right=Decimal("-1.00"),
        cyl_right=Decimal("-0.50"),
        se_right=Decimal("-0.50"),
    )
    with pytest.raises(InvalidMeasurement) as info:
        vision(m)
    assert info.value.field == "se_right"
    assert "-1.25" in str(info.value)
    ok = Measurements(
        ucva_right=Decimal("4.8"),
        sph_right=Decimal("-0.25"),
        cyl_right=Decimal("-0.25"),
        se_right=Decimal("-0.50"),
    )
    assert vision(ok)[1]["myopia_right"] == "yes"  # device rounding to 0.25 D: given SE wins


def test_vision_findings_name_the_guideline():
    ev, _ = vision(Measurements(ucva_right=Decimal("4.9"), se_right=Decimal("-0.75")))
    for f in ev.findings:
        assert f.screening_type is ScreeningType.VISION
        assert "近视防控适宜技术指南" in f.standard
        assert f.clause
    assert ev.finding("vision_right").detail["ucva_decimal"] == Decimal("0.8")


@pytest.mark.parametrize(
    ("right", "left", "expected"),
    [
        # (ucva, se) per eye -> (pupil grade, pupil myopia)
        (("4.9", "-1.00"), ("4.7", "0.00"), ("moderate", "yes")),  # worse grade, myopia other eye
        (("5.0", "-1.00"), ("4.6", "-1.00"), ("moderate", "yes")),
        (("5.1", None), ("5.0", None), ("normal", "no")),
        (("4.8", None), ("4.9", "0.00"), ("moderate", "unknown")),
        (("4.5", "0.00"), (None, None), ("severe", "no")),
        ((None, None), ("4.9", "-0.50"), ("mild", "yes")),
    ],
)
def test_pupil_level_is_worse_eye_grade_and_either_eye_myopia(right, left, expected):
    values = {}
    for eye, (ucva, se) in (("right", right), ("left", left)):
        if ucva is not None:
            values[f"ucva_{eye}"] = Decimal(ucva)
        if se is not None:
            values[f"se_{eye}"] = Decimal(se)
    ev, _ = vision(Measurements(**values))
    assert ev.pupil_vision() == expected


def test_pupil_level_is_blank_when_no_eye_is_classified():
    assert vision(Measurements(height_cm=Decimal("140.0")))[0].pupil_vision() == (None, None)
    ortho_k = Measurements(ucva_right=Decimal("4.5"), glasses="ortho_k")
    assert vision(ortho_k)[0].pupil_vision() == (None, None)
    young = Measurements(ucva_right=Decimal("4.5"))
    assert vision(young, day_before(at_months(72)))[0].pupil_vision() == (None, None)
