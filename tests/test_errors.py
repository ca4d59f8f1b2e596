"""Error pages: every failure is a friendly page (or JSON under /api/), never a trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from config import TestingConfig
from schoolhealth import create_app
from schoolhealth.extensions import db
from schoolhealth.models import District
from tests.clients import request_scoped_client


@pytest.fixture
def client(app):
    return request_scoped_client(app)


def test_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<h1>404</h1>" in html
    assert "This page does not exist, or you do not have access to it." in html
    assert 'href="/"' in html  # a way back


def test_404_under_api_is_json(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json() == {
        "error": "Not Found",
        "message": "This page does not exist, or you do not have access to it.",
    }


def test_a_client_asking_for_json_gets_json(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json


def test_a_browser_accepting_anything_gets_html(client):
    response = client.get(
        "/no/such/page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert response.mimetype == "text/html"


def test_403_page(client, factories, login_as):
    login_as(factories.NurseFactory())
    response = client.get("/admin/")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "<h1>403</h1>" in html
    assert "You do not have permission to see this page." in html


def test_405_page(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "This action is not allowed here." in response.get_data(as_text=True)


def test_413_page(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    response = client.post("/login", data={"username": "x" * 500, "password": "y"})
    assert response.status_code == 413
    assert "The file is too large to upload." in response.get_data(as_text=True)


# --- unexpected exceptions -------------------------------------------------------------


@pytest.fixture
def failing_app(app, database_url) -> Iterator[Flask]:
    """A throwaway app with test-only failing views, and errors not propagated."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        PROPAGATE_TEST_ERRORS = False

    failing = create_app(Config)

    def write_then_fail():
        db.session.add(District(name="Half-written"))
        db.session.flush()
        raise RuntimeError("internal-detail-42")

    def database_error():
        """A failed flush leaves the session unusable until it is rolled back."""
        db.session.add(District(name="Half-written"))
        db.session.add(District(name="Taken"))
        db.session.flush()

    def refused_value():
        """What PostgreSQL answers to a number too large for its column."""
        db.session.add(District(name="Half-written"))
        db.session.flush()
        raise DataError("INSERT ...", {}, Exception("integer out of range"))

    failing.add_url_rule("/boom", "boom", write_then_fail)
    failing.add_url_rule("/refused", "refused", refused_value)
    failing.add_url_rule("/api/boom", "api_boom", write_then_fail)
    failing.add_url_rule("/db-error", "db_error", database_error)
    yield failing
    with failing.app_context():
        db.engine.dispose()


def districts() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(District.id)))


def test_unexpected_error_gives_the_500_page_and_saves_nothing(failing_app):
    response = request_scoped_client(failing_app).get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "<h1>500</h1>" in html
    assert "Something went wrong on our side. Nothing was saved" in html
    assert "internal-detail-42" not in html
    assert "Traceback" not in html
    assert districts() == 0


def test_database_error_is_rolled_back_before_the_page_is_drawn(failing_app, factories):
    """The page reads the signed-in user from the database: only after a rollback can it."""
    factories.DistrictFactory(name="Taken")
    nurse = factories.NurseFactory(display_name="Nurse Wang")
    client = request_scoped_client(failing_app)
    with client.session_transaction() as session:
        session["_user_id"] = nurse.get_id()
    response = client.get("/db-error")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side." in html
    assert "Nurse Wang" in html
    assert districts() == 2  # "Taken" and the nurse's school's district; nothing half-written


def test_unexpected_error_under_api_is_json(failing_app):
    response = request_scoped_client(failing_app).get("/api/boom")
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert "internal-detail-42" not in response.get_data(as_text=True)
    assert districts() == 0


def test_unexpected_error_is_logged(failing_app, caplog):
    request_scoped_client(failing_app).get("/boom")
    assert "unhandled error on GET /boom" in caplog.text


def test_in_tests_unexpected_errors_propagate_by_default(app):
    """So a failing view shows its traceback in the test run instead of a 500 page."""
    assert app.config.get("PROPAGATE_TEST_ERRORS", True)


@pytest.mark.parametrize(
    "url",
    [
        "/screening/sessions/99999999999999999999",
        "/screening/sessions/1/classes/99999999999999999999",
        "/roster/students/2147483648",
        "/screening/pupils/99999999999999999999",
    ],
)
def test_ids_no_table_can_hold_match_no_route(client, factories, url):
    admin = factories.AdminFactory()
    with client.session_transaction() as session:
        session["_user_id"] = admin.get_id()
    assert client.get(url).status_code == 404


def test_a_value_the_database_refuses_is_a_400_and_nothing_is_saved(failing_app):
    response = request_scoped_client(failing_app).get("/refused")
    assert response.status_code == 400
    assert "could not be understood" in response.get_data(as_text=True)
    assert districts() == 0
