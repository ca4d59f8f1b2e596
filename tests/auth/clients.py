"""A test client whose every request runs in its own application context.

tests/conftest.py keeps an application context pushed for the whole test, and Flask
reuses a pushed context for requests; ``flask.g`` then lives across requests, so
Flask-Login's cached user (``g._login_user``) and Flask-Babel's locale survive from one
request to the next. In production each request has a fresh ``g``: tests of sign-out,
deactivation and language choice need the same, or they pass or fail for the wrong reason.
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
