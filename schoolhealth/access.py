"""The one place that decides who may see which school, pupil and session.

Every view that loads health data goes through these helpers, so scoping is never
re-implemented in a route. Out-of-scope records answer 404, not 403: a nurse of
school A must not even learn that a pupil of school B exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, false, select

from .extensions import db
from .models import Role, School, ScreeningSession, Student, User
from .rules.numbers import parse_int

F = TypeVar("F", bound=Callable[..., Any])

# Every id column is an INTEGER: on PostgreSQL at most 2**31 - 1, and SQLite's driver
# cannot even send a Python int past 2**63. A larger id in a URL names nothing (404);
# passed to the database it would be an error (a 500).
MAX_ID = 2**31 - 1


def is_valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


def id_arg(value: str) -> int:
    """``type=`` for ``request.args.get``: an id the database can hold, else ValueError
    (so ``get`` falls back to its default, as it does for "abc")."""
    number = parse_int(value)  # int() would take "٣" as 3
    if number is None or not is_valid_id(number):
        raise ValueError(f"not an id: {value!r}")
    return number


def page_arg(value: str) -> int:
    """``type=`` for a page number: 1 up to a million (a page past the end is empty)."""
    number = parse_int(value)
    if number is None:
        raise ValueError(f"not a page: {value!r}")
    return min(max(number, 1), 1_000_000)


def school_ids_for(user: User) -> Select | None:
    """A SELECT of the school ids the user may see records of, or None for all schools.

    Officials get district-wide aggregates elsewhere but no pupil-level records here.
    """
    if user.role == Role.ADMIN:
        return None
    if user.role == Role.NURSE:
        return select(School.id).where(School.id == user.school_id)
    if user.role == Role.INSTITUTION:
        # Without an institution the comparison below would be "IS NULL" and match every
        # session no institution was assigned to: such an account sees nothing.
        if user.institution_id is None:
            return select(School.id).where(false())
        return (
            select(ScreeningSession.school_id)
            .where(ScreeningSession.institution_id == user.institution_id)
            .distinct()
        )
    return select(School.id).where(false())


def district_school_ids(user: User) -> Select | None:
    """Schools whose aggregates the user may read (officials: their district)."""
    if user.role == Role.OFFICIAL:
        return select(School.id).where(School.district_id == user.district_id)
    return school_ids_for(user)


def scoped_schools(user: User) -> Select:
    query = select(School).order_by(School.code)
    ids = school_ids_for(user)
    return query if ids is None else query.where(School.id.in_(ids))


def scoped_students(user: User) -> Select:
    """Base query for pupils; every pupil list or search starts here."""
    query = select(Student)
    ids = school_ids_for(user)
    return query if ids is None else query.where(Student.school_id.in_(ids))


def scoped_sessions(user: User) -> Select:
    query = select(ScreeningSession)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.NURSE:
        return query.where(ScreeningSession.school_id == user.school_id)
    if user.role == Role.INSTITUTION and user.institution_id is not None:
        return query.where(ScreeningSession.institution_id == user.institution_id)
    return query.where(false())


def can_access_school(user: User, school_id: int) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False  # a view that forgot login_required still leaks nothing
    ids = school_ids_for(user)
    if ids is None:
        return True
    return school_id in set(db.session.scalars(ids))


def get_school_or_404(school_id: int) -> School:
    school = db.session.get(School, school_id) if is_valid_id(school_id) else None
    if school is None or not can_access_school(current_user, school.id):
        abort(404)
    return school


def get_student_or_404(student_id: int) -> Student:
    student = db.session.get(Student, student_id) if is_valid_id(student_id) else None
    if student is None or not can_access_school(current_user, student.school_id):
        abort(404)
    return student


def get_session_or_404(session_id: int) -> ScreeningSession:
    if not current_user.is_authenticated or not is_valid_id(session_id):
        abort(404)
    session = db.session.execute(
        scoped_sessions(current_user).where(ScreeningSession.id == session_id)
    ).scalar_one_or_none()
    if session is None:
        abort(404)
    return session


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Signed-in users whose role is not listed get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def can_see_names(user: User) -> bool:
    """Officials read aggregates only; everyone else works with named pupils in scope."""
    return user.role != Role.OFFICIAL
