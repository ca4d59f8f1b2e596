"""A test client whose every request runs in its own application context.

tests/conftest.py keeps an application context pushed for the whole test (so factories
and assertions can use the database), and Flask reuses a pushed context for requests:
``flask.g`` (Flask-Login's cached user, Flask-Babel's locale) and the request's database
session would then live from one request to the next. In production each request starts
fresh; so does this client, so tests pass or fail for the real reason. Objects a test
holds may be stale after a request: re-query them or ``db.session.expire_all()``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient


class RequestScopedClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def request_scoped_client(app: Flask) -> RequestScopedClient:
    return RequestScopedClient(app, app.response_class, use_cookies=True)
