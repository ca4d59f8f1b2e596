"""Follow-up cases: opening them from referrals, moving them along, reading the figures.

A case is opened for each pupil x session x kind of referred finding when the rules
flag the result (``sync_result``, called by screening.results whenever a result's
findings are replaced), not when the letter is made: a referral whose letter never
left the school is exactly the attrition the completion rate must show. The letter
register (letters) supplies the "letter sent" and "slip returned" dates.

States::

    open -> letter_sent -> slip_returned -> outcome_recorded -> closed
      \\________________\\_______________\\-> lost (no outcome FOLLOWUP_LOST_AFTER_DAYS
                                               after screening; a late outcome still closes)
    any state before an outcome -> withdrawn (the result was corrected to normal);
    withdrawn -> back where it was when the finding returns.

Services flush, never commit (the view, the CLI command or the job commits).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import rules
from ..audit import changed_fields, record_event, snapshot
from ..extensions import db
from ..models import (
    CASE_TYPE_OF_SCREENING,
    CASE_TYPES,
    FollowupCase,
    Letter,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
    User,
    utcnow,
)

PRE_OUTCOME = ("open", "letter_sent", "slip_returned")
# What the worklist shows: everything still waiting for the nurse.
OUTSTANDING = (*PRE_OUTCOME, "lost", "outcome_recorded")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"letter_sent", "slip_returned", "outcome_recorded", "closed", "lost"}),
    "letter_sent": frozenset({"slip_returned", "outcome_recorded", "closed", "lost"}),
    "slip_returned": frozenset({"outcome_recorded", "closed", "lost"}),
    "lost": frozenset({"open", "letter_sent", "slip_returned", "outcome_recorded", "closed"}),
    "outcome_recorded": frozenset({"closed"}),
    "closed": frozenset({"outcome_recorded"}),
    "withdrawn": frozenset({"open", "letter_sent", "slip_returned", "lost"}),
}
for _state in (*PRE_OUTCOME, "lost"):
    TRANSITIONS[_state] = TRANSITIONS[_state] | {"withdrawn"}

CASE_TYPE_LABELS = {
    "scoliosis": _l("Scoliosis"),
    "myopia": _l("Myopia"),
    "caries": _l("Caries"),
    "weight": _l("Weight (obesity, overweight, malnutrition)"),
}
STATE_LABELS = {
    "open": _l("Letter not sent"),
    "letter_sent": _l("Letter sent"),
    "slip_returned": _l("Slip returned"),
    "outcome_recorded": _l("Outcome recorded"),
    "closed": _l("Closed"),
    "lost": _l("Lost to follow-up"),
    "withdrawn": _l("Withdrawn"),
}
INTERVENTION_LABELS = {"advice": _l("Advice given"), "clinic": _l("Referred to clinic")}

COBB_MIN, COBB_MAX = Decimal(0), Decimal(120)
SE_MIN, SE_MAX = Decimal(-30), Decimal(20)
# Cycloplegic refraction confirms myopia at a spherical equivalent of -0.50 D or less.
MYOPIA_SE = Decimal("-0.50")
MAX_TEETH = 32
OUTCOME_FIELDS = (
    "confirmed",
    "cobb_angle",
    "cyclo_se_right",
    "cyclo_se_left",
    "treated",
    "teeth_treated",
    "intervention",
    "hospital",
    "doctor",
    "diagnosis_date",
    "note",
)
AUDIT_FIELDS = (
    "state",
    "letter_sent_on",
    "slip_returned_on",
    *OUTCOME_FIELDS,
    "outcome_source",
)


class FollowupError(Exception):
    """A change refused; ``field`` names the form field or file column it is about."""

    def __init__(self, message: Any, field_name: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field_name


# ----------------------------------------------------------------- time


def lost_after() -> timedelta:
    return timedelta(days=int(current_app.config.get("FOLLOWUP_LOST_AFTER_DAYS", 90)))


def today() -> date:
    return utcnow().date()


def lost_cutoff(on: date | None = None) -> date:
    """Cases referred before this day without an outcome are lost to follow-up."""
    return (on or today()) - lost_after()


# ----------------------------------------------------------------- state machine


def _audit(case_: FollowupCase, action: str, before: dict, *, user: User | None, summary: str):
    after = snapshot(case_, AUDIT_FIELDS)
    if action == "update":
        before, after = changed_fields(before, after)
        if not after:
            return
    record_event(
        action,
        "followup_case",
        case_.id,
        school_id=case_.school_id,
        summary=summary,
        before=before or None,
        after=after,
        user=user,
    )


def move(case_: FollowupCase, state: str, *, now: datetime | None = None) -> None:
    """Change the state if the machine allows it (the caller audits the whole change)."""
    if state == case_.state:
        return
    if state not in TRANSITIONS.get(case_.state, frozenset()):
        raise FollowupError(
            _(
                "A case cannot go from “%(old)s” to “%(new)s”.",
                old=STATE_LABELS[case_.state],
                new=STATE_LABELS[state],
            ),
            "state",
        )
    case_.state = state
    case_.state_at = now or utcnow()
    if state == "closed":
        case_.closed_at = case_.state_at
    elif case_.closed_at is not None:
        case_.closed_at = None


def progress_state(case_: FollowupCase, cutoff: date | None = None) -> str:
    """Where a case without an outcome stands, from its dates (and the lost cut-off)."""
    if cutoff is not None and case_.referred_on < cutoff:
        return "lost"
    if case_.slip_returned_on is not None:
        return "slip_returned"
    if case_.letter_sent_on is not None:
        return "letter_sent"
    return "open"


# ----------------------------------------------------------------- opening cases


def _wanted_types(findings: Iterable[Any]) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {}
    for finding in findings:
        if not finding.refer:
            continue
        kind = CASE_TYPE_OF_SCREENING.get(finding.screening_type)
        if kind is not None:
            wanted.setdefault(kind, []).append(finding.code)
    return {k: sorted(v) for k, v in wanted.items()}


def sync_result(
    session: ScreeningSession,
    student: Student,
    result: ScreeningResult,
    findings: Iterable[Any],
    *,
    user: User | None = None,
) -> None:
    """Make the pupil's cases of the session match the result's referred findings.

    Idempotent: saving the same result again changes nothing. A kind of finding that
    is no longer referred withdraws its case unless an outcome is already recorded
    (a hospital's answer is kept); a referral that comes back reopens it.
    """
    wanted = _wanted_types(findings)
    existing = {
        c.case_type: c
        for c in db.session.scalars(
            select(FollowupCase).where(
                FollowupCase.session_id == session.id, FollowupCase.student_id == student.id
            )
        )
    }
    referred_on = result.screening_date or session.start_date
    created: list[FollowupCase] = []
    for kind, codes in wanted.items():
        found = existing.pop(kind, None)
        if found is None:
            found = FollowupCase(
                session_id=session.id,
                student_id=student.id,
                school_id=session.school_id,
                case_type=kind,
                finding_codes=codes,
                state="open",
                state_at=utcnow(),
                referred_on=referred_on,
            )
            db.session.add(found)
            created.append(found)
            continue
        before = snapshot(found, AUDIT_FIELDS)
        if found.finding_codes != codes:
            found.finding_codes = codes
        if found.state == "withdrawn":
            move(found, progress_state(found))
            _audit(found, "update", before, user=user, summary="Follow-up case reopened")
    for found in existing.values():
        if found.state in (*PRE_OUTCOME, "lost"):
            before = snapshot(found, AUDIT_FIELDS)
            move(found, "withdrawn")
            _audit(found, "update", before, user=user, summary="Referral withdrawn")
    if created:
        db.session.flush()
        for found in created:
            _audit(
                found, "create", {}, user=user, summary=f"Follow-up case opened: {found.case_type}"
            )


def sync_session(session: ScreeningSession, *, user: User | None = None) -> int:
    """Open the cases of every referred result of a session (for data entered before
    follow-up existed, or loaded in bulk). Returns the number of results looked at."""
    results = db.session.scalars(
        select(ScreeningResult)
        .where(ScreeningResult.session_id == session.id)
        .options(selectinload(ScreeningResult.findings), selectinload(ScreeningResult.student))
    ).all()
    for result in results:
        sync_result(session, result.student, result, result.findings, user=user)
    return len(results)


# ----------------------------------------------------------------- letters and time


def refresh(cases: Sequence[FollowupCase], *, on: date | None = None) -> int:
    """Bring cases without an outcome up to date with the letter register and the clock.

    Called on every read of a worklist and by ``flask followup expire``; it only moves
    cases forward along the dates it finds, so running it twice changes nothing.
    """
    waiting = [c for c in cases if c.state in (*PRE_OUTCOME, "lost")]
    if not waiting:
        return 0
    pairs = {(c.session_id, c.student_id) for c in waiting}
    letters: dict[tuple[int, int], Letter] = {}
    session_ids = {s for s, _ in pairs}
    for letter in db.session.scalars(
        select(Letter).where(Letter.session_id.in_(session_ids), Letter.kind == "referral")
    ):
        if (letter.session_id, letter.student_id) in pairs:
            letters[(letter.session_id, letter.student_id)] = letter
    cutoff = lost_cutoff(on)
    changed = 0
    for case_ in waiting:
        before = snapshot(case_, AUDIT_FIELDS)
        letter = letters.get((case_.session_id, case_.student_id))
        if letter is not None and letter.status in ("handed_out", "slip_returned"):
            stamp = (letter.status_at or letter.generated_at).date()
            if case_.letter_sent_on is None:
                case_.letter_sent_on = stamp
            if letter.status == "slip_returned" and case_.slip_returned_on is None:
                case_.slip_returned_on = stamp
        state = progress_state(case_, cutoff)
        if state != case_.state:
            move(case_, state)
        if snapshot(case_, AUDIT_FIELDS) != before:
            _audit(case_, "update", before, user=None, summary="Follow-up case updated")
            changed += 1
    return changed


def expire(*, on: date | None = None, school_ids: Sequence[int] | None = None) -> int:
    """``flask followup expire``: refresh every waiting case (lost after the configured
    number of days). Returns how many cases changed."""
    query = select(FollowupCase).where(FollowupCase.state.in_((*PRE_OUTCOME, "lost")))
    if school_ids is not None:
        query = query.where(FollowupCase.school_id.in_(school_ids))
    return refresh(db.session.scalars(query).all(), on=on)


def mark_letter_sent(case_: FollowupCase, on: date, *, user: User | None) -> None:
    """Record by hand that the letter went home (schools that print outside the system)."""
    _check_day(on, case_, "letter_sent_on")
    before = snapshot(case_, AUDIT_FIELDS)
    case_.letter_sent_on = on
    if case_.state in PRE_OUTCOME:
        move(case_, progress_state(case_))
    _audit(case_, "update", before, user=user, summary="Letter marked as sent")


def mark_slip_returned(case_: FollowupCase, on: date, *, user: User | None) -> None:
    _check_day(on, case_, "slip_returned_on")
    before = snapshot(case_, AUDIT_FIELDS)
    case_.slip_returned_on = on
    case_.letter_sent_on = case_.letter_sent_on or on
    if case_.state in (*PRE_OUTCOME, "lost"):
        move(case_, "slip_returned")
    _audit(case_, "update", before, user=user, summary="Slip marked as returned")


def close(case_: FollowupCase, *, user: User | None) -> None:
    if not case_.has_outcome:
        raise FollowupError(_("Record the outcome before closing the case."), "state")
    before = snapshot(case_, AUDIT_FIELDS)
    move(case_, "closed")
    _audit(case_, "update", before, user=user, summary="Follow-up case closed")


# ----------------------------------------------------------------- outcomes

_YES = {"yes", "y", "1", "true", "是", "有", "确诊", "confirmed", "treated", "已治疗"}
_NO = {"no", "n", "0", "false", "否", "无", "未确诊", "not confirmed", "untreated", "未治疗"}
_INTERVENTIONS = {
    "advice": "advice",
    "advice given": "advice",
    "建议": "advice",
    "已给建议": "advice",
    "指导": "advice",
    "clinic": "clinic",
    "referred to clinic": "clinic",
    "转诊": "clinic",
    "门诊": "clinic",
}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def _clean(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    return text.replace("−", "-")


def parse_bool(text: str, field_name: str) -> bool | None:
    value = _clean(text).lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise FollowupError(_("“%(value)s” is not yes or no.", value=text), field_name)


def parse_decimal(
    text: str, field_name: str, low: Decimal, high: Decimal, places: int, unit: str
) -> Decimal | None:
    value = _clean(text).removesuffix("°").removesuffix("D").removesuffix("d").strip()
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise FollowupError(_("“%(value)s” is not a number.", value=text), field_name) from None
    if not number.is_finite() or not low <= number <= high:
        raise FollowupError(
            _(
                "%(value)s is outside %(low)s to %(high)s %(unit)s.",
                value=text,
                low=low,
                high=high,
                unit=unit,
            ),
            field_name,
        )
    return number.quantize(Decimal(1).scaleb(-places))


def parse_int(text: str, field_name: str, low: int, high: int) -> int | None:
    value = _clean(text)
    if not value:
        return None
    if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
        raise FollowupError(
            _(
                "“%(value)s” is not a whole number from %(low)d to %(high)d.",
                value=text,
                low=low,
                high=high,
            ),
            field_name,
        )
    return int(value)


def parse_day(text: str, field_name: str) -> date | None:
    value = _clean(text)
    if not value:
        return None
    value = value.split(" ")[0]
    match = _DATE.match(value)
    if match is None and re.fullmatch(r"\d{8}", value):
        match = re.match(r"(\d{4})(\d{2})(\d{2})", value)
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise FollowupError(
            _("“%(value)s” is not a date (write it as 2026-11-03).", value=text), field_name
        ) from None


def parse_intervention(text: str) -> str | None:
    value = _clean(text).lower()
    if not value:
        return None
    if value in _INTERVENTIONS:
        return _INTERVENTIONS[value]
    raise FollowupError(
        _("“%(value)s” is not an intervention (advice or clinic).", value=text), "intervention"
    )


def _check_day(day: date, case_: FollowupCase, field_name: str) -> None:
    if day > today():
        raise FollowupError(_("The date cannot be in the future."), field_name)
    if day < case_.referred_on:
        raise FollowupError(
            _(
                "The date cannot be before the screening (%(day)s).",
                day=case_.referred_on.isoformat(),
            ),
            field_name,
        )


@dataclass
class Outcome:
    """A parsed, checked outcome for one case (the values the columns will hold)."""

    values: dict[str, Any] = field(default_factory=dict)


def parse_outcome(
    case_type: str, data: Mapping[str, Any], referred_on: date
) -> tuple[Outcome | None, dict[str, str]]:
    """Check an outcome as typed or uploaded; errors are per field, all of them at once."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = dict.fromkeys(OUTCOME_FIELDS)

    def take(name: str, parse: Any) -> Any:
        try:
            return parse()
        except FollowupError as exc:
            errors[exc.field or name] = str(exc.message)
            return None

    get = lambda name: str(data.get(name) or "")  # noqa: E731
    values["hospital"] = _clean(get("hospital"))[:100] or None
    values["doctor"] = _clean(get("doctor"))[:50] or None
    values["note"] = _clean(get("note"))[:2000] or None
    if len(_clean(get("hospital"))) > 100:
        errors["hospital"] = _("At most 100 characters.")
    if len(_clean(get("doctor"))) > 50:
        errors["doctor"] = _("At most 50 characters.")
    day = take("diagnosis_date", lambda: parse_day(get("diagnosis_date"), "diagnosis_date"))
    if day is None and "diagnosis_date" not in errors:
        errors["diagnosis_date"] = _("Enter the date of the diagnosis.")
    elif day is not None:
        if day > today():
            errors["diagnosis_date"] = _("The date cannot be in the future.")
        elif day < referred_on:
            errors["diagnosis_date"] = _(
                "The date cannot be before the screening (%(day)s).", day=referred_on.isoformat()
            )
    values["diagnosis_date"] = day

    if case_type in ("scoliosis", "myopia", "caries") and not values["hospital"]:
        errors.setdefault("hospital", _("Enter the hospital."))

    if case_type == "scoliosis":
        confirmed = take("confirmed", lambda: parse_bool(get("confirmed"), "confirmed"))
        cobb = take(
            "cobb_angle",
            lambda: parse_decimal(get("cobb_angle"), "cobb_angle", COBB_MIN, COBB_MAX, 1, "°"),
        )
        if cobb is not None:
            by_angle = rules.confirms_scoliosis(cobb)
            if confirmed is None:
                confirmed = by_angle
            elif confirmed != by_angle:
                errors["confirmed"] = (
                    _(
                        "A Cobb angle of 10° or more confirms scoliosis; %(angle)s° does not.",
                        angle=cobb,
                    )
                    if confirmed
                    else _(
                        "A Cobb angle of %(angle)s° confirms scoliosis (10° or more).", angle=cobb
                    )
                )
        elif confirmed and "cobb_angle" not in errors:
            errors["cobb_angle"] = _("Enter the Cobb angle that confirmed scoliosis.")
        if confirmed is None and "confirmed" not in errors and "cobb_angle" not in errors:
            errors["confirmed"] = _("Say whether scoliosis was confirmed.")
        values["confirmed"], values["cobb_angle"] = confirmed, cobb
    elif case_type == "myopia":
        confirmed = take("confirmed", lambda: parse_bool(get("confirmed"), "confirmed"))
        se = {}
        for eye in ("right", "left"):
            name = f"cyclo_se_{eye}"
            se[eye] = take(name, lambda n=name: parse_decimal(get(n), n, SE_MIN, SE_MAX, 2, "D"))
        measured = [v for v in se.values() if v is not None]
        if measured:
            by_se = any(v <= MYOPIA_SE for v in measured)
            if confirmed is None:
                confirmed = by_se
            elif confirmed != by_se:
                errors["confirmed"] = (
                    _("Cycloplegic SE of -0.50 D or less in an eye confirms myopia; these do not.")
                    if confirmed
                    else _("Cycloplegic SE of -0.50 D or less in an eye confirms myopia.")
                )
        elif confirmed and not any(k.startswith("cyclo_se") for k in errors):
            errors["cyclo_se_right"] = _("Enter the cycloplegic refraction of at least one eye.")
        if confirmed is None and not errors.keys() & {
            "confirmed",
            "cyclo_se_right",
            "cyclo_se_left",
        }:
            errors["confirmed"] = _("Say whether myopia was confirmed.")
        values["confirmed"] = confirmed
        values["cyclo_se_right"], values["cyclo_se_left"] = se["right"], se["left"]
    elif case_type == "caries":
        treated = take("treated", lambda: parse_bool(get("treated"), "treated"))
        teeth = take(
            "teeth_treated", lambda: parse_int(get("teeth_treated"), "teeth_treated", 0, MAX_TEETH)
        )
        if treated is None and "treated" not in errors:
            if teeth:
                treated = True
            else:
                errors["treated"] = _("Say whether the caries were treated.")
        if treated is False and teeth:
            errors["teeth_treated"] = _("Untreated, but %(n)d teeth treated?", n=teeth)
        values["treated"], values["teeth_treated"] = treated, teeth
    elif case_type == "weight":
        choice = take("intervention", lambda: parse_intervention(get("intervention")))
        if choice is None and "intervention" not in errors:
            errors["intervention"] = _("Choose advice given or referred to clinic.")
        values["intervention"] = choice
    return (None if errors else Outcome(values)), errors


def same_outcome(case_: FollowupCase, outcome: Outcome) -> bool:
    return case_.has_outcome and all(getattr(case_, k) == v for k, v in outcome.values.items())


def record_outcome(
    case_: FollowupCase,
    outcome: Outcome,
    *,
    user: User | None,
    source: str = "form",
    close_case: bool = True,
) -> bool:
    """Store an outcome (checked by :func:`parse_outcome`); closes the case unless asked
    not to. Returns False when nothing changed (a re-upload of the same file)."""
    if case_.state == "withdrawn":
        raise FollowupError(_("This referral was withdrawn; it takes no outcome."), "state")
    target = "closed" if close_case else "outcome_recorded"
    if same_outcome(case_, outcome) and (case_.state == target or case_.state == "closed"):
        return False
    before = snapshot(case_, AUDIT_FIELDS)
    for name, value in outcome.values.items():
        setattr(case_, name, value)
    case_.outcome_source = source
    case_.outcome_at = utcnow()
    case_.outcome_by_id = user.id if user else None
    if case_.state != target:
        if case_.state == "closed" and target == "outcome_recorded":
            move(case_, "outcome_recorded")
        elif case_.state in (*PRE_OUTCOME, "lost") and target == "closed":
            move(case_, "outcome_recorded")
            move(case_, "closed")
        else:
            move(case_, target)
    _audit(case_, "update", before, user=user, summary=f"Follow-up outcome recorded ({source})")
    return True


# ----------------------------------------------------------------- reading


def scoped_cases(user: User) -> Select:
    """Cases of the schools the user may see pupils of (access.py decides which)."""
    from ..access import school_ids_for, scoped_sessions

    query = select(FollowupCase)
    if user.role == "institution":
        return query.where(
            FollowupCase.session_id.in_(
                scoped_sessions(user).with_only_columns(ScreeningSession.id)
            )
        )
    ids = school_ids_for(user)
    return query if ids is None else query.where(FollowupCase.school_id.in_(ids))


@dataclass
class WorklistFilters:
    class_id: int | None = None
    case_type: str | None = None
    state: str | None = None


def worklist(school: School, filters: WorklistFilters, *, limit: int = 500) -> list[FollowupCase]:
    """Outstanding cases of a school by class, oldest referral first.

    Refreshes them first (letter register, lost-to-follow-up), so what the nurse reads
    is current without a scheduled job.
    """
    base = select(FollowupCase).where(FollowupCase.school_id == school.id)
    refresh(db.session.scalars(base.where(FollowupCase.state.in_((*PRE_OUTCOME, "lost")))).all())
    query = (
        base.join(Student, Student.id == FollowupCase.student_id)
        .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
        .options(
            selectinload(FollowupCase.student).selectinload(Student.school_class),
            selectinload(FollowupCase.session),
        )
        .order_by(
            SchoolClass.grade.is_(None),
            SchoolClass.grade,
            SchoolClass.name,
            FollowupCase.referred_on,
            Student.name,
            FollowupCase.id,
        )
        .limit(limit)
    )
    if filters.state in STATE_LABELS:
        query = query.where(FollowupCase.state == filters.state)
    else:
        query = query.where(FollowupCase.state.in_(OUTSTANDING))
    if filters.case_type in CASE_TYPES:
        query = query.where(FollowupCase.case_type == filters.case_type)
    if filters.class_id is not None:
        query = query.where(Student.class_id == filters.class_id)
    return list(db.session.scalars(query))


def next_case(case_: FollowupCase) -> FollowupCase | None:
    """The next outstanding case of the worklist after this one (for "save and next")."""
    rows = worklist(case_.school, WorklistFilters())
    ids = [c.id for c in rows if c.state in (*PRE_OUTCOME, "lost")]
    if case_.id in ids:
        later = ids[ids.index(case_.id) + 1 :]
        return db.session.get(FollowupCase, later[0]) if later else None
    return db.session.get(FollowupCase, ids[0]) if ids else None


def school_classes_with_cases(school: School) -> list[SchoolClass]:
    return list(
        db.session.scalars(
            select(SchoolClass)
            .where(
                SchoolClass.id.in_(
                    select(Student.class_id)
                    .join(FollowupCase, FollowupCase.student_id == Student.id)
                    .where(FollowupCase.school_id == school.id)
                )
            )
            .order_by(SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.name)
        )
    )


def pupil_cases(student: Student) -> list[FollowupCase]:
    return list(
        db.session.scalars(
            select(FollowupCase)
            .where(FollowupCase.student_id == student.id)
            # joined: the pupil record reads in a fixed number of queries, cases or not
            .options(joinedload(FollowupCase.session))
            .order_by(FollowupCase.referred_on.desc(), FollowupCase.case_type)
        )
    )


# ----------------------------------------------------------------- completion figures


@dataclass
class Completion:
    """Referred cases (not withdrawn) and those closed with an outcome, for one group."""

    key: Any
    label: str
    referred: int
    closed: int
    lost: int
    hidden: bool = False
    closed_hidden: bool = False
    lost_hidden: bool = False

    @property
    def rate(self) -> float | None:
        return self.closed / self.referred if self.referred else None


def _completion_query(conditions: Sequence[Any], cutoff: date) -> Select:
    counted = FollowupCase.state != "withdrawn"
    lost = or_(
        FollowupCase.state == "lost",
        and_(FollowupCase.state.in_(PRE_OUTCOME), FollowupCase.referred_on < cutoff),
    )
    return (
        select(
            FollowupCase.school_id.label("key"),
            func.sum(case((counted, 1), else_=0)).label("referred"),
            func.sum(case((FollowupCase.state == "closed", 1), else_=0)).label("closed"),
            func.sum(case((lost, 1), else_=0)).label("lost"),
        )
        .join(ScreeningSession, ScreeningSession.id == FollowupCase.session_id)
        .where(*conditions)
        .group_by(FollowupCase.school_id)
    )


def completion_by_school(
    scope: Any, *, suppress: bool = False
) -> tuple[list[Completion], Completion]:
    """Follow-up completion per school for a report scope (reports.services.ReportScope):
    cases closed with an outcome / cases referred. "Lost" counts cases without an
    outcome past the cut-off even before ``expire`` marked them, so it reads the same
    on every day. Officials' small cells are hidden as in the prevalence tables."""
    from ..reports.services import session_filter
    from ..reports.statistics import is_small, suppress_column, suppress_groups

    rows = db.session.execute(_completion_query(session_filter(scope), lost_cutoff())).all()
    names = dict(
        db.session.execute(
            select(School.id, School.name).where(School.id.in_([r.key for r in rows]))
        ).all()
    )
    out = [
        Completion(
            r.key,
            names.get(r.key, str(r.key)),
            int(r.referred or 0),
            int(r.closed or 0),
            int(r.lost or 0),
        )
        for r in rows
    ]
    out.sort(key=lambda c: c.label)
    total = Completion(
        None,
        _("Total"),
        sum(c.referred for c in out),
        sum(c.closed for c in out),
        sum(c.lost for c in out),
    )
    if suppress:
        hidden = suppress_groups([c.referred for c in out])
        closed_hidden = suppress_column([c.closed for c in out], [c.referred for c in out], hidden)
        lost_hidden = suppress_column([c.lost for c in out], [c.referred for c in out], hidden)
        for c, h, ch, lh in zip(out, hidden, closed_hidden, lost_hidden, strict=True):
            c.hidden, c.closed_hidden, c.lost_hidden = h, ch or h, lh or h
        total.hidden = is_small(total.referred)
        total.closed_hidden = total.hidden or is_small(total.closed)
        total.lost_hidden = total.hidden or is_small(total.lost)
    return out, total


def school_completion(school_id: int) -> Completion:
    """One school's figure over all its cases (the nurse's dashboard)."""
    row = db.session.execute(
        _completion_query([FollowupCase.school_id == school_id], lost_cutoff())
    ).first()
    if row is None:
        return Completion(school_id, "", 0, 0, 0)
    return Completion(
        school_id, "", int(row.referred or 0), int(row.closed or 0), int(row.lost or 0)
    )


def completion_export_rows(
    rows: Sequence[Completion], total: Completion
) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for the CSV/Excel export of the completion table."""
    hidden = "<5"
    headers = [
        _("School"),
        _("Referred"),
        _("Closed with outcome"),
        _("Lost to follow-up"),
        _("Completion"),
    ]
    data: list[list[Any]] = []
    for c in [*rows, total]:
        if c.hidden:
            data.append([c.label, hidden, hidden, hidden, hidden])
            continue
        rate = "" if c.rate is None else f"{c.rate * 100:.1f}%"
        data.append(
            [
                c.label,
                c.referred,
                hidden if c.closed_hidden else c.closed,
                hidden if c.lost_hidden else c.lost,
                hidden if c.closed_hidden else rate,
            ]
        )
    return headers, data


# ----------------------------------------------------------------- reminders


def reminders_for(cases: Sequence[FollowupCase], language_mode: str = "guardian") -> list[Any]:
    """One reminder per pupil over the pupil's cases still waiting for an outcome,
    in worklist order (the order the nurse hands them out)."""
    from .pdf import Reminder

    by_pupil: dict[int, list[FollowupCase]] = {}
    for case_ in cases:
        if case_.state in (*PRE_OUTCOME, "lost"):
            by_pupil.setdefault(case_.student_id, []).append(case_)
    out = []
    for group in by_pupil.values():
        student = group[0].student
        language = student.guardian_language if language_mode == "guardian" else language_mode
        language = language if language in ("zh", "en") else "zh"
        sent = [c.letter_sent_on for c in group if c.letter_sent_on]
        out.append(
            Reminder(
                language=language,
                school=group[0].school.name,
                pupil=student.name,
                class_grade=student.school_class.grade if student.school_class else None,
                class_name=student.school_class.name if student.school_class else "",
                student_number=student.masked_student_number,
                screened_on=min(c.referred_on for c in group),
                case_types=[t for t in CASE_TYPES if any(c.case_type == t for c in group)],
                letter_sent_on=min(sent) if sent else None,
                today=today(),
            )
        )
    return out


def audit_reminders(cases: Sequence[FollowupCase], *, user: User | None) -> None:
    """Printing reminders discloses health data on paper: one event per school."""
    schools: dict[int, list[int]] = {}
    for case_ in cases:
        schools.setdefault(case_.school_id, []).append(case_.id)
    for school_id, ids in schools.items():
        record_event(
            "export",
            "followup_reminder",
            school_id=school_id,
            summary=f"Follow-up reminders printed for {len(ids)} cases",
            after={"cases": ids},
            user=user,
        )
