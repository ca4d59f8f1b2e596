"""An administrator creates accounts: the form shows only the scope the chosen role uses."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_the_user_form_shows_only_the_chosen_roles_scope(live_server, page, factories):
    from playwright.sync_api import expect

    admin = factories.AdminFactory(username="admin.li")
    factories.SchoolFactory(code="S-ROLE", name="角色小学")
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.goto(f"{live_server}/admin/users/new")

    fields = {name: page.locator(f"#{name}").locator("xpath=..") for name in
              ("school", "institution", "district")}  # fmt: skip
    expected = {
        "nurse": "school",
        "institution": "institution",
        "official": "district",
        "admin": None,
    }
    for role, shown in expected.items():
        page.select_option("#role", role)
        for name, box in fields.items():
            if name == shown:
                expect(box).to_be_visible()
            else:
                expect(box).to_be_hidden()
