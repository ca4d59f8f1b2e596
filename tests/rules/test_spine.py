"""Spine: ATR threshold and bands, postural vs structural, sagittal with prone test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schoolhealth.rules import (
    InvalidMeasurement,
    Measurements,
    RuleConfig,
    ScreeningType,
    Sex,
    confirms_scoliosis,
    evaluate,
)
from schoolhealth.rules.spine import atr_band

from .helpers import BIRTH, at_months

ON = at_months(150)


def spine(config: RuleConfig | None = None, **fields):
    ev = evaluate(Sex.MALE, BIRTH, ON, Measurements(**fields), config or RuleConfig())
    return ev, ev.to_evaluation_columns()


@pytest.mark.parametrize(("atr", "expected"), [("4.9", "normal"), ("5.0", "suspected_scoliosis")])
def test_b12_atr_threshold_is_inclusive(atr, expected):
    ev, cols = spine(atr_thoracic=Decimal(atr), adams="negative", spine_general="normal")
    assert cols["spine"] == expected
    assert cols["atr_max"] == atr
    assert ev.finding("spine").refer is (expected != "normal")


@pytest.mark.parametrize("segment", ["atr_thoracic", "atr_thoracolumbar", "atr_lumbar"])
@pytest.mark.parametrize(
    ("threshold", "atr", "expected"),
    [
        ("5", "4.9", "normal"),
        ("5", "5.0", "suspected_scoliosis"),
        ("5", "5.1", "suspected_scoliosis"),
        ("7", "6.9", "normal"),
        ("7", "7.0", "suspected_scoliosis"),
        ("5.5", "5.4", "normal"),
        ("5.5", "5.5", "suspected_scoliosis"),
    ],
)
def test_each_segment_against_configurable_threshold(segment, threshold, atr, expected):
    config = RuleConfig(atr_positive_degrees=Decimal(threshold))
    ev, cols = spine(config, **{segment: Decimal(atr)})
    assert cols["spine"] == expected
    if expected != "normal":
        assert ev.finding("spine").detail["positive_segments"] == [segment[4:]]
        assert f"{threshold} degrees" in ev.finding("spine").clause


@pytest.mark.parametrize(
    ("atr", "band"),
    [
        ("0", "<5"),
        ("4.9", "<5"),
        ("5.0", "5-<7"),
        ("6.9", "5-<7"),
        ("7.0", "7-<10"),
        ("9.9", "7-<10"),
        ("10.0", ">=10"),
        ("30", ">=10"),
    ],
)
def test_atr_bands_of_the_national_form(atr, band):
    assert atr_band(Decimal(atr)) == band
    ev, _ = spine(atr_lumbar=Decimal(atr))
    assert ev.finding("spine").detail["atr_bands"] == {"lumbar": band}


def test_atr_max_is_the_largest_segment():
    ev, cols = spine(
        atr_thoracic=Decimal("3"), atr_thoracolumbar=Decimal("6.5"), atr_lumbar=Decimal("2")
    )
    assert cols["atr_max"] == "6.5"
    assert ev.atr_max == Decimal("6.5")
    assert cols["spine"] == "suspected_scoliosis"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"spine_general": "normal"}, "normal"),
        ({"adams": "negative"}, "normal"),
        ({"spine_general": "normal", "adams": "negative", "atr_thoracic": Decimal("2")}, "normal"),
        ({"spine_general": "abnormal", "adams": "negative"}, "postural"),
        ({"spine_general": "abnormal", "atr_thoracic": Decimal("3")}, "postural"),
        ({"adams": "positive", "atr_thoracic": Decimal("4.9")}, "postural"),
        ({"adams": "positive"}, "suspected_scoliosis"),
        ({"spine_general": "abnormal"}, "suspected_scoliosis"),
        (
            {"spine_general": "normal", "adams": "negative", "atr_lumbar": Decimal("5")},
            "suspected_scoliosis",
        ),
    ],
)
def test_coronal_decision_table(fields, expected):
    assert spine(**fields)[1]["spine"] == expected


@pytest.mark.parametrize(
    ("sagittal", "prone", "expected"),
    [
        ("normal", None, "normal"),
        ("kyphosis", "resolved", "postural"),
        ("lordosis", "resolved", "postural"),
        ("straight_back", "resolved", "postural"),
        ("kyphosis", "persists", "sagittal_abnormal"),
        ("lordosis", "persists", "sagittal_abnormal"),
        ("straight_back", "persists", "sagittal_abnormal"),
        ("kyphosis", None, "sagittal_abnormal"),
    ],
)
def test_sagittal_with_prone_test(sagittal, prone, expected):
    ev, cols = spine(spine_general="normal", adams="negative", sagittal=sagittal, prone_test=prone)
    assert cols["spine"] == expected
    assert ev.finding("spine").refer is (expected == "sagittal_abnormal")


def test_structural_coronal_finding_outranks_sagittal():
    _, cols = spine(atr_thoracic=Decimal("8"), sagittal="kyphosis", prone_test="persists")
    assert cols["spine"] == "suspected_scoliosis"
    _, cols = spine(
        spine_general="abnormal", adams="negative", sagittal="lordosis", prone_test="persists"
    )
    assert cols["spine"] == "sagittal_abnormal"


def test_normal_side_view_alone_is_never_reported_normal():
    ev, cols = spine(sagittal="normal")
    assert cols["spine"] == ""
    assert ev.finding("spine").category == "not_evaluable"
    assert "coronal screening" in cols["errors"]
    # but a sagittal finding is reported even without the coronal part
    assert spine(sagittal="kyphosis", prone_test="persists")[1]["spine"] == "sagittal_abnormal"


def test_spine_not_screened_is_blank():
    ev, cols = spine(height_cm=Decimal("150.0"))
    assert cols["spine"] == cols["atr_max"] == ""
    assert ev.findings_for(ScreeningType.SPINE) == ()


@pytest.mark.parametrize("atr", ["-1", "30.1", "45", "5.55"])
def test_implausible_atr_is_rejected(atr):
    with pytest.raises(InvalidMeasurement) as info:
        spine(atr_thoracic=Decimal(atr))
    assert info.value.field == "atr_thoracic"
    assert "0-30 degrees" in str(info.value)


def test_severity_and_advice():
    ev, _ = spine(atr_thoracic=Decimal("12"))
    f = ev.finding("spine")
    assert (f.severity, f.advice_key, f.standard) == (
        3,
        "spine.suspected_scoliosis",
        "GB/T 16133-2014",
    )
    assert spine(spine_general="abnormal", adams="negative")[0].finding("spine").severity == 1


def test_cobb_ten_degrees_confirms_scoliosis_for_follow_up():
    assert not confirms_scoliosis(Decimal("9.9"))
    assert confirms_scoliosis(Decimal("10"))


# ---------------------------------------------------------------- spinal motion test


SIGNS_BELOW_THRESHOLD = [
    {"adams": "positive", "atr_thoracic": Decimal("4.9")},
    {"adams": "positive", "atr_lumbar": Decimal("0")},
    {"spine_general": "abnormal", "adams": "negative"},
    {"spine_general": "abnormal", "atr_thoracolumbar": Decimal("3")},
]


@pytest.mark.parametrize("signs", SIGNS_BELOW_THRESHOLD)
@pytest.mark.parametrize(
    ("motion", "expected", "refer", "needed"),
    [
        ("persists", "suspected_scoliosis", True, False),
        ("resolved", "postural", False, False),
        (None, "postural", False, True),
    ],
)
def test_motion_test_separates_postural_from_structural(signs, motion, expected, refer, needed):
    """GB/T 16133: with every ATR below the threshold, the motion test decides."""
    ev, cols = spine(**signs, motion_test=motion)
    f = ev.finding("spine")
    assert (cols["spine"], f.refer) == (expected, refer)
    assert f.detail["motion_test_needed"] is needed
    if motion is None:
        assert "motion test not recorded" in f.clause
    else:
        assert f"{motion} on the spinal motion test" in f.clause


@pytest.mark.parametrize("motion", ["resolved", "persists", None])
def test_motion_test_does_not_override_a_positive_atr_or_a_normal_screen(motion):
    ev, cols = spine(adams="positive", atr_thoracic=Decimal("5.0"), motion_test=motion)
    assert cols["spine"] == "suspected_scoliosis"
    assert ev.finding("spine").detail["motion_test_needed"] is False
    ev, cols = spine(adams="negative", spine_general="normal", motion_test=motion)
    assert cols["spine"] == "normal"


def test_motion_test_codes_are_parsed_in_both_languages():
    from schoolhealth.rules import parsing

    for raw, code in (("消失", "resolved"), ("未消失", "persists"), ("Persists", "persists")):
        assert parsing.parse_choice("motion_test", raw) == code
