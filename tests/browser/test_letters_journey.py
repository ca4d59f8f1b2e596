"""Letters in real headless Chromium: a nurse prints a class's letters in two clicks from
the flags list, and a parent fetches a letter on a phone with the code and birth date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from schoolhealth.extensions import db
from schoolhealth.letters import services
from schoolhealth.screening import results as screening_results
from tests.factories import PASSWORD
from tests.letters.conftest import page_texts, squash

pytestmark = pytest.mark.browser


def _class_with_findings(factories):
    school_class = factories.SchoolClassFactory(grade=4, name="1")
    session = factories.ScreeningSessionFactory(
        school=school_class.school, types="growth,vision", start_date=date(2026, 10, 12)
    )
    nurse = factories.NurseFactory(school=school_class.school)
    pupils = []
    for n, weight in enumerate(("40", "28", "41"), start=1):
        pupil = factories.StudentFactory(
            school_class=school_class,
            student_number=f"B{n:04d}",
            name=f"学生{n}",
            sex="M",
            birth_date=date(2016, 3, 1),
        )
        change = screening_results.record_measurements(
            session, pupil, {"height_cm": "133", "weight_kg": weight}, user=nurse
        )
        assert change.ok
        pupils.append(pupil)
    db.session.commit()
    return session, school_class, nurse, pupils


def test_nurse_prints_a_class_batch_in_two_clicks(live_server, page, factories):
    session, school_class, nurse, pupils = _class_with_findings(factories)
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/screening/sessions/{session.id}/flags")

    page.get_by_role("link", name="Parent letters").click()  # click 1
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Print letters of Grade 4, class 1").click()  # click 2
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    data = Path(download.path()).read_bytes()
    pages = page_texts(data)
    outside = [p for p in pages if "同学家长" in p]
    # 学生1 and 学生3 are obese; 学生2 is normal and gets no letter without --all.
    assert len(outside) == 2
    assert squash("学生1同学家长") in outside[0]
    assert squash("学生3同学家长") in outside[1]
    page.goto(f"{live_server}/letters/sessions/{session.id}")
    assert page.locator("#register-table tbody tr").count() == 2


@pytest.fixture
def phone(request):
    """A phone-sized page (375 px wide, touch) in Chinese, from the shared Chromium."""
    browser = request.getfixturevalue("_playwright")
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_parent_fetches_a_letter_on_a_phone(live_server, phone, factories):
    session, school_class, nurse, pupils = _class_with_findings(factories)
    letter, _data = services.single_letter(session, pupils[0], language_mode="zh", user=nurse)
    db.session.commit()
    phone.goto(f"{live_server}/l/{letter.code}")  # what the QR code opens
    assert phone.get_by_label("通知上的提取码").input_value() == letter.code
    assert "学生1" not in phone.content()
    # The form fits the phone's width: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.get_by_label("孩子的出生日期").fill("2016-03-02")
    phone.get_by_role("button", name="下载通知（PDF）").click()
    assert "提取码与出生日期不匹配" in phone.locator("#parent-message").inner_text()
    phone.get_by_label("孩子的出生日期").fill("2016-03-01")
    with phone.expect_download() as download_info:
        phone.get_by_role("button", name="下载通知（PDF）").click()
    data = Path(download_info.value.path()).read_bytes()
    assert squash("学生1同学家长") in "".join(page_texts(data))
