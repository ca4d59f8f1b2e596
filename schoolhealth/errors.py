"""Error pages: every failure gets a page (or JSON under /api), never a bare 500 trace."""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from .extensions import db

logger = logging.getLogger(__name__)


# Endpoints that speak only JSON (the grid's cell save): their errors are JSON whatever
# the Accept header says, so the page's script can always read and show them.
# The path pattern covers requests that match no endpoint (405, a malformed id).
JSON_ENDPOINTS = frozenset({"screening.save_result_field"})
JSON_PATHS = re.compile(r"/screening/sessions/[^/]+/students/[^/]+/field/?")


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.endpoint in JSON_ENDPOINTS
        or JSON_PATHS.fullmatch(request.path) is not None
        or request.accept_mimetypes.best == "application/json"
    )


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = _("Your form expired or was sent twice. Please reload the page and try again.")
        if _wants_json():
            return jsonify(error="csrf", message=message), 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have permission to see this page."),
            404: _("This page does not exist, or you do not have access to it."),
            405: _("This action is not allowed here."),
            409: _("Someone else changed this record at the same time. Reload and try again."),
            413: _("The file is too large to upload."),
            429: _("Too many attempts. Please wait a few minutes and try again."),
        }
        code = error.code or 500
        message = messages.get(code, error.description or "")
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if code == 413 and limit:
            message = _(
                "The file is too large to upload. The limit is %(mb)s MB.",
                mb=f"{limit / (1024 * 1024):g}",
            )
        if _wants_json():
            return jsonify(error=error.name, message=message), code
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(DataError)
    def value_out_of_range(error: DataError):
        """A value the database refuses (a number too large, say) is the request's fault.

        Views validate their input; this is the safety net that keeps a value that slipped
        through from becoming a 500, and rolls back so nothing half-written remains.
        """
        db.session.rollback()
        logger.warning(
            "database refused a value on %s %s: %s", request.method, request.path, error.orig
        )
        message = _("The request could not be understood.")
        if _wants_json():
            return jsonify(error="bad_request", message=message), 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        db.session.rollback()
        logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.testing and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise error
        message = _("Something went wrong on our side. Nothing was saved; please try again.")
        if _wants_json():
            return jsonify(error="server_error", message=message), 500
        return render_template("errors/error.html", code=500, message=message), 500
