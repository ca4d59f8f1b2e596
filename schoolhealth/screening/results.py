"""Screening results: saving and flagging one pupil's measurements, and reading them back.

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
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import rules
from ..audit import record_event
from ..clock import local_today
from ..extensions import db
from ..models import (
    NOT_SCREENED_REASONS,
    Finding,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
    Student,
    User,
)
from ..rules.spine import MOTION_TEST_NEEDED
from .errors import NotInSession, ResultConflict, ScreeningError, SessionClosed
from .fields import FLAG_ORDER, REQUIRED_FIELDS, TOOTH_FIELDS, flag_label
from .sessions import change_status, session_rule_config

logger = logging.getLogger(__name__)


# Longest text accepted for one field (the longest real value is a list of 52 teeth).
MAX_VALUE_LENGTH = 200


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
        evaluation = evaluate_into(session, student, result, merged)
    _flush()
    sync_followup(session, student, result, user)
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
        evaluation = evaluate_into(session, student, result, replace(stored, absent=absent))
    _flush()
    sync_followup(session, student, result, user)
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


def sync_followup(
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


def evaluate_into(
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
        replace_findings(session, student, result, ())
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
    replace_findings(
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


def replace_findings(
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
