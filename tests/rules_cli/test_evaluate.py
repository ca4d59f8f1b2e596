"""``flask rules evaluate IN OUT``: results file in, evaluation.md CSV out, bad rows kept."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import xlsxwriter

from schoolhealth import create_app
from schoolhealth.results_file import evaluate_file
from schoolhealth.rules import EVALUATION_COLUMNS, RULESET_VERSION
from schoolhealth.rules.idnumber import check_character
from schoolhealth.tabular import FileRejected


@pytest.fixture(scope="module")
def cli_app():
    return create_app("testing")


def run(cli_app, *args: str):
    return cli_app.test_cli_runner().invoke(args=["rules", "evaluate", *map(str, args)])


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_output(path: Path) -> tuple[list[str], list[dict[str, str]], list[list[str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "output must be UTF-8 with BOM for Excel"
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    header = rows[0]
    n = len(EVALUATION_COLUMNS)
    assert header[-n:] == list(EVALUATION_COLUMNS)
    return (
        header,
        [dict(zip(EVALUATION_COLUMNS, r[-n:], strict=True)) for r in rows[1:]],
        [r[:-n] for r in rows[1:]],
    )


def id_number(birth: str, sequence: str) -> str:
    first = "110105" + birth + sequence
    return first + check_character(first)


def wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


ENGLISH = [
    [
        "student_number",
        "name",
        "sex",
        "birth_date",
        "screening_date",
        "height_cm",
        "weight_kg",
        "ucva_right",
        "ucva_left",
        "sph_right",
        "cyl_right",
        "se_left",
        "adams",
        "atr_thoracic",
        "caries_teeth",
        "dmft",
        "DMFT",
    ],
    # B1: boy 10.0~, BMI 19.2 -> overweight; B8 right eye; B12 ATR 5.0
    [
        "G001",
        "Li Lei",
        "男",
        "2015-03-10",
        "2025-03-10",
        "100.0",
        "19.2",
        "4.9",
        "1.0",
        "-0.25",
        "-0.50",
        "",
        "阴性",
        "5.0",
        "16 55",
        "1",
        "1",
    ],
    [
        "G002",
        "Han Meimei",
        "F",
        "2012/6/1",
        "2025.9.1",
        "300",
        "40",
        "0.6",
        "4.8",
        "",
        "",
        "-1.00",
        "negative",
        "4.9",
        "",
        "",
        "",
    ],
    [
        "G003",
        "Bad Date",
        "M",
        "2015-03-10",
        "2014-01-01",
        "140",
        "35",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "G004",
        "Absent",
        "M",
        "2015-03-10",
        "2025-03-10",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
]


def test_english_headers_end_to_end(cli_app, tmp_path):
    src = write_csv(tmp_path / "results.csv", ENGLISH)
    out = tmp_path / "out.csv"
    result = run(cli_app, src, out)
    assert result.exit_code == 0, result.output
    assert "4 rows evaluated with rule set cn-2026.2" in result.output
    header, rows, inputs = read_output(out)
    assert header[: len(ENGLISH[0])] == ENGLISH[0]
    assert [r[0] for r in inputs] == ["G001", "G002", "G003", "G004"]
    assert inputs[1][5] == "300"  # input kept as typed

    first = rows[0]
    assert first["sex"] == "M"
    assert first["age_years"] == "10.00"
    assert first["age_band"] == "10.0"
    assert (first["bmi"], first["weight_status"], first["thinness"]) == (
        "19.2",
        "overweight",
        "none",
    )
    assert first["stunting"] == "yes"  # 100 cm at 10 y
    assert (first["vision_right"], first["myopia_right"]) == ("mild", "yes")
    assert (first["vision_left"], first["myopia_left"]) == ("normal", "no")
    assert (first["spine"], first["atr_max"]) == ("suspected_scoliosis", "5.0")
    assert (first["caries"], first["dmft"], first["DMFT"]) == ("yes", "1", "1")
    assert first["sealant_advice"] == ""  # 10.0 y: outside both default bands
    assert first["refer"] == "vision spine growth dental"
    assert first["rule_set"] == RULESET_VERSION
    assert first["errors"] == ""

    second = rows[1]
    assert second["errors"].startswith(
        "row 3: height_cm: 300 is outside the plausible range 80.0-220.0 cm"
    )
    assert second["bmi"] == second["weight_status"] == second["stunting"] == ""
    assert (second["vision_right"], second["myopia_right"]) == ("moderate", "unknown")
    assert (second["vision_left"], second["myopia_left"]) == ("moderate", "yes")
    assert second["spine"] == "normal"
    assert second["caries"] == ""

    third = rows[2]
    assert (
        (third["errors"]) == "row 4: screening_date: 2014-01-01 is before the birth date 2015-03-10"
    )
    assert all(third[c] == "" for c in EVALUATION_COLUMNS if c not in ("rule_set", "errors"))

    fourth = rows[3]
    assert fourth["errors"] == ""
    assert fourth["weight_status"] == ""
    assert fourth["refer"] == ""
    assert fourth["age_band"] == "10.0"


CHINESE = [
    [
        "学籍号",
        "身份证号",
        "姓名",
        "检查日期",
        "身高",
        "体重",
        "右眼裸眼视力",
        "左眼裸眼视力",
        "戴镜类型",
        "一般检查",
        "前屈试验",
        "胸段ATR",
        "胸腰段ATR",
        "腰段ATR",
        "前后弯曲",
        "俯卧试验",
        "龋齿牙位",
        "充填牙位",
        "窝沟封闭牙位",
        "缺检",
    ],
    [
        "",
        id_number("20160815", "123"),
        "王小明",
        "2024-09-01",
        "１２５.０",
        "23.5",
        "5.0",
        "4.7",
        "不戴镜",
        "正常",
        "阴性",
        "2",
        "3",
        "1",
        "后凸",
        "消失",
        "无",
        "",
        "26",
        "否",
    ],
    [
        "",
        id_number("20130301", "024"),
        "李红",
        "20240901",
        "150.2",
        "38.6",
        "5.0",
        "4.9",
        "角膜塑形镜",
        "异常",
        "阴性",
        "",
        "",
        "",
        "正常",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "",
        wrong_check_digit(id_number("20130301", "024")),
        "错号",
        "2024-09-01",
        "150",
        "40",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
]


def test_chinese_headers_and_sex_birth_from_id_number(cli_app, tmp_path):
    src = write_csv(tmp_path / "结果.csv", CHINESE, encoding="gb18030")
    out = tmp_path / "out.csv"
    result = run(cli_app, src, out)
    assert result.exit_code == 0, result.output
    _, rows, _ = read_output(out)
    boy, girl, bad = rows
    assert (boy["sex"], boy["age_years"], boy["age_band"]) == ("M", "8.04", "8.0")
    assert (boy["bmi"], boy["weight_status"], boy["stunting"]) == ("15.0", "normal", "no")
    assert (boy["vision_right"], boy["vision_left"], boy["myopia_left"]) == (
        "normal",
        "moderate",
        "unknown",
    )
    assert boy["spine"] == "postural"  # kyphosis that resolves on the prone test
    assert (boy["caries"], boy["sealant_advice"]) == ("no", "16 36 46")
    assert boy["refer"] == "vision"

    assert girl["sex"] == "F"  # digit 17 = 2
    assert girl["vision_right"] == girl["myopia_right"] == girl["vision_left"] == ""  # ortho-k
    assert "orthokeratology" in girl["errors"]
    assert girl["spine"] == "postural"  # general abnormal, Adams negative

    assert bad["weight_status"] == ""
    assert "row 4: id_number:" in bad["errors"]
    assert "check digit" in bad["errors"]


def test_spreadsheet_input_and_default_screening_date(cli_app, tmp_path):
    src = tmp_path / "results.xlsx"
    workbook = xlsxwriter.Workbook(str(src))
    sheet = workbook.add_worksheet("Results")
    rows = [
        ["学籍号", "性别", "出生日期", "身高", "体重", "乳牙龋失补", "恒牙龋失补"],
        ["S1", "女", "2013-03-02", 150.0, 56.0, 0, 0],
        ["S2", "女", "2013-03-02", 150.0, 30.0, 2, 0],
    ]
    for r, values in enumerate(rows):
        sheet.write_row(r, 0, values)
    workbook.close()
    out = tmp_path / "out.csv"
    result = run(cli_app, src, out, "--screening-date", "2025-09-02")
    assert result.exit_code == 0, result.output
    _, rows_out, _ = read_output(out)
    first, second = rows_out
    assert (first["age_band"], first["bmi"], first["weight_status"]) == ("12.5", "24.9", "obese")
    assert (first["caries"], first["dmft"], first["DMFT"]) == ("no", "0", "0")
    assert first["sealant_advice"] == "17 27 37 47"
    assert (second["caries"], second["dmft"]) == ("", "2")  # counts alone: d vs f unknown
    assert "record caries_teeth" in second["errors"]


def test_growth_reference_option_and_rule_set_column(cli_app, tmp_path):
    src = write_csv(
        tmp_path / "r.csv",
        [
            ["student_number", "sex", "birth_date", "screening_date", "height_cm", "weight_kg"],
            ["A", "M", "2015-01-15", "2025-01-15", "100.0", "18.48"],
            ["B", "M", "2015-01-15", "2025-01-15", "100.0", "18.47"],
        ],
    )
    out = tmp_path / "o.csv"
    result = run(cli_app, src, out, "--growth-reference", "who2007")
    assert result.exit_code == 0, result.output
    _, rows, _ = read_output(out)
    assert [r["weight_status"] for r in rows] == ["overweight", "normal"]  # B11
    assert rows[0]["rule_set"] == "cn-2026.2 (growth_reference=who2007)"
    result = run(cli_app, src, out)
    _, rows, _ = read_output(out)
    assert [r["weight_status"] for r in rows] == ["normal", "normal"]  # WS/T 586: 19.2


def test_missing_screening_date_and_bad_sex_are_row_errors(cli_app, tmp_path):
    src = write_csv(
        tmp_path / "r.csv",
        [
            ["student_number", "sex", "birth_date", "height_cm", "weight_kg", "extra"],
            ["A", "M", "2015-01-15", "130", "30", "x"],
            ["B", "X", "2015-01-15", "130", "30", "y", "spill"],
        ],
    )
    out = tmp_path / "o.csv"
    result = run(cli_app, src, out)
    assert result.exit_code == 0, result.output
    _, rows, inputs = read_output(out)
    assert rows[0]["errors"] == (
        "row 2: screening_date: missing (no screening_date value and no --screening-date)"
    )
    assert rows[1]["errors"].startswith(
        "row 3: 1 cells beyond the last header were ignored; sex: X is not one of"
    )
    assert inputs[1] == ["B", "X", "2015-01-15", "130", "30", "y"]
    assert "0 clean, 2 with rejected values (2 left blank)" in result.output


def test_whole_file_problems_exit_with_a_message(cli_app, tmp_path):
    src = write_csv(tmp_path / "roster.csv", [["姓名", "性别"], ["张三", "男"]])
    result = run(cli_app, src, tmp_path / "o.csv")
    assert result.exit_code != 0
    assert "student_number (学籍号) or id_number (身份证号)" in result.output
    src = write_csv(tmp_path / "r2.csv", [["学籍号", "姓名"], ["1", "张三"]])
    result = run(cli_app, src, tmp_path / "o.csv")
    assert result.exit_code != 0
    assert "No measurement column" in result.output
    result = run(cli_app, src, src)
    assert result.exit_code != 0
    assert "must differ" in result.output
    src = write_csv(tmp_path / "r3.csv", [["学籍号", "身高", "height_cm"], ["1", "1", "2"]])
    result = run(cli_app, src, tmp_path / "o.csv")
    assert result.exit_code != 0
    assert "same meaning" in result.output


def test_bad_option_values_are_refused(cli_app, tmp_path):
    src = write_csv(tmp_path / "r.csv", ENGLISH[:2])
    result = run(cli_app, src, tmp_path / "o.csv", "--atr-positive-degrees", "45")
    assert result.exit_code != 0
    assert "atr_positive_degrees" in result.output
    result = run(cli_app, src, tmp_path / "o.csv", "--screening-date", "2025-02-30")
    assert result.exit_code != 0
    assert "not a valid date" in result.output


def test_dmft_headers_are_case_sensitive(tmp_path):
    src = write_csv(
        tmp_path / "r.csv",
        [
            ["student_number", "sex", "birth_date", "screening_date", "DMFT", "dmft"],
            ["A", "F", "2016-01-15", "2025-01-15", "3", "0"],
        ],
    )
    report = evaluate_file(src, tmp_path / "o.csv")
    assert report.rows == 1
    _, rows, _ = read_output(tmp_path / "o.csv")
    assert (rows[0]["dmft"], rows[0]["DMFT"]) == ("0", "3")


def test_evaluate_file_rejects_unreadable_input(tmp_path):
    src = tmp_path / "x.csv"
    src.write_bytes(b"")
    with pytest.raises(FileRejected):
        evaluate_file(src, tmp_path / "o.csv")


def test_id_number_against_sex_and_birth_date_columns(tmp_path):
    good = id_number("20150115", "123")  # male (3 is odd), born 2015-01-15
    bad_check = wrong_check_digit(good)
    src = write_csv(
        tmp_path / "r.csv",
        [
            ["学籍号", "身份证号", "性别", "出生日期", "检查日期", "身高", "体重"],
            ["A", good, "女", "2015-01-15", "2025-01-15", "130", "30"],  # sex disagrees
            ["B", good, "男", "2015-01-16", "2025-01-15", "130", "30"],  # birth date disagrees
            ["C", bad_check, "男", "2015-01-15", "2025-01-15", "130", "30"],  # columns suffice
            ["D", good, "", "", "2025-01-15", "130", "30"],  # everything from the id number
        ],
    )
    report = evaluate_file(src, tmp_path / "o.csv")
    _, rows, _ = read_output(tmp_path / "o.csv")
    assert rows[0]["errors"] == "row 2: sex: 女 disagrees with id_number, which says M"
    assert rows[0]["weight_status"] == ""
    assert (
        "birth_date: 2015-01-16 disagrees with id_number, which says 2015-01-15"
        in (rows[1]["errors"])
    )
    assert rows[2]["weight_status"] == "normal"
    assert "check digit" in rows[2]["errors"]
    assert (rows[3]["sex"], rows[3]["age_years"], rows[3]["weight_status"]) == (
        "M",
        "10.00",
        "normal",
    )
    assert (report.rows, report.clean, report.with_errors, report.blank) == (4, 1, 3, 2)
