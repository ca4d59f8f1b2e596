"""Uploads cannot take the server down: size, expansion, rows and drafts are bounded.

Every limit answers with its own message on the form (or the report page) and keeps
nothing; none of these files is ever handed to the spreadsheet reader.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from schoolhealth.extensions import db
from schoolhealth.models import Job, Student
from schoolhealth.roster.importing import parse_roster, read_roster
from schoolhealth.tabular import FileRejected, UploadLimits, read_table
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil, xlsx_bytes
from tests.roster.fixtures.xls import xls_bytes
from tests.roster.test_import_routes import job_id_of, upload

MB = 1024 * 1024


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(school=factories.SchoolFactory(code="S-L"))


def jobs_kept() -> int:
    return db.session.scalar(select(func.count()).select_from(Job))


def bomb(sheet_bytes: int) -> bytes:
    """A workbook whose sheet is ``sheet_bytes`` of blanks: tiny compressed, huge opened."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * sheet_bytes)
    return buffer.getvalue()


def understated(data: bytes) -> bytes:
    """The same archive with every member's declared size forged down to 100 bytes."""
    out = bytearray(data)
    position = out.find(b"PK\x01\x02")
    while position != -1:
        struct.pack_into("<I", out, position + 24, 100)  # central directory: file size
        local = struct.unpack_from("<I", out, position + 42)[0]
        struct.pack_into("<I", out, local + 22, 100)  # local header: file size
        position = out.find(b"PK\x01\x02", position + 4)
    return bytes(out)


def test_a_zip_bomb_is_refused_from_its_directory_before_it_is_opened(client, login_as, nurse):
    data = bomb(30 * MB)
    assert len(data) < 100_000  # 30 MB of sheet in a few kilobytes
    login_as(nurse)
    response = upload(client, data, "roster.xlsx")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The spreadsheet is compressed" in page
    assert "it cannot be a school roster" in page
    assert jobs_kept() == 0


def test_an_xlsx_that_expands_beyond_the_limit_is_refused(
    app, client, login_as, nurse, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNCOMPRESSED_MB", 0.5)
    rows = [pupil(n) for n in range(1, 3000)]
    login_as(nurse)
    response = upload(client, xlsx_bytes(HEADER_ZH, rows), "roster.xlsx")
    assert response.status_code == 400
    assert "The spreadsheet expands to more than 0.5 MB when opened" in response.get_data(
        as_text=True
    )
    assert jobs_kept() == 0


def test_an_archive_that_lies_about_its_sizes_is_measured_by_inflating_it():
    forged = understated(bomb(30 * MB))
    with zipfile.ZipFile(io.BytesIO(forged)) as archive:
        assert max(m.file_size for m in archive.infolist()) == 100  # the directory lies
    limits = UploadLimits(uncompressed_bytes=10 * MB, compression_ratio=100)
    with pytest.raises(FileRejected) as caught:
        read_table(forged, "roster.xlsx", limits=limits)
    assert caught.value.key in ("uncompressed_too_large", "compression_ratio")


def test_an_ordinary_xlsx_passes_the_checks(app, client, login_as, nurse):
    login_as(nurse)
    rows = [pupil(n) for n in range(1, 200)]
    response = upload(client, xlsx_bytes(HEADER_ZH, rows), "roster.xlsx")
    assert response.status_code == 302
    assert jobs_kept() == 2  # the upload and its check


def test_csv_and_xls_files_have_size_limits(app, client, login_as, nurse, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_CSV_MB", 0.002)
    monkeypatch.setitem(app.config, "IMPORT_MAX_XLS_MB", 0.002)
    login_as(nurse)
    rows = [pupil(n) for n in range(1, 60)]
    for data, name in (
        (csv_bytes(HEADER_ZH, rows), "roster.csv"),
        (xls_bytes(HEADER_ZH, rows), "roster.xls"),
    ):
        assert len(data) > 0.002 * MB
        response = upload(client, data, name)
        assert response.status_code == 400
        assert "a file of this type may have at most 0.002 MB" in response.get_data(as_text=True)
    assert jobs_kept() == 0


def test_a_school_roster_is_capped_with_the_count_of_the_file(
    app, client, login_as, nurse, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS_PER_SCHOOL", 20)
    login_as(nurse)
    response = upload(client, csv_bytes(HEADER_ZH, [pupil(n) for n in range(1, 1201)]))
    assert response.status_code == 400
    assert (
        "The file has 1,200 pupils for one school; at most 20 can be imported for a school."
        in response.get_data(as_text=True)
    )
    assert jobs_kept() == 0


def test_a_file_of_several_schools_is_capped_per_school(app, factories, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS_PER_SCHOOL", 3)
    small, big = factories.SchoolFactory(code="A1"), factories.SchoolFactory(code="B2")
    header = [*HEADER_ZH, "学校代码"]
    rows = [[*pupil(n), "A1"] for n in range(1, 4)] + [[*pupil(n), "B2"] for n in range(4, 9)]
    table = read_roster(csv_bytes(header, rows), "roster.csv")
    with pytest.raises(FileRejected) as caught:
        parse_roster(table, school=None, school_year=2026)
    assert caught.value.key == "too_many_rows_for_school_code"
    assert caught.value.params == {"rows": 5, "max_rows": 3, "code": "B2"}
    assert {small.code, big.code} == {"A1", "B2"}


def test_each_user_keeps_at_most_the_configured_number_of_unconfirmed_uploads(
    app, client, login_as, nurse, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_MAX_DRAFTS", 2)
    login_as(nurse)
    ids = [job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(n)]), f"f{n}.csv")) for n in (1, 2)]
    third = upload(client, csv_bytes(HEADER_ZH, [pupil(3)]), "f3.csv")
    ids.append(job_id_of(third))
    db.session.expire_all()
    statuses = [
        (db.session.get(Job, i).status, db.session.get(Job, i).payload is None) for i in ids
    ]
    assert statuses == [("expired", True), ("draft", False), ("draft", False)]
    page = client.get(f"/roster/import/{ids[2]}").get_data(as_text=True)
    assert "Your unconfirmed upload f1.csv was discarded to make room" in page


def test_a_queued_import_is_cancelled_from_its_page_and_never_runs(
    app, client, login_as, nurse, monkeypatch
):
    from schoolhealth import jobs

    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    login_as(nurse)
    job_id = job_id_of(upload(client, csv_bytes(HEADER_ZH, [pupil(1), pupil(2)])))
    client.post(f"/roster/import/{job_id}/confirm")
    response = client.post(f"/roster/import/{job_id}/cancel", follow_redirects=True)
    assert "The import was cancelled; nothing was imported." in response.get_data(as_text=True)
    assert jobs.run_db_worker(app, burst=True) == 0
    db.session.expire_all()
    assert db.session.get(Job, job_id).status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(Student)) == 0


def test_the_413_page_names_the_limit(app, client, login_as, nurse, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2 * MB)
    login_as(nurse)
    # Encoded in memory: the test client would spool a body this size to a temporary
    # file that it never closes when the request is refused.
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(b"x" * (3 * MB)), "big.csv"), "school_year": "2026"}
    )
    response = client.post(
        "/roster/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["message"] == "The file is too large to upload. The limit is 2 MB."
