"""Evaluation: validate measurements, classify each screening, explain the result.

Two entry points share one set of classifiers (``bmi.classify_growth``,
``vision.classify_eye``, ``spine.classify_spine``, ``dental.classify_dental``):

* :func:`evaluate` for one pupil, returning findings with their standard, clause and
  the numbers used (the nurse grid, letters, the pupil page);
* :func:`classify_row` for bulk work: integer inputs (see :func:`fast_row`) in, a tuple
  of evaluation.md codes out, at several hundred thousand rows a second.

Both go through the same classifier functions, so an upload and the grid always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from . import bmi, dental, spine, vision
from .age import Age, compute_age
from .errors import FieldError, InvalidMeasurement, out_of_range
from .fields import CHOICE_FIELDS, RANGE_OF_FIELD
from .ruleset import DEFAULT_CONFIG, RULESET_VERSION, RuleConfig
from .tables import constants, plausible_ranges
from .types import (
    MEASUREMENT_FIELDS,
    NOT_APPLICABLE,
    NOT_EVALUABLE,
    Evaluation,
    Finding,
    Measurements,
    ScreeningType,
    Sex,
)

# ----------------------------------------------------------------- validation


def coerce_number(field: str, value: object) -> Decimal:
    """A Decimal from Decimal / int / float (floats via their shortest repr)."""
    if isinstance(value, bool):
        raise InvalidMeasurement(
            field, value, "a number", f"{field}: {value} is not a number", key="not_a_number"
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        raise InvalidMeasurement(
            field, value, "a number", f"{field}: {value} is not a number", key="not_a_number"
        )
    if not number.is_finite():
        raise InvalidMeasurement(
            field, value, "a number", f"{field}: {value} is not a number", key="not_a_number"
        )
    return number


def check_range(field: str, value: Decimal) -> Decimal:
    """Range and decimal places of a results.md numeric field (rules.toml [plausible])."""
    spec = plausible_ranges()[RANGE_OF_FIELD[field]]
    if not spec.low <= value <= spec.high:
        raise out_of_range(field, value, spec.low_text, spec.high_text, spec.unit)
    if value != value.quantize(Decimal(1).scaleb(-spec.decimals)):
        places = (
            "no decimals"
            if spec.decimals == 0
            else f"at most {spec.decimals} decimal" + ("s" if spec.decimals > 1 else "")
        )
        raise InvalidMeasurement(
            field,
            value,
            f"{spec.low_text}-{spec.high_text} {spec.unit}, {places}",
            f"{field}: {format(value, 'f')} has too many decimal places (allowed: "
            f"{spec.low_text}-{spec.high_text} {spec.unit}, {places})",
            key="too_many_decimals",
            params={"decimals": spec.decimals},
        )
    return value


def field_problems(m: Measurements) -> list[InvalidMeasurement]:
    """Every invalid field of ``m`` (single-field checks, then cross-field checks)."""
    problems: list[InvalidMeasurement] = []
    bad: set[str] = set()
    values = m.__dict__
    for name in MEASUREMENT_FIELDS:
        value = values[name]
        if value is None:
            continue
        try:
            if name in ("dmft", "DMFT"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidMeasurement(
                        name,
                        value,
                        "a whole number",
                        f"{name}: {value} is not a whole number",
                        key="not_a_number",
                    )
                check_range(name, Decimal(value))
            elif name in RANGE_OF_FIELD:
                check_range(name, coerce_number(name, value))
            elif name in CHOICE_FIELDS:
                allowed = CHOICE_FIELDS[name]
                if value not in allowed:
                    raise InvalidMeasurement(
                        name,
                        value,
                        " / ".join(allowed),
                        f"{name}: {value} is not one of {', '.join(allowed)}",
                        key="unknown_choice",
                        params={"choices": ", ".join(allowed)},
                    )
            elif name in dental.TOOTH_LIST_FIELDS:
                if not isinstance(value, tuple):
                    raise InvalidMeasurement(
                        name,
                        value,
                        dental.FDI_ALLOWED,
                        f"{name}: expected a tuple of tooth codes",
                        key="invalid_tooth_code",
                    )
                dental.check_tooth_list(name, value)
        except InvalidMeasurement as exc:
            problems.append(exc)
            bad.add(name)
    if not isinstance(m.absent, bool):
        problems.append(InvalidMeasurement("absent", m.absent, "true or false"))
    elif m.absent and m.present():
        names = ", ".join(sorted(m.present()))
        problems.append(
            InvalidMeasurement(
                "absent",
                "yes",
                "no measurements for an absent pupil",
                f"absent: the pupil is marked absent but has measurements ({names})",
                key="absent_with_measurements",
                params={"fields": names},
            )
        )
    for eye in ("right", "left"):
        names = (f"sph_{eye}", f"cyl_{eye}", f"se_{eye}")
        if bad.intersection(names):
            continue
        sph, cyl, se = (getattr(m, n) for n in names)
        if sph is not None and cyl is not None and se is not None:
            computed = coerce_number(names[0], sph) + coerce_number(names[1], cyl) / 2
            given = coerce_number(names[2], se)
            if abs(given - computed) > vision.SE_TOLERANCE_DIOPTRES:
                problems.append(
                    InvalidMeasurement(
                        names[2],
                        given,
                        f"{format(computed, 'f')} +- {vision.SE_TOLERANCE_DIOPTRES} D "
                        f"(sph_{eye} + cyl_{eye}/2)",
                        f"se_{eye}: {format(given, 'f')} disagrees with sph_{eye} + cyl_{eye}/2 = "
                        f"{format(computed, 'f')} D",
                        key="se_inconsistent",
                        params={"computed": format(computed, "f")},
                    )
                )
    if not bad.intersection(dental.TOOTH_LIST_FIELDS):
        try:
            dental.check_teeth_consistency(
                m.caries_teeth, m.filled_teeth, m.missing_teeth, m.sealed_teeth
            )
        except InvalidMeasurement as exc:
            problems.append(exc)
        lists = (m.caries_teeth, m.filled_teeth, m.missing_teeth)
        if any(v is not None for v in lists) and not bad.intersection({"dmft", "DMFT"}):
            counts = dental.code_counts(*(v or () for v in lists))
            for name in ("dmft", "DMFT"):
                given = getattr(m, name)
                if given is not None and given != counts[name]:
                    problems.append(
                        InvalidMeasurement(
                            name,
                            given,
                            f"{counts[name]} (from the tooth codes)",
                            f"{name}: {given} disagrees with the tooth codes, which give "
                            f"{counts[name]}",
                            key="count_mismatch",
                            params={"computed": counts[name]},
                        )
                    )
    return problems


def check_measurements(m: Measurements) -> list[FieldError]:
    """Every problem of ``m`` as FieldErrors (what a form shows next to the inputs)."""
    return [p.to_field_error() for p in field_problems(m)]


# ----------------------------------------------------------------- compiled rules


def _policy() -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in constants()["referral"].items()}


REFER_POLICY: dict[str, frozenset[str]] = _policy()


@dataclass(frozen=True)
class CompiledRules:
    """Everything :func:`classify_row` needs for one RuleConfig, as plain lookups."""

    config: RuleConfig
    growth: bmi.GrowthRules
    vision: vision.VisionRules
    atr_cut: int  # ATR tenths of a degree, positive if >=
    dental: dental.DentalRules
    refer_policy: dict[str, frozenset[str]]


@cache
def compile_rules(config: RuleConfig = DEFAULT_CONFIG) -> CompiledRules:
    return CompiledRules(
        config=config,
        growth=bmi.compile_growth(config.growth_reference, config.adult_bmi),
        vision=vision.compile_vision(config.myopia_se_dioptres, config.myopia_se_operator),
        atr_cut=int(config.atr_positive_degrees * 10),
        dental=dental.compile_dental(
            config.sealant_first_molar_ages, config.sealant_second_molar_ages
        ),
        refer_policy=REFER_POLICY,
    )


# ----------------------------------------------------------------- fast path

ROW_FIELDS = (
    "sex",  # 0 male, 1 female
    "months",  # completed months at screening
    "height",  # cm x 100
    "weight",  # kg x 100
    "ucva_right",  # 5-point x 10
    "ucva_left",
    "se_right",  # dioptres x 1000
    "se_left",
    "ortho_k",  # bool
    "spine_general",  # 1 abnormal, 0 normal
    "adams",  # 1 positive, 0 negative
    "atr_thoracic",  # degrees x 10
    "atr_thoracolumbar",
    "atr_lumbar",
    "sagittal",  # results.md code
    "prone_test",  # results.md code
    "caries_teeth",  # tuple of FDI codes
    "filled_teeth",
    "missing_teeth",
    "sealed_teeth",
    "dmft",
    "DMFT",
    "motion_test",  # results.md code (last, so the spine/dental positions stay put)
)
CODE_FIELDS = (
    "weight_status",
    "thinness",
    "stunting",
    "bmi_tenths",
    "vision_right",
    "vision_left",
    "myopia_right",
    "myopia_left",
    "spine",
    "atr_max_tenths",
    "caries",
    "dmft",
    "DMFT",
    "sealant_advice",
    "refer",
)


def _scaled(value: Decimal | None, exponent: int) -> int | None:
    return None if value is None else int(value.scaleb(exponent))


def derive_se(m: Measurements, eye: str) -> Decimal | None:
    """The eye's SE: as given, else sphere + cylinder / 2, else None."""
    se = getattr(m, f"se_{eye}")
    if se is not None:
        return coerce_number(f"se_{eye}", se)
    sph, cyl = getattr(m, f"sph_{eye}"), getattr(m, f"cyl_{eye}")
    if sph is None or cyl is None:
        return None
    return vision.spherical_equivalent(
        coerce_number(f"sph_{eye}", sph), coerce_number(f"cyl_{eye}", cyl)
    )


def _num(m: Measurements, name: str) -> Decimal | None:
    value = getattr(m, name)
    return None if value is None else coerce_number(name, value)


def fast_row(
    sex: Sex, months: int, m: Measurements, types: Collection[ScreeningType] | None = None
) -> tuple[Any, ...]:
    """Integer inputs for :func:`classify_row` (``m`` must be valid: see check_measurements).

    Fields of screening types not in ``types`` are left out (None = not screened).
    """
    g = types is None or ScreeningType.GROWTH in types
    v = types is None or ScreeningType.VISION in types
    s = types is None or ScreeningType.SPINE in types
    d = types is None or ScreeningType.DENTAL in types
    se_r, se_l = (derive_se(m, "right"), derive_se(m, "left")) if v else (None, None)
    return (
        bmi.SEX_INDEX[sex],
        months,
        _scaled(_num(m, "height_cm"), 2) if g else None,
        _scaled(_num(m, "weight_kg"), 2) if g else None,
        _scaled(_num(m, "ucva_right"), 1) if v else None,
        _scaled(_num(m, "ucva_left"), 1) if v else None,
        _scaled(se_r, 3),
        _scaled(se_l, 3),
        v and m.glasses == "ortho_k",
        (None if m.spine_general is None else int(m.spine_general == "abnormal")) if s else None,
        (None if m.adams is None else int(m.adams == "positive")) if s else None,
        _scaled(_num(m, "atr_thoracic"), 1) if s else None,
        _scaled(_num(m, "atr_thoracolumbar"), 1) if s else None,
        _scaled(_num(m, "atr_lumbar"), 1) if s else None,
        m.sagittal if s else None,
        m.prone_test if s else None,
        m.caries_teeth if d else None,
        m.filled_teeth if d else None,
        m.missing_teeth if d else None,
        m.sealed_teeth if d else None,
        m.dmft if d else None,
        m.DMFT if d else None,
        m.motion_test if s else None,
    )


def classify_row(rules: CompiledRules, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Hot path: one :func:`fast_row` tuple -> codes in :data:`CODE_FIELDS` order.

    Category codes are evaluation.md codes, None (not screened), ``not_applicable`` or
    ``not_evaluable``; ``refer`` is the evaluation.md refer text.
    """
    (
        sex,
        months,
        height,
        weight,
        ucva_r,
        ucva_l,
        se_r,
        se_l,
        ortho_k,
        general,
        adams,
        atr_t,
        atr_tl,
        atr_l,
        sagittal,
        prone,
        decayed,
        filled,
        missing,
        sealed,
        n_dmft,
        n_DMFT,
        motion,
    ) = row
    ws, th, st, bmi_t = bmi.classify_growth(rules.growth.entries, sex, months, height, weight)
    vr, mr = vision.classify_eye(rules.vision, months, ucva_r, se_r, ortho_k)
    vl, ml = vision.classify_eye(rules.vision, months, ucva_l, se_l, ortho_k)
    if (
        general is None
        and adams is None
        and atr_t is None
        and atr_tl is None
        and atr_l is None
        and sagittal is None
    ):
        sp = atr_max = None
    else:
        sp, atr_max, _, _ = spine.classify_spine(
            rules.atr_cut, general, adams, atr_t, atr_tl, atr_l, sagittal, prone, motion
        )
    if (
        decayed is None
        and filled is None
        and missing is None
        and sealed is None
        and n_dmft is None
        and n_DMFT is None
    ):
        caries = dmft = DMFT = sealant = None
    else:
        caries, dmft, DMFT, sealant = dental.classify_dental(
            rules.dental, months, decayed, filled, missing, sealed, n_dmft, n_DMFT
        )
    p = rules.refer_policy
    refer = []
    if vr in p["vision"] or vl in p["vision"] or mr in p["myopia"] or ml in p["myopia"]:
        refer.append("vision")
    if sp in p["spine"]:
        refer.append("spine")
    if ws in p["weight_status"] or th in p["thinness"] or st in p["stunting"]:
        refer.append("growth")
    if caries in p["caries"]:
        refer.append("dental")
    return (
        ws,
        th,
        st,
        bmi_t,
        vr,
        vl,
        mr,
        ml,
        sp,
        atr_max,
        caries,
        dmft,
        DMFT,
        sealant,
        " ".join(refer),
    )


_BLANK = {None, NOT_APPLICABLE, NOT_EVALUABLE}


def row_columns(codes: tuple[Any, ...]) -> dict[str, str]:
    """The classification columns of evaluation.md from :func:`classify_row` codes.

    (``sex``, ``age_years``, ``age_band``, ``rule_set`` and ``errors`` are the caller's.)
    """
    (ws, th, st, bmi_t, vr, vl, mr, ml, sp, atr_max, caries, dmft, DMFT, sealant, refer) = codes
    out = {}
    for name, value in (
        ("weight_status", ws),
        ("thinness", th),
        ("stunting", st),
        ("vision_right", vr),
        ("vision_left", vl),
        ("myopia_right", mr),
        ("myopia_left", ml),
        ("spine", sp),
        ("caries", caries),
    ):
        out[name] = "" if value in _BLANK else value
    out["bmi"] = "" if bmi_t is None else format(Decimal(bmi_t).scaleb(-1), "f")
    out["atr_max"] = "" if atr_max is None else format(Decimal(atr_max).scaleb(-1), "f")
    out["dmft"] = "" if dmft is None else str(dmft)
    out["DMFT"] = "" if DMFT is None else str(DMFT)
    out["sealant_advice"] = " ".join(map(str, sealant)) if isinstance(sealant, tuple) else ""
    out["refer"] = refer
    return out


# ----------------------------------------------------------------- evaluate()


@dataclass(frozen=True)
class _Context:
    sex: Sex
    age: Age
    m: Measurements
    rules: CompiledRules
    row: tuple[Any, ...]
    codes: tuple[Any, ...]


def _growth(ctx: _Context) -> list[Finding]:
    ws, th, st, bmi_t = ctx.codes[0:4]
    return bmi.growth_findings(
        ctx.sex,
        ctx.age.months,
        ctx.age.band,
        ctx.row[2],
        ctx.row[3],
        (ws, th, st, bmi_t),
        ctx.rules.config.growth_reference,
        ctx.rules.refer_policy,
    )


def _vision(ctx: _Context) -> list[Finding]:
    out = []
    for eye, i_grade, i_myopia in (("right", 4, 6), ("left", 5, 7)):
        out += vision.vision_findings(
            eye,
            (ctx.codes[i_grade], ctx.codes[i_myopia]),
            _num(ctx.m, f"ucva_{eye}"),
            derive_se(ctx.m, eye),
            ctx.rules.vision,
            ctx.rules.refer_policy,
        )
    return out


def _spine(ctx: _Context) -> list[Finding]:
    r = ctx.row
    if all(v is None for v in (r[9], r[10], r[11], r[12], r[13], r[14])):
        return []
    codes = spine.classify_spine(
        ctx.rules.atr_cut, r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[22]
    )
    atr = {seg: _num(ctx.m, f"atr_{seg}") for seg in ("thoracic", "thoracolumbar", "lumbar")}
    f = spine.spine_finding(
        codes, atr, ctx.m.sagittal, ctx.rules.config.atr_positive_degrees, ctx.rules.refer_policy
    )
    return [] if f is None else [f]


def _dental(ctx: _Context) -> list[Finding]:
    caries, dmft, DMFT, sealant = ctx.codes[10:14]
    return dental.dental_findings(
        (caries, dmft, DMFT, sealant),
        ctx.row[16],
        ctx.row[17],
        ctx.row[18],
        ctx.age.months,
        ctx.rules.dental,
        ctx.rules.refer_policy,
    )


# The registry of screening evaluators (one per screening type).
EVALUATORS: dict[ScreeningType, Callable[[_Context], list[Finding]]] = {
    ScreeningType.GROWTH: _growth,
    ScreeningType.VISION: _vision,
    ScreeningType.SPINE: _spine,
    ScreeningType.DENTAL: _dental,
}


def _notes(findings: list[Finding], m: Measurements, types: set[ScreeningType]) -> list[FieldError]:
    """Why screened values were not classified, grouped (shown in evaluation.md ``errors``)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in findings:
        if f.is_classified:
            continue
        groups.setdefault((f.category, f.standard, f.clause), []).append(f.code)
    out = []
    for (category, standard, clause), codes in groups.items():
        word = category.replace("_", " ")
        message = f"{', '.join(codes)}: {word} ({standard}: {clause})"
        out.append(
            FieldError(
                codes[0],
                "",
                message,
                key=category,
                params={"codes": codes, "standard": standard, "clause": clause},
            )
        )
    if ScreeningType.VISION in types:
        for eye in ("right", "left"):
            sph, cyl = getattr(m, f"sph_{eye}"), getattr(m, f"cyl_{eye}")
            if getattr(m, f"se_{eye}") is None and (sph is None) != (cyl is None):
                missing = f"cyl_{eye}" if cyl is None else f"sph_{eye}"
                out.append(
                    FieldError(
                        f"se_{eye}",
                        "",
                        f"se_{eye}: not computed, {missing} is missing (SE = sphere + cylinder/2; "
                        "enter 0 for no cylinder)",
                        key="se_incomplete",
                        params={"missing": missing},
                    )
                )
    return out


def _coerce_types(types: Collection[ScreeningType] | None) -> set[ScreeningType] | None:
    if types is None:
        return None
    out = set()
    for t in types:
        try:
            out.add(ScreeningType(t))
        except ValueError as exc:
            raise InvalidMeasurement(
                "types", t, " / ".join(s.value for s in ScreeningType)
            ) from exc
    return out


def evaluate(
    sex: Sex,
    birth_date: date,
    screening_date: date,
    measurements: Measurements,
    config: RuleConfig = DEFAULT_CONFIG,
    types: Collection[ScreeningType] | None = None,
) -> Evaluation:
    """Classify one pupil's measurements on one screening date.

    Raises :class:`InvalidMeasurement` (field, value, allowed range) for an invalid or
    implausible value, a screening date before birth, or an implausible age. Types with no
    measurement are "not screened": no finding, blank columns, never "normal".
    ``types`` restricts evaluation to the session's screening types.
    """
    if not isinstance(sex, Sex):
        try:
            sex = Sex(sex)
        except ValueError as exc:
            raise InvalidMeasurement("sex", sex, "M / F") from exc
    if not isinstance(config, RuleConfig):
        raise TypeError("config must be a RuleConfig")
    age = compute_age(birth_date, screening_date)
    problems = field_problems(measurements)
    if problems:
        raise problems[0]
    wanted = _coerce_types(types)
    screened = set(measurements.screened_types())
    if wanted is not None:
        screened &= wanted
    base = {
        "sex": sex,
        "birth_date": birth_date,
        "screening_date": screening_date,
        "age_months": age.months,
        "age_years": age.years,
        "age_band": age.band,
        "ruleset_version": RULESET_VERSION,
        "config": config,
    }
    if measurements.absent:
        note = FieldError(
            "absent", "yes", "absent: pupil absent (缺检), not screened", key="absent"
        )
        return Evaluation(**base, absent=True, notes=(note,))
    rules = compile_rules(config)
    row = fast_row(sex, age.months, measurements, screened)
    codes = classify_row(rules, row)
    ctx = _Context(sex, age, measurements, rules, row, codes)
    findings: list[Finding] = []
    for screening_type, evaluator in EVALUATORS.items():
        if screening_type in screened:
            findings += evaluator(ctx)
    bmi_finding = next((f for f in findings if f.code == "weight_status"), None)
    vision_on = ScreeningType.VISION in screened
    sealant = codes[13]
    return Evaluation(
        **base,
        findings=tuple(findings),
        screened=frozenset(screened),
        bmi=None if codes[3] is None else Decimal(codes[3]).scaleb(-1),
        bmi_z=bmi_finding.detail.get("z") if bmi_finding else None,
        atr_max=None if codes[9] is None else Decimal(codes[9]).scaleb(-1),
        dmft=codes[11],
        DMFT=codes[12],
        se_right=derive_se(measurements, "right") if vision_on else None,
        se_left=derive_se(measurements, "left") if vision_on else None,
        sealant_teeth=sealant if isinstance(sealant, tuple) else (),
        notes=tuple(_notes(findings, measurements, screened)),
    )
