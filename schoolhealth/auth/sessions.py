"""Sign-ins that can be ended: session generations, idle expiry, a cap on remember-me.

Flask keeps the session in a signed cookie, so the server cannot delete a copy of it:
a cookie copied off a shared school PC would otherwise work for as long as it is signed.
Three checks make a copy worthless:

- Every account has a *session generation* (``users.session_generation``), written into
  the identifier Flask-Login keeps in the session and in the remember cookie
  (``"<id>:<generation>:<signed-in at>"``, see :func:`session_id_for`). Logout, a password
  change or reset and deactivation raise it; :func:`load_user` then refuses every cookie
  made before, on every computer.
- The session remembers when it was last used; after ``SESSION_IDLE_MINUTES`` without a
  request it is over (:func:`end_idle_session`), remember cookie included.
- The sign-in time in the identifier caps any sign-in, remembered or not, at
  ``REMEMBER_DAYS`` whatever expiry date the browser keeps for the cookie.

:data:`clock` is the time source, so tests can move time forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user

if TYPE_CHECKING:
    from ..models import User

# Seconds since the epoch; replaced in tests to move time forward.
clock: Callable[[], float] = time.time

LAST_SEEN = "_last_seen"
# Writing the time back on every request would re-send the cookie with every answer;
# a minute's precision is plenty for a timeout counted in hours.
LAST_SEEN_RESOLUTION = 60
# A sign-in time this far ahead of our clock is not ours (clock skew between workers).
CLOCK_SKEW = 300


def session_id_for(user: User) -> str:
    """The identifier of a sign-in: account, its session generation and when it began."""
    signed_in_at = getattr(user, "_signed_in_at", None) or int(clock())
    return f"{user.id}:{user.session_generation or 0}:{signed_in_at}"


def _max_age_seconds() -> float:
    return current_app.config["REMEMBER_DAYS"] * 86400


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the account, if this cookie still stands for it.

    Refused (signed out): an identifier of the old ``"<id>"`` form or otherwise malformed,
    an account that is gone or inactive, a generation that has moved on since the cookie
    was made, and a sign-in older than ``REMEMBER_DAYS``.
    """
    from ..access import MAX_ID
    from ..extensions import db
    from ..models import User

    parts = user_id.split(":") if isinstance(user_id, str) else []
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    account_id, generation, signed_in_at = (int(part) for part in parts)
    now = clock()
    if account_id > MAX_ID or not now - _max_age_seconds() <= signed_in_at <= now + CLOCK_SKEW:
        return None
    user = db.session.get(User, account_id)
    if user is None or not user.active or (user.session_generation or 0) != generation:
        return None
    return user


def start_session(user: User, *, remember: bool) -> None:
    """Sign in on a fresh session.

    Whatever the session held before (a CSRF secret an attacker may have planted or read
    before sign-in, say) is dropped, so it cannot ride along into the signed-in session.
    """
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's cached token of this request
    user._signed_in_at = int(clock())
    duration = timedelta(days=current_app.config["REMEMBER_DAYS"])
    login_user(user, remember=remember, duration=duration)
    session[LAST_SEEN] = int(clock())


def end_session() -> None:
    """Sign this browser out: the session is emptied and the remember cookie deleted."""
    session.clear()
    g.pop("csrf_token", None)
    logout_user()  # also asks Flask-Login to delete the remember cookie


def has_remember_cookie() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def end_idle_session() -> None:
    """Before every request: end a sign-in that has been idle too long, else note the time.

    Static files do not count as activity (a page left open keeps no session alive by
    itself, and they are served without looking at the session).
    """
    if request.endpoint == "static":
        return
    if "_user_id" not in session and not has_remember_cookie():
        return
    now = clock()
    last_seen = session.get(LAST_SEEN)
    idle_limit = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if isinstance(last_seen, int | float) and now - last_seen > idle_limit:
        end_session()
        flash(
            _(
                "You were signed out after %(minutes)s minutes without activity.",
                minutes=current_app.config["SESSION_IDLE_MINUTES"],
            ),
            "info",
        )
        return
    if not isinstance(last_seen, int | float) or now - last_seen >= LAST_SEEN_RESOLUTION:
        session[LAST_SEEN] = int(now)
