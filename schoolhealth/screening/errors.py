"""Why a screening operation was refused: exceptions views map to messages or status codes.

Raised by :mod:`.sessions` and :mod:`.results`; ``message`` is translated lazily.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class ScreeningError(Exception):
    """An operation refused for a reason the user can act on; ``message`` is translated."""

    def __init__(self, message: Any) -> None:
        # Kept lazy: rendering it picks the user's locale, which reads the signed-in user
        # from the database session, and a conflict is raised while that session is failed.
        self.message = message
        super().__init__(message)


class SessionClosed(ScreeningError):
    """A write to a closed session (read-only until an administrator reopens it)."""

    def __init__(self) -> None:
        super().__init__(
            _l(
                "This screening session is closed, so nothing in it can be changed. An "
                "administrator can reopen it."
            )
        )


class TransitionRefused(ScreeningError):
    """A status change that is not allowed (or not allowed for this user)."""


class NotInSession(ScreeningError):
    """A pupil of another school than the session's."""

    def __init__(self) -> None:
        super().__init__(_l("This pupil is not part of this screening session."))


class ResultConflict(ScreeningError):
    """Someone else changed the result since the caller read it (optimistic locking).

    The caller must roll back its database session and may then read the current values
    with :func:`conflict_details`.
    """

    def __init__(self, expected_version: int | None = None, current_version: int | None = None):
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            _l(
                "Someone else changed this pupil's result in the meantime; your value was not "
                "saved."
            )
        )
