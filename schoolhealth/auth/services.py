"""Sign-in checks that tell an attacker nothing, and a user's own password change.

A wrong password and an unknown username get the same answer in the same time (an
unknown name is checked against a dummy hash), and nothing about the account changes on
a failure: no counter, no lockout that anyone could trigger for any account with a few
requests. Guessing is throttled per client address and per typed name instead, the same
for names that exist and names that do not (schoolhealth/auth/routes.py, Flask-Limiter).
"""

from __future__ import annotations

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


def find_user(username: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).scalar_one_or_none()


def authenticate(username: str, password: str) -> User | None:
    """The account if the password is right and the account active, else None.

    Every refusal takes one password hash check and writes nothing, whatever the reason
    (unknown name, wrong password, deactivated account). Flushes a success (last sign-in
    time, audit event); the view commits.
    """
    from werkzeug.security import check_password_hash

    user = find_user(username)
    if user is None:
        check_password_hash(_dummy_password_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    record_event("login", "user", user.id, summary=f"{user.username} signed in", user=user)
    db.session.flush()
    return user


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
