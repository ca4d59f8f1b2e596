"""The roster import in the browser: upload, dry-run report, confirm; access; bad files."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Job, Student
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil, xlsx_bytes, zip_bytes
from tests.roster.fixtures.xls import xls_bytes


@pytest.fixture
def school(factories):
    return factories.SchoolFactory(code="S-A", name="第一小学")


@pytest.fixture
def nurse(factories, school):
    return factories.NurseFactory(school=school)


def upload(client, data: bytes, file_name: str = "roster.csv", **fields):
    form = {"file": (io.BytesIO(data), file_name), "school_year": "2026", **fields}
    return client.post("/roster/import", data=form, content_type="multipart/form-data")


def job_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/roster/import/(\d+)$", response.headers["Location"]).group(1))


def count_of(html: str, key: str) -> int:
    return int(re.search(rf'id="count-{key}">(\d+)<', html).group(1))


def student_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Student))


def test_upload_shows_a_dry_run_report_then_confirm_imports(client, login_as, nurse, school):
    login_as(nurse)
    page = client.get("/roster/import")
    assert page.status_code == 200
    assert "S-A 第一小学" in page.get_data(as_text=True)  # the nurse's school, fixed

    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), pupil(2)])))
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(report, "new") == 2
    assert count_of(report, "errors") == 0
    assert "Nothing has been saved yet." in report
    assert 'id="confirm-import"' in report
    assert student_count() == 0  # the dry run wrote nothing

    done = client.post(f"/roster/import/{job_id}/confirm")
    assert done.headers["Location"].endswith(f"/roster/import/{job_id}")
    result = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert "The roster was imported." in result
    assert count_of(result, "created") == 2
    assert student_count() == 2
    job = db.session.get(Job, job_id)
    assert (job.status, job.payload, job.school_id, job.user_id) == (
        "done",
        None,
        school.id,
        nurse.id,
    )
    assert job.result["summary"]["created"] == 2

    again = client.post(f"/roster/import/{job_id}/confirm", follow_redirects=True)
    assert "already been imported" in again.get_data(as_text=True)
    assert student_count() == 2


def test_report_lists_each_problem_and_offers_no_confirm(client, login_as, nurse):
    login_as(nurse)
    bad = pupil(2)
    bad[3] = "2015-13-01"
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), bad])))
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(report, "errors") == 1
    assert re.search(
        r'<td class="num">3</td>\s*<td>出生日期</td>\s*<td><code>2015-13-01</code></td>\s*'
        r'<td class="problem">not a valid date</td>',
        report,
    )
    assert 'id="confirm-import"' not in report
    assert 'id="errors-note"' in report
    refused = client.post(f"/roster/import/{job_id}/confirm", follow_redirects=True)
    assert "The file has errors" in refused.get_data(as_text=True)
    assert student_count() == 0
    assert db.session.get(Job, job_id).status == "draft"


def test_skip_invalid_rows_must_be_chosen_and_then_imports_valid_rows(client, login_as, nurse):
    login_as(nurse)
    bad = pupil(2)
    bad[2] = "X"
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), bad]), skip_invalid_rows="y"))
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert 'id="skip-note"' in report
    client.post(f"/roster/import/{job_id}/confirm")
    result = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert count_of(result, "created") == 1
    assert count_of(result, "skipped") == 1
    assert student_count() == 1


def test_long_reports_are_paged(client, login_as, nurse):
    login_as(nurse)
    rows = []
    for n in range(1, 151):
        row = pupil(n, with_id=False)
        row[2] = "?"
        rows.append(row)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, rows)))
    first = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    second = client.get(f"/roster/import/{job_id}?page=2").get_data(as_text=True)
    assert first.count('class="issue-error"') == 100
    assert second.count('class="issue-error"') == 50
    assert "Page 2 of 2" in second


@pytest.mark.parametrize(
    ("data", "file_name", "message"),
    [
        (b"", "roster.csv", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "This is not a CSV or spreadsheet"),
        (b"%PDF-1.7", "roster.pdf", "This is not a CSV or spreadsheet"),
        (zip_bytes({"a/readme.txt": "x"}), "roster.xlsx", "This file is a ZIP archive"),
        (b"PK\x03\x04garbage", "roster.xlsx", "could not be opened"),
        (
            csv_bytes(["编号", "名字"], [["1", "张三"]]),
            "roster.csv",
            "Required column 学籍号 / student_number is missing.",
        ),
        (csv_bytes(HEADER_ZH, []), "roster.csv", "The file has a header row but no pupils."),
        ("学籍号,姓名\n".encode() + b"\x80\x30", "roster.csv", "not UTF-8 or GBK/GB18030"),
        (b'"unclosed,quote\r\n' + b"x" * 200_000, "roster.csv", "The CSV file is malformed"),
        (b"<html><table><tr><td>1</td></tr></table>", "roster.xls", "is a web page (HTML)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "roster.xls", "could not be opened"),
        (
            xls_bytes(["学号", "名字"], [["L0000000001", "张三"]]),
            "roster.xls",
            "Required column 性别 / sex is missing.",
        ),
    ],
    ids=[
        "0-byte",
        "binary",
        "wrong-type",
        "zip-not-xlsx",
        "corrupt-xlsx",
        "wrong-headers",
        "no-rows",
        "bad-encoding",
        "malformed-csv",
        "html-as-xls",
        "corrupt-xls",
        "xls-wrong-headers",
    ],
)
def test_bad_files_get_a_clear_message_and_nothing_is_kept(
    client, login_as, nurse, data, file_name, message
):
    login_as(nurse)
    response = upload(client, data, file_name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_file_with_too_many_rows_is_refused(app, client, login_as, nurse, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 1000)
    login_as(nurse)
    response = upload(client, csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 1100)]))
    assert response.status_code == 400
    assert "The file has more than 1,000 rows; split it into smaller files." in (
        response.get_data(as_text=True)
    )


def test_gbk_csv_and_xlsx_uploads_work(client, login_as, nurse):
    login_as(nurse)
    gbk = csv_bytes(HEADER_ZH, [pupil(1, name="张小明")], encoding="gbk")
    report = client.get(f"/roster/import/{job_id_of(upload(client, gbk))}")
    assert count_of(report.get_data(as_text=True), "new") == 1
    xlsx = xlsx_bytes(HEADER_ZH, [pupil(1, name="张小明")])
    report = client.get(f"/roster/import/{job_id_of(upload(client, xlsx, 'roster.xlsx'))}")
    assert count_of(report.get_data(as_text=True), "new") == 1


def test_xls_upload_with_date_cells_and_serial_dates_imports(client, login_as, nurse):
    login_as(nurse)
    rows = [pupil(1, name="张小明"), pupil(2, name="李红", sex="F")]
    rows[0][3] = date(2017, 5, 14)  # a date cell
    rows[1][3] = 42869  # 2017-05-14 as a bare serial number
    rows[1][4] = 3
    job_id = job_id_of(upload(client, xls_bytes(HEADER_ZH, rows), "花名册.xls"))
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert (count_of(report, "new"), count_of(report, "errors")) == (2, 0)
    client.post(f"/roster/import/{job_id}/confirm")
    births = db.session.scalars(select(Student.birth_date)).all()
    assert births == [date(2017, 5, 14), date(2017, 5, 14)]


def test_a_huge_upload_is_refused_before_it_is_read(app, client, login_as, nurse, monkeypatch):
    """Above MAX_CONTENT_LENGTH Werkzeug stops reading: 413, a page, and nothing kept."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    login_as(nurse)
    huge = csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 20_000)])
    assert len(huge) > 1024 * 1024
    # Encoded here, in memory: the test client would spool a body this size to a
    # temporary file that it never closes when the request is refused.
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(huge), "roster.csv"), "school_year": "2026"}
    )
    response = client.post(
        "/roster/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "The file is too large to upload." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_missing_file_is_a_form_error(client, login_as, nurse):
    login_as(nurse)
    response = client.post(
        "/roster/import", data={"school_year": "2026"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Choose a roster file." in response.get_data(as_text=True)


def test_too_large_upload_gets_the_413_page(app, client, login_as, nurse, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    login_as(nurse)
    response = upload(client, csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 100)]))
    assert response.status_code == 413
    assert "The file is too large to upload." in response.get_data(as_text=True)


# --- access -------------------------------------------------------------------------------


def test_an_upload_belongs_to_its_uploader(app, client, login_as, nurse, school, factories):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    for other in (
        factories.NurseFactory(school=school),
        factories.NurseFactory(),
        factories.AdminFactory(),
    ):
        # A fresh app context: Flask-Login caches the signed-in user on ``g``.
        with app.app_context():
            login_as(other)
            assert client.get(f"/roster/import/{job_id}").status_code == 404
            assert client.get(f"/roster/import/{job_id}/status.json").status_code == 404
            assert client.post(f"/roster/import/{job_id}/confirm").status_code == 404
            assert client.post(f"/roster/import/{job_id}/cancel").status_code == 404
    assert student_count() == 0
    assert db.session.get(Job, job_id).status == "draft"


def test_a_nurse_cannot_import_into_another_school(client, login_as, nurse, school, factories):
    other = factories.SchoolFactory()
    login_as(nurse)
    data = csv_bytes(HEADER_ZH, [pupil(1)])
    assert upload(client, data, school_id=str(other.id)).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0
    job_id = job_id_of(upload(client, data))  # her own school needs no choice
    client.post(f"/roster/import/{job_id}/confirm")
    assert db.session.scalars(select(Student.school_id)).all() == [school.id]


def test_a_nurse_whose_school_changed_loses_her_pending_upload(client, login_as, nurse, factories):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    nurse.school = factories.SchoolFactory()
    db.session.commit()
    assert client.post(f"/roster/import/{job_id}/confirm").status_code == 404
    assert student_count() == 0


def test_admin_chooses_the_school_or_several_schools(client, login_as, factories):
    a = factories.SchoolFactory(code="A001")
    b = factories.SchoolFactory(code="B002")
    login_as(factories.AdminFactory())
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)]), school_id=str(b.id)))
    client.post(f"/roster/import/{job_id}/confirm")
    header = [*HEADER_ZH, "学校代码"]
    rows = [[*pupil(2), "A001"], [*pupil(3), "B002"]]
    job_id = job_id_of(upload(client, csv_bytes(header, rows), school_id="0"))
    client.post(f"/roster/import/{job_id}/confirm")
    placed = dict(db.session.execute(select(Student.student_number, Student.school_id)).all())
    assert placed == {"L0000000001": b.id, "L0000000002": a.id, "L0000000003": b.id}


@pytest.mark.parametrize("role", ["OfficialFactory", "InstitutionUserFactory"])
def test_officials_and_institutions_cannot_import_or_export(client, login_as, factories, role):
    login_as(getattr(factories, role)())
    assert client.get("/roster/import").status_code == 403
    assert client.get("/roster/export?school_id=1").status_code == 403


def test_signed_out_users_are_sent_to_sign_in(client):
    response = client.get("/roster/import")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- expiry, cancel, progress --------------------------------------------------------------


def test_an_unconfirmed_upload_expires(client, login_as, nurse):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    job = db.session.get(Job, job_id)
    job.created_at -= timedelta(hours=2)
    db.session.commit()
    response = client.post(f"/roster/import/{job_id}/confirm", follow_redirects=True)
    assert "expired" in response.get_data(as_text=True)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.status, job.payload) == ("expired", None)
    assert student_count() == 0


def test_a_new_upload_clears_expired_files_of_others(
    app, client, login_as, nurse, factories, school
):
    login_as(nurse)
    old_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    job = db.session.get(Job, old_id)
    job.created_at -= timedelta(hours=2)
    db.session.commit()
    other = factories.NurseFactory(school=school)
    with app.app_context():
        login_as(other)
        new_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(2)])))
        assert db.session.get(Job, new_id).user_id == other.id
    db.session.expire_all()
    assert db.session.get(Job, old_id).payload is None


def test_cancel_discards_the_upload(client, login_as, nurse):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    response = client.post(f"/roster/import/{job_id}/cancel", follow_redirects=True)
    assert "nothing was imported" in response.get_data(as_text=True)
    assert client.post(f"/roster/import/{job_id}/confirm").status_code == 302
    assert student_count() == 0
    assert db.session.get(Job, job_id).payload is None


def test_status_json_follows_the_check_then_the_import(client, login_as, nurse):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), pupil(2)])))
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    assert (status["state"], status["finished"]) == ("done", True)  # the check ran inline
    assert status["url"].endswith(f"/roster/import/{job_id}")
    client.post(f"/roster/import/{job_id}/confirm")
    status = client.get(f"/roster/import/{job_id}/status.json").get_json()
    assert (status["state"], status["finished"], status["progress"], status["total"]) == (
        "done",
        True,
        2,
        2,
    )


def test_confirming_audits_one_import_event(client, login_as, nurse, school):
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)]), file_name="一班.csv"))
    client.post(f"/roster/import/{job_id}/confirm")
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert (event.user_id, event.school_id, event.after["file"]) == (
        nurse.id,
        school.id,
        "一班.csv",
    )
    assert event.ip_address is None or event.ip_address == "127.0.0.1"


def test_a_failed_job_says_why_in_the_readers_language(client, login_as, nurse):
    """The job stores a message key, not a sentence: each reader gets their own language."""
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1)])))
    job = db.session.get(Job, job_id)
    job.payload = None  # the kept file is gone (e.g. cleaned up) before the confirm
    db.session.commit()
    client.post(f"/roster/import/{job_id}/confirm")
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "failed"
    assert job.result == {"error": {"key": "upload_gone", "params": {}}}
    english = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert "The uploaded file is no longer available; upload it again." in english
    nurse.locale = "zh_Hans_CN"
    db.session.commit()
    chinese = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert "上传的文件已不存在，请重新上传。" in chinese
    assert "no longer available" not in chinese
    assert student_count() == 0


def test_the_preview_names_the_header_row_shows_the_first_rows_and_groups_problems(
    client, login_as, nurse
):
    login_as(nurse)
    rows = [pupil(n) for n in range(1, 13)]
    for n in (3, 4, 5, 6, 9):  # the same problem on five rows
        rows[n - 1][3] = "2015-13-01"
    data = "第一小学2026学年学生花名册,,,,,,,\r\n".encode() + csv_bytes(HEADER_ZH, rows)
    job_id = job_id_of(upload(client, data))
    page = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert "Row 2 of the file was used as the header" in page
    sample = page[page.index('id="import-sample"') :]
    sample = sample[: sample.index("</table>")]
    assert sample.count("<tr") == 6  # header + the first five rows
    assert "<td>3</td>" in sample or '<td class="num">3</td>' in sample
    assert "Grade 3, class 2" in sample or "年级" in sample
    groups = page[page.index('id="import-groups"') :]
    groups = groups[: groups.index("</table>")]
    assert groups.count("not a valid date") == 1
    assert "5–8, 11" in groups  # file rows: the header is row 2
    assert "(5 rows)" in groups
    assert 'id="issues-row-by-row"' in page


def test_the_preview_in_chinese(client, login_as, nurse):
    nurse.locale = "zh_Hans_CN"
    db.session.commit()
    login_as(nurse)
    data = "花名册\r\n".encode() + csv_bytes(HEADER_ZH, [pupil(1)])
    page = client.get(f"/roster/import/{job_id_of(upload(client, data))}").get_data(as_text=True)
    assert "文件第 2 行" in page
    assert "读取到的前几行" in page
