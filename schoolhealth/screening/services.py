"""Screening sessions and their results: the use cases behind the class grid.

Views, CLI commands and background jobs (the results upload) call these functions. They
flush and never commit; the caller commits once, and rolls back after any exception
(a :class:`ResultConflict` leaves the database session unusable until it does).

Every classification comes from :mod:`schoolhealth.rules`: this module parses with
``rules.parse_measurements``, stores the values, re-evaluates the whole result with
``rules.evaluate`` under the session's stored rule options, keeps the result's
:class:`~schoolhealth.models.Finding` rows in step and writes the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import rules
from ..audit import record_event
from ..clock import local_today
from ..extensions import db
from ..models import (
    NOT_SCREENED_REASONS,
    SCREENING_TYPES,
    Finding,
    Institution,
    Role,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
    Student,
    User,
)
from ..rules.spine import MOTION_TEST_NEEDED

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------- vocabulary

TYPE_LABELS = {
    "growth": _l("Growth (height, weight)"),
    "vision": _l("Vision"),
    "spine": _l("Spine"),
    "dental": _l("Dental"),
}
STATUS_LABELS = {
    SessionStatus.PLANNED.value: _l("Planned"),
    SessionStatus.IN_PROGRESS.value: _l("In progress"),
    SessionStatus.CLOSED.value: _l("Closed"),
}
# The ATR thresholds a session may flag with (RuleConfig.atr_positive_degrees): 5 is the
# rule set's default, 7 the usual international referral value.
ATR_CHOICES = (5, 7)

FIELD_LABELS = {
    "height_cm": _l("Height (cm)"),
    "weight_kg": _l("Weight (kg)"),
    "ucva_right": _l("Uncorrected visual acuity, right"),
    "ucva_left": _l("Uncorrected visual acuity, left"),
    "glasses": _l("Glasses"),
    "cva_right": _l("Corrected visual acuity, right"),
    "cva_left": _l("Corrected visual acuity, left"),
    "sph_right": _l("Sphere, right (D)"),
    "cyl_right": _l("Cylinder, right (D)"),
    "sph_left": _l("Sphere, left (D)"),
    "cyl_left": _l("Cylinder, left (D)"),
    "se_right": _l("Spherical equivalent, right (D)"),
    "se_left": _l("Spherical equivalent, left (D)"),
    "spine_general": _l("General inspection"),
    "adams": _l("Forward bend test"),
    "atr_thoracic": _l("ATR thoracic (°)"),
    "atr_thoracolumbar": _l("ATR thoracolumbar (°)"),
    "atr_lumbar": _l("ATR lumbar (°)"),
    "sagittal": _l("Sagittal curvature"),
    "prone_test": _l("Prone test"),
    "motion_test": _l("Spinal motion test"),
    "caries_teeth": _l("Decayed teeth (FDI)"),
    "filled_teeth": _l("Filled teeth (FDI)"),
    "missing_teeth": _l("Teeth missing due to caries (FDI)"),
    "sealed_teeth": _l("Sealed teeth (FDI)"),
    "dmft": _l("dmft (primary teeth)"),
    "DMFT": _l("DMFT (permanent teeth)"),
    "absent": _l("Absent"),
}

CHOICES: dict[str, tuple[tuple[str, Any], ...]] = {
    "glasses": (
        ("none", _l("None")),
        ("frame", _l("Frame glasses")),
        ("contact", _l("Contact lenses")),
        ("ortho_k", _l("Ortho-k lenses")),
    ),
    "spine_general": (("normal", _l("Normal")), ("abnormal", _l("Abnormal"))),
    "adams": (("negative", _l("Negative")), ("positive", _l("Positive"))),
    "sagittal": (
        ("normal", _l("Normal")),
        ("kyphosis", _l("Kyphosis")),
        ("lordosis", _l("Lordosis")),
        ("straight_back", _l("Straight back")),
    ),
    "prone_test": (("resolved", _l("Resolved")), ("persists", _l("Persists"))),
    "motion_test": (("resolved", _l("Resolved")), ("persists", _l("Persists"))),
}
TOOTH_FIELDS = ("caries_teeth", "filled_teeth", "missing_teeth", "sealed_teeth")


@dataclass(frozen=True)
class GridColumn:
    """One input column of the class grid."""

    field: str
    label: Any
    short: Any
    kind: str  # "number", "select" or "teeth"
    group: str | None = None  # "refraction" columns can be collapsed
    options: tuple[tuple[str, Any], ...] | None = None  # set by translated()

    @property
    def choices(self) -> tuple[tuple[str, Any], ...]:
        return self.options if self.options is not None else CHOICES.get(self.field, ())

    def translated(self) -> GridColumn:
        """A copy whose labels and choices are plain text in the current language.

        The grid prints every label once per pupil; a lazy string translates itself each
        time it is printed, which made translation most of the grid's server time.
        """
        return replace(
            self,
            label=str(self.label),
            short=str(self.short),
            options=tuple((code, str(label)) for code, label in self.choices),
        )


# What the grid asks for, per screening type, in entry order (results.md field names).
GRID_COLUMNS: dict[str, tuple[GridColumn, ...]] = {
    "growth": (
        GridColumn("height_cm", FIELD_LABELS["height_cm"], _l("Height"), "number"),
        GridColumn("weight_kg", FIELD_LABELS["weight_kg"], _l("Weight"), "number"),
    ),
    "vision": (
        GridColumn("ucva_right", FIELD_LABELS["ucva_right"], _l("UCVA R"), "number"),
        GridColumn("ucva_left", FIELD_LABELS["ucva_left"], _l("UCVA L"), "number"),
        GridColumn("glasses", FIELD_LABELS["glasses"], _l("Glasses"), "select"),
        GridColumn("cva_right", FIELD_LABELS["cva_right"], _l("CVA R"), "number"),
        GridColumn("cva_left", FIELD_LABELS["cva_left"], _l("CVA L"), "number"),
        GridColumn("sph_right", FIELD_LABELS["sph_right"], _l("Sph R"), "number", "refraction"),
        GridColumn("cyl_right", FIELD_LABELS["cyl_right"], _l("Cyl R"), "number", "refraction"),
        GridColumn("sph_left", FIELD_LABELS["sph_left"], _l("Sph L"), "number", "refraction"),
        GridColumn("cyl_left", FIELD_LABELS["cyl_left"], _l("Cyl L"), "number", "refraction"),
    ),
    "spine": (
        GridColumn("spine_general", FIELD_LABELS["spine_general"], _l("General"), "select"),
        GridColumn("adams", FIELD_LABELS["adams"], _l("Bend test"), "select"),
        GridColumn("atr_thoracic", FIELD_LABELS["atr_thoracic"], _l("ATR T"), "number"),
        GridColumn("atr_thoracolumbar", FIELD_LABELS["atr_thoracolumbar"], _l("ATR TL"), "number"),
        GridColumn("atr_lumbar", FIELD_LABELS["atr_lumbar"], _l("ATR L"), "number"),
        GridColumn("motion_test", FIELD_LABELS["motion_test"], _l("Motion"), "select"),
        GridColumn("sagittal", FIELD_LABELS["sagittal"], _l("Sagittal"), "select"),
        GridColumn("prone_test", FIELD_LABELS["prone_test"], _l("Prone"), "select"),
    ),
    "dental": (
        GridColumn("caries_teeth", FIELD_LABELS["caries_teeth"], _l("Decayed"), "teeth"),
        GridColumn("filled_teeth", FIELD_LABELS["filled_teeth"], _l("Filled"), "teeth"),
        GridColumn("missing_teeth", FIELD_LABELS["missing_teeth"], _l("Missing"), "teeth"),
        GridColumn("sealed_teeth", FIELD_LABELS["sealed_teeth"], _l("Sealed"), "teeth"),
    ),
}

# A pupil counts as screened for a type once these are entered (absent counts as done).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "growth": ("height_cm", "weight_kg"),
    "vision": ("ucva_right", "ucva_left"),
    "spine": ("spine_general",),
    "dental": ("caries_teeth",),
}

# Longest text accepted for one field (the longest real value is a list of 52 teeth).
MAX_VALUE_LENGTH = 200

# ----------------------------------------------------------------- errors


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


# ----------------------------------------------------------------- sessions


def session_types_text(types: Iterable[str]) -> str:
    """The stored form of a session's screening types: a subset of SCREENING_TYPES, in order."""
    chosen = set(types)
    unknown = chosen.difference(SCREENING_TYPES)
    if unknown:
        raise ScreeningError(
            _l("Unknown screening type: %(types)s.", types=", ".join(sorted(unknown)))
        )
    if not chosen:
        raise ScreeningError(_l("Choose at least one screening type."))
    return ",".join(t for t in SCREENING_TYPES if t in chosen)


def district_growth_reference(school: School) -> str:
    """The BMI reference of the school's district (WS/T 586 unless the district chose another)."""
    reference = school.district.growth_reference if school.district else None
    if reference in rules.GROWTH_REFERENCES:
        return reference
    return rules.DEFAULT_CONFIG.growth_reference


def session_rule_config(session: ScreeningSession) -> rules.RuleConfig:
    """The rule options the session flags with, as stored when it was created."""
    options = dict(session.rule_options or {})
    known = set(rules.DEFAULT_CONFIG.to_dict())
    unknown = sorted(set(options) - known)
    if unknown:
        logger.warning("session %s: ignoring unknown rule options %s", session.id, unknown)
    try:
        return rules.RuleConfig.from_dict({k: v for k, v in options.items() if k in known})
    except rules.InvalidMeasurement:
        logger.exception("session %s: invalid rule options, using defaults", session.id)
        return rules.DEFAULT_CONFIG


def _check_dates(start_date: date, end_date: date | None) -> None:
    if end_date is not None and end_date < start_date:
        raise ScreeningError(_l("The end date cannot be before the start date."))


def _rule_options(school: School, atr_positive_degrees: int | Decimal | str) -> dict[str, Any]:
    try:
        config = rules.RuleConfig(
            growth_reference=district_growth_reference(school),
            atr_positive_degrees=Decimal(str(atr_positive_degrees)),
        )
    except (rules.InvalidMeasurement, ArithmeticError) as exc:
        raise ScreeningError(_l("The ATR threshold must be between 1 and 30 degrees.")) from exc
    return config.to_dict()


_SESSION_AUDIT_FIELDS = (
    "name",
    "start_date",
    "end_date",
    "types",
    "institution_id",
    "status",
    "ruleset_version",
    "rule_options",
    "records_refraction",
)


def _session_snapshot(session: ScreeningSession) -> dict[str, Any]:
    from ..audit import snapshot

    return snapshot(session, _SESSION_AUDIT_FIELDS)


def create_session(
    school: School,
    *,
    name: str,
    start_date: date,
    end_date: date | None = None,
    types: Iterable[str],
    institution: Institution | None = None,
    atr_positive_degrees: int | Decimal = 5,
    records_refraction: bool = False,
    user: User | None,
) -> ScreeningSession:
    """Plan a screening session of ``school``.

    The session records today's rule-set version and the rule options (the district's
    growth reference, the ATR threshold), so later changes never re-flag its results.
    """
    name = (name or "").strip()
    if not name:
        raise ScreeningError(_l("The session needs a name."))
    _check_dates(start_date, end_date)
    session = ScreeningSession(
        school_id=school.id,
        school=school,
        name=name,
        start_date=start_date,
        end_date=end_date,
        types=session_types_text(types),
        institution_id=institution.id if institution else None,
        ruleset_version=rules.RULESET_VERSION,
        rule_options=_rule_options(school, atr_positive_degrees),
        status=SessionStatus.PLANNED.value,
        records_refraction=bool(records_refraction),
        created_by_id=user.id if user else None,
    )
    db.session.add(session)
    db.session.flush()
    record_event(
        "create",
        "screening_session",
        session.id,
        school_id=school.id,
        summary=f"screening session {session.name!r} created",
        after=_session_snapshot(session),
        user=user,
    )
    return session


def _has_values(session: ScreeningSession, fields: Iterable[str]) -> bool:
    """True when some result of the session has any of ``fields`` entered."""
    columns = [getattr(ScreeningResult, f).is_not(None) for f in fields]
    if not columns:
        return False
    found = db.session.execute(
        select(ScreeningResult.id)
        .where(ScreeningResult.session_id == session.id, or_(*columns))
        .limit(1)
    ).first()
    return found is not None


def _type_fields(screening_type: str) -> list[str]:
    return [f for f, t in rules.MEASUREMENT_FIELDS.items() if t.value == screening_type]


def update_session(
    session: ScreeningSession,
    *,
    name: str,
    start_date: date,
    end_date: date | None,
    types: Iterable[str],
    institution: Institution | None,
    atr_positive_degrees: int | Decimal,
    records_refraction: bool | None = None,
    user: User | None,
) -> ScreeningSession:
    """Change a session's details (``records_refraction`` None: unchanged).

    Refused for a closed session, for removing a screening type that already has
    results, and for changing the ATR threshold once spine results exist (they were
    flagged with the old one).
    """
    if session.is_closed:
        raise SessionClosed()
    name = (name or "").strip()
    if not name:
        raise ScreeningError(_l("The session needs a name."))
    _check_dates(start_date, end_date)
    new_types = session_types_text(types)
    removed = set(session.type_list) - set(new_types.split(","))
    for screening_type in sorted(removed):
        if _has_values(session, _type_fields(screening_type)):
            raise ScreeningError(
                _l(
                    "%(type)s results were already entered in this session, so that screening "
                    "cannot be removed.",
                    type=TYPE_LABELS[screening_type],
                )
            )
    options = _rule_options(session.school, atr_positive_degrees)
    old_atr = session_rule_config(session).atr_positive_degrees
    atr_changed = Decimal(options["atr_positive_degrees"]) != old_atr
    if atr_changed and _has_values(session, _type_fields("spine")):
        raise ScreeningError(
            _l(
                "Spine results were already flagged with the ATR threshold of %(atr)s°; it can "
                "no longer change in this session.",
                atr=format(old_atr, "f"),
            )
        )
    before = _session_snapshot(session)
    session.name = name
    session.start_date = start_date
    session.end_date = end_date
    session.types = new_types
    session.institution_id = institution.id if institution else None
    if records_refraction is not None:
        session.records_refraction = bool(records_refraction)
    if atr_changed:
        merged = dict(session.rule_options or {})
        merged["atr_positive_degrees"] = options["atr_positive_degrees"]
        session.rule_options = merged
    db.session.flush()
    from ..audit import changed_fields

    old, new = changed_fields(before, _session_snapshot(session))
    if new:
        record_event(
            "update",
            "screening_session",
            session.id,
            school_id=session.school_id,
            summary=f"screening session {session.name!r} changed: {', '.join(new)}",
            before=old,
            after=new,
            user=user,
        )
    return session


# Status changes a nurse or an administrator may make; reopening is the administrator's.
TRANSITIONS = {
    (SessionStatus.PLANNED.value, SessionStatus.IN_PROGRESS.value),
    (SessionStatus.IN_PROGRESS.value, SessionStatus.CLOSED.value),
    (SessionStatus.CLOSED.value, SessionStatus.IN_PROGRESS.value),
}


def change_status(session: ScreeningSession, status: str, *, user: User | None) -> None:
    """Move a session planned -> in progress -> closed; only an admin reopens (audited)."""
    old = session.status
    if status == old:
        return
    if (old, status) not in TRANSITIONS:
        raise TransitionRefused(
            _l(
                "A session cannot go from %(old)s to %(new)s.",
                old=STATUS_LABELS.get(old, old),
                new=STATUS_LABELS.get(status, status),
            )
        )
    reopening = old == SessionStatus.CLOSED.value
    if reopening and (user is None or user.role != Role.ADMIN):
        raise TransitionRefused(_l("Only an administrator can reopen a closed session."))
    session.status = status
    db.session.flush()
    record_event(
        "reopen" if reopening else "update",
        "screening_session",
        session.id,
        school_id=session.school_id,
        summary=f"screening session {session.name!r}: {old} -> {status}",
        before={"status": old},
        after={"status": status},
        user=user,
    )


# ----------------------------------------------------------------- result values


@cache
def _column_scale(name: str) -> int | None:
    """Decimals a column keeps (None for non-numeric columns); the grid asks once per cell."""
    column_type = inspect(ScreeningResult).attrs[name].columns[0].type
    return getattr(column_type, "scale", None)


def _fit_column(name: str, value: Any) -> Any:
    """Round a parsed number to its column's decimals (weight_kg is stored to 0.1 kg).

    The rules accept a weight with two decimals but the column keeps one, so the value is
    rounded before it is evaluated: what is flagged is exactly what is stored and shown.
    """
    if isinstance(value, Decimal):
        scale = _column_scale(name)
        if scale is not None:
            return value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return value


def _to_column(name: str, value: Any) -> Any:
    if name in TOOTH_FIELDS and value is not None:
        return " ".join(str(t) for t in value)
    return value


def _from_column(name: str, value: Any) -> Any:
    if name in TOOTH_FIELDS and value is not None:
        return tuple(int(t) for t in value.split())
    return value


def display_value(result: ScreeningResult | None, name: str) -> str:
    """A stored measurement as the grid shows it: canonical text the parser accepts back."""
    if result is None:
        return ""
    if name == "absent":
        return "1" if result.absent else ""
    if name == "not_screened":
        return (result.not_screened_reason or "absent") if result.absent else ""
    value = getattr(result, name)
    if value is None:
        return ""
    if name in TOOTH_FIELDS:
        return value or "0"  # examined, no such teeth ("0" = none)
    if isinstance(value, Decimal):
        scale = _column_scale(name)
        if scale is not None:
            value = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        return format(value, "f")
    return str(value)


def stored_measurements(result: ScreeningResult | None) -> rules.Measurements:
    """A result's entered values as rules.Measurements (derived counts left out)."""
    if result is None:
        return rules.Measurements()
    values: dict[str, Any] = {}
    for name in rules.MEASUREMENT_FIELDS:
        value = getattr(result, name)
        if value is not None:
            values[name] = _from_column(name, value)
    if any(values.get(f) is not None for f in TOOTH_FIELDS):
        # With tooth codes, dmft/DMFT are the rules' derived counts, not entered values.
        values.pop("dmft", None)
        values.pop("DMFT", None)
    for eye in ("right", "left"):
        # An SE equal to sphere + cylinder/2 was derived on save (_store_derived_se), not
        # entered: it follows sphere and cylinder when they change.
        se, sph, cyl = (values.get(f"{n}_{eye}") for n in ("se", "sph", "cyl"))
        derived = (
            se is not None
            and sph is not None
            and cyl is not None
            and abs(Decimal(se) - (Decimal(sph) + Decimal(cyl) / 2)) < Decimal("0.01")
        )
        if derived:
            values.pop(f"se_{eye}")
    return rules.Measurements(**values, absent=bool(result.absent))


def is_done(session: ScreeningSession, result: ScreeningResult | None) -> bool:
    """Screened for every type of the session, or absent (both count as done)."""
    if result is None:
        return False
    if result.absent:
        return True
    return all(
        getattr(result, f) is not None
        for t in session.type_list
        for f in REQUIRED_FIELDS.get(t, ())
    )


def done_clause(session: ScreeningSession) -> Any:
    """SQL form of :func:`is_done`, for counting progress."""
    required = [
        getattr(ScreeningResult, f).is_not(None)
        for t in session.type_list
        for f in REQUIRED_FIELDS.get(t, ())
    ]
    return or_(ScreeningResult.absent.is_(True), and_(*required))


# ----------------------------------------------------------------- saving results


@dataclass
class ResultChange:
    """What one :func:`record_measurements` or :func:`set_absent` call did.

    ``errors`` lists the refused fields (nothing of those was saved); ``before`` and
    ``after`` hold the changed fields' old and new values (empty when nothing changed).
    """

    result: ScreeningResult | None
    created: bool = False
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    errors: list[rules.FieldError] = field(default_factory=list)
    evaluation: rules.Evaluation | None = None

    @property
    def changed(self) -> bool:
        return bool(self.after)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_writable(session: ScreeningSession) -> None:
    if session.is_closed:
        raise SessionClosed()


def _check_student(session: ScreeningSession, student: Student) -> None:
    if student.school_id != session.school_id:
        raise NotInSession()


def get_result(session: ScreeningSession, student: Student) -> ScreeningResult | None:
    """The pupil's result in the session, re-read so its version is current."""
    return db.session.execute(
        select(ScreeningResult)
        .where(
            ScreeningResult.session_id == session.id,
            ScreeningResult.student_id == student.id,
        )
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _check_version(result: ScreeningResult | None, expected_version: int | None) -> None:
    if expected_version is None:
        return
    current = result.version if result is not None else 0
    if expected_version != current:
        raise ResultConflict(expected_version, current)


def default_screening_date(session: ScreeningSession, today: date | None = None) -> date:
    """The day the result is entered, whatever the session's planned dates.

    Ages (and so every age-banded cutoff) are computed from this date: a pupil measured
    a week after the planned end, or before the start, is dated the day measured.
    """
    return today or local_today()


def _field_error(name: str, text: str | None, message: str, key: str, **params: Any):
    return rules.FieldError(name, text or "", f"{name}: {message}", key=key, params=params)


def _parse_one(name: str, text: str | None) -> tuple[Any, rules.FieldError | None]:
    """One field through the rules parser: (value, None) or (None, its error)."""
    parsed, errors = rules.parse_measurements({name: text})
    if errors:
        own = [e for e in errors if e.field == name]
        return None, (own or errors)[0]
    return _fit_column(name, getattr(parsed, name)), None


def _merge(stored: rules.Measurements, values: Mapping[str, Any]) -> rules.Measurements:
    merged = replace(stored, **values)
    had_teeth = any(getattr(stored, f) is not None for f in TOOTH_FIELDS)
    has_teeth = any(getattr(merged, f) is not None for f in TOOTH_FIELDS)
    if had_teeth and not has_teeth:
        # The stored counts were derived from the tooth codes just cleared.
        merged = replace(
            merged,
            dmft=values.get("dmft"),
            DMFT=values.get("DMFT"),
        )
    return merged


def _reconcile(
    stored: rules.Measurements, accepted: dict[str, Any], texts: Mapping[str, str | None]
) -> tuple[rules.Measurements, list[rules.FieldError]]:
    """Drop accepted fields that clash with the rest of the row (e.g. a tooth in two lists).

    Cross-field rules are the rules core's (``check_measurements``); a clash refuses the
    submitted fields of that screening type and leaves the stored ones untouched.
    """
    errors: list[rules.FieldError] = []
    while True:
        merged = _merge(stored, accepted)
        problems = rules.check_measurements(merged)
        if not problems:
            return merged, errors
        bad_types = {rules.MEASUREMENT_FIELDS.get(p.field) for p in problems}
        culprits = [n for n in accepted if rules.MEASUREMENT_FIELDS[n] in bad_types]
        if not culprits:
            # A stored row that was already inconsistent: evaluation will report it.
            return merged, errors
        for name in culprits:
            screening_type = rules.MEASUREMENT_FIELDS[name]
            same_type = [
                p for p in problems if rules.MEASUREMENT_FIELDS.get(p.field) == screening_type
            ]
            problem = next((p for p in same_type if p.field == name), same_type[0])
            errors.append(
                rules.FieldError(
                    name,
                    texts.get(name) or "",
                    problem.message,
                    key=problem.key,
                    params=dict(problem.params),
                )
            )
            del accepted[name]


def record_measurements(
    session: ScreeningSession,
    student: Student,
    raw: Mapping[str, str | None],
    *,
    user: User | None,
    expected_version: int | None = None,
    screening_date: date | None = None,
) -> ResultChange:
    """Save measurements of one pupil, re-flag the result and audit the change.

    ``raw`` maps results.md field names to text as typed or read from a file (keys that
    are not measurement fields are ignored; a blank clears a value). Each field is parsed
    by the rules core: a refused field is reported in ``errors`` and not saved, while the
    other fields of the same call are (so a single-field save fully applies or returns its
    error). Fields of screening types the session does not cover are refused.

    ``expected_version`` is the result version the caller last saw (0 = no result yet);
    when it differs, :class:`ResultConflict` is raised and nothing is saved. None skips the
    check (CLI, uploads). The result's screening date is the date of its first entry
    (:func:`default_screening_date`) unless ``screening_date`` is given.
    """
    _check_writable(session)
    _check_student(session, student)
    result = get_result(session, student)
    _check_version(result, expected_version)

    texts = {
        k: (None if v is None else str(v)) for k, v in raw.items() if k in rules.MEASUREMENT_FIELDS
    }
    types = set(session.type_list)
    errors: list[rules.FieldError] = []
    accepted: dict[str, Any] = {}
    for name, text in texts.items():
        if rules.MEASUREMENT_FIELDS[name].value not in types:
            errors.append(
                _field_error(name, text, "not screened in this session", "not_in_session")
            )
            continue
        if text is not None and len(text) > MAX_VALUE_LENGTH:
            errors.append(
                _field_error(
                    name,
                    text[:20] + "...",
                    "the value is too long",
                    "too_long",
                    max=MAX_VALUE_LENGTH,
                )
            )
            continue
        value, error = _parse_one(name, text)
        if error is not None:
            errors.append(error)
            continue
        if value is not None and result is not None and result.absent:
            errors.append(
                _field_error(name, text, "the pupil is marked absent", "absent_with_measurements")
            )
            continue
        accepted[name] = value

    stored = stored_measurements(result)
    merged, clashes = _reconcile(stored, accepted, texts)
    errors += clashes
    if result is None:
        changed = {name: value for name, value in accepted.items() if value is not None}
    else:
        changed = {
            name: value
            for name, value in accepted.items()
            if _to_column(name, value) != getattr(result, name)
        }
    new_date = screening_date is not None and (
        result is None or result.screening_date != screening_date
    )
    if not changed and not new_date:
        return ResultChange(result, errors=errors)

    created = result is None
    with db.session.no_autoflush:
        if result is None:
            result = ScreeningResult(
                session_id=session.id,
                student_id=student.id,
                screening_date=screening_date or default_screening_date(session),
                absent=False,
            )
            db.session.add(result)
        before = {name: _audit_value(getattr(result, name)) for name in changed}
        for name, value in changed.items():
            setattr(result, name, _to_column(name, value))
        if screening_date is not None:
            result.screening_date = screening_date
        elif result.screening_date is None:
            result.screening_date = default_screening_date(session)
        if user is not None:
            result.updated_by_id = user.id
        evaluation = _evaluate_into(session, student, result, merged)
    _flush()
    _sync_followup(session, student, result, user)
    after = {name: _audit_value(getattr(result, name)) for name in changed}
    if new_date:
        after["screening_date"] = result.screening_date.isoformat()
    _start_if_planned(session, user)
    record_event(
        "create" if created else "update",
        "screening_result",
        result.id,
        school_id=session.school_id,
        summary=f"{student.student_number} in session {session.id}: {', '.join(after)}",
        before=None if created else before,
        after=after,
        user=user,
    )
    return ResultChange(
        result,
        created=created,
        before={} if created else before,
        after=after,
        errors=errors,
        evaluation=evaluation,
    )


def set_absent(
    session: ScreeningSession,
    student: Student,
    absent: bool,
    *,
    user: User | None,
    expected_version: int | None = None,
    reason: str | None = None,
) -> ResultChange:
    """Mark a pupil not screened (缺检: never "normal") or screened again.

    ``reason`` says why (NOT_SCREENED_REASONS: absent, refused, ill, exempt; default
    absent); ``absent`` stays True for every reason, so counts of "not screened" need no
    change. A pupil with measurements is not marked absent (the values would be silently
    discarded): the change returns an ``absent`` error instead.
    """
    _check_writable(session)
    _check_student(session, student)
    if absent and reason is None:
        reason = NOT_SCREENED_REASONS[0]
    if not absent:
        reason = None
    if reason is not None and reason not in NOT_SCREENED_REASONS:
        raise ScreeningError(_l("Unknown reason for not screening a pupil."))
    result = get_result(session, student)
    _check_version(result, expected_version)
    current = bool(result.absent) if result is not None else False
    current_reason = result.not_screened_reason if result is not None else None
    if current == absent and (not absent or current_reason == reason):
        return ResultChange(result)
    if current and absent:
        # Only the reason changes (absent -> ill): nothing is re-flagged.
        result.not_screened_reason = reason
        if user is not None:
            result.updated_by_id = user.id
        _flush()
        record_event(
            "update",
            "screening_result",
            result.id,
            school_id=session.school_id,
            summary=f"{student.student_number} in session {session.id}: not screened, {reason}",
            before={"not_screened_reason": current_reason},
            after={"not_screened_reason": reason},
            user=user,
        )
        return ResultChange(
            result,
            before={"not_screened_reason": current_reason},
            after={"not_screened_reason": reason},
        )
    stored = stored_measurements(result)
    if absent and stored.present():
        names = ", ".join(sorted(stored.present()))
        return ResultChange(
            result,
            errors=[
                _field_error(
                    "absent",
                    "yes",
                    f"the pupil has measurements ({names})",
                    "absent_with_measurements",
                    fields=names,
                )
            ],
        )
    created = result is None
    with db.session.no_autoflush:
        if result is None:
            result = ScreeningResult(
                session_id=session.id,
                student_id=student.id,
                screening_date=default_screening_date(session),
            )
            db.session.add(result)
        result.absent = absent
        result.not_screened_reason = reason
        if result.screening_date is None:
            result.screening_date = default_screening_date(session)
        if user is not None:
            result.updated_by_id = user.id
        evaluation = _evaluate_into(session, student, result, replace(stored, absent=absent))
    _flush()
    _sync_followup(session, student, result, user)
    _start_if_planned(session, user)
    record_event(
        "create" if created else "update",
        "screening_result",
        result.id,
        school_id=session.school_id,
        summary=f"{student.student_number} in session {session.id}: "
        + (f"not screened, {reason}" if absent else "present"),
        before=None if created else {"absent": current, "not_screened_reason": current_reason},
        after={"absent": absent, "not_screened_reason": reason},
        user=user,
    )
    return ResultChange(
        result,
        created=created,
        before={} if created else {"absent": current, "not_screened_reason": current_reason},
        after={"absent": absent, "not_screened_reason": reason},
        evaluation=evaluation,
    )


def _audit_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _flush() -> None:
    """Flush, turning a lost race into :class:`ResultConflict` with the session usable.

    StaleDataError: the row's version moved between our read and our UPDATE;
    IntegrityError: someone created the pupil's result at the same moment. The database
    has already rolled the transaction back when a flush fails, and until the session is
    rolled back too, anything that touches it (loading the signed-in user to pick the
    locale of the message, reading the current value for the 409) raises
    PendingRollbackError: a 500 instead of a conflict. So roll back here, first; this
    discards nothing the database still held.
    """
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        logger.info("concurrent change of a screening result: %s", exc)
        raise ResultConflict() from exc


def _sync_followup(
    session: ScreeningSession, student: Student, result: ScreeningResult, user: User | None
) -> None:
    """Every referral opens a follow-up case; a result corrected to normal withdraws it.

    After the result's flush, so the findings are final; a concurrent save that opened
    the same case first is a conflict like any other.
    """
    from ..followup.services import sync_result  # followup reads screening, not vice versa

    try:
        sync_result(session, student, result, result.findings, user=user)
    except IntegrityError as exc:
        logger.info("concurrent opening of a follow-up case: %s", exc)
        raise ResultConflict() from exc


def _start_if_planned(session: ScreeningSession, user: User | None) -> None:
    """The first result entered starts a planned session."""
    if session.status == SessionStatus.PLANNED.value:
        change_status(session, SessionStatus.IN_PROGRESS.value, user=user)


def _evaluate_into(
    session: ScreeningSession,
    student: Student,
    result: ScreeningResult,
    measurements: rules.Measurements,
) -> rules.Evaluation | None:
    """Re-flag the whole result: derived evaluation.md codes and its Finding rows."""
    try:
        evaluation = rules.evaluate(
            rules.Sex(student.sex),
            student.birth_date,
            result.screening_date,
            measurements,
            session_rule_config(session),
            [rules.ScreeningType(t) for t in session.type_list],
        )
    except (rules.InvalidMeasurement, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        for name in (*rules.CATEGORY_COLUMNS, "age_band", "bmi", "atr_max"):
            setattr(result, name, None)
        result.refer = ""
        result.flagged = False
        result.eval_errors = message[:2000]
        result.ruleset_version = rules.RULESET_VERSION
        _replace_findings(session, student, result, ())
        _store_derived_se(result, measurements, None)
        return None
    columns = evaluation.to_evaluation_columns()
    for name in rules.CATEGORY_COLUMNS:
        setattr(result, name, columns[name] or None)
    result.age_band = Decimal(columns["age_band"]) if columns["age_band"] else None
    result.bmi = Decimal(columns["bmi"]) if columns["bmi"] else None
    result.atr_max = Decimal(columns["atr_max"]) if columns["atr_max"] else None
    if any(getattr(measurements, f) is not None for f in TOOTH_FIELDS):
        result.dmft = evaluation.dmft
        result.DMFT = evaluation.DMFT
    elif measurements.dmft is None and measurements.DMFT is None:
        result.dmft = result.DMFT = None
    _store_derived_se(result, measurements, evaluation)
    result.refer = columns["refer"]
    result.flagged = evaluation.is_flagged
    result.ruleset_version = evaluation.ruleset_version
    result.eval_errors = columns["errors"] or None
    _replace_findings(
        session,
        student,
        result,
        [f for f in evaluation.findings if f.is_abnormal],
        evaluation.ruleset_version,
    )
    return evaluation


def _store_derived_se(
    result: ScreeningResult,
    measurements: rules.Measurements,
    evaluation: rules.Evaluation | None,
) -> None:
    """Keep SE = sphere + cylinder/2 in the result when only sphere and cylinder were
    entered, so the record, the flags list and the export show the value the myopia
    flag was read from (an entered SE stays as entered)."""
    for eye in ("right", "left"):
        if getattr(measurements, f"se_{eye}") is not None:
            continue
        derived = getattr(evaluation, f"se_{eye}", None) if evaluation is not None else None
        if derived is not None:
            derived = Decimal(derived).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        setattr(result, f"se_{eye}", derived)


def _replace_findings(
    session: ScreeningSession,
    student: Student,
    result: ScreeningResult,
    findings: Iterable[rules.Finding],
    ruleset_version: str = rules.RULESET_VERSION,
) -> None:
    """Make the stored Finding rows equal the abnormal findings.

    A finding that is still present keeps its row (and id, which letters and follow-up
    refer to) and is updated in place; findings that went away are deleted.
    """
    existing = {f.code: f for f in result.findings}
    keep: list[Finding] = []
    for finding in findings:
        row = existing.pop(finding.code, None)
        if row is None:
            row = Finding(session_id=session.id, student_id=student.id, code=finding.code)
        row.screening_type = finding.screening_type.value
        row.category = finding.category
        row.severity = finding.severity
        row.refer = finding.refer
        row.standard = finding.standard[:64]
        row.clause = finding.clause[:200]
        row.advice_key = finding.advice_key[:64]
        row.ruleset_version = ruleset_version
        keep.append(row)
    result.findings = keep


# ----------------------------------------------------------------- reading


def field_error_message(error: rules.FieldError) -> str:
    """A refused field in the user's language: "Height (cm): 300 is outside ...".

    The rules core gives each error a key and params for exactly this; an unknown key
    falls back to the core's English message.
    """
    p = dict(error.params or {})
    value = p.get("value", error.value)
    key = error.key
    if key == "not_a_number":
        text = _("%(value)s is not a number.", value=value)
    elif key == "foreign_digit":
        text = _(
            "%(value)s contains the digit “%(char)s”; type numbers with the digits 0–9.",
            value=value,
            char=p.get("char", ""),
        )
    elif key == "out_of_range":
        text = _(
            "%(value)s is outside the plausible range %(min)s–%(max)s %(unit)s.",
            value=value,
            min=p.get("min", ""),
            max=p.get("max", ""),
            unit=p.get("unit", ""),
        )
    elif key == "too_many_decimals":
        text = _(
            "%(value)s has too many decimal places (at most %(decimals)s).",
            value=value,
            decimals=p.get("decimals", ""),
        )
    elif key == "ambiguous_visual_acuity":
        text = _(
            "%(value)s is ambiguous: enter 5-point (3.0–5.3) or decimal (0.01–2.0) acuity.",
            value=value,
        )
    elif key == "not_a_chart_value":
        text = _(
            "%(value)s is not a decimal value of the GB/T 11533 chart; enter the 5-point "
            "value (3.0–5.3) instead.",
            value=value,
        )
    elif key == "unknown_choice":
        text = _("%(value)s is not one of: %(choices)s.", value=value, choices=p.get("choices", ""))
    elif key == "invalid_tooth_code":
        text = _(
            "%(value)s is not an FDI tooth code (11–48 permanent, 51–85 primary).", value=value
        )
    elif key == "duplicate_tooth":
        text = _("tooth %(value)s is listed twice.", value=value)
    elif key == "tooth_in_several_lists":
        other = p.get("other_field", "")
        text = _(
            "tooth %(value)s is also listed under %(other)s.",
            value=value,
            other=str(FIELD_LABELS.get(other, other)),
        )
    elif key == "primary_and_permanent_same_position":
        text = _(
            "primary tooth %(primary)s and permanent tooth %(permanent)s occupy the same "
            "position; record only the tooth present.",
            primary=p.get("primary", ""),
            permanent=p.get("permanent", ""),
        )
    elif key == "not_in_session":
        text = _("this screening is not part of the session.")
    elif key == "too_long":
        text = _("the value is too long.")
    elif key == "absent_with_measurements" and error.field == "absent":
        text = _("the pupil has measurements; clear them before marking the pupil absent.")
    elif key == "absent_with_measurements":
        text = _("the pupil is marked absent; untick “absent” first.")
    else:
        return error.message
    label = FIELD_LABELS.get(error.field, error.field)
    return f"{label}: {text}"


def field_holds(
    session: ScreeningSession, student: Student, field_name: str, text: str | None
) -> bool:
    """True when the pupil's result already holds ``text`` (as parsed) in ``field_name``.

    Read after a conflict's rollback: a save retried after its answer was lost finds its
    own value stored, and is answered as saved rather than as someone else's change.
    """
    result = get_result(session, student)
    if field_name == "absent":
        wanted = (text or "").strip().lower() in {"1", "true", "yes", "on"}
        return bool(result and result.absent) == wanted
    if field_name == "not_screened":
        wanted_reason = (text or "").strip().lower() or None
        return display_value(result, field_name) == (wanted_reason or "")
    if field_name not in rules.MEASUREMENT_FIELDS:
        return False
    value, error = _parse_one(field_name, text)
    if error is not None:
        return False
    stored = getattr(result, field_name) if result is not None else None
    return _to_column(field_name, value) == stored


def conflict_details(
    session: ScreeningSession, student: Student, field_name: str
) -> dict[str, Any]:
    """The current state of a pupil's result after a conflict (read after the rollback):
    the row's version, the field's current value (as the grid shows it), and who changed
    the result last and when (naive UTC)."""
    result = get_result(session, student)
    if result is None:
        return {"version": 0, "value": "", "changed_by": None, "changed_at": None}
    changed_by = db.session.get(User, result.updated_by_id) if result.updated_by_id else None
    return {
        "version": result.version,
        "value": display_value(result, field_name),
        "changed_by": (changed_by.display_name or changed_by.username) if changed_by else None,
        "changed_at": result.updated_at,
    }


FLAG_LABELS: dict[tuple[str, str], Any] = {
    ("weight_status", "overweight"): _l("Overweight"),
    ("weight_status", "obese"): _l("Obesity"),
    ("thinness", "mild"): _l("Mild thinness"),
    ("thinness", "moderate_severe"): _l("Moderate or severe thinness"),
    ("stunting", "yes"): _l("Stunting"),
    ("vision_right", "mild"): _l("Reduced vision (mild) R"),
    ("vision_right", "moderate"): _l("Reduced vision (moderate) R"),
    ("vision_right", "severe"): _l("Reduced vision (severe) R"),
    ("vision_left", "mild"): _l("Reduced vision (mild) L"),
    ("vision_left", "moderate"): _l("Reduced vision (moderate) L"),
    ("vision_left", "severe"): _l("Reduced vision (severe) L"),
    ("myopia_right", "yes"): _l("Suspected myopia R"),
    ("myopia_left", "yes"): _l("Suspected myopia L"),
    ("myopia_right", "unknown"): _l("Myopia not assessed (no refraction) R"),
    ("myopia_left", "unknown"): _l("Myopia not assessed (no refraction) L"),
    ("spine", "postural"): _l("Postural spine asymmetry"),
    ("spine", "suspected_scoliosis"): _l("Suspected scoliosis"),
    ("spine", "sagittal_abnormal"): _l("Sagittal curvature abnormality"),
    ("caries", "yes"): _l("Untreated caries"),
}


_FLAG_LABEL_CACHE: dict[tuple[str, str, str], str] = {}


def flag_label(code: str, category: str, locale: str | None = None) -> str:
    """The translated chip text of one finding, e.g. "Reduced vision (moderate) R".

    Remembered per language: a grid or flags page prints the same few labels many times
    (callers labelling many findings pass ``locale``, ``str(get_locale())``, once).
    """
    key = (locale or str(get_locale()), code, category)
    text = _FLAG_LABEL_CACHE.get(key)
    if text is None:
        label = FLAG_LABELS.get((code, category))
        text = str(label) if label is not None else f"{code}: {category}"
        if len(_FLAG_LABEL_CACHE) < 10_000:  # bounded, whatever codes a database holds
            _FLAG_LABEL_CACHE[key] = text
    return text


# Chips appear in this order: growth, vision by eye, spine, dental.
FLAG_ORDER = (
    "weight_status",
    "thinness",
    "stunting",
    "vision_right",
    "myopia_right",
    "vision_left",
    "myopia_left",
    "spine",
    "caries",
)


def _eye(code: str) -> str | None:
    if code.endswith("_right"):
        return "right"
    if code.endswith("_left"):
        return "left"
    return None


def flag_labels(result: ScreeningResult | None) -> list[dict[str, Any]]:
    """The result's stored findings as chips: code, category, label, severity, eye.

    ``label`` is translated into the current locale; ``eye`` is "right", "left" or None.
    The session's flags page shows the same chips.
    """
    if result is None or not result.findings:
        return []
    order = {code: i for i, code in enumerate(FLAG_ORDER)}
    findings = sorted(result.findings, key=lambda f: (order.get(f.code, len(order)), f.code))
    locale = str(get_locale())
    chips = []
    for f in findings:
        chips.append(
            {
                "code": f.code,
                "category": f.category,
                "label": flag_label(f.code, f.category, locale),
                "severity": f.severity,
                "eye": _eye(f.code),
                "screening_type": f.screening_type,
                "refer": f.refer,
            }
        )
        if f.code == "spine" and MOTION_TEST_NEEDED in f.clause:
            # an open item for the nurse, not a finding: signs with every ATR below the
            # threshold and no spinal motion test to tell postural from structural
            chips.append(
                {
                    "code": "motion_test",
                    "category": "needed",
                    "label": _("Motion test needed"),
                    "severity": 1,
                    "eye": None,
                    "screening_type": f.screening_type,
                    "refer": False,
                }
            )
    return chips


def grid_columns(session: ScreeningSession) -> list[GridColumn]:
    """The grid's input columns for the session's screening types.

    Sphere and cylinder only when the session records refraction: a column nobody fills
    costs a keystroke per pupil.
    """
    return [
        c
        for t in session.type_list
        for c in GRID_COLUMNS.get(t, ())
        if c.group != "refraction" or session.records_refraction
    ]


def class_pupils(
    session: ScreeningSession, school_class: SchoolClass
) -> list[tuple[Student, ScreeningResult | None]]:
    """The class's active pupils in roster order (student number) with their results."""
    rows = db.session.execute(
        select(Student, ScreeningResult)
        .outerjoin(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(
            Student.class_id == school_class.id,
            Student.school_id == session.school_id,
            Student.active.is_(True),
        )
        .options(selectinload(ScreeningResult.findings))
        .order_by(Student.student_number)
    ).all()
    return [(student, result) for student, result in rows]


@dataclass(frozen=True)
class ClassProgress:
    school_class: SchoolClass
    total: int
    done: int


def _progress_query(session: ScreeningSession) -> Select:
    return (
        select(
            Student.class_id,
            func.count(Student.id),
            func.coalesce(func.sum(case((done_clause(session), 1), else_=0)), 0),
        )
        .outerjoin(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(Student.school_id == session.school_id, Student.active.is_(True))
        .group_by(Student.class_id)
    )


def class_progress(session: ScreeningSession) -> tuple[list[ClassProgress], int]:
    """Screened (or absent) / active pupils per class of the session's school.

    Also returns the number of active pupils without a class (they have no grid).
    """
    counts = {
        class_id: (total, done)
        for class_id, total, done in db.session.execute(_progress_query(session))
    }
    unassigned = counts.pop(None, (0, 0))[0]
    classes = (
        db.session.scalars(
            select(SchoolClass)
            .where(SchoolClass.id.in_(list(counts)), SchoolClass.school_id == session.school_id)
            .order_by(SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.name)
        ).all()
        if counts
        else []
    )
    progress = [ClassProgress(c, int(counts[c.id][0]), int(counts[c.id][1])) for c in classes]
    return progress, int(unassigned)


def class_done_count(session: ScreeningSession, school_class: SchoolClass) -> tuple[int, int]:
    """(done, total) of one class."""
    row = db.session.execute(
        _progress_query(session).where(Student.class_id == school_class.id)
    ).first()
    if row is None:
        return 0, 0
    return int(row[2]), int(row[1])


def results_flagged_with_other_ruleset(session: ScreeningSession) -> int:
    """How many results were flagged with another rule set than the session records.

    Results are always flagged with the installed rules (``rules.RULESET_VERSION``) and
    record the version used; after an upgrade, a reopened older session says so.
    """
    return int(
        db.session.scalar(
            select(func.count(ScreeningResult.id)).where(
                ScreeningResult.session_id == session.id,
                ScreeningResult.ruleset_version.is_not(None),
                ScreeningResult.ruleset_version != session.ruleset_version,
            )
        )
        or 0
    )
