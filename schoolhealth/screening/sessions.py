"""Screening sessions: planning, changing and closing them, and the rule options they flag with.

Services flush and never commit; the caller commits once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import rules
from ..audit import record_event
from ..extensions import db
from ..models import (
    SCREENING_TYPES,
    Institution,
    Role,
    School,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
    User,
)
from .errors import ScreeningError, SessionClosed, TransitionRefused
from .fields import STATUS_LABELS, TYPE_LABELS

logger = logging.getLogger(__name__)


# rule set's default, 7 the usual international referral value.
ATR_CHOICES = (5, 7)


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
