"""A nurse screens a class of 40 with the keyboard only, in real headless Chromium.

She signs in through the form, opens the class grid of a growth + vision session, types
height, weight and both eyes' acuity for every pupil (Tab and Enter move on; no clicks
after the first cell), sees flags appear, waits until every save is acknowledged, reloads
and finds everything saved, in the page and in the database.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from schoolhealth import clock
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, ScreeningResult
from schoolhealth.screening import results
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PUPILS = 40
FIELDS = ("height_cm", "weight_kg", "ucva_right", "ucva_left")


def _plan(index: int) -> dict:
    """What the nurse types for pupil ``index`` and what the grid must show afterwards.

    Pupils are 9.0-9.5 years old on the screening date (WS/T 586-2018 row 9.0~: overweight
    from BMI 18.5, obesity from 20.8 for boys and 20.4 for girls). Every fourth pupil has
    a BMI of about 19.5 (overweight), the others about 16.5; every fifth reads 0.6
    (decimal notation, 4.8 on the 5-point chart) with the right eye and 4.9 with the left.
    """
    height = Decimal(125 + index % 10)
    overweight = index % 4 == 0
    bmi = Decimal("19.5") if overweight else Decimal("16.5")
    weight = (bmi * (height / 100) ** 2).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    reduced = index % 5 == 0
    typed = {
        "height_cm": str(height),
        "weight_kg": str(weight),
        "ucva_right": "0.6" if reduced else "5.0",
        "ucva_left": "4.9" if reduced else "5.1",
    }
    shown = {
        "height_cm": f"{height}.0",
        "weight_kg": str(weight),
        "ucva_right": "4.8" if reduced else "5.0",
        "ucva_left": "4.9" if reduced else "5.1",
    }
    chips = []
    if overweight:
        chips.append("Overweight")
    if reduced:
        chips += [
            "Reduced vision (moderate) R",
            "Myopia not assessed (no refraction) R",
            "Reduced vision (mild) L",
            "Myopia not assessed (no refraction) L",
        ]
    return {"typed": typed, "shown": shown, "chips": chips}


@pytest.fixture
def entry_day(monkeypatch):
    """The day results are entered (the live server runs in this process): the pupils'
    ages, and so their cutoffs, are those of that day."""

    def _set(day: date) -> None:
        monkeypatch.setattr(
            clock, "local_now", lambda: datetime.combine(day, time(12), clock.local_zone())
        )

    _set(date(2026, 10, 12))
    return _set


@pytest.fixture
def classroom(factories, entry_day):
    school = factories.SchoolFactory()
    school_class = factories.SchoolClassFactory(school=school, grade=4, name="1")
    students = [
        factories.StudentFactory(
            school_class=school_class,
            student_number=f"J{n:04d}",
            name=f"Pupil {n:02d}",
            sex="M" if n % 2 else "F",
            birth_date=date(2017, 5, 14),
        )
        for n in range(1, PUPILS + 1)
    ]
    session = factories.ScreeningSessionFactory(
        school=school,
        name="2026 秋季 筛查",
        types="growth,vision",
        start_date=date(2026, 10, 12),
        end_date=date(2026, 10, 16),
        status="in_progress",
    )
    nurse = factories.NurseFactory(school=school, username="nurse.journey")
    return {"session": session, "school_class": school_class, "students": students, "nurse": nurse}


def _sign_in(page, live_server: str, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{live_server}/")


def _wait_until_saved(page, session) -> None:
    page.wait_for_function(
        """(key) => document.getElementById('screening-grid').dataset.pending === '0'
                    && window.localStorage.getItem(key) === null""",
        arg=f"schoolhealth.pending.{session.id}",
    )


def _grid_state(page) -> dict:
    return page.evaluate(
        """(fields) => Object.fromEntries(
            Array.from(document.querySelectorAll('#screening-grid tbody tr')).map((row) => [
                row.dataset.studentId,
                {
                    values: Object.fromEntries(fields.map(
                        (f) => [f, row.querySelector(`[data-field="${f}"]`).value])),
                    chips: Array.from(row.querySelectorAll('[data-flags] .chip'))
                        .map((c) => c.firstChild.textContent.trim()),
                    done: row.dataset.done,
                },
            ]))""",
        list(FIELDS),
    )


def test_nurse_screens_a_class_with_the_keyboard_only(page, live_server, classroom):
    session, school_class = classroom["session"], classroom["school_class"]
    students = classroom["students"]
    plans = [_plan(i) for i in range(PUPILS)]
    # The last keystrokes correct pupil 39's left eye from 5.1 to 4.6 with ArrowUp.
    plans[38]["shown"]["ucva_left"] = "4.6"
    plans[38]["chips"] = ["Reduced vision (moderate) L", "Myopia not assessed (no refraction) L"]

    _sign_in(page, live_server, classroom["nurse"])

    grid_url = f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}"
    page.goto(grid_url)
    grid = page.locator("#screening-grid")
    assert page.locator("#grid-total").inner_text() == str(PUPILS)
    assert page.locator("#grid-done").inner_text() == "0"
    # The session does not record refraction: no sphere or cylinder columns.
    assert page.locator('[data-field="sph_right"]').count() == 0

    page.locator(f'#pupil-{students[0].id} [data-field="height_cm"]').focus()
    keyboard = page.keyboard
    for plan in plans:
        typed = plan["typed"]
        keyboard.type(typed["height_cm"])
        keyboard.press("Tab")
        keyboard.type(typed["weight_kg"])
        keyboard.press("Enter")
        keyboard.type(typed["ucva_right"])
        keyboard.press("Tab")
        keyboard.type(typed["ucva_left"])
        keyboard.press("n")  # saves, and on to the next pupil's first empty cell
    # Focus stayed on the last pupil's left eye; go up one pupil and correct it.
    keyboard.press("ArrowUp")
    keyboard.type("4.6")
    keyboard.press("Enter")
    assert page.evaluate("document.activeElement.dataset.field") == "glasses"

    _wait_until_saved(page, session)
    assert grid.locator(".cell-failed, .cell-error, .cell-conflict").count() == 0
    assert page.locator("#grid-status").inner_text() == "All changes saved"
    assert page.locator("#grid-done").inner_text() == str(PUPILS)

    state = _grid_state(page)
    for student, plan in zip(students, plans, strict=True):
        row = state[str(student.id)]
        assert row["values"] == plan["shown"], student.name
        assert row["chips"] == plan["chips"], student.name
        assert row["done"] == "1"
    assert sum("Overweight" in p["chips"] for p in plans) == 10

    page.reload()
    assert page.locator("#grid-done").inner_text() == str(PUPILS)
    reloaded = _grid_state(page)
    for student, plan in zip(students, plans, strict=True):
        assert reloaded[str(student.id)]["values"] == plan["shown"], student.name
        assert reloaded[str(student.id)]["chips"] == plan["chips"], student.name

    db.session.expire_all()
    results = {
        r.student_id: r
        for r in db.session.scalars(
            select(ScreeningResult).where(ScreeningResult.session_id == session.id)
        )
    }
    assert len(results) == PUPILS
    for student, plan in zip(students, plans, strict=True):
        result = results[student.id]
        stored = {f: format(getattr(result, f), "f") for f in FIELDS}
        assert stored == plan["shown"], json.dumps([student.name, stored])
        assert result.screening_date == date(2026, 10, 12)
        assert result.updated_by_id == classroom["nurse"].id
        expected_status = "overweight" if "Overweight" in plan["chips"] else "normal"
        assert result.weight_status == expected_status
        assert sorted(f.code for f in result.findings) == sorted(
            {
                "Overweight": "weight_status",
                "Reduced vision (moderate) R": "vision_right",
                "Myopia not assessed (no refraction) R": "myopia_right",
                "Reduced vision (mild) L": "vision_left",
                "Reduced vision (moderate) L": "vision_left",
                "Myopia not assessed (no refraction) L": "myopia_left",
            }[chip]
            for chip in plan["chips"]
        )


def _result(session, student) -> ScreeningResult | None:
    db.session.expire_all()
    return db.session.execute(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session.id, ScreeningResult.student_id == student.id
        )
    ).scalar_one_or_none()


def test_values_survive_failed_requests_and_a_reload(page, live_server, classroom):
    """No lost work: a failed save shows on its cell, stays in localStorage, is re-sent."""
    session, school_class = classroom["session"], classroom["school_class"]
    first = classroom["students"][0]
    _sign_in(page, live_server, classroom["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")

    page.route("**/field", lambda route: route.abort())
    height = page.locator(f'#pupil-{first.id} [data-field="height_cm"]')
    height.focus()
    page.keyboard.type("131")
    page.keyboard.press("Tab")
    page.keyboard.type("0.5")  # a weight of 0.5 kg is refused by the server later
    page.keyboard.press("Tab")
    expect_failed = re.compile(r"\bcell-failed\b")
    expect(height).to_have_class(expect_failed)
    assert "Not saved yet (no connection to the server)" in height.get_attribute("title")
    expect(page.locator("#grid-status")).to_contain_text("not saved yet")
    pending = json.loads(
        page.evaluate(f"localStorage.getItem('schoolhealth.pending.{session.id}')")
    )
    assert {k: v["value"] for k, v in pending.items()} == {
        f"{first.id}|height_cm": "131",
        f"{first.id}|weight_kg": "0.5",
    }

    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    page.reload()  # still offline: the page warns, then reloads with the values kept
    assert dialogs == ["beforeunload"]
    assert _result(session, first) is None
    expect(height).to_have_value("131")
    page.unroute("**/field")
    _wait_until_saved(page, session)

    expect(height).to_have_value("131.0")
    expect(height).not_to_have_class(expect_failed)
    weight = page.locator(f'#pupil-{first.id} [data-field="weight_kg"]')
    expect(weight).to_have_class(re.compile(r"\bcell-error\b"))
    assert weight.get_attribute("title") == (
        "Weight (kg): 0.5 is outside the plausible range 10.0–200.0 kg."
    )
    expect(page.locator("#grid-alert")).to_have_text(weight.get_attribute("title"))
    result = _result(session, first)
    assert (str(result.height_cm), result.weight_kg) == ("131.0", None)


def test_a_conflict_shows_on_the_cell_and_absent_works_from_the_keyboard(
    page, live_server, classroom, factories
):
    session, school_class = classroom["session"], classroom["school_class"]
    first, second = classroom["students"][:2]
    _sign_in(page, live_server, classroom["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")
    ucva = page.locator(f'#pupil-{first.id} [data-field="ucva_right"]')

    # A colleague saves this pupil's right eye after the page was loaded.
    colleague = factories.NurseFactory(school=session.school, display_name="Nurse Wang")
    results.record_measurements(session, first, {"ucva_right": "4.7"}, user=colleague)
    db.session.commit()

    ucva.focus()
    page.keyboard.type("4.8")
    page.keyboard.press("Enter")
    expect(ucva).to_have_class(re.compile(r"\bcell-conflict\b"))
    expect(ucva).to_have_value("4.7")
    title = ucva.get_attribute("title")
    assert re.fullmatch(
        r"Changed by Nurse Wang at \d\d:\d\d: now 4\.7; your value 4\.8 was not saved "
        r"— re-enter it to overwrite\.",
        title,
    ), title
    # Back with Shift+Enter (which selects the cell's text) and re-enter to overwrite:
    # the conflict answer carried the current version.
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("4.8")
    page.keyboard.press("Enter")
    _wait_until_saved(page, session)
    expect(ucva).to_have_value("4.8")
    expect(ucva).not_to_have_class(re.compile(r"\bcell-conflict\b"))
    assert str(_result(session, first).ucva_right) == "4.8"

    # The second pupil is away: "a" in any of the pupil's cells marks it absent.
    page.locator(f'#pupil-{second.id} [data-field="ucva_left"]').focus()
    page.keyboard.press("a")
    _wait_until_saved(page, session)
    row = page.locator(f"#pupil-{second.id}")
    expect(row.locator('[data-field="height_cm"]')).to_be_disabled()
    expect(page.locator("#grid-done")).to_have_text("1")
    assert _result(session, second).absent is True
    assert _result(session, second).not_screened_reason == "absent"
    expect(row.locator("[data-not-screened]")).to_have_value("absent")


def test_a_save_whose_answer_is_lost_is_retried_without_a_false_conflict(
    page, live_server, classroom
):
    """The server commits but the answer never arrives: the retry finds the value there."""
    session, school_class = classroom["session"], classroom["school_class"]
    first = classroom["students"][0]
    _sign_in(page, live_server, classroom["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")

    delivered = []

    def deliver_then_drop(route):
        delivered.append(route.fetch().status)  # the server saves it ...
        route.abort()  # ... and the browser never hears back

    page.route("**/field", deliver_then_drop)
    height = page.locator(f'#pupil-{first.id} [data-field="height_cm"]')
    height.focus()
    page.keyboard.type("131")
    page.keyboard.press("Enter")
    expect(height).to_have_class(re.compile(r"\bcell-failed\b"))
    assert delivered == [200]
    assert str(_result(session, first).height_cm) == "131.0"
    page.unroute("**/field")
    _wait_until_saved(page, session)  # the retry (version 0 again) is answered "saved"
    expect(height).to_have_value("131.0")
    expect(height).not_to_have_class(re.compile(r"\bcell-(failed|conflict|error)\b"))
    expect(page.locator("#grid-alert")).to_be_hidden()
    assert page.locator(f"#pupil-{first.id}").get_attribute("data-version") == "1"


def test_a_value_kept_over_a_reload_never_overwrites_a_colleagues_change(
    page, live_server, classroom, factories
):
    """Typed offline, the tab reloaded after a colleague saved the same cell: conflict."""
    session, school_class = classroom["session"], classroom["school_class"]
    first, second = classroom["students"][:2]
    _sign_in(page, live_server, classroom["nurse"])
    grid_url = f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}"
    page.goto(grid_url)

    page.route("**/field", lambda route: route.abort())
    ucva = page.locator(f'#pupil-{first.id} [data-field="ucva_right"]')
    ucva.focus()
    page.keyboard.type("4.8")
    page.keyboard.press("Enter")
    other = page.locator(f'#pupil-{second.id} [data-field="height_cm"]')
    other.focus()
    page.keyboard.type("128")
    page.keyboard.press("Enter")
    expect(ucva).to_have_class(re.compile(r"\bcell-failed\b"))

    colleague = factories.NurseFactory(school=session.school, display_name="Nurse Li")
    results.record_measurements(session, first, {"ucva_right": "4.5"}, user=colleague)
    db.session.commit()

    page.on("dialog", lambda dialog: dialog.accept())
    page.unroute("**/field")
    page.goto(grid_url)  # the kept values are sent again from localStorage
    _wait_until_saved(page, session)
    ucva = page.locator(f'#pupil-{first.id} [data-field="ucva_right"]')
    expect(ucva).to_have_class(re.compile(r"\bcell-conflict\b"))
    expect(ucva).to_have_value("4.5")
    assert "Changed by Nurse Li" in ucva.get_attribute("title")
    assert str(_result(session, first).ucva_right) == "4.5"
    # The other pupil's kept value had nobody else's change in its way: saved.
    expect(page.locator(f'#pupil-{second.id} [data-field="height_cm"]')).to_have_value("128.0")
    assert str(_result(session, second).height_cm) == "128.0"


class CountingKeyboard:
    """page.keyboard that counts keystrokes: each typed character and each pressed key
    (a chord such as Shift+Enter counts as one)."""

    def __init__(self, keyboard) -> None:
        self.keyboard = keyboard
        self.count = 0

    def type(self, text: str) -> None:
        self.count += len(text)
        self.keyboard.type(text)

    def press(self, key: str) -> None:
        self.count += 1
        self.keyboard.press(key)


# What a nurse types for a normal pupil of a growth + vision + spine + dental session
# without refraction, in the grid's order. Choices take their header key and move on;
# cells that do not apply (corrected acuity without glasses, the motion test without a
# positive bend test, the prone test with a normal sagittal curve) are passed over.
NORMAL_PUPIL = (
    ("type", "128.5"), ("press", "Enter"),  # height
    ("type", "26.3"), ("press", "Enter"),  # weight
    ("type", "5.0"), ("press", "Enter"),  # UCVA R
    ("type", "5.0"), ("press", "Enter"),  # UCVA L
    ("type", "0"),  # glasses: none (CVA R/L skipped)
    ("type", "0"),  # general inspection: normal
    ("type", "-"),  # forward bend test: negative (motion test skipped)
    ("press", "Enter"), ("press", "Enter"), ("press", "Enter"),  # ATR T/TL/L: not measured
    ("type", "0"),  # sagittal: normal (prone test skipped)
    ("type", "0"),  # decayed teeth: none
    ("press", "n"),  # saved; on to the next pupil's first empty cell
)  # fmt: skip
KEYSTROKE_TARGET = 30


@pytest.fixture
def full_class(factories, entry_day):
    school = factories.SchoolFactory()
    school_class = factories.SchoolClassFactory(school=school, grade=4, name="2")
    students = [
        factories.StudentFactory(
            school_class=school_class,
            student_number=f"K{n:04d}",
            name=f"Kid {n}",
            sex="M",
            birth_date=date(2017, 5, 14),
        )
        for n in range(1, 5)
    ]
    session = factories.ScreeningSessionFactory(
        school=school, types="growth,vision,spine,dental", status="in_progress"
    )
    nurse = factories.NurseFactory(school=school, username="nurse.keys")
    return {"session": session, "school_class": school_class, "students": students, "nurse": nurse}


def test_a_class_by_keyboard_only_with_typed_codes_absent_key_and_a_confirmed_value(
    page, live_server, full_class
):
    session, school_class = full_class["session"], full_class["school_class"]
    kids = full_class["students"]
    _sign_in(page, live_server, full_class["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")
    # the grid starts on the first pupil's first empty cell: no click needed
    page.wait_for_function("document.activeElement.dataset.field === 'height_cm'")
    assert page.locator('[data-field="sph_right"]').count() == 0  # no refraction recorded
    keys = CountingKeyboard(page.keyboard)

    # Kid 1: a normal pupil, keystrokes counted.
    for action, arg in NORMAL_PUPIL:
        getattr(keys, action)(arg)
    print(f"\nkeystrokes for a normal pupil (all four types, no refraction): {keys.count}")
    assert keys.count <= KEYSTROKE_TARGET
    # N landed on the next pupil's first cell
    assert page.evaluate("document.activeElement.closest('tr').id") == f"pupil-{kids[1].id}"
    assert page.evaluate("document.activeElement.dataset.field") == "height_cm"

    # Kid 2 is away: one key, and on to kid 3.
    keys.press("a")
    assert page.evaluate("document.activeElement.closest('tr').id") == f"pupil-{kids[2].id}"

    # Kid 3: 140 typed as 104 at 9 years is questioned; the nurse confirms with Enter.
    keys.type("104")
    keys.press("Enter")
    prompt = page.locator("#grid-confirm")
    expect(prompt).to_be_visible()
    expect(page.locator("#grid-confirm-text")).to_contain_text("Height 104.0 cm is unusual")
    assert page.evaluate("document.activeElement.id") == "grid-confirm-yes"
    keys.press("Enter")
    expect(prompt).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.field") == "weight_kg"
    # a refused value is listed under the row and cleared when corrected
    keys.type("999")
    keys.press("Enter")
    row3 = page.locator(f"#pupil-{kids[2].id}")
    expect(row3.locator("[data-errors] li")).to_have_count(1)
    expect(page.locator("#grid-focus-errors li")).to_have_count(1)
    keys.press("Shift+Enter")
    keys.type("20.1")
    keys.press("Enter")
    expect(row3.locator("[data-errors] li")).to_have_count(0)
    # Up and Down move between pupils in a choice column too
    page.locator(f'#pupil-{kids[0].id} [data-field="adams"]').focus()
    keys.press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('tr').id") == f"pupil-{kids[2].id}"
    assert page.evaluate("document.activeElement.dataset.field") == "adams"
    _wait_until_saved(page, session)

    db.session.expire_all()
    first = _result(session, kids[0])
    assert (str(first.height_cm), str(first.weight_kg)) == ("128.5", "26.3")
    assert (first.glasses, first.spine_general, first.adams, first.sagittal) == (
        "none",
        "normal",
        "negative",
        "normal",
    )
    assert (first.caries_teeth, first.caries, first.spine) == ("", "no", "normal")
    assert first.screening_date == date(2026, 10, 12)
    away = _result(session, kids[1])
    assert (away.absent, away.not_screened_reason) == (True, "absent")
    third = _result(session, kids[2])
    assert (str(third.height_cm), str(third.weight_kg), third.stunting) == ("104.0", "20.1", "yes")
    confirmed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm")).one()
    assert confirmed.after["confirmed"] == ["height_for_age"]
    expect(page.locator("#grid-done")).to_have_text("2")


def test_refraction_typed_in_the_grid_is_shown_on_the_record(page, live_server, full_class):
    session, school_class = full_class["session"], full_class["school_class"]
    session.types = "vision"
    session.records_refraction = True
    db.session.commit()
    kid = full_class["students"][0]
    _sign_in(page, live_server, full_class["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")
    page.wait_for_function("document.activeElement.dataset.field === 'ucva_right'")
    keys = page.keyboard
    for text in ("4.6", "4.9"):
        keys.type(text)
        keys.press("Enter")
    keys.type("0")  # no glasses
    for text in ("-1.25", "-0.50", "0", "0"):  # sph R, cyl R, sph L, cyl L
        keys.type(text)
        keys.press("Enter")
    _wait_until_saved(page, session)
    chips = page.locator(f"#pupil-{kid.id} [data-flags] .chip")
    expect(chips.filter(has_text="Suspected myopia R")).to_have_count(1)
    page.goto(f"{live_server}/screening/pupils/{kid.id}")
    vision = page.locator("#results-vision")
    expect(vision).to_contain_text("-1.50")


def test_the_grid_at_phone_width_keeps_the_name_in_view(page, live_server, full_class):
    session, school_class = full_class["session"], full_class["school_class"]
    kid = full_class["students"][0]
    page.set_viewport_size({"width": 375, "height": 740})
    _sign_in(page, live_server, full_class["nurse"])
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{school_class.id}")
    wrap = page.locator(".grid-wrap")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1  # no page scroll
    assert wrap.evaluate("(el) => el.scrollWidth > el.clientWidth")
    # go to the last column from the keyboard: the grid scrolls, the name stays
    page.locator(f'#pupil-{kid.id} [data-field="sealed_teeth"]').focus()
    assert wrap.evaluate("(el) => el.scrollLeft") > 0
    name = page.locator(f"#pupil-{kid.id} td.pupil-name").bounding_box()
    assert name is not None
    assert name["x"] >= 0
    assert name["x"] + name["width"] <= 375
    expect(page.locator("#grid-focus-name")).to_have_text(kid.name)
