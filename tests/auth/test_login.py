"""Sign-in, lockout, deactivation, sign-out and the ``next`` redirect."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, User, utcnow
from tests.factories import PASSWORD

WRONG = "Wrong username or password."
LOCKED = "Too many failed attempts."


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(username="liu.fang")


def sign_in(client, username="liu.fang", password=PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_sign_in_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="username"' in response.get_data(as_text=True)


def test_sign_in_succeeds_and_is_audited(client, nurse):
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    user = reload(nurse)
    assert user.last_login_at is not None
    assert user.failed_logins == 0
    assert actions() == ["login"]


def test_username_is_not_case_sensitive(client, nurse):
    assert sign_in(client, username="  LIU.Fang ").status_code == 302


def test_wrong_password_is_refused(client, nurse):
    response = sign_in(client, password="not the password")
    assert response.status_code == 200
    assert WRONG in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out
    assert reload(nurse).failed_logins == 1


def _without_tokens(html: str, username: str) -> str:
    """The page minus what differs by design: the typed username and the CSRF tokens
    (signed with the current second)."""
    html = re.sub(r'(csrf[-_]token"[^>]*?(?:content|value)=")[^"]*', r"\1", html)
    return html.replace(username, "NAME")


def test_unknown_user_and_wrong_password_look_the_same(client, nurse):
    unknown = sign_in(client, username="ghost.user", password="whatever it is")
    wrong = sign_in(client, username="liu.fang", password="whatever it is")
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.get_data(as_text=True)
    assert _without_tokens(unknown.get_data(as_text=True), "ghost.user") == _without_tokens(
        wrong.get_data(as_text=True), "liu.fang"
    )


def test_account_locks_after_max_failures(app, client, nurse):
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    for _ in range(2):
        assert WRONG in sign_in(client, password="bad password").get_data(as_text=True)
    response = sign_in(client, password="bad password")
    assert response.status_code == 429
    assert LOCKED in response.get_data(as_text=True)
    # Locked means locked: even the right password is refused until the time is up.
    response = sign_in(client)
    assert response.status_code == 429
    assert client.get("/").status_code == 302
    user = reload(nurse)
    minutes = app.config["LOGIN_LOCKOUT_MINUTES"]
    assert user.locked_until > utcnow() + timedelta(minutes=minutes) - timedelta(seconds=30)
    assert actions() == ["lockout"]


def test_lock_runs_out(client, nurse):
    for _ in range(3):
        sign_in(client, password="bad password")
    user = reload(nurse)
    user.locked_until = utcnow() - timedelta(seconds=1)  # the lockout time has passed
    db.session.commit()
    assert sign_in(client).status_code == 302
    assert reload(nurse).locked_until is None


def test_success_resets_the_failure_count(client, nurse):
    sign_in(client, password="bad password")
    sign_in(client, password="bad password")
    assert sign_in(client).status_code == 302
    assert reload(nurse).failed_logins == 0


def test_inactive_user_cannot_sign_in(client, factories):
    factories.NurseFactory(username="gone", active=False)
    response = sign_in(client, username="gone")
    assert response.status_code == 200
    assert WRONG in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_deactivated_user_is_signed_out_on_the_next_request(client, nurse):
    assert sign_in(client).status_code == 302
    assert client.get("/").status_code == 200
    user = reload(nurse)
    user.active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_signed_in_user_visiting_login_goes_home(client, nurse, login_as):
    login_as(nurse)
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- next ------------------------------------------------------------------------------


def test_protected_page_sends_to_sign_in_with_next(client):
    response = client.get("/admin/users?q=x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Fusers%3Fq%3Dx"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/admin/users?q=x"' in page


def test_sign_in_follows_a_local_next(client, factories):
    factories.AdminFactory(username="root")
    response = sign_in(client, username="root", next="/admin/users?q=x")
    assert response.headers["Location"] == "/admin/users?q=x"


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "http:/evil.example",
])  # fmt: skip
def test_sign_in_never_redirects_off_site(client, nurse, target):
    response = sign_in(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- sign-out --------------------------------------------------------------------------


def test_logout_requires_post(client, nurse, login_as):
    login_as(nurse)
    response = client.get("/logout")
    assert response.status_code == 405
    assert "This action is not allowed here." in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in


def test_logout_signs_out_and_is_audited(client, nurse):
    sign_in(client)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert actions() == ["login", "logout"]


def test_logout_when_signed_out_is_harmless(client):
    assert client.post("/logout").status_code == 302
    assert actions() == []
