"""Sign-ins that can be ended: a copied session or remember cookie stops working at logout,
password change or reset and deactivation; idle sessions expire; remember-me is capped;
the CSRF secret is new at every sign-in.

The attacker here holds a copy of a nurse's cookies (from a shared school PC, say): a
second test client gets the copy, the first goes on as the nurse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from config import TestingConfig
from schoolhealth import create_app
from schoolhealth.admin import services as admin_services
from schoolhealth.auth import sessions
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, User
from tests.clients import request_scoped_client
from tests.factories import PASSWORD

NEW_PASSWORD = "violet kettle harbour 42"
REMEMBER = "remember_token"


@pytest.fixture
def csrf_app(app, database_url) -> Iterator[Flask]:
    """The test settings with CSRF protection on, as in every real configuration."""

    class CsrfConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        WTF_CSRF_ENABLED = True

    csrf_app = create_app(CsrfConfig)
    yield csrf_app
    with csrf_app.app_context():
        db.engine.dispose()


class Clock:
    """sessions.clock under the test's control: seconds since the epoch, moved by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, *, minutes: float = 0, days: float = 0) -> None:
        self.now += minutes * 60 + days * 86400


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(sessions.clock())
    monkeypatch.setattr(sessions, "clock", fake)
    return fake


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(username="liu.fang")


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client, *, remember: bool = False, username: str = "liu.fang") -> str:
    """Sign in through the form (with its CSRF token); returns a token of the signed-in page."""
    token = token_of(client.get("/login").get_data(as_text=True))
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return token_of(client.get("/").get_data(as_text=True))


def copy_cookies(source, target, *names: str) -> None:
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, f"no {name} cookie to copy"
        target.set_cookie(name, cookie.value)


def signed_in(client) -> bool:
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    return False


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def change_own_password(client, token: str, current: str, new: str):
    return client.post(
        "/account/password",
        data={"current_password": current, "password": new, "confirm": new, "csrf_token": token},
    )


# --- logout ------------------------------------------------------------------------------


def test_copied_session_cookie_stops_working_at_logout(csrf_app, nurse):
    nurse_client = request_scoped_client(csrf_app)
    token = sign_in(nurse_client)
    thief = request_scoped_client(csrf_app)
    copy_cookies(nurse_client, thief, "session")
    assert signed_in(thief)  # the copy works while the nurse is signed in

    nurse_client.post("/logout", data={"csrf_token": token})

    assert not signed_in(nurse_client)
    assert not signed_in(thief)
    # A save with the old cookie and its valid CSRF token is refused, nothing changes.
    hash_before = fresh(nurse).password_hash
    response = change_own_password(thief, token, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert fresh(nurse).password_hash == hash_before


def test_remember_cookie_stops_working_at_logout(csrf_app, nurse):
    nurse_client = request_scoped_client(csrf_app)
    token = sign_in(nurse_client, remember=True)
    thief = request_scoped_client(csrf_app)
    copy_cookies(nurse_client, thief, REMEMBER)
    assert signed_in(thief)  # a remember cookie alone signs in

    response = nurse_client.post("/logout", data={"csrf_token": token})
    assert "remember_token=;" in response.headers.get("Set-Cookie", "")  # deleted here

    late = request_scoped_client(csrf_app)
    copy_cookies(thief, late, REMEMBER)  # the copy taken before logout, on a new browser
    assert not signed_in(late)
    assert not signed_in(thief)


def test_logout_ends_the_sign_ins_on_other_computers(client, nurse, login_as):
    other = request_scoped_client(client.application)
    login_as(nurse)
    with other.session_transaction() as session:
        session["_user_id"] = nurse.get_id()
    assert signed_in(other)
    client.post("/logout")
    assert not signed_in(other)
    assert fresh(nurse).session_generation == 1


def test_an_identifier_of_the_old_form_is_signed_out(client, nurse):
    with client.session_transaction() as session:
        session["_user_id"] = str(nurse.id)  # what cookies held before generations
    assert not signed_in(client)


# --- passwords and deactivation -----------------------------------------------------------


def test_admin_password_reset_ends_every_sign_in(csrf_app, nurse, factories):
    nurse_client = request_scoped_client(csrf_app)
    sign_in(nurse_client, remember=True)
    thief = request_scoped_client(csrf_app)
    copy_cookies(nurse_client, thief, REMEMBER)
    assert signed_in(thief)

    admin_client = request_scoped_client(csrf_app)
    factories.AdminFactory(username="root")
    token = sign_in(admin_client, username="root")
    page = admin_client.get(f"/admin/users/{nurse.id}/edit").get_data(as_text=True)
    assert "/password" in page
    response = admin_client.post(
        f"/admin/users/{nurse.id}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302

    assert not signed_in(nurse_client)
    assert not signed_in(thief)
    assert signed_in(admin_client)  # the admin's own sign-in is untouched


@pytest.mark.parametrize("how", ["set_active", "update_user"])
def test_deactivation_ends_sign_ins_even_after_reactivation(client, nurse, factories, how):
    nurse_client = request_scoped_client(client.application)
    with nurse_client.session_transaction() as session:
        session["_user_id"] = nurse.get_id()
    assert signed_in(nurse_client)
    admin = factories.AdminFactory()
    user = fresh(nurse)
    if how == "set_active":
        admin_services.set_active(user, False, actor=admin)
        admin_services.set_active(user, True, actor=admin)
    else:
        fields = {"display_name": user.display_name, "role": "nurse", "school": user.school}
        admin_services.update_user(user, actor=admin, active=False, **fields)
        admin_services.update_user(user, actor=admin, active=True, **fields)
    db.session.commit()
    assert fresh(nurse).active
    assert not signed_in(nurse_client)


def test_own_password_change_keeps_this_browser_and_ends_the_others(csrf_app, nurse):
    nurse_client = request_scoped_client(csrf_app)
    token = sign_in(nurse_client, remember=True)
    thief = request_scoped_client(csrf_app)
    copy_cookies(nurse_client, thief, "session", REMEMBER)

    page = nurse_client.get("/account/password")
    assert page.status_code == 200
    assert 'name="current_password"' in page.get_data(as_text=True)
    response = change_own_password(nurse_client, token, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"

    assert signed_in(nurse_client)
    assert not signed_in(thief)
    user = fresh(nurse)
    assert user.check_password(NEW_PASSWORD)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "change_password"))
    assert [e.entity_id for e in event] == [str(nurse.id)]
    # The remember cookie was renewed with the new generation: it alone still signs in.
    fresh_browser = request_scoped_client(csrf_app)
    copy_cookies(nurse_client, fresh_browser, REMEMBER)
    assert signed_in(fresh_browser)


@pytest.mark.parametrize(("current", "new", "field", "message"), [
    ("not my password", NEW_PASSWORD, "current_password", "The current password is wrong."),
    (PASSWORD, "password123", "password", "too common or too easy to guess"),
    (PASSWORD, "liu.fang.1990", "password", "too common or too easy to guess"),
    (PASSWORD, "short", "password", "at least 10 characters"),
])  # fmt: skip
def test_own_password_change_refusals_name_the_field(
    client, nurse, login_as, current, new, field, message
):
    login_as(nurse)
    hash_before = nurse.password_hash
    response = change_own_password(client, "", current, new)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|{message}', html)
    assert fresh(nurse).password_hash == hash_before
    assert signed_in(client)


def test_own_password_page_needs_a_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- idle expiry and the remember-me cap ------------------------------------------------------


def test_idle_session_expires(client, nurse, login_as, clock):
    login_as(nurse)
    assert signed_in(client)
    idle = client.application.config["SESSION_IDLE_MINUTES"]
    assert idle == 480
    clock.advance(minutes=idle - 1)
    assert signed_in(client)  # active again: the count starts over
    clock.advance(minutes=idle - 1)
    assert signed_in(client)
    clock.advance(minutes=idle + 1)
    response = client.get("/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"You were signed out after {idle} minutes without activity." in page
    assert not signed_in(client)


def test_idle_expiry_also_ends_remember_me(csrf_app, nurse, clock):
    nurse_client = request_scoped_client(csrf_app)
    sign_in(nurse_client, remember=True)
    assert nurse_client.get_cookie(REMEMBER) is not None
    clock.advance(minutes=csrf_app.config["SESSION_IDLE_MINUTES"] + 1)
    assert not signed_in(nurse_client)
    assert nurse_client.get_cookie(REMEMBER) is None
    assert not signed_in(nurse_client)


def test_idle_limit_is_configurable(app, database_url, nurse, clock):
    class Quick(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        SESSION_IDLE_MINUTES = 15

    quick = create_app(Quick)
    quick_client = request_scoped_client(quick)
    with quick_client.session_transaction() as session:
        session["_user_id"] = nurse.get_id()
    assert signed_in(quick_client)
    clock.advance(minutes=16)
    assert not signed_in(quick_client)
    with quick.app_context():
        db.engine.dispose()


def test_remember_me_lasts_at_most_the_configured_days(csrf_app, nurse, clock):
    days = csrf_app.config["REMEMBER_DAYS"]
    assert days == 14
    nurse_client = request_scoped_client(csrf_app)
    sign_in(nurse_client, remember=True)
    remember = nurse_client.get_cookie(REMEMBER)
    assert remember.expires is not None
    lifetime = remember.expires.timestamp() - sessions.time.time()
    assert days * 86400 - 120 < lifetime <= days * 86400 + 5

    def remembered_on_a_new_browser() -> bool:
        browser = request_scoped_client(csrf_app)
        browser.set_cookie(REMEMBER, remember.value)
        return signed_in(browser)

    clock.advance(days=days - 1)
    assert remembered_on_a_new_browser()
    clock.advance(days=2)
    assert not remembered_on_a_new_browser()  # the server refuses it, whatever the browser keeps


# --- session fixation ---------------------------------------------------------------------------


def test_csrf_secret_is_new_at_sign_in(csrf_app, nurse):
    browser = request_scoped_client(csrf_app)
    before = token_of(browser.get("/login").get_data(as_text=True))
    response = browser.post(
        "/login", data={"username": "liu.fang", "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    # A token of the signed-out session (one an attacker could have planted or read)
    # no longer passes; one from a signed-in page does.
    refused = change_own_password(browser, before, PASSWORD, NEW_PASSWORD)
    assert refused.status_code == 400
    assert "Your form expired" in refused.get_data(as_text=True)
    after = token_of(browser.get("/account/password").get_data(as_text=True))
    assert change_own_password(browser, after, PASSWORD, NEW_PASSWORD).status_code == 302


def test_sign_in_starts_a_new_session(client, nurse):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    client.post("/login", data={"username": "liu.fang", "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{nurse.id}:")
