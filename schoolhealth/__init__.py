"""SchoolHealth: student health-screening records for schools.

This package file imports nothing on purpose: ``schoolhealth.rules`` (the screening
standards) must stay importable without Flask or SQLAlchemy, by jobs, the CLI and
other programs. The application itself is built by :func:`schoolhealth.app.create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Any = None) -> Flask:
    """Build the Flask application; see :func:`schoolhealth.app.create_app`."""
    from .app import create_app as build

    return build(config)
