"""Security headers on every answer, and templates free of inline code the CSP would block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from config import BASE_DIR, ProductionConfig
from schoolhealth import create_app
from schoolhealth.extensions import db
from tests.clients import request_scoped_client


@pytest.fixture
def nurse(factories):
    return factories.NurseFactory(username="liu.fang")


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_sign_in_page_has_the_security_headers(client):
    response = client.get("/login")
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # not HTTPS here


def test_pages_showing_pupils_are_never_cached(client, nurse, login_as, factories):
    pupil = factories.StudentFactory(school_class__school=nurse.school, name="张小明")
    login_as(nurse)
    for url in ("/", "/roster/", f"/roster/students/{pupil.id}", f"/screening/pupils/{pupil.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert_security_headers(response)


def test_exports_are_never_cached(client, nurse, login_as, factories):
    session = factories.ScreeningSessionFactory(school=nurse.school)
    factories.StudentFactory(school_class__school=nurse.school)
    login_as(nurse)
    response = client.get(f"/screening/sessions/{session.id}/flags/export.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_have_the_headers_too(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert_security_headers(response)


def test_static_files_may_be_cached(client):
    response = client.get("/static/app.css")
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def production_app(app, database_url) -> Iterator[Flask]:
    class Production(ProductionConfig):
        SECRET_KEY = "p" * 64
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    production_app = create_app(Production)
    yield production_app
    with production_app.app_context():
        db.engine.dispose()


def test_production_sends_hsts(production_app):
    response = request_scoped_client(production_app).get("/login")
    assert response.headers["Strict-Transport-Security"] == f"max-age={365 * 86400}"
    assert_security_headers(response)


# An inline <script> (no src), a <style> element, a style="" attribute, an on...=""
# handler or a javascript: URL: all refused by the policy, so none may be written.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=|javascript:", re.IGNORECASE
)


def test_no_template_has_inline_code():
    offenders = []
    for path in sorted(Path(BASE_DIR, "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if INLINE_CODE.search(line):
                offenders.append(f"{path.relative_to(BASE_DIR)}:{number}: {line.strip()}")
    assert offenders == []
