"""Administration use cases: districts, schools, institutions, users and the audit trail.

Views and the ``flask create-user`` / ``flask create-school`` commands call the same
functions, so a rule (unique codes, the scope each role needs, password strength) holds
however an account or a school is made. Every function flushes and never commits (the
view or the command commits once), and records an audit event with the values before
and after. Password hashes never enter the audit trail.

Domain problems raise :class:`AdminError` carrying the name of the form field they
belong to, so a view shows them beside that field and the CLI prints them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..audit import changed_fields, record_event, snapshot
from ..extensions import db
from ..labels import audit_entity_codes, join_list
from ..models import (
    AuditEvent,
    District,
    Institution,
    Role,
    School,
    User,
    utcnow,
)
from ..passwords import is_easily_guessed
from ..rules.ruleset import GROWTH_REFERENCE_DEFAULT, GROWTH_REFERENCES

PASSWORD_MIN_LENGTH = 10
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

DISTRICT_FIELDS = ("name", "code", "growth_reference")
SCHOOL_FIELDS = ("code", "name", "district_id")
INSTITUTION_FIELDS = ("name", "code")
# Never "password_hash": the audit trail is readable by every admin and kept for years.
USER_FIELDS = (
    "username",
    "display_name",
    "role",
    "school_id",
    "institution_id",
    "district_id",
    "active",
    "locale",
)

# The one scope each role works in (access.py reads the same columns).
ROLE_SCOPE: dict[str, str | None] = {
    Role.ADMIN.value: None,
    Role.NURSE.value: "school",
    Role.INSTITUTION.value: "institution",
    Role.OFFICIAL.value: "district",
}

# Rows of these tables that point at a school, district or institution keep it alive;
# any other referring table is named by its table name (see references_to()).
# How many rows of a table still refer to a record, as a phrase with its own plural
# (and, in Chinese, its own measure word: 3 所学校, 2 个用户账号, 5 条审计记录).
REFERENCE_COUNTS: dict[str, Callable[[int], str]] = {
    "schools": lambda n: ngettext("%(num)d school", "%(num)d schools", n),
    "users": lambda n: ngettext("%(num)d user account", "%(num)d user accounts", n),
    "students": lambda n: ngettext("%(num)d pupil", "%(num)d pupils", n),
    "school_classes": lambda n: ngettext("%(num)d class", "%(num)d classes", n),
    "screening_sessions": lambda n: ngettext(
        "%(num)d screening session", "%(num)d screening sessions", n
    ),
    "jobs": lambda n: ngettext("%(num)d background job", "%(num)d background jobs", n),
    "audit_events": lambda n: ngettext("%(num)d audit event", "%(num)d audit events", n),
}


def reference_counts_text(counts: dict[str, int]) -> str:
    """``{"users": 1, "students": 3}`` as "3 pupils, 1 user account" in the reader's language."""
    return join_list(
        REFERENCE_COUNTS[name](n)
        if name in REFERENCE_COUNTS
        else ngettext("%(num)d row of %(table)s", "%(num)d rows of %(table)s", n, table=name)
        for name, n in sorted(counts.items())
    )


class AdminError(ValueError):
    """A change the rules refuse; ``field`` names the form field it belongs to, if any."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class InUseError(AdminError):
    """A delete refused because other rows still refer to the record."""


# --- small helpers ---------------------------------------------------------------------


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _optional(value: str | None) -> str | None:
    value = _clean(value)
    return value or None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: Any, text: str) -> Any:
    return column.ilike(f"%{escape_like(text)}%", escape="\\")


def _taken(model: type, column: Any, value: str | None, exclude: Any = None) -> bool:
    """Whether another row already uses ``value`` (compared case-insensitively)."""
    if value is None:
        return False
    query = select(model.id).where(func.lower(column) == value.lower())
    if exclude is not None and exclude.id is not None:
        query = query.where(model.id != exclude.id)
    return db.session.execute(query.limit(1)).first() is not None


def _check_code(code: str | None, *, required: bool) -> str | None:
    code = _optional(code)
    if code is None:
        if required:
            raise AdminError(_l("A code is required."), "code")
        return None
    if not CODE_PATTERN.fullmatch(code):
        raise AdminError(_l("A code has 1–32 letters, digits, hyphens or underscores."), "code")
    return code


def _check_name(name: str | None, *, max_length: int = 100) -> str:
    name = _clean(name)
    if not name:
        raise AdminError(_l("A name is required."), "name")
    if len(name) > max_length:
        raise AdminError(_l("At most %(n)s characters.", n=max_length), "name")
    return name


def _flush_or_conflict(message: Any, field_name: str) -> None:
    """Flush; a unique index that another request filled first becomes a field error.

    The checks before the flush catch the usual case; this catches the race. The session
    then needs a rollback, which the caller (view or command) does on any AdminError.
    """
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise AdminError(message, field_name) from exc


def references_to(table_name: str, row_id: int) -> dict[str, int]:
    """Rows of every table whose foreign key points at ``table_name`` row ``row_id``.

    Read from the metadata, so a table another feature adds later (letters, follow-up)
    is counted without this module knowing about it.
    """
    counts: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != table_name or table.name == table_name:
                continue
            n = db.session.execute(
                select(func.count()).select_from(table).where(fk.parent == row_id)
            ).scalar_one()
            if n:
                counts[table.name] = counts.get(table.name, 0) + n
    return counts


def _refuse_if_referenced(table_name: str, row_id: int, message: Any) -> None:
    counts = references_to(table_name, row_id)
    if counts:
        # Lazy, like the message: the text is made when shown, in the reader's language.
        details = LazyString(reference_counts_text, counts)
        raise InUseError(
            _l("%(message)s It is still used by: %(details)s.", message=message, details=details)
        )


def paginate(query: Select, page: int | None) -> Any:
    """One page of ``query`` (PAGE_SIZE rows); a page past the end is simply empty."""
    return db.paginate(
        query,
        page=max(page or 1, 1),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
        count=True,
    )


# --- districts -------------------------------------------------------------------------


def district_query(search: str = "") -> Select:
    query = select(District).order_by(District.name)
    search = _clean(search)
    if search:
        query = query.where(or_(_contains(District.name, search), _contains(District.code, search)))
    return query


def _check_growth_reference(value: str | None) -> str:
    value = _clean(value) or GROWTH_REFERENCE_DEFAULT
    if value not in GROWTH_REFERENCES:
        raise AdminError(
            _l("Choose one of: %(choices)s.", choices=", ".join(GROWTH_REFERENCES)),
            "growth_reference",
        )
    return value


def _apply_district(
    district: District, name: str | None, code: str | None, growth_reference: str | None
) -> None:
    name = _check_name(name)
    code = _check_code(code, required=False)
    growth_reference = _check_growth_reference(growth_reference)
    if _taken(District, District.name, name, exclude=district):
        raise AdminError(_l("Another district already has this name."), "name")
    if _taken(District, District.code, code, exclude=district):
        raise AdminError(_l("Another district already has this code."), "code")
    district.name, district.code, district.growth_reference = name, code, growth_reference


def create_district(
    name: str, *, code: str | None = None, growth_reference: str | None = None
) -> District:
    """Add a district; its growth reference is what the screening rules flag BMI with."""
    district = District()
    _apply_district(district, name, code, growth_reference)
    db.session.add(district)
    _flush_or_conflict(_l("Another district already has this name or code."), "name")
    record_event(
        "create",
        "district",
        district.id,
        summary=f"district {district.name} created",
        after=snapshot(district, DISTRICT_FIELDS),
    )
    db.session.flush()
    return district


def update_district(
    district: District, *, name: str, code: str | None, growth_reference: str | None
) -> District:
    before = snapshot(district, DISTRICT_FIELDS)
    _apply_district(district, name, code, growth_reference)
    _flush_or_conflict(_l("Another district already has this name or code."), "name")
    old, new = changed_fields(before, snapshot(district, DISTRICT_FIELDS))
    if new:
        record_event(
            "update", "district", district.id, summary=f"district {district.name} changed",
            before=old, after=new,
        )  # fmt: skip
        db.session.flush()
    return district


def delete_district(district: District) -> None:
    _refuse_if_referenced(
        "districts", district.id, _l("District %(name)s cannot be deleted.", name=district.name)
    )
    record_event(
        "delete", "district", district.id, summary=f"district {district.name} deleted",
        before=snapshot(district, DISTRICT_FIELDS),
    )  # fmt: skip
    db.session.delete(district)
    db.session.flush()


def find_district(name_or_code: str) -> District | None:
    """A district by name, or else by code (both case-insensitive)."""
    value = _clean(name_or_code).lower()
    for column in (District.name, District.code):
        found = db.session.execute(
            select(District).where(func.lower(column) == value)
        ).scalar_one_or_none()
        if found is not None:
            return found
    return None


# --- schools ---------------------------------------------------------------------------


def school_query(search: str = "", *, district_id: int | None = None) -> Select:
    query = select(School).order_by(School.code)
    search = _clean(search)
    if search:
        query = query.where(or_(_contains(School.code, search), _contains(School.name, search)))
    if district_id:
        query = query.where(School.district_id == district_id)
    return query


@dataclass
class SchoolChange:
    """What :func:`create_school` did, for the CLI to print and the view to flash."""

    school: School
    created: bool = False
    district_created: bool = False
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def find_school(code: str) -> School | None:
    return db.session.execute(
        select(School).where(func.lower(School.code) == _clean(code).lower())
    ).scalar_one_or_none()


def create_school(
    code: str,
    name: str,
    *,
    district: District | str | None,
    update_existing: bool = False,
) -> SchoolChange:
    """Add a school, or with ``update_existing`` bring an existing one up to date.

    ``district`` is a District, or a name (or code) of one; a name that matches no
    district creates it, so ``flask create-school`` can set up a new area in one step.
    The form passes a District and no ``update_existing``: a taken code is an error.
    """
    code = _check_code(code, required=True)
    name = _check_name(name)
    existing = find_school(code)
    if existing is not None and not update_existing:
        raise AdminError(_l("Another school already has this code."), "code")

    district_created = False
    if isinstance(district, str):
        district_name = _clean(district)
        found = find_district(district_name) if district_name else None
        if found is None and district_name:
            found = create_district(district_name)
            district_created = True
        district = found
    if district is None and existing is None:
        raise AdminError(_l("Choose the district of the school."), "district")

    if existing is not None:
        before = snapshot(existing, SCHOOL_FIELDS)
        existing.name = name
        if district is not None:
            existing.district = district
        db.session.flush()
        old, new = changed_fields(before, snapshot(existing, SCHOOL_FIELDS))
        if new:
            record_event(
                "update", "school", existing.id, summary=f"school {existing.code} changed",
                before=old, after=new,
            )  # fmt: skip
            db.session.flush()
        return SchoolChange(
            existing,
            district_created=district_created,
            changes={k: (old[k], new[k]) for k in new},
        )

    school = School(code=code, name=name, district=district)
    db.session.add(school)
    _flush_or_conflict(_l("Another school already has this code."), "code")
    # school_id stays empty on a school's own events: the audit viewer finds them by
    # entity, and a foreign key from the trail would make a mistaken school undeletable.
    record_event(
        "create", "school", school.id, summary=f"school {school.code} {school.name} created",
        after=snapshot(school, SCHOOL_FIELDS),
    )  # fmt: skip
    db.session.flush()
    return SchoolChange(school, created=True, district_created=district_created)


def update_school(school: School, *, code: str, name: str, district: District | None) -> School:
    code = _check_code(code, required=True)
    name = _check_name(name)
    if district is None:
        raise AdminError(_l("Choose the district of the school."), "district")
    other = find_school(code)
    if other is not None and other.id != school.id:
        raise AdminError(_l("Another school already has this code."), "code")
    before = snapshot(school, SCHOOL_FIELDS)
    school.code, school.name, school.district = code, name, district
    _flush_or_conflict(_l("Another school already has this code."), "code")
    old, new = changed_fields(before, snapshot(school, SCHOOL_FIELDS))
    if new:
        record_event(
            "update", "school", school.id, summary=f"school {school.code} changed",
            before=old, after=new,
        )  # fmt: skip
        db.session.flush()
    return school


def delete_school(school: School) -> None:
    _refuse_if_referenced(
        "schools", school.id, _l("School %(code)s cannot be deleted.", code=school.code)
    )
    record_event(
        "delete", "school", school.id, summary=f"school {school.code} {school.name} deleted",
        before=snapshot(school, SCHOOL_FIELDS),
    )  # fmt: skip
    db.session.delete(school)
    db.session.flush()


# --- institutions ----------------------------------------------------------------------


def institution_query(search: str = "") -> Select:
    query = select(Institution).order_by(Institution.name)
    search = _clean(search)
    if search:
        query = query.where(
            or_(_contains(Institution.name, search), _contains(Institution.code, search))
        )
    return query


def _apply_institution(institution: Institution, name: str | None, code: str | None) -> None:
    name = _check_name(name)
    code = _check_code(code, required=False)
    if _taken(Institution, Institution.name, name, exclude=institution):
        raise AdminError(_l("Another institution already has this name."), "name")
    if _taken(Institution, Institution.code, code, exclude=institution):
        raise AdminError(_l("Another institution already has this code."), "code")
    institution.name, institution.code = name, code


def create_institution(name: str, *, code: str | None = None) -> Institution:
    institution = Institution()
    _apply_institution(institution, name, code)
    db.session.add(institution)
    _flush_or_conflict(_l("Another institution already has this name or code."), "name")
    record_event(
        "create", "institution", institution.id, summary=f"institution {institution.name} created",
        after=snapshot(institution, INSTITUTION_FIELDS),
    )  # fmt: skip
    db.session.flush()
    return institution


def update_institution(institution: Institution, *, name: str, code: str | None) -> Institution:
    before = snapshot(institution, INSTITUTION_FIELDS)
    _apply_institution(institution, name, code)
    _flush_or_conflict(_l("Another institution already has this name or code."), "name")
    old, new = changed_fields(before, snapshot(institution, INSTITUTION_FIELDS))
    if new:
        record_event(
            "update", "institution", institution.id,
            summary=f"institution {institution.name} changed", before=old, after=new,
        )  # fmt: skip
        db.session.flush()
    return institution


def delete_institution(institution: Institution) -> None:
    _refuse_if_referenced(
        "institutions",
        institution.id,
        _l("Institution %(name)s cannot be deleted.", name=institution.name),
    )
    record_event(
        "delete", "institution", institution.id,
        summary=f"institution {institution.name} deleted",
        before=snapshot(institution, INSTITUTION_FIELDS),
    )  # fmt: skip
    db.session.delete(institution)
    db.session.flush()


def find_institution(name_or_code: str) -> Institution | None:
    """An institution by name, or else by code (both case-insensitive)."""
    value = _clean(name_or_code).lower()
    for column in (Institution.name, Institution.code):
        found = db.session.execute(
            select(Institution).where(func.lower(column) == value)
        ).scalar_one_or_none()
        if found is not None:
            return found
    return None


# --- users -----------------------------------------------------------------------------


def user_query(search: str = "", *, role: str | None = None, active: bool | None = None) -> Select:
    query = select(User).order_by(func.lower(User.username))
    search = _clean(search)
    if search:
        query = query.where(
            or_(_contains(User.username, search), _contains(User.display_name, search))
        )
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active == active)
    return query


def find_user(username: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.username) == _clean(username).lower())
    ).scalar_one_or_none()


def check_password(password: str | None, username: str, *, display_name: str = "") -> None:
    """Refuse passwords that are easy to guess: short ones, the username itself, and
    common or trivial ones (zxcvbn's estimate, see schoolhealth/passwords.py).

    Every place a password is set comes here: the admin's user form and reset, a user's
    own change and ``flask create-user``.
    """
    if password is None or len(password) < PASSWORD_MIN_LENGTH:
        raise AdminError(
            _l("A password has at least %(n)s characters.", n=PASSWORD_MIN_LENGTH), "password"
        )
    if password.strip().lower() == _clean(username).lower():
        raise AdminError(_l("The password must not be the username."), "password")
    if is_easily_guessed(password, (_clean(username), _clean(display_name))):
        raise AdminError(
            _l(
                "This password is too common or too easy to guess (a well-known password, "
                "a name, a date or a keyboard pattern). Choose a longer one, such as a few "
                "unrelated words."
            ),
            "password",
        )


def _check_locale(locale: str | None) -> str | None:
    locale = _optional(locale)
    if locale is not None and locale not in current_app.config["LANGUAGES"]:
        raise AdminError(_l("Not a language of this site."), "locale")
    return locale


def _apply_role_and_scope(
    user: User,
    role: str,
    school: School | None,
    institution: Institution | None,
    district: District | None,
) -> None:
    """Give the user the one scope the role works in, and clear the others.

    A nurse without a school (or an institution account without an institution, an
    official without a district) would see nothing, or, worse, depend on how access.py
    treats a missing scope: so the scope is required.
    """
    if role not in ROLE_SCOPE:
        raise AdminError(_l("Choose a role."), "role")
    scope = ROLE_SCOPE[role]
    if scope == "school" and school is None:
        raise AdminError(_l("A nurse needs a school."), "school")
    if scope == "institution" and institution is None:
        raise AdminError(_l("An institution account needs an institution."), "institution")
    if scope == "district" and district is None:
        raise AdminError(_l("An official needs a district."), "district")
    user.role = role
    user.school = school if scope == "school" else None
    user.institution = institution if scope == "institution" else None
    user.district = district if scope == "district" else None


def create_user(
    username: str,
    *,
    role: str,
    password: str,
    display_name: str = "",
    school: School | None = None,
    institution: Institution | None = None,
    district: District | None = None,
    locale: str | None = None,
    active: bool = True,
) -> User:
    """Add an account. Usernames are unique whatever their case ("Wang" is "wang")."""
    username = _clean(username)
    if not USERNAME_PATTERN.fullmatch(username):
        raise AdminError(
            _l("A username has 3–64 letters, digits, dots, hyphens, underscores or @."),
            "username",
        )
    if find_user(username) is not None:
        raise AdminError(_l("This username is taken."), "username")
    check_password(password, username, display_name=display_name)
    user = User(username=username, display_name=_clean(display_name)[:100], active=active)
    user.locale = _check_locale(locale)
    _apply_role_and_scope(user, role, school, institution, district)
    user.set_password(password)
    db.session.add(user)
    _flush_or_conflict(_l("This username is taken."), "username")
    record_event(
        "create", "user", user.id, school_id=user.school_id,
        summary=f"user {user.username} ({user.role}) created",
        after=snapshot(user, USER_FIELDS),
    )  # fmt: skip
    db.session.flush()
    return user


def update_user(
    user: User,
    *,
    actor: User | None,
    display_name: str,
    role: str,
    school: School | None = None,
    institution: Institution | None = None,
    district: District | None = None,
    locale: str | None = None,
    active: bool = True,
) -> User:
    """Change an account. Admins cannot demote or deactivate themselves, so a site never
    loses its last administrator by a slip of the mouse."""
    if actor is not None and actor.id == user.id:
        if role != Role.ADMIN.value:
            raise AdminError(_l("You cannot take away your own administrator role."), "role")
        if not active:
            raise AdminError(_l("You cannot deactivate your own account."), "active")
    before = snapshot(user, USER_FIELDS)
    user.display_name = _clean(display_name)[:100]
    user.locale = _check_locale(locale)
    _apply_role_and_scope(user, role, school, institution, district)
    user.active = active
    if not active:
        user.end_sessions()
    db.session.flush()
    old, new = changed_fields(before, snapshot(user, USER_FIELDS))
    if new:
        action = "update"
        if set(new) == {"active"}:
            action = "activate" if active else "deactivate"
        record_event(
            action, "user", user.id, school_id=user.school_id,
            summary=f"user {user.username} changed", before=old, after=new,
        )  # fmt: skip
        db.session.flush()
    return user


def set_active(user: User, active: bool, *, actor: User | None) -> User:
    """Deactivate (or reactivate) an account; accounts are never deleted, the audit trail
    and results keep pointing at them."""
    if actor is not None and actor.id == user.id and not active:
        raise AdminError(_l("You cannot deactivate your own account."), "active")
    if user.active == active:
        return user
    before = snapshot(user, ("active",))
    user.active = active
    if not active:
        user.end_sessions()  # a copied cookie must not outlive the account's reactivation
    record_event(
        "activate" if active else "deactivate", "user", user.id, school_id=user.school_id,
        summary=f"user {user.username} {'activated' if active else 'deactivated'}",
        before=before, after={"active": active},
    )  # fmt: skip
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password; the event says that it changed, never what it is.

    Every sign-in of the account ends (User.set_password raises its session generation):
    a reset is what an admin does when a password may be known to someone else.
    """
    check_password(password, user.username, display_name=user.display_name)
    user.set_password(password)
    record_event(
        "set_password", "user", user.id, school_id=user.school_id,
        summary=f"password of {user.username} set",
        after={"password_changed": True},
    )  # fmt: skip
    db.session.flush()


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def unlock_user(user: User) -> bool:
    """Lift a sign-in lockout now instead of when it runs out; False if there was none."""
    if user.locked_until is None and not user.failed_logins:
        return False
    before = snapshot(user, ("locked_until", "failed_logins"))
    user.locked_until = None
    user.failed_logins = 0
    record_event(
        "unlock", "user", user.id, school_id=user.school_id,
        summary=f"user {user.username} unlocked",
        before=before, after={"locked_until": None, "failed_logins": 0},
    )  # fmt: skip
    db.session.flush()
    return True


# --- audit trail -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the audit viewer narrows the trail to; dates are local calendar days."""

    user: User | None = None
    action: str | None = None
    entity: str | None = None
    school_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def local_day_start_utc(day: date) -> datetime:
    """Midnight of a local calendar day (BABEL_DEFAULT_TIMEZONE), as naive UTC like ``at``."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def audit_query(filters: AuditFilter) -> Select:
    """Events newest first. A school's filter also finds the events about the school itself,
    which carry no school_id (see create_school)."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters.user is not None:
        query = query.where(AuditEvent.user_id == filters.user.id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.entity:
        query = query.where(AuditEvent.entity.in_(audit_entity_codes(filters.entity)))
    if filters.school_id:
        query = query.where(
            or_(
                AuditEvent.school_id == filters.school_id,
                (AuditEvent.entity == "school") & (AuditEvent.entity_id == str(filters.school_id)),
            )
        )
    if filters.date_from:
        query = query.where(AuditEvent.at >= local_day_start_utc(filters.date_from))
    if filters.date_to:
        query = query.where(AuditEvent.at < local_day_start_utc(filters.date_to + timedelta(1)))
    return query


def audit_choices() -> tuple[list[str], list[str]]:
    """The actions and entities the trail holds, for the viewer's drop-downs."""
    actions = db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    entities = db.session.scalars(
        select(AuditEvent.entity).distinct().order_by(AuditEvent.entity)
    ).all()
    return list(actions), list(entities)


@dataclass(frozen=True)
class DiffRow:
    key: str
    before: Any
    after: Any
    changed: bool


def audit_diff(event: AuditEvent) -> list[DiffRow]:
    """The event's before and after side by side, changed keys marked."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    keys: Sequence[str] = list(dict.fromkeys([*before, *after]))
    missing = object()
    rows = []
    for key in keys:
        b, a = before.get(key, missing), after.get(key, missing)
        rows.append(
            DiffRow(
                key,
                None if b is missing else b,
                None if a is missing else a,
                changed=(b is missing) != (a is missing) or b != a,
            )
        )
    return rows
