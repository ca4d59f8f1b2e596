"""Follow-up in real headless Chromium on a phone: a nurse opens her worklist, types an
outcome from a returned slip with the keyboard only, and the case closes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import FollowupCase
from schoolhealth.screening import results as screening_results
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def phone_en(request):
    browser = request.getfixturevalue("_playwright")
    context = browser.new_context(
        locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_nurse_records_an_outcome_by_keyboard_and_the_case_closes(live_server, phone_en, factories):
    page = phone_en
    school_class = factories.SchoolClassFactory(grade=4, name="1")
    session = factories.ScreeningSessionFactory(
        school=school_class.school, types="growth", start_date=date(2026, 10, 12)
    )
    nurse = factories.NurseFactory(school=school_class.school)
    for n, weight in enumerate(("41", "42"), start=1):
        pupil = factories.StudentFactory(
            school_class=school_class,
            student_number=f"K{n:04d}",
            name=f"Pupil {n}",
            sex="M",
            birth_date=date(2016, 3, 1),
        )
        change = screening_results.record_measurements(
            session,
            pupil,
            {"height_cm": "133", "weight_kg": weight},
            user=nurse,
            screening_date=date(2026, 10, 12),
        )
        assert change.ok
    db.session.commit()
    first, second = db.session.scalars(select(FollowupCase).order_by(FollowupCase.id)).all()

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("link", name="Follow-up").first.click()
    rows = page.locator("#worklist tbody tr")
    assert rows.count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.locator("#first-case").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/followup/cases/{first.id}")
    # The first outcome field has the focus: type the slip, Tab between fields, Enter saves.
    page.wait_for_load_state()
    # autofocus applies once the page has loaded: wait for it (no keys typed before)
    page.wait_for_function(
        "document.activeElement && document.activeElement.name === 'intervention'"
    )
    page.keyboard.press("ArrowDown")  # "Advice given"
    page.keyboard.press("Tab")
    page.keyboard.type("Riverside Hospital")
    page.keyboard.press("Tab")
    page.keyboard.type("Dr Wang")
    page.keyboard.press("Tab")
    page.keyboard.type("2026-11-03")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/followup/cases/{second.id}")  # the next case opens
    assert "Outcome saved for Pupil" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    db.session.expire_all()
    closed = db.session.get(FollowupCase, first.id)
    assert closed.state == "closed"
    assert closed.intervention == "advice"
    assert closed.hospital == "Riverside Hospital"
    assert closed.diagnosis_date == date(2026, 11, 3)
    page.goto(f"{live_server}/followup/")
    assert page.locator("#worklist tbody tr").count() == 1
