"""A district official reads the district's figures and downloads them, in a real browser."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from schoolhealth.extensions import db
from schoolhealth.models import Enrolment
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_official_reads_the_district_report_and_downloads_excel(live_server, page, factories):
    from playwright.sync_api import expect

    district = factories.DistrictFactory(name="示范区")
    school = factories.SchoolFactory(district=district, name="实验小学")
    other = factories.SchoolFactory(name="别区小学")  # another district: never shown
    for target in (school, other):
        session = factories.ScreeningSessionFactory(
            school=target, types="growth,vision", start_date=date(2026, 10, 12)
        )
        klass = factories.SchoolClassFactory(school=target, grade=4, school_year=2026)
        for n in range(20):
            pupil = factories.StudentFactory(school_class=klass)
            db.session.add(Enrolment(student_id=pupil.id, school_year=2026, class_id=klass.id))
            factories.ScreeningResultFactory(
                session=session,
                student=pupil,
                age_band=Decimal("9.5"),
                weight_status="obese" if n < 6 else "normal",
                vision_right="mild" if n < 10 else "normal",
                vision_left="normal",
                myopia_right="yes" if n < 8 else "no",
                myopia_left="no",
            )
    official = factories.OfficialFactory(district=district, username="official.li")
    db.session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(official.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.get_by_role("link", name="Reports").first.click()

    expect(page.locator("h1")).to_contain_text("Screening report")
    expect(page.locator("#glance")).to_contain_text("40.0%")  # screening myopia, 8 of 20
    table = page.locator("#report-table")
    expect(table).to_contain_text("实验小学")
    expect(table).not_to_contain_text("别区小学")
    expect(page.locator("#report-chart")).to_be_visible()

    page.select_option("#by", "grade")
    page.locator("#report-filters button[type=submit]").click()
    expect(table.locator("tbody tr").first).to_contain_text("Grade 4")

    with page.expect_download() as download_info:
        page.locator("#export-xlsx").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as handle:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(handle.read()))
    sheet = workbook.get_sheet_by_index(0).to_python()
    assert any(row and row[0] == "Grade 4" and row[2] == 20 for row in sheet)
