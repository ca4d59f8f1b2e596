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
        session["_user_id"] = nurse.get_id()
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


def _post_rules() -> list[tuple[str, str]]:
    """(endpoint, URL) of every POST rule of the app, with 1 for every id in the URL."""
    app = create_app(TestingConfig)
    rules = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{argument}>", "1", url)
        rules.append((rule.endpoint, url))
    return sorted(rules)


POST_RULES = _post_rules()


def test_every_blueprint_has_post_rules_to_check():
    blueprints = {endpoint.split(".")[0] for endpoint, _url in POST_RULES}
    assert {"auth", "admin", "roster"} <= blueprints


@pytest.mark.parametrize(("endpoint", "url"), POST_RULES, ids=[e for e, _u in POST_RULES])
def test_every_post_route_refuses_a_request_without_the_token(csrf_app, factories, endpoint, url):
    """CSRF protection is app-wide: no form, JSON save or upload is exempt."""
    admin = factories.AdminFactory()
    client = request_scoped_client(csrf_app)
    with client.session_transaction() as session:
        session["_user_id"] = admin.get_id()
    response = client.post(url, data={"name": "x"})
    assert response.status_code == 400, url
    assert CSRF_MESSAGE in response.get_data(as_text=True)


def test_every_form_page_carries_a_token(csrf_app, factories):
    """The GET pages of the admin and roster forms embed the CSRF token."""
    admin = factories.AdminFactory()
    school = factories.SchoolFactory()
    student = factories.StudentFactory(school_class__school=school)
    client = request_scoped_client(csrf_app)
    with client.session_transaction() as session:
        session["_user_id"] = admin.get_id()
    pages = [
        "/admin/districts/new",
        "/admin/schools/new",
        "/admin/institutions/new",
        "/admin/users/new",
        f"/admin/schools/{school.id}/edit",
        f"/roster/schools/{school.id}/students/new",
        f"/roster/students/{student.id}/edit",
        f"/roster/students/{student.id}/deactivate",
        f"/roster/schools/{school.id}/classes/new",
        f"/roster/classes/{student.class_id}/rename",
        f"/roster/schools/{school.id}/promote",
        "/roster/import",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        csrf_token(response.get_data(as_text=True))


# --- odd input: a page or a 400/404, never a 500 --------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{"username": "liu\x00", "password": "x"}, {"username": "liu", "password": "\x00"}],
    ids=["username", "password"],
)
def test_a_nul_character_at_sign_in_is_a_bad_request(client, factories, data):
    """PostgreSQL refuses text with NUL even in a WHERE clause: it must not get there."""
    factories.NurseFactory(username="liu")
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize(
    "url",
    [
        "/admin/users?q=a%00b",
        "/admin/schools?q=%00",
        "/admin/districts?q=%00",
        "/admin/institutions?q=%00",
        "/admin/audit?action=%00",
        "/?lang=%00",
    ],
)
def test_a_nul_character_in_a_url_parameter_is_a_bad_request(client, login_as, factories, url):
    login_as(factories.AdminFactory())
    assert client.get(url).status_code == 400


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/districts/new", {"name": "区\x00"}),
        ("/admin/institutions/new", {"name": "机构\x00"}),
        ("/admin/users/new", {"username": "a\x00b", "role": "admin", "password": "x" * 20}),
        ("/language", {"lang": "en\x00"}),
    ],
)
def test_a_nul_character_in_a_form_is_a_bad_request(client, login_as, factories, url, data):
    login_as(factories.AdminFactory())
    assert client.post(url, data=data).status_code == 400


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "url",
    [
        f"/admin/districts/{HUGE}/edit",
        f"/admin/schools/{HUGE}/edit",
        f"/admin/institutions/{HUGE}/edit",
        f"/admin/users/{HUGE}/edit",
        f"/admin/audit/{HUGE}",
        "/admin/audit/2147483648",
        "/admin/users/0/edit",
    ],
)
def test_admin_ids_no_record_can_have_are_404(client, login_as, factories, url):
    login_as(factories.AdminFactory())
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        f"/admin/users?page={HUGE}",
        f"/admin/audit?page={HUGE}",
        "/admin/audit?page=-5",
        f"/admin/schools?district_id={HUGE}",
        f"/admin/schools/new?district_id={HUGE}",
        f"/admin/audit?school_id={HUGE}&user_id={HUGE}&entity_id={HUGE}",
    ],
)
def test_admin_lists_ignore_out_of_range_parameters(client, login_as, factories, url):
    login_as(factories.AdminFactory())
    assert client.get(url).status_code == 200


def test_an_audit_filter_with_impossible_dates_is_refused_with_the_form(
    client, login_as, factories
):
    login_as(factories.AdminFactory())
    response = client.get("/admin/audit?date_from=2026-13-45&date_to=yesterday")
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
