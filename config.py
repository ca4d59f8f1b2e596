"""Configuration classes, read from the environment.

``create_app("production")`` (or ``SCHOOLHEALTH_CONFIG=production``) picks
:class:`ProductionConfig`, which refuses to start without a real secret key.
"""

from __future__ import annotations

import os
from datetime import timedelta
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
    # Background jobs: with REDIS_URL, RQ carries them to `flask worker`; without it the
    # jobs table is the queue and `flask worker` polls it (`make run` starts one).
    QUEUE_NAME = os.environ.get("QUEUE_NAME", "schoolhealth")
    RQ_ASYNC = bool(os.environ.get("REDIS_URL"))
    JOBS_EAGER = _bool("JOBS_EAGER", False)  # run jobs inline where queued (tests only)
    JOB_POLL_SECONDS = float(os.environ.get("JOB_POLL_SECONDS", "1"))
    JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "5"))
    # A running job without a heartbeat for this long lost its worker: it is failed.
    JOB_STALE_SECONDS = float(os.environ.get("JOB_STALE_SECONDS", "60"))
    # How often a worker reaps stale jobs and clears expired drafts.
    JOB_MAINTENANCE_SECONDS = float(os.environ.get("JOB_MAINTENANCE_SECONDS", "60"))
    # A worker's memory ceiling (address space; 0 = none): a job past it fails, cleanly.
    JOB_MEMORY_LIMIT_MB = float(os.environ.get("JOB_MEMORY_LIMIT_MB", "2048"))
    # Uploaded files of failed or cancelled jobs are dropped after this many hours.
    JOB_KEEP_FILES_HOURS = float(os.environ.get("JOB_KEEP_FILES_HOURS", "24"))

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "schoolhealth" / "translations")

    # Uploads: the request body limit (Werkzeug answers 413), then limits per file type,
    # checked before a file is parsed (a small .xlsx can expand to gigabytes).
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "50")) * 1024 * 1024
    IMPORT_MAX_CSV_MB = float(os.environ.get("IMPORT_MAX_CSV_MB", "20"))
    IMPORT_MAX_XLS_MB = float(os.environ.get("IMPORT_MAX_XLS_MB", "20"))
    IMPORT_MAX_UNCOMPRESSED_MB = float(os.environ.get("IMPORT_MAX_UNCOMPRESSED_MB", "100"))
    IMPORT_MAX_COMPRESSION_RATIO = float(os.environ.get("IMPORT_MAX_COMPRESSION_RATIO", "100"))
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "200000"))  # a whole file
    IMPORT_MAX_ROWS_PER_SCHOOL = int(os.environ.get("IMPORT_MAX_ROWS_PER_SCHOOL", "20000"))
    # Uploads up to this size are checked in the request; larger ones by a worker.
    IMPORT_INLINE_BYTES = int(os.environ.get("IMPORT_INLINE_KB", "256")) * 1024
    # Checked uploads wait this long for confirmation; each user keeps at most this many.
    IMPORT_CONFIRM_MINUTES = int(os.environ.get("IMPORT_CONFIRM_MINUTES", "60"))
    IMPORT_MAX_DRAFTS = int(os.environ.get("IMPORT_MAX_DRAFTS", "5"))

    # Sign-in throttling (Flask-Limiter): failed sign-ins counted per client address, and
    # per typed account name from that address, whether or not the account exists; past
    # either limit the answer is 429 until the window has passed. No account is ever
    # locked, so nobody can shut a nurse out by failing on purpose.
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30 per 10 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "10 per 10 minutes")
    # Where the counts live: Redis when RATELIMIT_STORAGE_URI or REDIS_URL is set (every
    # worker sees the same counts), else each process's memory (the embedded default).
    RATELIMIT_STORAGE_URI = (
        os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_KEY_PREFIX = "schoolhealth"
    # Behind a reverse proxy (the TLS proxy of README "Deployment") every request comes
    # from the proxy's address: name how many proxies to trust, and the client address
    # (for the sign-in throttle and the audit trail) is read from X-Forwarded-For.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # A Redis outage must not stop sign-in: Flask-Limiter then counts in memory instead.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True

    # A sign-in ends after this many minutes without a request (a shared school PC left
    # signed in), and lasts at most REMEMBER_DAYS even with "keep me signed in".
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "480"))
    REMEMBER_DAYS = int(os.environ.get("REMEMBER_DAYS", "14"))
    REMEMBER_COOKIE_DURATION = timedelta(days=REMEMBER_DAYS)

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
    RATELIMIT_STORAGE_URI = "memory://"
    LOGIN_LIMIT_PER_ADDRESS = "6 per 10 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "3 per 10 minutes"
    JOBS_EAGER = True  # tests that need the queue and a real worker turn this off
    # An in-process `flask worker` in a test would cap the test run's own address space,
    # and Chromium, started later by the browser tests, cannot run under such a cap;
    # the ceiling is tested in a worker process of its own (tests/jobs).
    JOB_MEMORY_LIMIT_MB = 0.0
    BABEL_DEFAULT_LOCALE = "en"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = "https"
    # Strict-Transport-Security on every answer: production is served over HTTPS only.
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 86400)))
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
