"""parse_measurements and the single-field parsers: same values, same words everywhere."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from schoolhealth.rules import (
    InvalidIdNumber,
    InvalidMeasurement,
    Measurements,
    ScreeningType,
    Sex,
    error_types,
    id_number_birth_date,
    id_number_sex,
    parse_date,
    parse_measurements,
    parse_sex,
    validate_id_number,
)
from schoolhealth.rules.idnumber import check_character
from schoolhealth.rules.parsing import parse_field

FULL = {
    "height_cm": "１４０.５",
    "weight_kg": " 33.22 ",
    "ucva_right": "0.6",
    "ucva_left": "4.9",
    "cva_right": "5.0",
    "cva_left": "1.0",
    "glasses": "框架眼镜",
    "sph_right": "−1.25",
    "cyl_right": "-0.50",
    "sph_left": "+0.25",
    "cyl_left": "0",
    "se_right": "",
    "se_left": None,
    "spine_general": "异常",
    "adams": "阳性",
    "atr_thoracic": "5°",
    "atr_thoracolumbar": "3",
    "atr_lumbar": "０",
    "sagittal": "后凸",
    "prone_test": "消失",
    "caries_teeth": "16、55",
    "filled_teeth": "26，36",
    "missing_teeth": "",
    "sealed_teeth": "46",
    "dmft": "",
    "DMFT": "",
    "absent": "否",
    "name": "张三",  # not a measurement: ignored
}


def test_full_row_with_chinese_values_and_full_width_digits():
    m, errors = parse_measurements(FULL)
    assert errors == []
    assert m == Measurements(
        height_cm=Decimal("140.5"),
        weight_kg=Decimal("33.22"),
        ucva_right=Decimal("4.8"),
        ucva_left=Decimal("4.9"),
        cva_right=Decimal("5.0"),
        cva_left=Decimal("5.0"),
        glasses="frame",
        sph_right=Decimal("-1.25"),
        cyl_right=Decimal("-0.50"),
        sph_left=Decimal("0.25"),
        cyl_left=Decimal("0"),
        spine_general="abnormal",
        adams="positive",
        atr_thoracic=Decimal("5"),
        atr_thoracolumbar=Decimal("3"),
        atr_lumbar=Decimal("0"),
        sagittal="kyphosis",
        prone_test="resolved",
        caries_teeth=(16, 55),
        filled_teeth=(26, 36),
        sealed_teeth=(46,),
        absent=False,
    )


@pytest.mark.parametrize(
    ("field", "values", "code"),
    [
        ("glasses", ["none", "不戴镜", "无"], "none"),
        ("glasses", ["frame", "框架眼镜", "FRAME"], "frame"),
        ("glasses", ["contact", "隐形眼镜"], "contact"),
        ("glasses", ["ortho_k", "ortho-k", "OK镜", "角膜塑形镜", "角膜塑形镜（OK镜）"], "ortho_k"),
        ("spine_general", ["normal", "正常"], "normal"),
        ("spine_general", ["abnormal", "异常"], "abnormal"),
        ("adams", ["negative", "阴性", "-"], "negative"),
        ("adams", ["positive", "阳性", "+", "Positive"], "positive"),
        ("sagittal", ["normal", "正常"], "normal"),
        ("sagittal", ["kyphosis", "后凸"], "kyphosis"),
        ("sagittal", ["lordosis", "前凸"], "lordosis"),
        ("sagittal", ["straight_back", "直背", "平背"], "straight_back"),
        ("prone_test", ["resolved", "消失"], "resolved"),
        ("prone_test", ["persists", "未消失"], "persists"),
        ("absent", ["是", "yes", "1", "Y"], True),
        ("absent", ["否", "no", "0"], False),
    ],
)
def test_coded_values_in_english_and_chinese(field, values, code):
    for value in values:
        assert parse_field(field, value) == code, value


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            {"height_cm": "300"},
            "height_cm",
            "height_cm: 300 is outside the plausible range 80.0-220.0 cm",
        ),
        ({"height_cm": "79.9"}, "height_cm", "outside the plausible range 80.0-220.0 cm"),
        ({"height_cm": "140.25"}, "height_cm", "too many decimal places"),
        (
            {"weight_kg": "-3"},
            "weight_kg",
            "weight_kg: -3 is outside the plausible range 10.0-200.0 kg",
        ),
        ({"weight_kg": "abc"}, "weight_kg", "weight_kg: abc is not a number"),
        ({"weight_kg": "1e2"}, "weight_kg", "not a number"),
        ({"ucva_right": "6.1"}, "ucva_right", "ucva_right: 6.1 is outside the plausible range"),
        ({"sph_left": "-31"}, "sph_left", "-30.00-30.00 D"),
        ({"cyl_left": "10.5"}, "cyl_left", "-10.00-10.00 D"),
        ({"atr_lumbar": "31"}, "atr_lumbar", "0-30 degrees"),
        ({"glasses": "monocle"}, "glasses", "none/不戴镜, frame/框架眼镜"),
        ({"adams": "maybe"}, "adams", "negative/阴性, positive/阳性"),
        ({"caries_teeth": "19"}, "caries_teeth", "19 is not a tooth code"),
        ({"caries_teeth": "1a"}, "caries_teeth", "1a is not a tooth code"),
        ({"dmft": "2.5"}, "dmft", "not a whole number"),
        ({"absent": "perhaps"}, "absent", "是/否"),
    ],
)
def test_rejections_name_field_and_allowed_range(raw, field, message):
    m, errors = parse_measurements(raw)
    assert len(errors) == 1
    error = errors[0]
    assert error.field == field
    assert message in error.message
    assert error.key
    assert error.params["field"] == field
    assert getattr(m, field) in (None, False)


def test_field_error_params_support_translation():
    _, [error] = parse_measurements({"height_cm": "300"})
    assert error.key == "out_of_range"
    assert error.params == {
        "field": "height_cm",
        "value": "300",
        "allowed": "80.0-220.0 cm",
        "min": "80.0",
        "max": "220.0",
        "unit": "cm",
    }


def test_a_bad_field_drops_its_whole_screening_type_but_not_the_others():
    m, errors = parse_measurements(
        {
            "atr_thoracic": "35",
            "adams": "阴性",
            "height_cm": "140",
            "weight_kg": "35",
            "ucva_right": "4.8",
        }
    )
    assert error_types(errors) == {ScreeningType.SPINE}
    assert m.adams is None
    assert m.atr_thoracic is None
    assert m.height_cm == Decimal("140")
    assert m.ucva_right == Decimal("4.8")


def test_cross_field_errors_are_reported_by_the_parser():
    _, errors = parse_measurements({"caries_teeth": "16", "filled_teeth": "16"})
    assert [e.key for e in errors] == ["tooth_in_several_lists"]
    _, errors = parse_measurements({"caries_teeth": "55", "filled_teeth": "15"})
    assert [e.key for e in errors] == ["primary_and_permanent_same_position"]
    _, errors = parse_measurements({"sph_right": "-1", "cyl_right": "-1", "se_right": "0"})
    assert [e.key for e in errors] == ["se_inconsistent"]


def test_absent_with_measurements_is_a_row_error():
    m, errors = parse_measurements({"absent": "是", "height_cm": "140"})
    assert [e.field for e in errors] == ["absent"]
    assert error_types(errors) is None
    assert m == Measurements()


def test_absent_pupil_evaluates_to_blank_columns():
    from schoolhealth.rules import evaluate

    m, errors = parse_measurements({"absent": "是"})
    assert errors == []
    cols = evaluate(Sex.MALE, date(2015, 1, 1), date(2025, 1, 1), m).to_evaluation_columns()
    assert cols["weight_status"] == cols["vision_right"] == cols["spine"] == ""
    assert "absent" in cols["errors"]


def test_blank_values_are_not_measured():
    m, errors = parse_measurements({"height_cm": "", "ucva_right": "  ", "adams": None})
    assert errors == []
    assert m == Measurements()


def test_teeth_separators_and_explicit_none():
    assert parse_field("caries_teeth", "16,26 36、46；55") == (16, 26, 36, 46, 55)
    assert parse_field("caries_teeth", "无") == ()
    assert parse_field("caries_teeth", "none") == ()


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("男", Sex.MALE),
        ("女", Sex.FEMALE),
        ("M", Sex.MALE),
        ("f", Sex.FEMALE),
        ("male", Sex.MALE),
        ("Female", Sex.FEMALE),
        ("1", Sex.MALE),
        ("2", Sex.FEMALE),
        ("１", Sex.MALE),
        (" 女 ", Sex.FEMALE),
    ],
)
def test_parse_sex(text, sex):
    assert parse_sex(text) is sex


def test_parse_sex_rejects_with_allowed_values():
    with pytest.raises(InvalidMeasurement, match="男/女, M/F, male/female, 1/2"):
        parse_sex("3")


@pytest.mark.parametrize(
    "text",
    [
        "2015-03-02",
        "2015/3/2",
        "2015.3.2",
        "20150302",
        "2015年3月2日",
        "２０１５-０３-０２",
        "2015-03-02 00:00:00",
    ],
)
def test_parse_date_forms(text):
    assert parse_date(text) == date(2015, 3, 2)


@pytest.mark.parametrize("text", ["2015-02-30", "15-3-2", "March 2", "2015-13-01"])
def test_parse_date_rejects(text):
    with pytest.raises(InvalidMeasurement, match="not a valid date"):
        parse_date(text, "birth_date")


# ---------------------------------------------------------------- GB 11643 id numbers

VALID_ID = "11010519491231002X"  # the standard's worked example


def test_check_digit_of_the_standard_example():
    assert check_character(VALID_ID[:17]) == "X"
    assert validate_id_number(" 11010519491231002x ") == VALID_ID
    assert id_number_birth_date(VALID_ID) == date(1949, 12, 31)
    assert id_number_sex(VALID_ID) is Sex.FEMALE  # digit 17 = 2, even


def make_id(birth: str, sequence: str) -> str:
    first = "440305" + birth + sequence
    return first + check_character(first)


@pytest.mark.parametrize(
    ("sequence", "sex"),
    [("011", Sex.MALE), ("012", Sex.FEMALE), ("999", Sex.MALE), ("000", Sex.FEMALE)],
)
def test_sex_from_digit_17(sequence, sex):
    number = make_id("20150302", sequence)
    assert id_number_sex(number) is sex
    assert id_number_birth_date(number) == date(2015, 3, 2)


def test_every_wrong_check_digit_is_rejected():
    number = make_id("20150302", "123")
    for wrong in "0123456789X":
        if wrong == number[-1]:
            continue
        with pytest.raises(InvalidIdNumber) as info:
            validate_id_number(number[:17] + wrong)
        assert info.value.key == "id_check_digit"
        assert info.value.field == "id_number"


@pytest.mark.parametrize("text", ["", "12345", "1101051949123100XX", "11010519491231002Y"])
def test_malformed_id_numbers(text):
    with pytest.raises(InvalidIdNumber, match="18 characters"):
        validate_id_number(text)


def test_id_number_with_impossible_birth_date():
    number = make_id("20150230", "123")
    with pytest.raises(InvalidIdNumber, match="impossible birth date"):
        validate_id_number(number)
