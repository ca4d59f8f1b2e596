"""Sign-in, throttling (no lockout), deactivation, sign-out and the ``next`` redirect."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, User
from tests.clients import request_scoped_client
from tests.factories import PASSWORD

WRONG = "Wrong username or password."


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
    assert reload(nurse).failed_logins == 0  # a failure changes nothing of the account


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


def from_address(client, address: str, **kwargs):
    """Sign in from a given client address (REMOTE_ADDR)."""
    data = {"username": "liu.fang", "password": PASSWORD}
    data.update(kwargs)
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_no_account_is_ever_locked(app, client, nurse):
    """Failing on purpose from one address throttles that address, never the account:
    the nurse still signs in from her own computer."""
    for _ in range(3):
        assert from_address(client, "203.0.113.9", password="bad password").status_code == 200
    throttled = from_address(client, "203.0.113.9")  # even the right password, from there
    assert throttled.status_code == 429
    nurse_pc = request_scoped_client(app)
    assert from_address(nurse_pc, "10.1.2.3").status_code == 302
    user = reload(nurse)
    assert user.locked_until is None
    assert user.failed_logins == 0
    assert actions() == ["login"]  # a failure writes nothing


def test_throttle_answers_the_same_for_unknown_and_existing_names(client, nurse):
    """A 429 must not reveal whether a name exists: both names throttle after the same
    number of failures, with the same page."""
    answers = {}
    for name, address in (("liu.fang", "203.0.113.7"), ("ghost.user", "203.0.113.8")):
        codes = [
            from_address(client, address, username=name, password="bad password").status_code
            for _ in range(4)
        ]
        response = from_address(client, address, username=name, password="bad password")
        answers[name] = (codes, response.status_code, response.get_data(as_text=True))
    assert answers["liu.fang"][:2] == answers["ghost.user"][:2] == ([200, 200, 200, 429], 429)
    assert _without_tokens(answers["liu.fang"][2], "liu.fang") == _without_tokens(
        answers["ghost.user"][2], "ghost.user"
    )
    assert "Too many attempts" in answers["ghost.user"][2]


def test_one_address_is_throttled_across_names(app, client, factories):
    limit = int(app.config["LOGIN_LIMIT_PER_ADDRESS"].split()[0])
    for n in range(limit):
        response = from_address(client, "198.51.100.4", username=f"name{n}", password="x")
        assert response.status_code == 200
    assert from_address(client, "198.51.100.4", username="other", password="x").status_code == 429
    # Another address is not affected, and successful sign-ins are never counted.
    factories.NurseFactory(username="wang.li")
    for _ in range(limit + 2):
        other = request_scoped_client(app)
        assert from_address(other, "198.51.100.5", username="wang.li").status_code == 302


def test_throttle_window_runs_out(app, client, nurse, monkeypatch):
    import time

    for _ in range(3):
        from_address(client, "203.0.113.20", password="bad password")
    assert from_address(client, "203.0.113.20").status_code == 429
    later = time.time() + 11 * 60  # the window is 10 minutes
    monkeypatch.setattr(time, "time", lambda: later)
    assert from_address(client, "203.0.113.20").status_code == 302


def test_unknown_names_cost_as_long_as_wrong_passwords(client, nurse):
    """Same answer, same time: an unknown name is checked against a dummy hash."""
    import time

    def median_seconds(username: str) -> float:
        times = []
        for n in range(5):
            start = time.perf_counter()
            from_address(client, f"192.0.2.{n}", username=username, password="bad password")
            times.append(time.perf_counter() - start)
        return sorted(times)[2]

    median_seconds("ghost.user")  # warm up: the dummy hash is made once
    unknown, wrong = median_seconds("ghost.user"), median_seconds("liu.fang")
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


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


@pytest.mark.redis
def test_throttle_counts_in_redis_when_configured(app, database_url, redis_url, nurse):
    """With Redis (production), every worker reads the same counts: they live in Redis."""
    from redis import Redis

    from config import TestingConfig
    from schoolhealth import create_app

    def build(storage: str):
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url
            SQLALCHEMY_ENGINE_OPTIONS: dict = {}
            RATELIMIT_STORAGE_URI = storage

        return create_app(Config)

    redis_app = build(redis_url)
    try:
        client = request_scoped_client(redis_app)
        for _ in range(3):
            from_address(client, "203.0.113.30", password="bad password")
        assert from_address(client, "203.0.113.30").status_code == 429
        keys = [key.decode() for key in Redis.from_url(redis_url).keys("*")]
        assert any("account:liu.fang@203.0.113.30" in key for key in keys), keys
    finally:
        with redis_app.app_context():
            db.engine.dispose()
        memory_app = build("memory://")  # the limiter is one object: back to memory
        with memory_app.app_context():
            db.engine.dispose()
