"""A nurse imports her school's roster in a real browser, then finds a pupil in it."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.factories import PASSWORD
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil, xlsx_bytes

pytestmark = pytest.mark.browser


def test_nurse_imports_a_roster_and_finds_a_pupil(live_server, page, factories, tmp_path):
    from playwright.sync_api import expect

    school = factories.SchoolFactory(code="S-JOURNEY", name="实验小学")
    nurse = factories.NurseFactory(school=school, username="nurse.wang")
    roster = tmp_path / "三年级花名册.csv"
    roster.write_bytes(
        csv_bytes(
            HEADER_ZH,
            [pupil(1, name="张小明"), pupil(2, name="李红", sex="F", klass="(3)班")],
            encoding="utf-8-sig",
        )
    )

    # Sign in through the form.
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator(".whoami")).to_be_visible()

    # Upload: the school is the nurse's own, the check runs first.
    page.goto(f"{live_server}/roster/import")
    expect(page.locator("#fixed-school")).to_have_text("S-JOURNEY 实验小学")
    page.set_input_files("#file", str(roster))
    page.locator("#check-file").click()

    # The dry-run report: two new pupils, no problems, nothing saved yet.
    expect(page.get_by_test_id("count-new")).to_have_text("2")
    expect(page.get_by_test_id("count-errors")).to_have_text("0")
    expect(page.locator("#no-issues")).to_be_visible()
    page.get_by_test_id("confirm-import").click()

    expect(page.locator("#import-done")).to_be_visible()
    expect(page.get_by_test_id("count-created")).to_have_text("2")
    page.locator("#open-roster").click()

    # Search the roster by name, then by pinyin initials.
    search = page.locator("#q")
    results = page.locator("table.roster-table tbody")
    search.fill("张小明")
    search.press("Enter")
    expect(results).to_contain_text("张小明")
    expect(results).not_to_contain_text("李红")
    search = page.locator("#q")
    search.fill("lh")
    search.press("Enter")
    expect(results).to_contain_text("李红")
    expect(results).to_contain_text("L0000000002")
    expect(results).not_to_contain_text("张小明")
    assert re.search(r"q=lh", page.url)


def test_real_world_files_a_title_row_and_ids_damaged_by_excel(
    live_server, page, factories, tmp_path
):
    """Issue 8: a roster with a title row, then an .xlsx whose ID column Excel turned into
    numbers, both imported through the page."""
    from playwright.sync_api import expect

    school = factories.SchoolFactory(code="S-REAL", name="真实小学")
    nurse = factories.NurseFactory(school=school)
    titled = tmp_path / "花名册.csv"
    titled.write_bytes(
        "真实小学2026学年学生花名册,,,,,,,\r\n".encode("gbk")
        + csv_bytes(HEADER_ZH, [pupil(1, name="张小明"), pupil(2, name="李红", sex="F")],
                    encoding="gbk")
    )  # fmt: skip
    damaged = tmp_path / "花名册.xlsx"
    rows = []
    for n in range(3, 8):
        row = pupil(n, name=f"学生{n}")
        row[6] = float(row[6][:17] + "0")  # an ID typed into a number cell
        rows.append(row)
    damaged.write_bytes(xlsx_bytes(HEADER_ZH, rows))

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()

    page.goto(f"{live_server}/roster/import")
    page.set_input_files("#file", str(titled))
    page.locator("#check-file").click()
    expect(page.locator("#header-line")).to_contain_text("Row 2 of the file was used as the header")
    expect(page.get_by_test_id("import-sample")).to_contain_text("张小明")
    expect(page.get_by_test_id("count-new")).to_have_text("2")
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("count-created")).to_have_text("2")

    page.goto(f"{live_server}/roster/import")
    page.set_input_files("#file", str(damaged))
    page.locator("#check-file").click()
    expect(page.get_by_test_id("count-new")).to_have_text("5")
    expect(page.get_by_test_id("count-errors")).to_have_text("0")
    expect(page.get_by_test_id("import-groups")).to_contain_text(
        "5 ID numbers were damaged by Excel and were not imported"
    )
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("count-created")).to_have_text("5")


@pytest.mark.redis
def test_a_large_roster_is_checked_and_imported_in_the_background(
    app, live_server, page, factories, tmp_path, redis_url, monkeypatch
):
    """The progress page polls its JSON endpoint and moves on by itself when a real RQ
    worker (run here, in this process) has finished the check, then the import."""
    from playwright.sync_api import expect
    from redis import Redis
    from rq import Queue, SimpleWorker

    from schoolhealth import jobs

    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "RQ_ASYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_INLINE_BYTES", 1000)
    monkeypatch.setitem(app.config, "QUEUE_NAME", f"roster-journey-{uuid.uuid4().hex}")
    monkeypatch.setattr(jobs, "_worker_app", app)
    connection = Redis.from_url(redis_url)
    queue = Queue(app.config["QUEUE_NAME"], connection=connection)

    school = factories.SchoolFactory(code="S-BIG", name="第二中学")
    nurse = factories.NurseFactory(school=school, username="nurse.li")
    roster = tmp_path / "全校花名册.csv"
    roster.write_bytes(csv_bytes(HEADER_ZH, [pupil(n, grade="初一") for n in range(1, 31)]))

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.goto(f"{live_server}/roster/import")
    page.set_input_files("#file", str(roster))
    page.locator("#check-file").click()

    expect(page.locator("#import-progress-text")).to_have_text("Waiting for a worker…")
    assert queue.count == 1
    SimpleWorker([queue], connection=connection).work(burst=True)
    expect(page.get_by_test_id("count-new")).to_have_text("30")  # the page moved on

    page.get_by_test_id("confirm-import").click()
    expect(page.locator("h1")).to_contain_text("Importing")
    SimpleWorker([queue], connection=connection).work(burst=True)
    expect(page.locator("#import-done")).to_be_visible()
    expect(page.get_by_test_id("count-created")).to_have_text("30")
    connection.close()


def test_the_roster_list_fits_a_phone(live_server, page, factories):
    """At 375 px a pupil is a card with the name on top; the page never scrolls sideways."""
    from playwright.sync_api import expect

    school = factories.SchoolFactory(code="S-PHONE", name="手机小学")
    nurse = factories.NurseFactory(school=school)
    for n in range(3):
        factories.StudentFactory(school_class__school=school, name=f"学生{n}")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.goto(f"{live_server}/roster/")
    expect(page.locator("table.roster-table tbody tr")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    first = page.locator("table.roster-table tbody tr").first
    name_box = first.locator("td").nth(1).bounding_box()
    number_box = first.locator("td").nth(0).bounding_box()
    assert name_box["y"] < number_box["y"]  # the name is the card's title
