"""Shared fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL).

The schema is created once per run; after every test all rows are deleted, so each
test starts from an empty database whatever it committed. Under CI (CI=true) the
real PostgreSQL, Redis and Chromium are required: a missing one fails the run
instead of skipping tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from config import TestingConfig
from schoolhealth import create_app
from schoolhealth.extensions import db, limiter
from tests.clients import request_scoped_client

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine that lacks a service; fail under CI, where it must exist."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    # A file, not :memory:, so the browser tests' server thread shares the data.
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def app(database_url: str):
    class TestConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    app = create_app(TestConfig)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def _clear_all_tables() -> None:
    db.session.remove()
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the app get an empty database and a pushed app context."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        limiter.reset()  # sign-in throttle counts (memory) start from zero too
        yield
        _clear_all_tables()


@pytest.fixture
def client(app):
    """Each request in a fresh application context, as in production (tests/clients.py)."""
    return request_scoped_client(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(client):
    """Sign a user in on the test client without going through the form."""

    def _login(user) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    return _login


# --- real services -------------------------------------------------------------------


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url(app) -> Iterator[str]:
    """A real Redis (127.0.0.1:6379 unless TEST_REDIS_URL says otherwise), flushed after use."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    from redis import Redis

    try:
        conn = Redis.from_url(url, socket_connect_timeout=1)
        conn.ping()
    except Exception as exc:  # noqa: BLE001
        require(False, f"Redis at {url} is not reachable ({exc})")
    conn.flushdb()
    yield url
    conn.flushdb()


# --- browser -------------------------------------------------------------------------


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test app on a free local port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def _playwright():
    require(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        f"Chromium not found at {CHROMIUM} (install: scripts/install-browser.sh)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        require(False, "the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(_playwright):
    context = _playwright.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def factories(app):
    from tests import factories

    return factories
