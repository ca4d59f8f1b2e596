"""Value types of the rules core: enums, measurements, findings and evaluations.

Category strings are exactly the codes of docs/formats/evaluation.md, the system's
one vocabulary; two extra statuses, ``not_applicable`` and ``not_evaluable``, mark a
screened value the rules cannot classify (they are written as a blank result plus an
explanation in ``errors``, never as "normal").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import FieldError
from .fields import MEASUREMENT_FIELDS, ScreeningType
from .ruleset import DEFAULT_CONFIG, RULESET_VERSION, RuleConfig, rule_set_label


class Sex(StrEnum):
    """Sex as coded by GB/T 2261.1 and roster.md (M/F)."""

    MALE = "M"
    FEMALE = "F"

    def __str__(self) -> str:
        return self.value


# evaluation.md lists referral words in this order: "vision spine growth dental".
REFER_ORDER: tuple[ScreeningType, ...] = (
    ScreeningType.VISION,
    ScreeningType.SPINE,
    ScreeningType.GROWTH,
    ScreeningType.DENTAL,
)

# Statuses outside evaluation.md's codes: the value was screened but cannot be classified.
NOT_APPLICABLE = "not_applicable"  # e.g. BMI of a 5-year-old under WS/T 586 (6-18 y only)
NOT_EVALUABLE = "not_evaluable"  # e.g. uncorrected acuity of an orthokeratology wearer
UNCLASSIFIED = frozenset({NOT_APPLICABLE, NOT_EVALUABLE})

# evaluation.md codes per column
WEIGHT_STATUS_CODES = ("normal", "overweight", "obese")
THINNESS_CODES = ("none", "mild", "moderate_severe")
STUNTING_CODES = ("no", "yes")
VISION_CODES = ("normal", "mild", "moderate", "severe")
MYOPIA_CODES = ("no", "yes", "unknown")
SPINE_CODES = ("normal", "postural", "suspected_scoliosis", "sagittal_abnormal")
CARIES_CODES = ("no", "yes")

# results.md input codes
GLASSES_CODES = ("none", "frame", "contact", "ortho_k")
SPINE_GENERAL_CODES = ("normal", "abnormal")
ADAMS_CODES = ("negative", "positive")
SAGITTAL_CODES = ("normal", "kyphosis", "lordosis", "straight_back")
PRONE_TEST_CODES = ("resolved", "persists")
MOTION_TEST_CODES = ("resolved", "persists")  # 脊柱运动试验: asymmetry 消失 / 未消失

# The evaluation.md output columns, in order.
EVALUATION_COLUMNS: tuple[str, ...] = (
    "sex",
    "age_years",
    "age_band",
    "bmi",
    "weight_status",
    "thinness",
    "stunting",
    "vision_right",
    "vision_left",
    "myopia_right",
    "myopia_left",
    "spine",
    "atr_max",
    "caries",
    "dmft",
    "DMFT",
    "sealant_advice",
    "refer",
    "rule_set",
    "errors",
)

# The evaluation.md columns holding one category code each, in column order, with the
# screening each belongs to. The one list of them: ScreeningResult keeps each in a
# column of the same name, and services and the demo seeder copy exactly these.
CATEGORY_COLUMNS: dict[str, ScreeningType] = {
    "weight_status": ScreeningType.GROWTH,
    "thinness": ScreeningType.GROWTH,
    "stunting": ScreeningType.GROWTH,
    "vision_right": ScreeningType.VISION,
    "vision_left": ScreeningType.VISION,
    "myopia_right": ScreeningType.VISION,
    "myopia_left": ScreeningType.VISION,
    "spine": ScreeningType.SPINE,
    "caries": ScreeningType.DENTAL,
}

# Finding.code -> screening type (the finding codes are evaluation.md column names).
FINDING_CODES: dict[str, ScreeningType] = {
    **CATEGORY_COLUMNS,
    "sealant_advice": ScreeningType.DENTAL,
}


@dataclass(frozen=True)
class Measurements:
    """One pupil's measurements, as in docs/formats/results.md (None = not measured).

    Visual acuity is 5-point notation (GB/T 11533); refraction in dioptres; ATR in
    degrees; tooth fields hold FDI two-digit codes. ``absent`` = 缺检.
    """

    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    ucva_right: Decimal | None = None
    ucva_left: Decimal | None = None
    cva_right: Decimal | None = None
    cva_left: Decimal | None = None
    glasses: str | None = None
    sph_right: Decimal | None = None
    cyl_right: Decimal | None = None
    sph_left: Decimal | None = None
    cyl_left: Decimal | None = None
    se_right: Decimal | None = None
    se_left: Decimal | None = None
    spine_general: str | None = None
    adams: str | None = None
    atr_thoracic: Decimal | None = None
    atr_thoracolumbar: Decimal | None = None
    atr_lumbar: Decimal | None = None
    sagittal: str | None = None
    prone_test: str | None = None
    motion_test: str | None = None
    caries_teeth: tuple[int, ...] | None = None
    filled_teeth: tuple[int, ...] | None = None
    missing_teeth: tuple[int, ...] | None = None
    sealed_teeth: tuple[int, ...] | None = None
    dmft: int | None = None
    DMFT: int | None = None
    absent: bool = False

    def present(self) -> dict[str, Any]:
        """The measured fields (not None), without ``absent``."""
        values = self.__dict__
        return {name: values[name] for name in MEASUREMENT_FIELDS if values[name] is not None}

    def screened_types(self) -> frozenset[ScreeningType]:
        """Screening types with at least one measured field."""
        values = self.__dict__
        return frozenset(t for name, t in MEASUREMENT_FIELDS.items() if values[name] is not None)


@dataclass(frozen=True)
class Finding:
    """One classification of one screening, traceable to its standard and clause.

    ``severity`` is 0 (normal) to 3 (most serious within the screening); ``refer`` says
    whether a referral letter is due; ``advice_key`` is what letters and pages translate;
    ``detail`` holds the numbers used (bmi, cutoff, table row, z, ATR ...).
    """

    screening_type: ScreeningType
    code: str
    category: str
    severity: int
    refer: bool
    standard: str
    clause: str
    advice_key: str
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_abnormal(self) -> bool:
        return self.severity > 0

    @property
    def is_classified(self) -> bool:
        """False for ``not_applicable`` / ``not_evaluable`` (never to be read as normal)."""
        return self.category not in UNCLASSIFIED


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`schoolhealth.rules.evaluate` for one pupil and one screening day."""

    sex: Sex
    birth_date: date
    screening_date: date
    age_months: int
    age_years: Decimal
    age_band: Decimal
    findings: tuple[Finding, ...] = ()
    screened: frozenset[ScreeningType] = frozenset()
    bmi: Decimal | None = None
    bmi_z: float | None = None
    atr_max: Decimal | None = None
    dmft: int | None = None
    DMFT: int | None = None
    se_right: Decimal | None = None
    se_left: Decimal | None = None
    sealant_teeth: tuple[int, ...] = ()
    notes: tuple[FieldError, ...] = ()
    absent: bool = False
    ruleset_version: str = RULESET_VERSION
    config: RuleConfig = DEFAULT_CONFIG

    @property
    def refer(self) -> tuple[ScreeningType, ...]:
        """Screening types with a referral, in evaluation.md order (vision spine growth dental)."""
        wanted = {f.screening_type for f in self.findings if f.refer}
        return tuple(t for t in REFER_ORDER if t in wanted)

    @property
    def is_flagged(self) -> bool:
        """True when any finding is abnormal (what the session's flags list shows)."""
        return any(f.is_abnormal for f in self.findings)

    def finding(self, code: str) -> Finding | None:
        """The finding for one evaluation.md column (``"weight_status"``, ``"spine"`` ...)."""
        return next((f for f in self.findings if f.code == code), None)

    def findings_for(self, screening_type: ScreeningType) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.screening_type is screening_type)

    def worst(self, screening_type: ScreeningType) -> Finding | None:
        """The finding of a type with the highest severity (then referral), first if tied.

        Severities are compared across codes, so for vision this mixes the acuity grade
        and screening myopia; the pupil-level vision result is :meth:`pupil_vision`.
        """
        candidates = [f for f in self.findings_for(screening_type) if f.code != "sealant_advice"]
        if not candidates:
            return None
        return max(candidates, key=lambda f: (f.severity, f.refer))

    def pupil_vision(self) -> tuple[str | None, str | None]:
        """Pupil-level vision from the two eyes: ``(grade, myopia)`` in evaluation.md codes.

        grade = the reduced-vision grade of the worse eye; myopia = "yes" if either eye
        is screening myopia, else "unknown" if either eye is unknown, else "no" (README
        §3.3: evaluated per eye, a pupil is flagged if either eye meets the rule; [C2]
        takes the more serious eye). None when no eye was classified (not screened, under
        6, orthokeratology).
        """
        grades = [
            f.category
            for f in self.findings
            if f.code in ("vision_right", "vision_left") and f.is_classified
        ]
        myopia = {
            f.category
            for f in self.findings
            if f.code in ("myopia_right", "myopia_left") and f.is_classified
        }
        grade = max(grades, key=VISION_CODES.index) if grades else None
        pupil_myopia = next((c for c in ("yes", "unknown", "no") if c in myopia), None)
        return grade, pupil_myopia

    def to_evaluation_columns(self) -> dict[str, str]:
        """The evaluation.md columns as strings; blank for anything not screened."""
        out = dict.fromkeys(EVALUATION_COLUMNS, "")
        out["sex"] = self.sex.value
        out["age_years"] = format(self.age_years, "f")
        out["age_band"] = format(self.age_band, "f")
        out["rule_set"] = (
            rule_set_label(self.config)
            if self.ruleset_version == RULESET_VERSION
            else self.ruleset_version
        )
        out["errors"] = "; ".join(n.message for n in self.notes)
        if self.absent:
            return out
        if self.bmi is not None:
            out["bmi"] = format(self.bmi, "f")
        if self.atr_max is not None:
            out["atr_max"] = format(self.atr_max, "f")
        if self.dmft is not None:
            out["dmft"] = str(self.dmft)
        if self.DMFT is not None:
            out["DMFT"] = str(self.DMFT)
        for f in self.findings:
            if f.code == "sealant_advice":
                out["sealant_advice"] = " ".join(str(t) for t in self.sealant_teeth)
            elif f.is_classified:
                out[f.code] = f.category
        out["refer"] = " ".join(t.value for t in self.refer)
        return out
