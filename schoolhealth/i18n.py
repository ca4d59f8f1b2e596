"""Locale selection: the user's own setting, then the session's choice, then Accept-Language."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user

LOCALE_ALIASES = {"zh": "zh_Hans_CN", "zh_CN": "zh_Hans_CN", "zh_Hans": "zh_Hans_CN"}


def normalize_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    value = LOCALE_ALIASES.get(value, value)
    return value if value in current_app.config["LANGUAGES"] else None


def select_locale() -> str:
    # CLI commands and background jobs have no request: they speak the default language
    # (reading ``session`` there would raise, so any gettext() outside a request crashed).
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated:
        chosen = normalize_locale(current_user.locale)
        if chosen:
            return chosen
    chosen = normalize_locale(session.get("lang"))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is not None and best.startswith("zh"):
        return "zh_Hans_CN"
    if best == "en":
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def current_language() -> str:
    """ "zh" or "en": what templates use for <html lang> and pick language-specific text by."""
    from flask_babel import get_locale

    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"
