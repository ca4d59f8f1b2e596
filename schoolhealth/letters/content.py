"""What a letter says: plain data built from the pupil, the rules' evaluation and wording.

Pure Python (no Flask, no database): the web views, the CLI, the background job and the
benchmark all build a :class:`LetterContent` here and hand it to :mod:`.pdf`, so every
path prints the same letter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .. import rules
from .texts import fill

# Findings appear in this order: growth, vision by eye, spine, dental.
FINDING_ORDER = (
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
TYPE_ORDER = ("growth", "vision", "spine", "dental")
_UNCLASSIFIED = frozenset({rules.NOT_APPLICABLE, rules.NOT_EVALUABLE})


@dataclass(frozen=True)
class PupilFacts:
    """The pupil and session as printed; ``masked_id`` is already masked."""

    name: str
    grade: int | None
    class_name: str | None
    student_number: str
    masked_id: str
    sex: str
    birth_date: date
    school_name: str
    session_name: str
    screening_date: date


@dataclass(frozen=True)
class FindingFacts:
    """One stored finding (a ``findings`` row, or a rules Finding)."""

    code: str
    category: str
    advice_key: str
    screening_type: str
    refer: bool = False


@dataclass(frozen=True)
class Item:
    """One paragraph of the findings: its title(s), what it means, what to do."""

    title: str
    meaning: str
    steps: str


@dataclass(frozen=True)
class LetterContent:
    """Everything one letter prints, already in its language."""

    language: str
    title: str
    subject: str
    outside: str
    fold_hint: str
    school: str
    session_line: str
    facts: tuple[tuple[str, str], ...]
    salutation: str
    intro: str
    table_title: str
    table_header: tuple[str, str, str]
    rows: tuple[tuple[str, str, str], ...]
    findings_title: str
    meaning_label: str
    steps_label: str
    items: tuple[Item, ...]
    closing: str
    signature: str
    online: str
    url: str
    slip_title: str
    slip_hint: str
    slip_ids: tuple[tuple[str, str], ...]
    slip_lines: tuple[str, ...]
    slip_footer: tuple[str, ...]
    continued: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def _family(code: str) -> tuple[str, str | None]:
    """("vision", "right") for "vision_right"; ("spine", None) for "spine"."""
    for eye in ("right", "left"):
        if code.endswith("_" + eye):
            return code[: -len(eye) - 1], eye
    return code, None


def _advice(advice_key: str) -> str:
    if advice_key.startswith("vision.reduced_"):
        return "vision.reduced"
    return advice_key


def finding_title(words: Mapping[str, str], finding: FindingFacts) -> str:
    family, eye = _family(finding.code)
    title = words.get(f"finding.{family}.{finding.category}", f"{finding.code}: {finding.category}")
    if eye is not None:
        title += words[f"eye.{eye}"]
    return title


def _items(
    words: Mapping[str, str], findings: Sequence[FindingFacts], language: str
) -> tuple[Item, ...]:
    """One item per advice: findings that share advice (both eyes) share one paragraph."""
    order = {code: i for i, code in enumerate(FINDING_ORDER)}
    grouped: dict[str, list[str]] = {}
    for finding in sorted(findings, key=lambda f: (order.get(f.code, 99), f.code)):
        key = _advice(finding.advice_key)
        if f"advice.{key}.meaning" not in words:
            key = "other"
        grouped.setdefault(key, []).append(finding_title(words, finding))
    separator = "、" if language == "zh" else "; "
    return tuple(
        Item(
            title=separator.join(dict.fromkeys(titles)),
            meaning=words[f"advice.{key}.meaning"],
            steps=words[f"advice.{key}.steps"],
        )
        for key, titles in grouped.items()
    )


def _num(value: Any, places: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = Decimal(str(round(value, places)))
    return format(Decimal(value).quantize(Decimal(1).scaleb(-places)), "f")


def _signed(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.01")), "f")
    return text if value < 0 else "+" + text


def _rows(
    words: Mapping[str, str],
    types: Sequence[str],
    measurements: rules.Measurements,
    evaluation: rules.Evaluation | None,
    atr_positive: Decimal,
) -> tuple[tuple[str, str, str], ...]:
    """The measurements that matter for these screenings, with the cut-off for age and sex."""
    rows: list[tuple[str, str, str]] = []
    details: dict[str, Mapping[str, Any]] = {}
    if evaluation is not None:
        details = {f.code: f.detail for f in evaluation.findings}
    m = measurements
    if "growth" in types:
        stunting = details.get("stunting", {}).get("stunting_height_max")
        if m.height_cm is not None:
            cut = fill(words["cut.height"], height=stunting) if stunting else ""
            rows.append((words["m.height"], f"{_num(m.height_cm)} cm", cut))
        if m.weight_kg is not None:
            rows.append((words["m.weight"], f"{_num(m.weight_kg)} kg", ""))
        if evaluation is not None and evaluation.bmi is not None:
            weight = details.get("weight_status", {})
            thin = details.get("thinness", {}).get("mild_max")
            cuts = []
            if weight.get("overweight_cutoff") is not None:
                cuts.append(
                    fill(
                        words["cut.bmi"],
                        overweight=_num(weight["overweight_cutoff"]),
                        obese=_num(weight.get("obesity_cutoff")),
                    )
                )
            if thin is not None:
                cuts.append(fill(words["cut.bmi_thin"], thin=_num(thin)))
            rows.append((words["m.bmi"], _num(evaluation.bmi), "; ".join(cuts)))
    if "vision" in types:
        for eye in ("right", "left"):
            ucva = getattr(m, f"ucva_{eye}")
            if ucva is not None:
                rows.append((words[f"m.ucva_{eye}"], _num(ucva), words["cut.ucva"]))
        for eye in ("right", "left"):
            se = getattr(evaluation, f"se_{eye}", None) if evaluation else None
            if se is None:
                se = getattr(m, f"se_{eye}")
            if se is not None:
                rows.append((words[f"m.se_{eye}"], f"{_signed(Decimal(se))} D", words["cut.se"]))
    if "spine" in types and evaluation is not None and evaluation.atr_max is not None:
        rows.append(
            (
                words["m.atr"],
                f"{_num(evaluation.atr_max)}°",
                fill(words["cut.atr"], atr=atr_positive),
            )
        )
    if "dental" in types and m.caries_teeth is not None:
        count = len(m.caries_teeth)
        rows.append((words["m.caries"], fill(words["teeth"], count=count), words["cut.caries"]))
    return tuple(rows)


def _slip_lines(words: Mapping[str, str], types: Sequence[str]) -> tuple[str, ...]:
    lines: list[str] = []
    for t in TYPE_ORDER:
        if t not in types:
            continue
        lines.append(words[f"slip_{t}"])
        if t == "vision":
            lines.append(words["slip_vision_diagnosis"])
    return tuple(lines)


def build_content(
    pupil: PupilFacts,
    findings: Sequence[FindingFacts],
    words: Mapping[str, str],
    *,
    language: str,
    measurements: rules.Measurements,
    evaluation: rules.Evaluation | None,
    code: str,
    url: str,
    expires: date,
    atr_positive: Decimal = Decimal(5),
) -> LetterContent:
    """The letter of one pupil: a referral letter with findings, else a normal summary."""
    shown = tuple(f for f in findings if f.category not in _UNCLASSIFIED)
    types = sorted({f.screening_type for f in shown}, key=TYPE_ORDER.index)
    if not shown and evaluation is not None:
        types = [t.value for t in rules.ScreeningType if t in evaluation.screened]
        types.sort(key=TYPE_ORDER.index)
    date_text = pupil.screening_date.isoformat()
    code_text = f"{code[:4]}-{code[4:8]}-{code[8:]}" if len(code) == 12 else code
    values = {
        "name": pupil.name,
        "school": pupil.school_name,
        "session": pupil.session_name,
        "date": date_text,
        "url": url.rsplit("/", 1)[0] if url else "",
        "code": code_text,
        "expires": expires.isoformat(),
    }
    class_text = (
        fill(words["class_label"], grade=pupil.grade, class_name=pupil.class_name)
        if pupil.grade is not None
        else "—"
    )
    age = format(evaluation.age_band, "f") if evaluation is not None else ""
    sex = words.get(f"sex_{pupil.sex}", pupil.sex)
    return LetterContent(
        language=language,
        title=words["title"],
        subject=f"{pupil.session_name} · {pupil.name}",
        outside=fill(words["outside"], **values),
        fold_hint=words["fold_hint"],
        school=pupil.school_name,
        session_line=f"{words['title']} · {pupil.session_name}",
        facts=(
            (words["facts_name"], pupil.name),
            (words["facts_class"], class_text),
            (words["facts_date"], date_text),
        ),
        salutation=fill(words["salutation"], **values),
        intro=fill(words["intro_referral" if shown else "intro_summary"], **values),
        table_title=words["table_title"],
        table_header=(
            words["col_measure"],
            words["col_value"],
            fill(words["col_cutoff"], age=age, sex=sex),
        ),
        rows=_rows(
            words,
            types,
            measurements,
            evaluation,
            atr_positive,
        ),
        findings_title=words["findings_title"] if shown else "",
        meaning_label=words["meaning_label"],
        steps_label=words["steps_label"],
        items=_items(words, shown, language),
        closing=words["closing"],
        signature=fill(words["signature"], **values),
        online=fill(words["online"], **values),
        url=url,
        slip_title=words["slip_title"] if shown else "",
        slip_hint=words["slip_hint"],
        slip_ids=(
            (words["slip_pupil"], pupil.name),
            (words["facts_class"], class_text),
            (words["slip_number"], pupil.student_number),
            (words["slip_id"], pupil.masked_id or "—"),
        ),
        slip_lines=_slip_lines(words, types) if shown else (),
        slip_footer=(
            words["slip_doctor"],
            words["slip_hospital"],
            words["slip_date"],
            words["slip_guardian"],
        ),
        continued=words["page_continued"],
    )
