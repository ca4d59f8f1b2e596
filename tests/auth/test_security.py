"""CSRF protection and cookie flags, with the settings production runs with."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask

from config import ProductionConfig, TestingConfig
from schoolhealth import create_app
from schoolhealth.extensions import db
from tests.clients import request_scoped_client
from tests.factories import PASSWORD

CSRF_MESSAGE = "Your form expired or was sent twice."


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _disposed(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def csrf_app(app, database_url) -> Iterator[Flask]:
    """The test settings with CSRF protection on, as every other configuration has it."""

    class CsrfConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        WTF_CSRF_ENABLED = True

    csrf_app = create_app(CsrfConfig)
    yield csrf_app
    _disposed(csrf_app)


@pytest.fixture
def production_app(app, database_url) -> Iterator[Flask]:
    """ProductionConfig itself, pointed at the test database."""

    class Production(ProductionConfig):
        SECRET_KEY = "p" * 64
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    production_app = create_app(Production)
    yield production_app
    _disposed(production_app)


def test_post_without_csrf_token_gets_a_friendly_400(csrf_app, factories):
    factories.NurseFactory(username="liu")
    client = request_scoped_client(csrf_app)
    response = client.post("/login", data={"username": "liu", "password": PASSWORD})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert CSRF_MESSAGE in html
    assert "<h1>400</h1>" in html
    assert client.get("/").status_code == 302  # not signed in


def test_post_with_a_wrong_token_is_refused(csrf_app, factories):
    factories.NurseFactory(username="liu")
    client = request_scoped_client(csrf_app)
    client.get("/login")
    response = client.post(
        "/login", data={"username": "liu", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_post_with_the_token_signs_in(csrf_app, factories):
    factories.NurseFactory(username="liu")
    client = request_scoped_client(csrf_app)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "liu", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_sign_out_needs_the_token_too(csrf_app, factories):
    nurse = factories.NurseFactory()
    client = request_scoped_client(csrf_app)
    with client.session_transaction() as session:
        session["_user_id"] = str(nurse.id)
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_csrf_failure_asked_for_as_json_is_json(csrf_app):
    client = request_scoped_client(csrf_app)
    response = client.post("/language", data={"lang": "en"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"


def test_production_cookies_are_secure_httponly_and_samesite(production_app, factories):
    factories.NurseFactory(username="liu")
    client = request_scoped_client(production_app)
    https = {
        "base_url": "https://school.example",
        "headers": {"Referer": "https://school.example/login"},
    }
    page = client.get("/login", **https)
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": "liu", "password": PASSWORD, "remember": "y",
              "csrf_token": csrf_token(page.get_data(as_text=True))},
        **https,
    )  # fmt: skip
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "remember_token"}
    for name in ("session", "remember_token"):
        flags = [part.strip().lower() for part in cookies[name].split(";")]
        assert "secure" in flags, name
        assert "httponly" in flags, name
        assert "samesite=lax" in flags, name


def test_production_runs_without_debug_and_with_csrf(production_app):
    assert not production_app.debug
    assert not production_app.testing
    assert production_app.config.get("WTF_CSRF_ENABLED", True) is True
    assert production_app.config["PREFERRED_URL_SCHEME"] == "https"
