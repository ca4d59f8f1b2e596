"""Dental: FDI codes, dmft/DMFT, untreated caries, sealant advice bands."""

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
    evaluate,
)
from schoolhealth.rules.dental import PERMANENT_TEETH, PRIMARY_TEETH, position

from .helpers import BIRTH, at_months, day_before

PERMANENT = sorted(q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9))
PRIMARY = sorted(q * 10 + t for q in (5, 6, 7, 8) for t in range(1, 6))


AGE_8 = at_months(96)


def dental(on: date = AGE_8, config: RuleConfig | None = None, **fields):
    ev = evaluate(Sex.FEMALE, BIRTH, on, Measurements(**fields), config or RuleConfig())
    return ev, ev.to_evaluation_columns()


def test_fdi_code_sets_are_exactly_those_of_results_md():
    assert sorted(PERMANENT_TEETH) == PERMANENT
    assert len(PERMANENT) == 32
    assert sorted(PRIMARY_TEETH) == PRIMARY
    assert len(PRIMARY) == 20


@pytest.mark.parametrize("tooth", range(0, 100))
def test_every_two_digit_code_is_accepted_only_if_fdi(tooth):
    valid = tooth in PERMANENT or tooth in PRIMARY
    if valid:
        _, cols = dental(caries_teeth=(tooth,))
        assert cols["caries"] == "yes"
        assert (cols["dmft"], cols["DMFT"]) == (("0", "1") if tooth < 50 else ("1", "0"))
    else:
        with pytest.raises(InvalidMeasurement) as info:
            dental(caries_teeth=(tooth,))
        assert info.value.field == "caries_teeth"
        assert "11-18, 21-28, 31-38, 41-48" in str(info.value)


def test_counts_and_caries_from_codes():
    ev, cols = dental(caries_teeth=(16, 55), filled_teeth=(26, 54, 84), missing_teeth=(75,))
    assert (cols["dmft"], cols["DMFT"], cols["caries"]) == ("4", "2", "yes")
    detail = ev.finding("caries").detail
    assert (detail["d"], detail["m"], detail["f"]) == (1, 1, 2)
    assert (detail["D"], detail["M"], detail["F"]) == (1, 0, 1)
    assert cols["refer"] == "dental"


def test_filled_and_missing_only_is_not_untreated_caries():
    ev, cols = dental(filled_teeth=(16,), missing_teeth=(36,))
    assert (cols["caries"], cols["DMFT"], cols["dmft"]) == ("no", "2", "0")
    assert ev.finding("caries").refer is False


def test_explicit_none_means_examined_and_caries_free():
    _, cols = dental(caries_teeth=())
    assert (cols["caries"], cols["dmft"], cols["DMFT"]) == ("no", "0", "0")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("caries_teeth", "filled_teeth"),
        ("caries_teeth", "missing_teeth"),
        ("filled_teeth", "missing_teeth"),
    ],
)
def test_a_tooth_in_two_status_lists_is_rejected(a, b):
    with pytest.raises(InvalidMeasurement) as info:
        dental(**{a: (16,), b: (16,)})
    assert info.value.key == "tooth_in_several_lists"
    assert "16" in str(info.value)


@pytest.mark.parametrize("primary", PRIMARY)
def test_primary_and_permanent_of_one_position_is_rejected(primary):
    permanent = (primary // 10 - 4) * 10 + primary % 10
    assert position(primary) == position(permanent)
    with pytest.raises(InvalidMeasurement) as info:
        dental(caries_teeth=(primary,), filled_teeth=(permanent,))
    assert info.value.key == "primary_and_permanent_same_position"
    assert f"primary tooth {primary} and permanent tooth {permanent}" in str(info.value)
    # neighbouring positions are fine
    other = permanent + 1 if permanent % 10 < 8 else permanent - 6
    dental(caries_teeth=(primary,), filled_teeth=(other,))


def test_duplicate_tooth_and_sealed_missing_tooth_are_rejected():
    with pytest.raises(InvalidMeasurement, match="listed twice"):
        dental(caries_teeth=(16, 16))
    with pytest.raises(InvalidMeasurement, match="also in missing_teeth"):
        dental(missing_teeth=(36,), sealed_teeth=(36,))


def test_counts_must_agree_with_codes():
    with pytest.raises(InvalidMeasurement) as info:
        dental(caries_teeth=(16,), DMFT=2)
    assert info.value.field == "DMFT"
    assert "give 1" in str(info.value)
    _, cols = dental(caries_teeth=(16,), DMFT=1, dmft=0)
    assert cols["caries"] == "yes"


def test_counts_only():
    _, cols = dental(dmft=0, DMFT=0)
    assert (cols["caries"], cols["dmft"], cols["DMFT"]) == ("no", "0", "0")
    ev, cols = dental(dmft=2, DMFT=0)
    assert (cols["caries"], cols["dmft"]) == ("", "2")  # d vs f unknown: never "no"
    assert ev.finding("caries").category == "not_evaluable"
    assert "record caries_teeth" in cols["errors"]
    _, cols = dental(DMFT=0)
    assert cols["caries"] == ""


@pytest.mark.parametrize(("count", "value"), [("dmft", 21), ("DMFT", 33), ("dmft", -1)])
def test_implausible_counts(count, value):
    with pytest.raises(InvalidMeasurement, match="outside the plausible range"):
        dental(**{count: value})


# ---------------------------------------------------------------- sealant advice

FIRST = "16 26 36 46"
SECOND = "17 27 37 47"


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (72, FIRST),
        (119, FIRST),
        (120, ""),
        (131, ""),
        (132, SECOND),
        (167, SECOND),
        (168, ""),
        (71, ""),
    ],
)
def test_sealant_bands_by_completed_months(months, expected):
    _, cols = dental(at_months(months), caries_teeth=())
    assert cols["sealant_advice"] == expected


def test_sealant_band_starts_on_the_birthday_not_the_day_before():
    assert dental(day_before(at_months(72)), caries_teeth=())[1]["sealant_advice"] == ""
    assert dental(at_months(72), caries_teeth=())[1]["sealant_advice"] == FIRST
    assert dental(day_before(at_months(120)), caries_teeth=())[1]["sealant_advice"] == FIRST
    assert dental(at_months(120), caries_teeth=())[1]["sealant_advice"] == ""


def test_only_sound_unsealed_molars_are_advised():
    ev, cols = dental(caries_teeth=(16,), filled_teeth=(26,), sealed_teeth=(36,))
    assert cols["sealant_advice"] == "46"
    f = ev.finding("sealant_advice")
    assert (f.category, f.refer, f.severity) == ("advised", False, 0)
    assert "UNVERIFIED" in f.clause
    ev, cols = dental(missing_teeth=(16,), sealed_teeth=(26, 36, 46))
    assert cols["sealant_advice"] == ""
    assert ev.finding("sealant_advice").category == "none"


def test_sealant_bands_are_configurable():
    config = RuleConfig(
        sealant_first_molar_ages=(Decimal("7"), Decimal("9.5")),
        sealant_second_molar_ages=(Decimal("12"), Decimal("13")),
    )
    assert dental(at_months(84), config, caries_teeth=())[1]["sealant_advice"] == FIRST
    assert dental(at_months(83), config, caries_teeth=())[1]["sealant_advice"] == ""
    assert dental(at_months(114), config, caries_teeth=())[1]["sealant_advice"] == ""
    assert dental(at_months(144), config, caries_teeth=())[1]["sealant_advice"] == SECOND


def test_sealant_with_counts_only():
    assert dental(dmft=3, DMFT=0, sealed_teeth=(16,))[1]["sealant_advice"] == "26 36 46"
    ev, cols = dental(dmft=0, DMFT=2)
    assert cols["sealant_advice"] == ""
    assert ev.finding("sealant_advice").category == "not_evaluable"


def test_dental_not_screened_is_blank():
    ev, cols = dental(height_cm=Decimal("130.0"))
    for column in ("caries", "dmft", "DMFT", "sealant_advice"):
        assert cols[column] == ""
    assert not ev.findings_for(ScreeningType.DENTAL)
