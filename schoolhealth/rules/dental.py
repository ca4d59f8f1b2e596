"""Dental: caries (dmft/DMFT) and pit-and-fissure sealant advice.

* Teeth are FDI two-digit codes (README §5.1, VERIFIED): permanent 11-18, 21-28, 31-38,
  41-48; primary 51-55, 61-65, 71-75, 81-85. A permanent and a primary tooth cannot
  occupy the same position at once, and one tooth is decayed, filled or missing, not two
  of these (results.md).
* dmft = d + m + f (primary), DMFT = D + M + F (permanent); untreated caries (龋齿, needs
  a letter) when d + D > 0 (README §5.3; WHO Oral Health Surveys 5th ed. conventions,
  UNVERIFIED for the Chinese report definitions). Counts are used only when no tooth
  codes are given; then untreated caries is known only when both counts are 0.
* Sealant advice (README §5.4): permanent first molars 16 26 36 46 and second molars
  17 27 37 47 that are sound (not decayed, filled or missing) and not sealed, for pupils
  in the programme age bands (RuleConfig; defaults 6-<10 y and 11-<14 y, UNVERIFIED).
  Eruption is not recorded by results.md, so a molar not listed is presumed erupted and
  sound; the letter asks the dentist to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from .age import AGE_PLAUSIBLE_MAX_YEARS
from .errors import InvalidMeasurement
from .tables import constants
from .types import NOT_EVALUABLE, Finding, ScreeningType

STANDARD = "WHO Oral Health Surveys 5th ed. (2013)"
SEALANT_STANDARD = "Pit-and-fissure sealant programme (中西部儿童口腔疾病综合干预项目)"

_D = constants()["dental"]
SEALANT_FIRST_MOLARS: tuple[int, ...] = tuple(_D["sealant_first_molars"])
SEALANT_SECOND_MOLARS: tuple[int, ...] = tuple(_D["sealant_second_molars"])

PERMANENT_TEETH = frozenset(q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9))
PRIMARY_TEETH = frozenset(q * 10 + t for q in (5, 6, 7, 8) for t in range(1, 6))
ALL_TEETH = PERMANENT_TEETH | PRIMARY_TEETH
TOOTH_LIST_FIELDS = ("caries_teeth", "filled_teeth", "missing_teeth", "sealed_teeth")
MAX_MONTHS = AGE_PLAUSIBLE_MAX_YEARS * 12 + 11
FDI_ALLOWED = (
    "FDI codes 11-18, 21-28, 31-38, 41-48 (permanent), 51-55, 61-65, 71-75, 81-85 (primary)"
)


def is_permanent(tooth: int) -> bool:
    return tooth < 50


def position(tooth: int) -> tuple[int, int]:
    """(quadrant 1-4, tooth number): primary 55 and permanent 15 share position (1, 5)."""
    quadrant, number = divmod(tooth, 10)
    return ((quadrant - 1) % 4 + 1, number)


def check_tooth_list(field: str, teeth: tuple[int, ...]) -> None:
    """Every code valid FDI, none twice."""
    seen: set[int] = set()
    for tooth in teeth:
        if isinstance(tooth, bool) or not isinstance(tooth, int) or tooth not in ALL_TEETH:
            raise InvalidMeasurement(
                field,
                tooth,
                FDI_ALLOWED,
                f"{field}: {tooth} is not a tooth code; allowed: {FDI_ALLOWED}",
                key="invalid_tooth_code",
            )
        if tooth in seen:
            raise InvalidMeasurement(
                field,
                tooth,
                "each tooth once",
                f"{field}: tooth {tooth} is listed twice",
                key="duplicate_tooth",
            )
        seen.add(tooth)


def check_teeth_consistency(
    decayed: tuple[int, ...] | None,
    filled: tuple[int, ...] | None,
    missing: tuple[int, ...] | None,
    sealed: tuple[int, ...] | None,
) -> None:
    """Cross-field rules of results.md: one status per tooth, one tooth per position."""
    lists = {
        "caries_teeth": decayed or (),
        "filled_teeth": filled or (),
        "missing_teeth": missing or (),
    }
    owner: dict[int, str] = {}
    for field, teeth in lists.items():
        for tooth in teeth:
            if tooth in owner:
                raise InvalidMeasurement(
                    field,
                    tooth,
                    "a tooth in only one of caries_teeth, filled_teeth, missing_teeth",
                    f"{field}: tooth {tooth} is also in {owner[tooth]}; a tooth is decayed, "
                    "filled or missing, not two of these",
                    key="tooth_in_several_lists",
                    params={"other_field": owner[tooth]},
                )
            owner[tooth] = field
    for tooth in sealed or ():
        if tooth in owner and owner[tooth] == "missing_teeth":
            raise InvalidMeasurement(
                "sealed_teeth",
                tooth,
                "teeth that are present",
                f"sealed_teeth: tooth {tooth} is also in missing_teeth",
                key="tooth_in_several_lists",
                params={"other_field": "missing_teeth"},
            )
        owner.setdefault(tooth, "sealed_teeth")
    by_position: dict[tuple[int, int], int] = {}
    for tooth, field in owner.items():
        other = by_position.get(position(tooth))
        if other is not None and is_permanent(other) != is_permanent(tooth):
            primary, permanent = (tooth, other) if is_permanent(other) else (other, tooth)
            raise InvalidMeasurement(
                field,
                tooth,
                "a permanent or a primary tooth per position, not both",
                f"{field}: primary tooth {primary} and permanent tooth {permanent} occupy the "
                "same position; record only the tooth present",
                key="primary_and_permanent_same_position",
                params={"primary": primary, "permanent": permanent},
            )
        by_position[position(tooth)] = tooth


def code_counts(
    decayed: tuple[int, ...], filled: tuple[int, ...], missing: tuple[int, ...]
) -> dict[str, int]:
    """d, m, f, D, M, F and the indices from tooth codes."""
    c = {
        "d": sum(1 for t in decayed if not is_permanent(t)),
        "m": sum(1 for t in missing if not is_permanent(t)),
        "f": sum(1 for t in filled if not is_permanent(t)),
        "D": sum(1 for t in decayed if is_permanent(t)),
        "M": sum(1 for t in missing if is_permanent(t)),
        "F": sum(1 for t in filled if is_permanent(t)),
    }
    c["dmft"] = c["d"] + c["m"] + c["f"]
    c["DMFT"] = c["D"] + c["M"] + c["F"]
    return c


@dataclass(frozen=True)
class DentalRules:
    """Sealant bands in completed months [from, until), and the molars due per month."""

    first_molar_months: tuple[int, int]
    second_molar_months: tuple[int, int]
    first_molar_ages: tuple[Decimal, Decimal]
    second_molar_ages: tuple[Decimal, Decimal]
    band_by_month: tuple[tuple[int, ...], ...]


def _molars(first: tuple[int, int], second: tuple[int, int], months: int) -> tuple[int, ...]:
    out: tuple[int, ...] = ()
    if first[0] <= months < first[1]:
        out += SEALANT_FIRST_MOLARS
    if second[0] <= months < second[1]:
        out += SEALANT_SECOND_MOLARS
    return out


@cache
def compile_dental(first: tuple[Decimal, Decimal], second: tuple[Decimal, Decimal]) -> DentalRules:
    first_m = (int(first[0] * 12), int(first[1] * 12))
    second_m = (int(second[0] * 12), int(second[1] * 12))
    bands = tuple(_molars(first_m, second_m, m) for m in range(MAX_MONTHS + 1))
    return DentalRules(first_m, second_m, first, second, bands)


def molars_in_band(rules: DentalRules, months: int) -> tuple[int, ...]:
    """Molars in the sealant programme at this age (completed months)."""
    return rules.band_by_month[months if months <= MAX_MONTHS else MAX_MONTHS]


def classify_dental(
    rules: DentalRules,
    months: int,
    decayed: tuple[int, ...] | None,
    filled: tuple[int, ...] | None,
    missing: tuple[int, ...] | None,
    sealed: tuple[int, ...] | None,
    dmft: int | None,
    DMFT: int | None,
) -> tuple[str | None, int | None, int | None, tuple[int, ...] | str | None]:
    """Hot path: (caries, dmft, DMFT, sealant teeth | "not_evaluable" | None)."""
    band = rules.band_by_month[months if months <= MAX_MONTHS else MAX_MONTHS]
    if decayed is None and filled is None and missing is None:
        if dmft is None and DMFT is None:
            if sealed is None:
                return (None, None, None, None)
            return (NOT_EVALUABLE, None, None, NOT_EVALUABLE if band else ())
        caries = "no" if dmft == 0 and DMFT == 0 else NOT_EVALUABLE
        if not band:
            advice: tuple[int, ...] | str = ()
        elif DMFT == 0:
            advice = tuple([t for t in band if not sealed or t not in sealed])
        else:
            advice = NOT_EVALUABLE
        return (caries, dmft, DMFT, advice)
    recorded = (decayed or ()) + (filled or ()) + (missing or ())
    n_dmft = 0
    for t in recorded:
        if t > 50:
            n_dmft += 1
    if band:
        done = recorded + sealed if sealed else recorded
        advice = tuple([t for t in band if t not in done])
    else:
        advice = ()
    return ("yes" if decayed else "no", n_dmft, len(recorded) - n_dmft, advice)


def dental_findings(
    codes: tuple[str | None, int | None, int | None, tuple[int, ...] | str | None],
    decayed: tuple[int, ...] | None,
    filled: tuple[int, ...] | None,
    missing: tuple[int, ...] | None,
    months: int,
    rules: DentalRules,
    refer_policy: dict[str, frozenset[str]],
) -> list[Finding]:
    caries, dmft, DMFT, advice = codes
    out: list[Finding] = []
    dt = ScreeningType.DENTAL
    if caries is None:
        return out
    detail: dict[str, Any] = {"dmft": dmft, "DMFT": DMFT}
    if decayed is not None or filled is not None or missing is not None:
        detail.update(code_counts(decayed or (), filled or (), missing or ()))
        detail["decayed_teeth"] = tuple(decayed or ())
    if caries == NOT_EVALUABLE and dmft is None and DMFT is None:
        out.append(
            Finding(
                dt,
                "caries",
                caries,
                0,
                False,
                STANDARD,
                "caries not recorded (only sealed_teeth given); record caries_teeth, "
                "filled_teeth, missing_teeth or dmft/DMFT",
                "dental.caries_unknown",
                detail,
            )
        )
    elif caries == NOT_EVALUABLE:
        clause = (
            "untreated caries (d + D) cannot be told from dmft/DMFT counts unless both "
            "are 0; record caries_teeth"
        )
        out.append(
            Finding(
                dt, "caries", caries, 0, False, STANDARD, clause, "dental.caries_unknown", detail
            )
        )
    else:
        clause = "untreated caries if d + D > 0; dmft = d + m + f, DMFT = D + M + F"
        out.append(
            Finding(
                dt,
                "caries",
                caries,
                2 if caries == "yes" else 0,
                caries in refer_policy["caries"],
                STANDARD,
                clause,
                "dental.caries" if caries == "yes" else "dental.no_caries",
                detail,
            )
        )
    band = molars_in_band(rules, months)
    if band:
        f_lo, f_hi = rules.first_molar_ages
        s_lo, s_hi = rules.second_molar_ages
        clause = (
            f"sound, unsealed permanent molars: {' '.join(map(str, SEALANT_FIRST_MOLARS))}"
            f" at {f_lo}-<{f_hi} y, {' '.join(map(str, SEALANT_SECOND_MOLARS))} at "
            f"{s_lo}-<{s_hi} y (programme bands, UNVERIFIED)"
        )
        if advice == NOT_EVALUABLE:
            out.append(
                Finding(
                    dt,
                    "sealant_advice",
                    NOT_EVALUABLE,
                    0,
                    False,
                    SEALANT_STANDARD,
                    clause + "; molar status unknown from counts alone",
                    "dental.sealant_unknown",
                    {"band_teeth": band},
                )
            )
        else:
            teeth = advice if isinstance(advice, tuple) else ()
            out.append(
                Finding(
                    dt,
                    "sealant_advice",
                    "advised" if teeth else "none",
                    0,
                    False,
                    SEALANT_STANDARD,
                    clause,
                    "dental.sealant_advised" if teeth else "dental.no_sealant_needed",
                    {"teeth": teeth, "band_teeth": band},
                )
            )
    return out
