"""The application factory.

:func:`create_app` is a table of contents: each ``register_*`` step below is small.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter, Map

from config import BASE_DIR, CONFIGS, INSTANCE_DIR, Config, ProductionConfig

from .extensions import babel, csrf, db, limiter, login_manager, migrate

# One package per feature, each with a ``bp``; these modules define views on them.
ROUTE_MODULES = (
    "auth.routes",
    "admin.routes",
    "roster.routes",
    "roster.import_routes",
    "screening.routes",
    "screening.record_routes",
    "reports.routes",
    "letters.routes",
    "followup.routes",
)


def create_app(config: str | type[Config] | Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` is a name from :data:`config.CONFIGS` ("development", "testing",
    "production"), a config class, or a mapping of overrides applied on top of the
    development defaults. Without it, ``SCHOOLHEALTH_CONFIG`` picks the name.
    """
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
    )
    load_config(app, config)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_commands(app)
    register_logging(app)
    return app


def load_config(app: Flask, config: str | type[Config] | Mapping[str, Any] | None) -> None:
    if config is None:
        config = os.environ.get("SCHOOLHEALTH_CONFIG", "development")
    if isinstance(config, str):
        try:
            config = CONFIGS[config]
        except KeyError as exc:
            raise RuntimeError(
                f"Unknown configuration {config!r}; use one of {list(CONFIGS)}"
            ) from exc
    if isinstance(config, Mapping):
        app.config.from_object(CONFIGS["development"])
        app.config.update(config)
    else:
        if issubclass(config, ProductionConfig):
            config.validate()
        app.config.from_object(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite enforces foreign keys only when asked; WAL lets the web and a CLI overlap."""
    if dbapi_connection.__class__.__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (every table known before migrate/create_all)
    from .i18n import select_locale, select_timezone

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please sign in to continue.")

    from .auth.sessions import load_user

    login_manager.user_loader(load_user)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in URLs, bounded by the largest id a table can hold (PostgreSQL INTEGER).

    A hand-edited URL with a 20-digit id then simply matches no route (404) instead of
    reaching the database, which would refuse the number with an error.
    """

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        from .access import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    """Import every route module first: a blueprint is registered once, with all its views."""
    app.url_map.converters["int"] = DatabaseIdConverter
    modules = [importlib.import_module(f"schoolhealth.{name}") for name in ROUTE_MODULES]
    blueprints = {id(module.bp): module.bp for module in modules}
    for blueprint in blueprints.values():
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from .errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from . import labels
    from .i18n import current_language
    from .models import mask_id_number, mask_ids

    app.jinja_env.globals.update(
        current_language=current_language,
        LANGUAGES=app.config["LANGUAGES"],
        grade_class=labels.class_label,
        grade_label=labels.grade_label,
        audit_summary=labels.audit_summary,
    )
    app.jinja_env.filters.update(
        mask_id=mask_id_number,
        mask_ids=mask_ids,
        class_name=labels.school_class_label,
        sex_label=labels.sex_label,
        growth_reference=labels.growth_reference_label,
        join_list=labels.join_list,
        audit_action=labels.audit_action_label,
        audit_entity=labels.audit_entity_label,
        audit_field=labels.audit_field_label,
        audit_value=labels.audit_value,
    )


# Only this site's own files: no inline script or style (an injected <script> or
# onclick="" does not run), no plugins, no framing (clickjacking), forms post only here.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def register_security_headers(app: Flask) -> None:
    """Headers on every answer.

    ``Cache-Control: no-store`` goes on everything but the static files: pages and exports
    show pupils' health data, and a shared school PC's browser cache (or its back button
    after sign-out) must not keep them. HSTS only where the app is served over HTTPS
    (``HSTS_SECONDS``, set by the production config).
    """
    from flask import request

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS_SECONDS"):
            headers.setdefault("Strict-Transport-Security", f"max-age={app.config['HSTS_SECONDS']}")
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        return response


def register_commands(app: Flask) -> None:
    from .admin.cli import create_school_command, create_user_command
    from .backup_cli import backup_command, restore_command
    from .demo import seed_demo_command
    from .followup.cli import followup_cli
    from .letters.cli import letters_command
    from .reports.cli import report_command
    from .roster.cli import export_roster_command, import_roster_command
    from .rules_cli import rules_cli
    from .worker import jobs_cli, worker_command

    for command in (
        create_user_command,
        create_school_command,
        seed_demo_command,
        import_roster_command,
        export_roster_command,
        rules_cli,
        worker_command,
        jobs_cli,
        report_command,
        backup_command,
        restore_command,
        letters_command,
        followup_cli,
    ):
        app.cli.add_command(command)


def register_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
