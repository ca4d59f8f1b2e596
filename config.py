"""Configuration classes, read from the environment.

``create_app("production")`` (or ``SCHOOLHEALTH_CONFIG=production``) picks
:class:`ProductionConfig`, which refuses to start without a real secret key.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

DEV_SECRET_KEY = "dev-only-not-secret"


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", "") or default
    # Heroku-style and plain URLs select psycopg 3, the driver we ship.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Defaults shared by every environment (embedded SQLite, no servers needed)."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{INSTANCE_DIR / 'schoolhealth.sqlite'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # Without Redis, background jobs run inline in the request or command that queued them.
    QUEUE_NAME = os.environ.get("QUEUE_NAME", "schoolhealth")
    RQ_ASYNC = bool(os.environ.get("REDIS_URL"))

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "schoolhealth" / "translations")

    # Uploads: size limit applied by Werkzeug (413) and again by the reader.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "50")) * 1024 * 1024
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "2000000"))
    # Imports with more rows than this are queued as background jobs when Redis is set.
    IMPORT_BACKGROUND_ROWS = int(os.environ.get("IMPORT_BACKGROUND_ROWS", "5000"))

    # Sign-in throttling: after this many failures the account is locked for a while.
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a nurse's screening day is long; the token lives with the session

    # Parent letters: the embedded CJK TrueType font (a .ttf, or a .ttc with the face's
    # index), the address printed under the QR code, and how long a parent's code works.
    LETTER_FONT_PATH = os.environ.get(
        "LETTER_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    )
    LETTER_FONT_INDEX = int(os.environ.get("LETTER_FONT_INDEX", "0"))
    LETTER_BASE_URL = os.environ.get("LETTER_BASE_URL", "http://127.0.0.1:5000")
    LETTER_CODE_DAYS = int(os.environ.get("LETTER_CODE_DAYS", "90"))
    # A referral with no outcome this many days after screening is lost to follow-up.
    FOLLOWUP_LOST_AFTER_DAYS = int(os.environ.get("FOLLOWUP_LOST_AFTER_DAYS", "90"))
    # Parents' look-ups: wrong birth dates lock a code; failures lock a client address.
    LETTER_CODE_MAX_FAILURES = int(os.environ.get("LETTER_CODE_MAX_FAILURES", "5"))
    LETTER_CODE_LOCKOUT_MINUTES = int(os.environ.get("LETTER_CODE_LOCKOUT_MINUTES", "60"))
    LETTER_CLIENT_MAX_FAILURES = int(os.environ.get("LETTER_CLIENT_MAX_FAILURES", "20"))
    LETTER_CLIENT_LOCKOUT_MINUTES = int(os.environ.get("LETTER_CLIENT_LOCKOUT_MINUTES", "60"))
    # The PDFs' author metadata.
    LETTER_AUTHOR = os.environ.get("LETTER_AUTHOR", "SchoolHealth")

    PAGE_SIZE = 50
    SQLALCHEMY_RECORD_QUERIES = False


class DevelopmentConfig(Config):
    DEBUG = False  # `make run` serves with the reloader off; set FLASK_DEBUG=1 to debug


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = False
    RQ_ASYNC = False
    LOGIN_MAX_FAILURES = 3
    BABEL_DEFAULT_LOCALE = "en"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = "https"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}

    @classmethod
    def validate(cls) -> None:
        """Refuse to run production with a guessable secret: it signs every session."""
        if cls.SECRET_KEY in ("", DEV_SECRET_KEY) or len(cls.SECRET_KEY) < 32:
            raise RuntimeError(
                "ProductionConfig needs SECRET_KEY set to a random string of at least 32 "
                "characters (e.g. python -c 'import secrets; print(secrets.token_hex(32))')."
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
