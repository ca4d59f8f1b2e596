"""Authentication with throttling: repeated failures lock the account for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..audit import record_event
from ..extensions import db
from ..models import User, utcnow

_dummy_hash: str | None = None


def _dummy_password_hash() -> str:
    """Checked when the username is unknown, so a wrong name costs as long as a wrong
    password and response times do not reveal which usernames exist."""
    global _dummy_hash
    if _dummy_hash is None:
        from werkzeug.security import generate_password_hash

        _dummy_hash = generate_password_hash("not-a-password", method="scrypt")
    return _dummy_hash


@dataclass(frozen=True)
class AuthResult:
    user: User | None
    locked: bool = False


def find_user(username: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).scalar_one_or_none()


def authenticate(username: str, password: str) -> AuthResult:
    """Check a sign-in attempt, counting failures; flushes, the view commits."""
    from werkzeug.security import check_password_hash

    user = find_user(username)
    now = utcnow()
    if user is None:
        check_password_hash(_dummy_password_hash(), password)
        return AuthResult(None)
    if user.locked_until is not None and user.locked_until > now:
        return AuthResult(None, locked=True)
    if not user.active or not user.check_password(password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
            user.failed_logins = 0
            record_event(
                "lockout",
                "user",
                user.id,
                summary=f"{user.username} locked after failures",
                user=user,
            )
            db.session.flush()
            return AuthResult(None, locked=True)
        db.session.flush()
        return AuthResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record_event("login", "user", user.id, summary=f"{user.username} signed in", user=user)
    db.session.flush()
    return AuthResult(user)


def change_own_password(user: User, current_password: str, new_password: str) -> None:
    """A user sets their own password; every other sign-in of the account ends.

    Raises :class:`~schoolhealth.admin.services.AdminError` naming the field at fault: a
    wrong current password, or a new one the password rules refuse. Flushes; the view
    commits (and signs this browser in again on the new session generation).
    """
    from ..admin.services import AdminError, check_password

    if not user.check_password(current_password):
        raise AdminError(_l("The current password is wrong."), "current_password")
    check_password(new_password, user.username, display_name=user.display_name)
    user.set_password(new_password)
    record_event(
        "change_password", "user", user.id, school_id=user.school_id,
        summary=f"{user.username} changed their own password",
        after={"password_changed": True},
    )  # fmt: skip
    db.session.flush()
