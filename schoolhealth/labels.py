"""What stored codes read as on a page: classes, sexes, lists, audit actions and fields.

The database keeps language-neutral values ("3"/"2" for a class, "M"/"F", "update",
"school_id"): a record is the same whoever wrote it, and the audit trail is a legal record
that must not depend on the writer's language. These helpers translate them when shown,
in the reader's language. Templates reach them as filters and globals (app.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext, lazy_pgettext, pgettext
from flask_babel import lazy_gettext as _l

SEX_LABELS: dict[str, Any] = {"M": _l("male"), "F": _l("female")}


def sex_label(code: str | None) -> str:
    """ "M" -> "male" / 男; an unknown code is shown as it is."""
    label = SEX_LABELS.get(code or "")
    return str(label) if label is not None else (code or "")


# Grades as Chinese schools write them: 一年级…六年级 (小学), 七年级…九年级 (初中), 高一…高三.
CHINESE_GRADES = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "七年级",
    8: "八年级",
    9: "九年级",
    10: "高一",
    11: "高二",
    12: "高三",
}


# Growth references by the name of their standard, never the stored code ("wst586").
GROWTH_REFERENCE_NAMES = {
    "wst586": "WS/T 586-2018",
    "who2007": "WHO 2007",
    "cdc2000": "CDC 2000",
}


def growth_reference_label(code: str | None) -> str:
    """ "wst586" -> "WS/T 586-2018": the standard's own name, the same in both languages."""
    return GROWTH_REFERENCE_NAMES.get(code or "", code or "—")


def _chinese() -> bool:
    from flask_babel import get_locale

    locale = get_locale()
    return locale is not None and locale.language == "zh"


def grade_label(grade: int | None) -> str:
    """A grade as people say it: "Grade 3" / 三年级, "Grade 10" / 高一."""
    if grade is None:
        return "—"
    if _chinese() and grade in CHINESE_GRADES:
        return CHINESE_GRADES[grade]
    return gettext("Grade %(grade)s", grade=grade)


def class_label(grade: int | None, name: str | None) -> str:
    """A class as people say it: "Grade 3, class 2" / 三年级（2）班; "—" for no class.

    ``SchoolClass.label`` ("3-2") stays for compact technical uses (logs, audit summaries).
    """
    if grade is None or name is None:
        return "—"
    if _chinese() and grade in CHINESE_GRADES:
        # a numbered class is written 三年级（2）班; a named one (实验班) as it is
        if name.isdigit():
            return f"{CHINESE_GRADES[grade]}（{name}）班"
        return f"{CHINESE_GRADES[grade]}{name}" + ("" if name.endswith("班") else "班")
    return gettext("Grade %(grade)s, class %(name)s", grade=grade, name=name)


def school_class_label(school_class: Any) -> str:
    """The ``|class_name`` filter: :func:`class_label` of a SchoolClass (or None)."""
    if school_class is None:
        return "—"
    return class_label(school_class.grade, school_class.name)


def join_list(items: Iterable[Any], labels: Mapping[Any, Any] | None = None) -> str:
    """Items joined as the language lists them: "a, b" in English, "a、b" in Chinese.

    With ``labels``, each item is shown as its label (an item without one as it is).
    """
    if labels is not None:
        items = (labels.get(item, item) for item in items)
    return pgettext("list separator", ", ").join(str(item) for item in items)


# --- the audit trail -------------------------------------------------------------------

AUDIT_ACTIONS: dict[str, Any] = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "activate": _l("Activated"),
    "deactivate": _l("Deactivated"),
    "reactivate": _l("Reactivated"),
    "reopen": _l("Reopened"),
    "set_password": _l("Password set"),
    "change_password": _l("Password changed by its owner"),
    "unlock": _l("Unlocked"),
    "lockout": _l("Locked after failed sign-ins"),
    "login": _l("Signed in"),
    "logout": _l("Signed out"),
    "view": _l("Viewed"),
    "export": _l("Exported"),
    "import": _l("Imported"),
    "promote": _l("Promoted to the next school year"),
    "backup": _l("Backed up"),
    "restore": _l("Restored"),
    "generate": _l("Generated"),
    "download": _l("Downloaded"),
    "parent_access": _l("Opened by a parent"),
    "parent_denied": _l("Refused to a parent"),
}

AUDIT_ENTITIES: dict[str, Any] = {
    "district": _l("District"),
    "school": _l("School"),
    "institution": _l("Screening institution"),
    "user": _l("User account"),
    "student": _l("Pupil"),
    "class": _l("Class"),
    "roster": _l("Roster"),
    "screening_session": _l("Screening session"),
    "screening_result": _l("Screening result"),
    "screening_results": _l("Screening result"),
    "report": _l("Report"),
    "screening_flags": _l("Flagged pupils"),
    "class_grid": _l("Class grid"),
    "database": _l("Database"),
    "letter": _l("Parent letter"),
    "letter_batch": _l("Parent letters (batch)"),
    "letter_text": _l("Letter wording"),
}

# Keys of an event's before/after; a key without a label is shown as it is.
AUDIT_FIELDS: dict[str, Any] = {
    "name": lazy_pgettext("not a person", "Name"),
    "code": _l("Code"),
    "growth_reference": _l("Growth reference"),
    "district_id": _l("District"),
    "school_id": _l("School"),
    "institution_id": _l("Screening institution"),
    "username": _l("Username"),
    "display_name": _l("Display name"),
    "role": _l("Role"),
    "active": _l("Active"),
    "locale": _l("Language"),
    "password_changed": _l("Password changed"),
    "locked_until": _l("Locked until"),
    "failed_logins": _l("Failed sign-ins"),
    "student_number": _l("Student number"),
    "sex": _l("Sex"),
    "birth_date": _l("Birth date"),
    "class_id": _l("Class"),
    "class": _l("Class"),
    "id_number": _l("Resident ID number"),
    "guardian_phone": _l("Guardian phone"),
    "guardian_language": _l("Letter language"),
    "school_year": _l("School year"),
    "grade": _l("Grade"),
    "start_date": _l("Start date"),
    "end_date": _l("End date"),
    "types": _l("Screenings"),
    "status": _l("Status"),
    "ruleset_version": _l("Rule set"),
    "rule_options": _l("Rule options"),
    "screening_date": _l("Screening date"),
    "absent": _l("Absent"),
    "file": _l("File"),
    "format": _l("Format"),
    "filters": _l("Filters"),
    "rows": _l("Rows"),
    "pupils": _l("Pupils"),
    "pupil_ids": _l("Pupils shown (ids)"),
    "session_id": _l("Screening session"),
    "page": _l("Page"),
    "include_inactive": _l("Including pupils who left"),
    "schools": _l("Schools"),
    "created": _l("new pupils"),
    "updated": _l("updated"),
    "unchanged": _l("unchanged"),
    "classes_created": _l("new classes"),
    "skipped": _l("rows skipped"),
    "promoted": _l("Pupils promoted"),
    "graduated": _l("Pupils graduated"),
    "graduating_grades": _l("Graduating grades"),
    "atr_positive_degrees": _l("ATR threshold (°)"),
    "myopia_se_dioptres": _l("Myopia SE threshold (D)"),
    "myopia_se_operator": _l("Myopia SE comparison"),
    "sealant_first_molar_ages": _l("Sealant ages, first molars"),
    "sealant_second_molar_ages": _l("Sealant ages, second molars"),
    "adult_bmi": _l("Adult BMI cutoffs"),
    "source": _l("Source"),
    "results": _l("Results"),
    "flagged": _l("Flagged"),
    "classes": _l("Classes"),
    "institution": _l("Screening institution"),
    "school": _l("School"),
    "district": _l("District"),
    "user": _l("User"),
}

# Where a key means something else for one kind of record: a pupil's name is 姓名.
AUDIT_ENTITY_FIELDS: dict[tuple[str, str], Any] = {
    ("student", "name"): _l("Name"),
}


def audit_value(value: Any, key: str = "") -> str:
    """A before/after value in the reader's words: Yes/No, a role, a status, a standard.

    Codes the trail stores ("in_progress", "nurse", "wst586", True) are shown as the pages
    show them; a mapping (rule options, filters) becomes "label: value" pairs.
    """
    from .admin.forms import ROLE_LABELS
    from .screening.fields import STATUS_LABELS, TYPE_LABELS

    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, dict):
        return pgettext("list separator", ", ").join(
            f"{audit_field_label(str(k))}: {audit_value(v, str(k))}" for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return join_list(audit_value(v, key) for v in value)
    text = str(value)
    if key == "types":
        return join_list((t for t in text.split(",") if t), TYPE_LABELS)
    by_key: dict[str, Mapping[str, Any]] = {
        "role": ROLE_LABELS,
        "status": STATUS_LABELS,
        "sex": SEX_LABELS,
        "growth_reference": GROWTH_REFERENCE_NAMES,
        "locale": LANGUAGE_NAMES,
        "guardian_language": LANGUAGE_NAMES,
    }
    label = by_key.get(key, {}).get(text)
    return str(label) if label is not None else text


LANGUAGE_NAMES: dict[str, str] = {"zh_Hans_CN": "简体中文", "zh": "中文", "en": "English"}


def audit_summary(action: str, entity: str, after: Any, before: Any) -> str:
    """A one-line description in the reader's language, for readers of other languages
    than the stored summary's English (which stays the legal record, on the event page)."""
    data = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
    name = next((str(data[k]) for k in ("name", "username", "code", "file") if data.get(k)), "")
    parts = [audit_action_label(action), audit_entity_label(entity)]
    if name:
        parts.append(name)
    return " · ".join(parts)


def audit_action_label(code: str) -> str:
    label = AUDIT_ACTIONS.get(code)
    return str(label) if label is not None else code


# Record types written under two codes (one result, or a bulk write of many) are one type
# to a reader: the audit filter lists it once and finds both.
AUDIT_ENTITY_SAME_AS = {"screening_results": "screening_result"}


def audit_entity_type(code: str) -> str:
    """The record type a code belongs to for filtering ("screening_results" -> result)."""
    return AUDIT_ENTITY_SAME_AS.get(code, code)


def audit_entity_codes(entity_type: str) -> list[str]:
    """Every code stored for one record type."""
    return [entity_type, *(c for c, t in AUDIT_ENTITY_SAME_AS.items() if t == entity_type)]


def audit_entity_label(code: str) -> str:
    label = AUDIT_ENTITIES.get(code)
    return str(label) if label is not None else code


def audit_field_label(key: str, entity: str | None = None) -> str:
    label = AUDIT_ENTITY_FIELDS.get((entity or "", key)) or AUDIT_FIELDS.get(key)
    return str(label) if label is not None else key
