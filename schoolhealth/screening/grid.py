"""What the class grid needs beyond saving: typed choice codes, reasons for not screening,
ages, and the questions asked about improbable values.

The grid is used by a nurse with a queue of pupils in front of her: every choice takes
one typed key, one key marks a pupil not screened, and a value that is possible but
improbable for this pupil (a typing slip, usually) is questioned before it is saved and
flagged. The improbability rules themselves are pure (:mod:`schoolhealth.rules.plausibility`);
this module words them and records confirmations.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import rules
from ..audit import record_event
from ..clock import local_today
from ..extensions import db
from ..models import NOT_SCREENED_REASONS, ScreeningResult, ScreeningSession, Student, User
from ..rules import plausibility
from ..rules.age import completed_months
from . import fields, results

# The key typed for each choice, per choice field (the first key of each choice is shown
# in the column header). The bend, prone and motion tests also take 0/1 (numeric keypad).
CHOICE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "glasses": (("0", "none"), ("1", "frame"), ("2", "contact"), ("3", "ortho_k")),
    "spine_general": (("0", "normal"), ("1", "abnormal")),
    "adams": (("-", "negative"), ("+", "positive"), ("0", "negative"), ("1", "positive")),
    "sagittal": (("0", "normal"), ("1", "kyphosis"), ("2", "lordosis"), ("3", "straight_back")),
    "prone_test": (("0", "resolved"), ("1", "persists"), ("-", "resolved"), ("+", "persists")),
    "motion_test": (("0", "resolved"), ("1", "persists"), ("-", "resolved"), ("+", "persists")),
}

# Why a pupil was not screened, with the key that sets it from any cell of the row.
NOT_SCREENED_LABELS = {
    "absent": _l("Absent"),
    "refused": _l("Refused"),
    "ill": _l("Ill"),
    "exempt": _l("Exempt"),
}
NOT_SCREENED_KEYS = (("a", "absent"), ("r", "refused"), ("i", "ill"), ("e", "exempt"))
# Jumps to the next pupil's first empty cell (saving the cell left).
NEXT_PUPIL_KEY = "n"

assert tuple(NOT_SCREENED_LABELS) == NOT_SCREENED_REASONS
assert tuple(code for _k, code in NOT_SCREENED_KEYS) == NOT_SCREENED_REASONS


def choice_keys(field_name: str) -> dict[str, str]:
    """Typed key -> stored code of one choice field ({} for other fields)."""
    return dict(CHOICE_KEYS.get(field_name, ()))


def choice_hint(field_name: str) -> str:
    """The header's key legend, e.g. "0/1" (only the first key of each choice)."""
    seen: list[str] = []
    keys: list[str] = []
    for key, code in CHOICE_KEYS.get(field_name, ()):
        if code not in seen:
            seen.append(code)
            keys.append(key)
    return "/".join(keys)


def choice_legend(field_name: str) -> str:
    """The header's tooltip: "0 Normal · 1 Abnormal" in the current language."""
    labels = dict(fields.CHOICES.get(field_name, ()))
    parts = []
    for key, code in CHOICE_KEYS.get(field_name, ()):
        parts.append(f"{key} {labels.get(code, code)}")
    return " · ".join(parts)


def not_screened_label(reason: str | None) -> str:
    """The translated reason, e.g. "Ill" ("" when screened)."""
    if not reason:
        return ""
    label = NOT_SCREENED_LABELS.get(reason)
    return str(label) if label is not None else reason


def age_text(birth_date: date | None, on: date | None) -> str:
    """Completed years and months at ``on``, e.g. "9 y 3 m" (岁/月 in Chinese)."""
    if birth_date is None or on is None or on < birth_date:
        return ""
    years, months = divmod(completed_months(birth_date, on), 12)
    return _("%(years)s y %(months)s m", years=years, months=months)


def age_date(result: ScreeningResult | None) -> date:
    """The date a pupil's age is computed at: the result's screening date, else today
    (the date a first entry would get)."""
    if result is not None and result.screening_date is not None:
        return result.screening_date
    return local_today()


# ----------------------------------------------------------------- improbable values

GROWTH_FIELDS = ("height_cm", "weight_kg")


def _previous_height(
    session: ScreeningSession, student: Student, before: date
) -> tuple[Decimal | None, date | None]:
    """The pupil's latest height measured in another session before ``before``."""
    row = db.session.execute(
        select(ScreeningResult.height_cm, ScreeningResult.screening_date)
        .where(
            ScreeningResult.student_id == student.id,
            ScreeningResult.session_id != session.id,
            ScreeningResult.height_cm.is_not(None),
            ScreeningResult.screening_date < before,
        )
        .order_by(ScreeningResult.screening_date.desc(), ScreeningResult.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def improbable(
    session: ScreeningSession, student: Student, field_name: str, text: str | None
) -> list[plausibility.Question]:
    """The questions saving ``text`` into ``field_name`` would raise (empty: none).

    Only growth values are questioned, and only questions the new value takes part in
    (a BMI question when height or weight changes). A value the parser refuses raises
    none here: the save reports its error.
    """
    if field_name not in GROWTH_FIELDS or not text or not text.strip():
        return []
    parsed, errors = rules.parse_measurements({field_name: text})
    if errors:
        return []
    # as stored (and shown): one decimal
    value = Decimal(getattr(parsed, field_name)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    result = results.get_result(session, student)
    height = value if field_name == "height_cm" else (result.height_cm if result else None)
    weight = value if field_name == "weight_kg" else (result.weight_kg if result else None)
    on = age_date(result)
    months = completed_months(student.birth_date, on) if student.birth_date else None
    previous, previous_date = (None, None)
    if field_name == "height_cm":
        previous, previous_date = _previous_height(session, student, on)
    found = plausibility.questions(
        rules.Sex(student.sex),
        months,
        Decimal(height) if height is not None else None,
        Decimal(weight) if weight is not None else None,
        previous_height_cm=previous,
        previous_date=previous_date,
    )
    if field_name == "weight_kg":
        found = [q for q in found if q.key == "bmi_extreme"]
    return found


def question_message(question: plausibility.Question) -> str:
    """One question in the user's language."""
    p = question.params
    if question.key == "height_for_age":
        return _(
            "Height %(value)s cm is unusual at %(years)s years %(months)s months (plausible "
            "%(min)s–%(max)s cm).",
            value=p["value"],
            years=p["years"],
            months=p["months"],
            min=p["min"],
            max=p["max"],
        )
    if question.key == "bmi_extreme":
        return _(
            "These values give a BMI of %(bmi)s, outside %(min)s–%(max)s: check height and weight.",
            bmi=p["bmi"],
            min=p["min"],
            max=p["max"],
        )
    if question.key == "height_dropped":
        earlier = p.get("previous_date")
        return _(
            "Height %(value)s cm is %(drop)s cm below the %(previous)s cm measured on %(date)s.",
            value=p["value"],
            drop=p["drop"],
            previous=p["previous"],
            date=earlier.isoformat() if isinstance(earlier, date) else "?",
        )
    return question.message


def record_confirmation(
    session: ScreeningSession,
    student: Student,
    field_name: str,
    value: str | None,
    questions: list[plausibility.Question],
    *,
    user: User | None,
) -> None:
    """Audit that the user confirmed an improbable value (who, when, which questions)."""
    result = results.get_result(session, student)
    if result is None:
        return
    record_event(
        "confirm",
        "screening_result",
        result.id,
        school_id=session.school_id,
        summary=(
            f"{student.student_number} in session {session.id}: improbable {field_name} "
            f"{value} confirmed ({', '.join(q.key for q in questions)})"
        ),
        after={
            "field": field_name,
            "value": value,
            "confirmed": [q.key for q in questions],
            "reasons": [q.message for q in questions],
        },
        user=user,
    )


def confirmation_payload(questions: list[plausibility.Question]) -> dict[str, Any]:
    """The JSON of a save that needs confirmation (the grid asks, then sends confirm)."""
    messages = [question_message(q) for q in questions]
    return {
        "needs_confirmation": True,
        "reasons": [q.key for q in questions],
        "message": " ".join(messages),
        "messages": messages,
    }


# ----------------------------------------------------------------- evidence

# The stored values behind each finding code, shown beside its chip so the nurse sees
# why a pupil is flagged (and spots a slip) without opening the record.
EVIDENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "weight_status": ("bmi",),
    "thinness": ("bmi",),
    "stunting": ("height_cm",),
    "vision_right": ("ucva_right", "cva_right"),
    "vision_left": ("ucva_left", "cva_left"),
    "myopia_right": ("ucva_right", "se_right"),
    "myopia_left": ("ucva_left", "se_left"),
    "spine": ("adams", "atr_max", "motion_test", "sagittal", "prone_test"),
    "caries": ("caries_teeth", "dmft", "DMFT"),
}
_EVIDENCE_NAMES = {
    "bmi": _l("BMI"),
    "height_cm": _l("Height"),
    "ucva_right": _l("UCVA R"),
    "ucva_left": _l("UCVA L"),
    "cva_right": _l("CVA R"),
    "cva_left": _l("CVA L"),
    "se_right": _l("SE R"),
    "se_left": _l("SE L"),
    "adams": _l("Bend test"),
    "atr_max": _l("ATR"),
    "motion_test": _l("Motion"),
    "sagittal": _l("Sagittal"),
    "prone_test": _l("Prone"),
    "caries_teeth": _l("Decayed"),
    "dmft": _l("dmft"),
    "DMFT": _l("DMFT"),
}
_UNITS = {"height_cm": " cm", "atr_max": "°", "se_right": " D", "se_left": " D"}


def flag_evidence(result: ScreeningResult | None, code: str) -> str:
    """ "UCVA R 4.6 · SE R -1.50 D": the values the finding ``code`` was read from."""
    if result is None:
        return ""
    parts = []
    for name in EVIDENCE_FIELDS.get(code, ()):
        value = getattr(result, name, None)
        if value is None or value == "":
            continue
        if name in fields.CHOICES:
            words = dict(fields.CHOICES[name])
            text = str(words.get(value, value))
        elif isinstance(value, Decimal):
            text = format(value, "f")
        else:
            text = str(value)
        parts.append(f"{_EVIDENCE_NAMES[name]} {text}{_UNITS.get(name, '')}")
    return " · ".join(parts)


def with_evidence(
    result: ScreeningResult | None, chips: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The chips with an ``evidence`` text each (see :func:`flag_evidence`)."""
    return [{**chip, "evidence": flag_evidence(result, chip["code"])} for chip in chips]


# ----------------------------------------------------------------- progress


def not_screened_counts(session: ScreeningSession) -> dict[int | None, dict[str, int]]:
    """Per class: how many active pupils were not screened, by reason ({class: {reason: n}})."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(Student.class_id, ScreeningResult.not_screened_reason, func.count())
        .join(ScreeningResult, ScreeningResult.student_id == Student.id)
        .where(
            ScreeningResult.session_id == session.id,
            ScreeningResult.absent.is_(True),
            Student.school_id == session.school_id,
            Student.active.is_(True),
        )
        .group_by(Student.class_id, ScreeningResult.not_screened_reason)
    ).all()
    counts: dict[int | None, dict[str, int]] = {}
    for class_id, reason, count in rows:
        per_class = counts.setdefault(class_id, {})
        key = reason or NOT_SCREENED_REASONS[0]
        per_class[key] = per_class.get(key, 0) + int(count)
    return counts


def not_screened_text(counts: dict[str, int]) -> str:
    """ "Absent 2 · Ill 1" in the current language, in NOT_SCREENED_REASONS order."""
    return " · ".join(
        f"{not_screened_label(reason)} {counts[reason]}"
        for reason in NOT_SCREENED_REASONS
        if counts.get(reason)
    )
