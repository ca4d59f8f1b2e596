"""Roster files as schools have them: encodings, delimiters, spreadsheets, and bad files."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from schoolhealth.extensions import db
from schoolhealth.roster.importing import parse_roster, read_roster
from schoolhealth.tabular import FileRejected
from tests.roster.fixtures.rosters import (
    HEADER_ZH,
    csv_bytes,
    id_number,
    ods_bytes,
    pupil,
    xlsx_bytes,
    zip_bytes,
)
from tests.roster.fixtures.xls import xls_bytes

ROWS = [pupil(1, name="张小明"), pupil(2, name="李红", sex="F"), pupil(3, name="欧阳娜娜", sex="F")]


@pytest.fixture
def school(factories):
    return factories.SchoolFactory()


def check(data: bytes, file_name: str, school, expected_names=("张小明", "李红", "欧阳娜娜")):
    table = read_roster(data, file_name)
    result = parse_roster(table, school=school, school_year=2026, file_name=file_name)
    assert [i for i in result.issues if i.is_error] == []
    assert [r.values["name"] for r in result.rows] == list(expected_names)
    return table, result


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_accepted_encoding(school, encoding):
    table, _ = check(csv_bytes(HEADER_ZH, ROWS, encoding=encoding), "roster.csv", school)
    assert table.headers[0] == "学籍号"  # no BOM left on the first header


def test_gb18030_only_characters_survive(school):
    rows = [pupil(1, name="王𠀀")]  # U+20000: in GB18030, not in GBK
    check(csv_bytes(HEADER_ZH, rows, encoding="gb18030"), "roster.csv", school, ["王𠀀"])


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_csv_delimiters(school, delimiter):
    check(csv_bytes(HEADER_ZH, ROWS, delimiter=delimiter), "roster.txt", school)


def test_xlsx_with_real_date_cells_serial_numbers_and_numbers(school):
    header = [*HEADER_ZH]
    rows = [
        [
            "L0000000001",
            "张小明",
            "男",
            datetime(2017, 5, 14),
            3,
            2,
            id_number(date(2017, 5, 14), "M", sequence=1),
            "",
        ],
        ["L0000000002", "李红", "女", 42065, "三年级", "(2)班", "", 13800138000],
        ["L0000000003", "欧阳娜娜", "女", "2015年3月2日", 3, "2班", "", ""],
    ]
    _, result = check(xlsx_bytes(header, rows), "roster.xlsx", school)
    assert [r.values["birth_date"] for r in result.rows] == [
        date(2017, 5, 14),
        date(2015, 3, 2),
        date(2015, 3, 2),
    ]
    assert {r.values["grade"] for r in result.rows} == {3}
    assert {r.values["class"] for r in result.rows} == {"2"}
    assert result.rows[1].values["guardian_phone"] == "13800138000"


def test_xlsx_sheet_named_roster_is_preferred_over_the_first(school):
    data = xlsx_bytes(HEADER_ZH, ROWS, sheet="花名册", first_sheet="说明")
    table, _ = check(data, "roster.xlsx", school)
    assert table.sheet_name == "花名册"


def test_ods_with_date_cells(school):
    rows = [[*r[:3], date(2017, 5, 14), *r[4:]] for r in ROWS]
    _, result = check(ods_bytes(HEADER_ZH, rows), "roster.ods", school)
    assert {r.values["birth_date"] for r in result.rows} == {date(2017, 5, 14)}


# --- bad files: each gets its own message ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "file_name", "key", "words"),
    [
        (b"", "roster.csv", "empty", "empty (0 bytes)"),
        (b"\r\n\r\n", "roster.csv", "empty", "no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "roster.csv", "type", "not a CSV"),
        (b"%PDF-1.7 roster", "roster.pdf", "type", "not a CSV or spreadsheet"),
        (zip_bytes({"photos/readme.txt": "hello"}), "roster.xlsx", "not_spreadsheet", "ZIP"),
        (
            zip_bytes({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}),
            "roster.xlsx",
            "not_spreadsheet",
            "ZIP",
        ),
        (b"PK\x03\x04 this is not really a zip file", "roster.xlsx", "spreadsheet", "damaged"),
        (b"just some text pretending", "roster.xlsx", "spreadsheet", "damaged"),
        (b"\xff\x00\xfe\x00" * 20, "roster.csv", "type", "not a CSV"),
        (b'"unclosed,quote\r\n' + b"x" * 200_000, "roster.csv", "csv", "malformed"),
    ],
    ids=[
        "0-byte",
        "blank-lines",
        "png-as-csv",
        "pdf",
        "zip-folder",
        "docx-as-xlsx",
        "broken-zip",
        "text-as-xlsx",
        "binary",
        "csv-field-too-long",
    ],
)
def test_bad_files_are_rejected_with_a_specific_reason(app, data, file_name, key, words):
    with pytest.raises(FileRejected) as caught:
        read_roster(data, file_name)
    assert caught.value.key == key
    assert words in str(caught.value)


def test_text_in_an_unknown_encoding_is_rejected(app):
    # Not UTF-8, and 0x80 0x30 is no GB18030 sequence either.
    with pytest.raises(FileRejected) as caught:
        read_roster("学籍号,姓名\n".encode() + b"\x80\x30\x80\x30", "roster.csv")
    assert caught.value.key == "encoding"


def test_too_many_rows_is_rejected(app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 2)
    with pytest.raises(FileRejected) as caught:
        read_roster(csv_bytes(HEADER_ZH, ROWS), "roster.csv")
    assert caught.value.key == "too_many_rows"


def test_wrong_headers_are_file_errors(school):
    data = csv_bytes(["编号", "名字", "男女"], [["1", "张三", "男"]])
    result = parse_roster(read_roster(data, "roster.csv"), school=school, school_year=2026)
    missing = [i.params["name"] for i in result.file_errors]
    assert missing == ["student_number", "name", "sex", "birth_date", "grade", "class"]
    assert {i.column for i in result.issues if not i.is_error} == {"编号", "名字", "男女"}


# --- Excel 97-2003 (.xls) ---------------------------------------------------------------


def test_xls_with_date_cells_serial_numbers_and_numbers(school):
    rows = [
        ["L0000000001", "张小明", "男", date(2017, 5, 14), 3, 2, "", 13800138000],
        ["L0000000002", "李红", "女", 42065, "三年级", "(2)班", "", ""],
        ["L0000000003", "欧阳娜娜", "女", "2015/3/2", 3.0, "2班", "", ""],
    ]
    table, result = check(xls_bytes(HEADER_ZH, rows, sheet="花名册"), "roster.xls", school)
    assert table.sheet_name == "花名册"
    assert [r.values["birth_date"] for r in result.rows] == [
        date(2017, 5, 14),  # a date cell
        date(2015, 3, 2),  # a serial number without a date format
        date(2015, 3, 2),
    ]
    assert {r.values["grade"] for r in result.rows} == {3}
    assert {r.values["class"] for r in result.rows} == {"2"}
    assert result.rows[0].values["guardian_phone"] == "13800138000"  # not 1.38e10


def test_xls_with_an_id_number_typed_as_text(school):
    birth = date(2017, 5, 14)
    rows = [["L0000000001", "张小明", "男", birth, 3, 2, id_number(birth, "M", sequence=1), ""]]
    _, result = check(xls_bytes(HEADER_ZH, rows), "roster.xls", school, ["张小明"])
    assert result.rows[0].values["id_number"] == id_number(birth, "M", sequence=1)


def test_xls_id_numbers_excel_turned_into_numbers_never_block_the_pupils(school):
    # Typed without formatting the column as text, Excel keeps 15 significant digits.
    rows = [
        ["L0000000001", "张小明", "男", date(2017, 5, 14), 3, 2, 1.10105201705141e17, ""],
        ["L0000000002", "李红", "女", date(2017, 6, 1), 3, 2, 1.10105201706012e17, ""],
        pupil(3, name="欧阳娜娜", sex="F"),
    ]
    table = read_roster(xls_bytes(HEADER_ZH, rows), "roster.xls")
    result = parse_roster(table, school=school, school_year=2026)
    assert not result.has_errors
    assert [r.status for r in result.rows] == ["new", "new", "new"]
    assert "id_number" not in result.rows[0].values
    assert "id_number" in result.rows[2].values
    [issue] = result.issues
    assert (issue.line, issue.column, issue.key, issue.severity) == (
        None,
        "身份证号",
        "id_numbers_excel_column",
        "warning",
    )
    assert issue.message.startswith("2 ID numbers were damaged by Excel and were not imported")
    assert "(rows 2–3)" in issue.message


def test_330_damaged_ids_of_360_pupils_give_one_warning_and_every_pupil(school):
    rows = []
    for n in range(1, 361):
        row = pupil(n)
        if n <= 330:  # what a CSV saved by Excel from a number-formatted column holds
            row[6] = f"{float(row[6][:17]):.5E}"  # 1.10105E+17
        rows.append(row)
    table = read_roster(csv_bytes(HEADER_ZH, rows), "roster.csv")
    result = parse_roster(table, school=school, school_year=2026)
    assert result.counts()["new"] == 360
    assert [(i.key, i.params["count"]) for i in result.issues] == [("id_numbers_excel_column", 330)]


def test_an_excel_damaged_id_keeps_the_id_already_stored(app, school, factories):
    from schoolhealth.roster.importing import apply_roster

    birth = date(2017, 5, 14)
    stored = id_number(birth, "M", sequence=1)
    student = factories.StudentFactory(
        school=school, student_number="L0000000001", id_number=stored, birth_date=birth, sex="M"
    )
    # the full number, kept to 15 significant digits: ...000 and a wrong check digit
    damaged = stored[:15] + "000" if stored[15:] != "000" else stored[:14] + "1000"
    rows = [["L0000000001", student.name, "男", birth, 3, 2, damaged, ""]]
    table = read_roster(csv_bytes(HEADER_ZH, rows), "roster.csv")
    result = parse_roster(table, school=school, school_year=2026)
    assert not result.has_errors
    assert [i.key for i in result.issues] == ["id_numbers_excel_column"]
    apply_roster(result, school=school, school_year=2026, user=None)
    db.session.refresh(student)
    assert student.id_number == stored


@pytest.mark.parametrize(
    "above",
    [
        [["XX小学2026学年学生花名册"]],
        [["XX小学2026学年学生花名册", "", "", ""], ["导出日期：2026-09-01"], []],
        [[], ["Roster of class 3-2"], ["学生基本信息", "", "备注"]],
    ],
)
def test_title_rows_above_the_header_are_skipped_and_the_header_row_is_named(school, above):
    data = csv_bytes(HEADER_ZH, ROWS)
    lines = [",".join(cells) for cells in above]
    data = ("\r\n".join(lines) + "\r\n").encode() + data
    table, result = check(data, "roster.csv", school)
    assert table.header_line == len(above) + 1
    assert [r.line for r in result.rows] == [len(above) + 2, len(above) + 3, len(above) + 4]


def test_title_rows_in_a_spreadsheet(school):
    rows = [["张小明 is not a header"], *ROWS]  # nothing here names two roster columns
    title = ["XX小学2026学年学生花名册"]
    data = xlsx_bytes(title, [[], HEADER_ZH, *ROWS])
    table, result = check(data, "roster.xlsx", school)
    assert table.header_line == 3
    assert result.rows[0].line == 4
    assert rows  # the title text itself is never read as a pupil


def test_a_file_without_any_header_row_still_names_the_missing_columns(school):
    data = csv_bytes(["XX小学花名册"], [["a"], ["b"]])
    table = read_roster(data, "roster.csv")
    assert table.header_line == 1
    result = parse_roster(table, school=school, school_year=2026)
    assert [i.key for i in result.file_errors][:1] == ["missing_column"]


def test_tab_separated_text_saved_as_xls_is_read_as_text(school):
    """What web-based student systems often export: text with an .xls name."""
    for encoding in ("utf-8", "gbk"):
        data = csv_bytes(HEADER_ZH, ROWS, encoding=encoding, delimiter="\t")
        table, _ = check(data, "学籍导出.xls", school)
        assert table.encoding in ("utf-8", "gb18030")


@pytest.mark.parametrize("file_name", ["roster.xls", "roster.xlsx", "roster.ods"])
def test_a_web_page_saved_as_a_spreadsheet_is_named_as_such(app, file_name):
    page = "\ufeff<html><body><table><tr><td>学籍号</td></tr></table></body></html>"
    with pytest.raises(FileRejected) as caught:
        read_roster(page.encode(), file_name)
    assert caught.value.key == "web_page"
    assert "web page (HTML)" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,  # an OLE2 header and nothing
        bytes(range(256)) * 40,  # binary under an .xls name
    ],
    ids=["truncated-ole2", "binary"],
)
def test_a_damaged_xls_is_rejected(app, data):
    with pytest.raises(FileRejected) as caught:
        read_roster(data, "roster.xls")
    assert caught.value.key == "spreadsheet"
    assert "damaged" in str(caught.value)


def test_csv_holding_excel_serial_dates(school):
    """A CSV saved from a sheet whose date column had lost its format."""
    rows = [pupil(1), pupil(2)]
    rows[0][3], rows[1][3] = "42065", "43000"
    table = read_roster(csv_bytes(HEADER_ZH, rows, encoding="gbk"), "roster.csv")
    result = parse_roster(table, school=school, school_year=2026)
    assert [r.values["birth_date"] for r in result.rows] == [date(2015, 3, 2), date(2017, 9, 22)]
    # The ID numbers say 2017-05-14: a serial date that disagrees is still caught.
    assert {i.key for i in result.issues if i.is_error} == {"id_birth_mismatch"}
