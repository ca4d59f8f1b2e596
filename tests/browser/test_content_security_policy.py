"""The main pages run under the strict Content-Security-Policy with nothing refused.

Chromium reports every blocked inline script, style or handler in the console ("Refused
to execute inline script because it violates the following Content Security Policy
directive ..."); a page that needed one would be broken for real users, so the test
collects those messages (and script errors) on each page and expects none.
"""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_main_pages_load_with_no_csp_violations(live_server, page, factories):
    from playwright.sync_api import expect

    school = factories.SchoolFactory(code="S-CSP", name="实验小学")
    klass = factories.SchoolClassFactory(school=school)
    pupil = factories.StudentFactory(school_class=klass, school=school, name="张小明")
    session = factories.ScreeningSessionFactory(school=school)
    factories.AdminFactory(username="root.admin")

    problems: list[str] = []

    def on_console(message) -> None:
        # A missing file is caught below by its URL (the browser's own favicon.ico is none
        # of ours); every other error or warning, CSP refusals first, is a problem.
        if message.text.startswith("Failed to load resource"):
            return
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    def on_response(response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{response.url}: {response.status}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("root.admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator(".whoami")).to_be_visible()

    paths = [
        "/",
        "/roster/",
        f"/roster/students/{pupil.id}",
        f"/roster/students/{pupil.id}/edit",
        f"/roster/schools/{school.id}/classes",
        "/roster/import",
        "/screening/sessions",
        f"/screening/sessions/{session.id}",
        f"/screening/sessions/{session.id}/classes/{klass.id}",
        f"/screening/sessions/{session.id}/flags",
        f"/screening/pupils/{pupil.id}",
        "/reports/",
        f"/letters/sessions/{session.id}",
        "/admin/",
        "/admin/users",
        "/admin/schools",
        "/account/password",
    ]
    for path in paths:
        response = page.goto(f"{live_server}{path}")
        assert response is not None
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
    # The pupil list's "/" shortcut (moved out of an inline script) still works.
    page.goto(f"{live_server}/roster/")
    page.locator("body").press("/")
    expect(page.locator("#q")).to_be_focused()
    # The grid's own script file is loaded (a CSP refusal would be in ``problems``).
    page.goto(f"{live_server}/screening/sessions/{session.id}/classes/{klass.id}")
    expect(page.locator("script[src*='grid.js']")).to_have_count(1)

    assert problems == []
