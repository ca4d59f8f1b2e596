"""Growth: overweight/obesity, thinness and stunting.

* WS/T 586-2018 (default reference): overweight if BMI >= the row's overweight cutoff,
  obesity if BMI >= the obesity cutoff (inclusive lower bounds, README §1.2); rows 6.0~ to
  18.0~ by half-year band floored from exact age; BMI rounded half-up to one decimal
  before comparing (README §1.2, test vectors B1, B2, B7). The 18.0~ row is used up to
  19 y; from 19 y the adult WS/T 428-2013 cutoffs 24.0 / 28.0 apply (same numbers).
* WS/T 456-2014: stunting if height <= cutoff; moderate/severe thinness if BMI <= cutoff,
  mild thinness if moderate/severe cutoff < BMI <= mild maximum (README §2.2, B3-B5);
  rows 6.0~ to 17.5~ (17.5~ covers up to 18 y). Stunting always uses WS/T 456.
* WHO 2007 BMI-for-age (district option): z from the LMS row of the completed month
  (61-228), from the unrounded BMI; overweight z > +1, obesity z > +2, thinness z < -2
  ("mild"), severe thinness z < -3 ("moderate_severe"), all strict (README §7.1, B11).
* CDC 2000 BMI-for-age (district option): row agemos x.5 for completed month x (24-240);
  overweight >= P85, obesity >= P95, underweight < P5 ("mild") (README §7.2).

The hot path works on integers: height and weight in hundredths, BMI in tenths with
exact half-up rounding, so 1.45 M pupils classify in seconds and never hit a float edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from statistics import NormalDist
from typing import Any

from .age import AGE_PLAUSIBLE_MAX_YEARS
from .tables import (
    LmsRow,
    cdc2000_rows,
    constants,
    stunting_rows,
    thinness_rows,
    who2007_rows,
    wst586_rows,
)
from .types import NOT_APPLICABLE, NOT_EVALUABLE, Finding, ScreeningType, Sex

WST586 = "WS/T 586-2018"
WST456 = "WS/T 456-2014"
WST428 = "WS/T 428-2013"
WHO2007 = "WHO Growth Reference 2007"
CDC2000 = "CDC 2000 Growth Charts"
# The standard each growth reference (RuleConfig.growth_reference) judges with.
WEIGHT_STANDARD = {"wst586": WST586, "who2007": WHO2007, "cdc2000": CDC2000}
THINNESS_STANDARD = {"wst586": WST456, "who2007": WHO2007, "cdc2000": CDC2000}

_G = constants()["growth"]
BMI_DECIMALS = int(_G["bmi_decimals"])  # one decimal, half-up (README §1.2, UNVERIFIED clause)
WST_MIN_MONTHS = 72  # WS/T 586 / WS/T 456 scope starts at 6.0 y
WST586_LAST_ROW_UNTIL_MONTHS = int(_G["wst586_last_row_until_years"]) * 12
WST456_UNTIL_MONTHS = int(_G["wst456_until_years"]) * 12
ADULT_OVERWEIGHT_BMI = Decimal(_G["adult_overweight_bmi"])
ADULT_OBESITY_BMI = Decimal(_G["adult_obesity_bmi"])
ADULT_UNDERWEIGHT_BMI = Decimal(_G["adult_underweight_bmi"])  # underweight if BMI < this
WHO2007_MONTHS = (int(_G["who2007_min_months"]), int(_G["who2007_max_months"]))
WHO2007_OVERWEIGHT_Z = float(_G["who2007_overweight_z"])  # z > +1 (strict)
WHO2007_OBESITY_Z = float(_G["who2007_obesity_z"])  # z > +2
WHO2007_THINNESS_Z = float(_G["who2007_thinness_z"])  # z < -2
WHO2007_SEVERE_THINNESS_Z = float(_G["who2007_severe_thinness_z"])  # z < -3
CDC2000_MONTHS = (int(_G["cdc2000_min_months"]), int(_G["cdc2000_max_months"]))
CDC2000_OVERWEIGHT_Z = NormalDist().inv_cdf(_G["cdc2000_overweight_percentile"] / 100)
CDC2000_OBESITY_Z = NormalDist().inv_cdf(_G["cdc2000_obesity_percentile"] / 100)
CDC2000_UNDERWEIGHT_Z = NormalDist().inv_cdf(_G["cdc2000_underweight_percentile"] / 100)

MAX_MONTHS = AGE_PLAUSIBLE_MAX_YEARS * 12 + 11
SEX_INDEX = {Sex.MALE: 0, Sex.FEMALE: 1}
_SEX_CODES = ("M", "F")

# kinds of a month entry
_NA, _TENTHS, _WHO, _CDC = 0, 1, 2, 3

WEIGHT_SEVERITY = {"normal": 0, "overweight": 1, "obese": 2}
THINNESS_SEVERITY = {"none": 0, "mild": 1, "moderate_severe": 2}
STUNTING_SEVERITY = {"no": 0, "yes": 2}


def tenths(value: Decimal) -> int:
    return int(value * 10)


def bmi_tenths(height_h: int, weight_h: int) -> int:
    """BMI in tenths, rounded half-up exactly, from height and weight in hundredths.

    BMI = (w/100) / (h/10000)^2 = w * 10^6 / h^2, so tenths = w * 10^7 / h^2, and
    floor(x + 1/2) = (2 w 10^7 + h^2) // (2 h^2).
    """
    hh = height_h * height_h
    return (weight_h * 20_000_000 + hh) // (hh + hh)


def bmi_float(height_h: int, weight_h: int) -> float:
    """Unrounded BMI (kg/m^2) for the LMS references (README §8 item 2)."""
    return weight_h * 1_000_000 / (height_h * height_h)


def lms_z(value: float, L: float, M: float, S: float) -> float:
    """Box-Cox z-score: ((value/M)^L - 1) / (L S) (log form when L == 0)."""
    if L == 0:
        return math.log(value / M) / S
    return ((value / M) ** L - 1) / (L * S)


def lms_value(z: float, L: float, M: float, S: float) -> float:
    """Measurement at z: M (1 + L S z)^(1/L)."""
    if L == 0:
        return M * math.exp(S * z)
    return M * (1 + L * S * z) ** (1 / L)


def who_z(value: float, L: float, M: float, S: float) -> float:
    """WHO 2007 z with the restricted method beyond +-3 SD (WHO computation.pdf).

    The classification cutoffs (+1, +2, -2, -3) are unaffected; this is the z shown.
    """
    z = lms_z(value, L, M, S)
    if z > 3:
        sd3, sd2 = lms_value(3, L, M, S), lms_value(2, L, M, S)
        return 3 + (value - sd3) / (sd3 - sd2)
    if z < -3:
        sd3, sd2 = lms_value(-3, L, M, S), lms_value(-2, L, M, S)
        return -3 + (value - sd3) / (sd2 - sd3)
    return z


@dataclass(frozen=True)
class GrowthRules:
    """Per-month lookup for one growth reference: ``entries[sex][months]``."""

    reference: str
    adult_bmi: bool
    entries: tuple[tuple[tuple[Any, ...], ...], ...]


@cache
def _index(loader: Callable[[], tuple[Any, ...]]) -> dict[tuple[str, Decimal], Any]:
    """``{(sex, band start): row}`` of a WS/T table loader, built once."""
    return {(r.sex, r.age_years): r for r in loader()}


@cache
def _lms_index(loader: Callable[[], tuple[LmsRow, ...]]) -> dict[tuple[str, Decimal], LmsRow]:
    """``{(sex, age in months): row}`` of an LMS table loader, built once."""
    return {(r.sex, r.age_months): r for r in loader()}


def wst586_row_age(months: int) -> Decimal | None:
    """Row of WS/T 586 Table 1 used at this age, or None (under 6 y, or adult)."""
    if months < WST_MIN_MONTHS or months >= WST586_LAST_ROW_UNTIL_MONTHS:
        return None
    return Decimal(min(months // 6, 36) * 5).scaleb(-1)


def wst456_row_age(months: int) -> Decimal | None:
    """Row of the WS/T 456 tables used at this age (6.0~ .. 17.5~), or None."""
    if months < WST_MIN_MONTHS or months >= WST456_UNTIL_MONTHS:
        return None
    return Decimal(months // 6 * 5).scaleb(-1)


def who_row_months(months: int) -> Decimal | None:
    if WHO2007_MONTHS[0] <= months <= WHO2007_MONTHS[1]:
        return Decimal(months)
    return None


def cdc_row_agemos(months: int) -> Decimal | None:
    if CDC2000_MONTHS[0] <= months <= CDC2000_MONTHS[1]:
        return Decimal(months) + Decimal("0.5")
    return None


@cache
def compile_growth(reference: str, adult_bmi: bool) -> GrowthRules:
    """Precompute one entry per (sex, completed month) as integers / LMS floats."""
    w586, thin, stunt = _index(wst586_rows), _index(thinness_rows), _index(stunting_rows)
    who, cdc = _lms_index(who2007_rows), _lms_index(cdc2000_rows)
    per_sex = []
    for sex in _SEX_CODES:
        entries = []
        for months in range(MAX_MONTHS + 1):
            r456 = wst456_row_age(months)
            stunt_h = int(stunt[sex, r456].height_max_cm * 100) if r456 is not None else None
            if reference == "wst586":
                r586 = wst586_row_age(months)
                ms = mild = None
                if r456 is not None:
                    t = thin[sex, r456]
                    ms, mild = tenths(t.moderate_severe_max), tenths(t.mild_max)
                elif months >= WST456_UNTIL_MONTHS and adult_bmi:
                    # WS/T 428 underweight, one grade: BMI < 18.5 is BMI(0.1) <= 18.4
                    ms, mild = -1, tenths(ADULT_UNDERWEIGHT_BMI) - 1
                if r586 is not None:
                    row = w586[sex, r586]
                    entry = (
                        _TENTHS,
                        tenths(row.overweight_bmi),
                        tenths(row.obesity_bmi),
                        ms,
                        mild,
                        stunt_h,
                    )
                elif months >= WST586_LAST_ROW_UNTIL_MONTHS and adult_bmi:
                    entry = (
                        _TENTHS,
                        tenths(ADULT_OVERWEIGHT_BMI),
                        tenths(ADULT_OBESITY_BMI),
                        ms,
                        mild,
                        stunt_h,
                    )
                else:
                    entry = (_NA, None, None, None, None, stunt_h)
            elif reference == "who2007":
                key = who_row_months(months)
                if key is None:
                    entry = (_NA, None, None, None, None, stunt_h)
                else:
                    r = who[sex, key]
                    entry = (_WHO, r.L, r.M, r.S, None, stunt_h)
            elif reference == "cdc2000":
                key = cdc_row_agemos(months)
                if key is None:
                    entry = (_NA, None, None, None, None, stunt_h)
                else:
                    r = cdc[sex, key]
                    entry = (_CDC, r.L, r.M, r.S, None, stunt_h)
            else:
                raise ValueError(f"unknown growth reference {reference!r}")
            entries.append(entry)
        per_sex.append(tuple(entries))
    return GrowthRules(reference, adult_bmi, tuple(per_sex))


def classify_growth(
    entries: tuple[tuple[tuple[Any, ...], ...], ...],
    sex: int,
    months: int,
    height_h: int | None,
    weight_h: int | None,
) -> tuple[str | None, str | None, str | None, int | None]:
    """Hot path: (weight_status, thinness, stunting, bmi_tenths) from integer inputs.

    None = not screened; ``not_applicable`` outside a reference's ages; weight
    without height is ``not_evaluable`` (no BMI).
    """
    if height_h is None:
        if weight_h is None:
            return (None, None, None, None)
        return (NOT_EVALUABLE, NOT_EVALUABLE, None, None)
    e = entries[sex][months if months <= MAX_MONTHS else MAX_MONTHS]
    st = e[5]
    stunting = NOT_APPLICABLE if st is None else ("yes" if height_h <= st else "no")
    if weight_h is None:
        return (None, None, stunting, None)
    hh = height_h * height_h
    bmi_t = (weight_h * 20_000_000 + hh) // (hh + hh)
    kind = e[0]
    if kind == _TENTHS:
        if bmi_t >= e[2]:
            ws = "obese"
        elif bmi_t >= e[1]:
            ws = "overweight"
        else:
            ws = "normal"
        ms = e[3]
        if ms is None:
            th = NOT_APPLICABLE
        elif bmi_t <= ms:
            th = "moderate_severe"
        elif bmi_t <= e[4]:
            th = "mild"
        else:
            th = "none"
        return (ws, th, stunting, bmi_t)
    if kind == _NA:
        return (NOT_APPLICABLE, NOT_APPLICABLE, stunting, bmi_t)
    L, M, S = e[1], e[2], e[3]
    z = (((weight_h * 1_000_000 / hh) / M) ** L - 1) / (L * S)
    if kind == _WHO:
        if z > WHO2007_OBESITY_Z:
            ws = "obese"
        elif z > WHO2007_OVERWEIGHT_Z:
            ws = "overweight"
        else:
            ws = "normal"
        if z < WHO2007_SEVERE_THINNESS_Z:
            th = "moderate_severe"
        elif z < WHO2007_THINNESS_Z:
            th = "mild"
        else:
            th = "none"
        return (ws, th, stunting, bmi_t)
    if z >= CDC2000_OBESITY_Z:
        ws = "obese"
    elif z >= CDC2000_OVERWEIGHT_Z:
        ws = "overweight"
    else:
        ws = "normal"
    th = "mild" if z < CDC2000_UNDERWEIGHT_Z else "none"
    return (ws, th, stunting, bmi_t)


# ---------------------------------------------------------------- findings (with detail)

_SEX_WORD = {Sex.MALE: "boys", Sex.FEMALE: "girls"}


def _tenths_decimal(value: int) -> Decimal:
    return Decimal(value).scaleb(-1)


def growth_findings(
    sex: Sex,
    months: int,
    band: Decimal,
    height_h: int | None,
    weight_h: int | None,
    codes: tuple[str | None, str | None, str | None, int | None],
    reference: str,
    refer_policy: dict[str, frozenset[str]],
) -> list[Finding]:
    """Findings for the growth codes computed by :func:`classify_growth`."""
    ws, th, st, bmi_t = codes
    out: list[Finding] = []
    bmi = _tenths_decimal(bmi_t) if bmi_t is not None else None
    common: dict[str, Any] = {"age_band": band, "age_months": months}
    if bmi is not None:
        common["bmi"] = bmi
    who_detail: dict[str, Any] = {}
    row_lms: LmsRow | None = None
    if reference in ("who2007", "cdc2000") and bmi_t is not None:
        rows = _lms_index(who2007_rows if reference == "who2007" else cdc2000_rows)
        key = who_row_months(months) if reference == "who2007" else cdc_row_agemos(months)
        if key is not None:
            row_lms = rows[sex.value, key]
            assert height_h is not None
            assert weight_h is not None
            value = bmi_float(height_h, weight_h)
            z = (who_z if reference == "who2007" else lms_z)(value, row_lms.L, row_lms.M, row_lms.S)
            who_detail = {
                "bmi_unrounded": value,
                "z": z,
                "lms_row": key,
                "L": row_lms.L,
                "M": row_lms.M,
                "S": row_lms.S,
            }

    if ws is not None:
        out.append(
            _weight_finding(sex, months, ws, reference, refer_policy, common, who_detail, row_lms)
        )
    if th is not None:
        out.append(
            _thinness_finding(sex, months, th, reference, refer_policy, common, who_detail, row_lms)
        )
    if st is not None:
        out.append(_stunting_finding(sex, months, st, height_h, refer_policy, common))
    return out


def _unclassified(
    code: str, category: str, standard: str, clause: str, detail: dict[str, Any]
) -> Finding:
    key = "growth.not_applicable" if category == NOT_APPLICABLE else "growth.bmi_needs_height"
    return Finding(ScreeningType.GROWTH, code, category, 0, False, standard, clause, key, detail)


def _weight_finding(
    sex: Sex,
    months: int,
    ws: str,
    reference: str,
    refer_policy: dict[str, frozenset[str]],
    common: dict[str, Any],
    who_detail: dict[str, Any],
    row_lms: LmsRow | None,
) -> Finding:
    detail = dict(common)
    if ws == NOT_EVALUABLE:
        return _unclassified(
            "weight_status",
            ws,
            WEIGHT_STANDARD[reference],
            "BMI = weight / height^2 needs height_cm",
            detail,
        )
    refer = ws in refer_policy["weight_status"]
    advice = {
        "normal": "growth.normal_weight",
        "overweight": "growth.overweight",
        "obese": "growth.obese",
    }
    if reference == "wst586":
        row_age = wst586_row_age(months)
        if row_age is not None:
            row = _index(wst586_rows)[sex.value, row_age]
            detail.update(
                table_row=row_age,
                overweight_cutoff=row.overweight_bmi,
                obesity_cutoff=row.obesity_bmi,
            )
            clause = (
                f"Table 1, row {row_age}~ ({_SEX_WORD[sex]}): overweight if BMI >= "
                f"{row.overweight_bmi}, obesity if BMI >= {row.obesity_bmi} "
                "(BMI rounded half-up to 0.1)"
            )
            standard = WST586
        elif ws == NOT_APPLICABLE:
            scope = (
                "applies from age 6.0 (scope 6-18 y)"
                if months < WST_MIN_MONTHS
                else "adult cutoffs (WS/T 428-2013) switched off by adult_bmi=false"
            )
            return _unclassified("weight_status", ws, WST586, scope, detail)
        else:
            detail.update(overweight_cutoff=ADULT_OVERWEIGHT_BMI, obesity_cutoff=ADULT_OBESITY_BMI)
            clause = (
                f"adults: overweight if {ADULT_OVERWEIGHT_BMI} <= BMI < "
                f"{ADULT_OBESITY_BMI}, obesity if BMI >= {ADULT_OBESITY_BMI}"
            )
            standard = WST428
    elif reference == "who2007":
        standard = WHO2007
        if ws == NOT_APPLICABLE:
            return _unclassified(
                "weight_status", ws, standard, "BMI-for-age covers 61-228 completed months", detail
            )
        detail.update(who_detail)
        detail.update(
            overweight_cutoff=row_lms.cutoffs["plus1sd"] if row_lms else None,
            obesity_cutoff=row_lms.cutoffs["plus2sd"] if row_lms else None,
        )
        clause = (
            f"BMI-for-age, month {months}: overweight if z > +1 SD, obesity if "
            "z > +2 SD (z from unrounded BMI)"
        )
    else:
        standard = CDC2000
        if ws == NOT_APPLICABLE:
            return _unclassified(
                "weight_status", ws, standard, "BMI-for-age covers 24-240 completed months", detail
            )
        detail.update(who_detail)
        detail.update(
            overweight_cutoff=row_lms.cutoffs["p85"] if row_lms else None,
            obesity_cutoff=row_lms.cutoffs["p95"] if row_lms else None,
        )
        clause = (
            f"BMI-for-age, agemos {months}.5: overweight if BMI >= P85, obesity if "
            "BMI >= P95 (unrounded BMI)"
        )
    return Finding(
        ScreeningType.GROWTH,
        "weight_status",
        ws,
        WEIGHT_SEVERITY[ws],
        refer,
        standard,
        clause,
        advice[ws],
        detail,
    )


def _thinness_finding(
    sex: Sex,
    months: int,
    th: str,
    reference: str,
    refer_policy: dict[str, frozenset[str]],
    common: dict[str, Any],
    who_detail: dict[str, Any],
    row_lms: LmsRow | None,
) -> Finding:
    detail = dict(common)
    if th == NOT_EVALUABLE:
        return _unclassified(
            "thinness",
            th,
            THINNESS_STANDARD[reference],
            "BMI = weight / height^2 needs height_cm",
            detail,
        )
    advice = {
        "none": "growth.no_thinness",
        "mild": "growth.thinness_mild",
        "moderate_severe": "growth.thinness_moderate_severe",
    }
    if reference == "wst586":
        standard = WST456
        row_age = wst456_row_age(months)
        if row_age is None and th != NOT_APPLICABLE:
            standard = WST428
            detail.update(mild_max=ADULT_UNDERWEIGHT_BMI - Decimal("0.1"))
            clause = (
                f"adults (18 y and over): underweight if BMI < {ADULT_UNDERWEIGHT_BMI}, one "
                "grade, reported as mild thinness (BMI rounded half-up to 0.1)"
            )
        elif row_age is None:
            scope = (
                "thinness tables cover 6.0 to <18.0 y"
                if months < WST456_UNTIL_MONTHS
                else "adult cutoffs (WS/T 428-2013) switched off by adult_bmi=false"
            )
            return _unclassified("thinness", th, standard, scope, detail)
        else:
            row = _index(thinness_rows)[sex.value, row_age]
            detail.update(
                table_row=row_age,
                moderate_severe_max=row.moderate_severe_max,
                mild_max=row.mild_max,
            )
            clause = (
                f"thinness table, row {row_age}~ ({_SEX_WORD[sex]}): moderate/severe if "
                f"BMI <= {row.moderate_severe_max}, mild if {row.moderate_severe_max} < "
                f"BMI <= {row.mild_max}"
            )
    elif reference == "who2007":
        standard = WHO2007
        if th == NOT_APPLICABLE:
            return _unclassified(
                "thinness", th, standard, "BMI-for-age covers 61-228 completed months", detail
            )
        detail.update(who_detail)
        detail.update(
            mild_max=row_lms.cutoffs["minus2sd"] if row_lms else None,
            moderate_severe_max=row_lms.cutoffs["minus3sd"] if row_lms else None,
        )
        clause = (
            f"BMI-for-age, month {months}: thinness if z < -2 SD (mild), severe "
            "thinness if z < -3 SD (moderate_severe)"
        )
    else:
        standard = CDC2000
        if th == NOT_APPLICABLE:
            return _unclassified(
                "thinness", th, standard, "BMI-for-age covers 24-240 completed months", detail
            )
        detail.update(who_detail)
        detail.update(mild_max=row_lms.cutoffs["p5"] if row_lms else None)
        clause = f"BMI-for-age, agemos {months}.5: underweight if BMI < P5 (mild)"
    refer = th in refer_policy["thinness"]
    return Finding(
        ScreeningType.GROWTH,
        "thinness",
        th,
        THINNESS_SEVERITY[th],
        refer,
        standard,
        clause,
        advice[th],
        detail,
    )


def _stunting_finding(
    sex: Sex,
    months: int,
    st: str,
    height_h: int | None,
    refer_policy: dict[str, frozenset[str]],
    common: dict[str, Any],
) -> Finding:
    detail = dict(common)
    detail.pop("bmi", None)
    if height_h is not None:
        detail["height_cm"] = Decimal(height_h).scaleb(-2)
    row_age = wst456_row_age(months)
    if st == NOT_APPLICABLE or row_age is None:
        return _unclassified(
            "stunting", NOT_APPLICABLE, WST456, "stunting table covers 6.0 to <18.0 y", detail
        )
    row = _index(stunting_rows)[sex.value, row_age]
    detail.update(table_row=row_age, stunting_height_max=row.height_max_cm)
    clause = (
        f"stunting table, row {row_age}~ ({_SEX_WORD[sex]}): stunting if height <= "
        f"{row.height_max_cm} cm"
    )
    advice = "growth.stunting" if st == "yes" else "growth.no_stunting"
    return Finding(
        ScreeningType.GROWTH,
        "stunting",
        st,
        STUNTING_SEVERITY[st],
        st in refer_policy["stunting"],
        WST456,
        clause,
        advice,
        detail,
    )


# ---------------------------------------------------------------- chart helpers


def bmi_reference_cutoffs(
    sex: Sex, reference: str = "wst586"
) -> list[tuple[Decimal, dict[str, Decimal]]]:
    """Cutoff lines for a growth chart: ``[(age_years, {category: cutoff}), ...]``.

    Categories are evaluation.md codes: "overweight" and "obese" are lower bounds
    (inclusive for WS/T 586 and CDC, strict for WHO); "mild" and "moderate_severe" are
    thinness upper bounds (inclusive for WS/T 456, strict for WHO / CDC). WS/T rows are
    half-year band starts; WHO / CDC rows are completed months / 12 (4 decimals).
    """
    out: list[tuple[Decimal, dict[str, Decimal]]] = []
    if reference == "wst586":
        thin = _index(thinness_rows)
        for row in wst586_rows():
            if row.sex != sex.value:
                continue
            cut = {"overweight": row.overweight_bmi, "obese": row.obesity_bmi}
            t = thin.get((row.sex, row.age_years))
            if t is not None:
                cut.update(mild=t.mild_max, moderate_severe=t.moderate_severe_max)
            out.append((row.age_years, cut))
    elif reference == "who2007":
        for r in who2007_rows():
            if r.sex == sex.value:
                out.append(
                    (
                        _years(r.age_months),
                        {
                            "overweight": r.cutoffs["plus1sd"],
                            "obese": r.cutoffs["plus2sd"],
                            "mild": r.cutoffs["minus2sd"],
                            "moderate_severe": r.cutoffs["minus3sd"],
                        },
                    )
                )
    elif reference == "cdc2000":
        for r in cdc2000_rows():
            months = r.age_months - Decimal("0.5")  # row x.5 <-> completed month x
            if (
                r.sex == sex.value
                and months == months.to_integral_value()
                and CDC2000_MONTHS[0] <= months <= CDC2000_MONTHS[1]
            ):
                out.append(
                    (
                        _years(months),
                        {
                            "overweight": r.cutoffs["p85"],
                            "obese": r.cutoffs["p95"],
                            "mild": r.cutoffs["p5"],
                        },
                    )
                )
    else:
        raise ValueError(f"unknown growth reference {reference!r}")
    return out


def _years(months: Decimal) -> Decimal:
    return (months / 12).quantize(Decimal("0.0001"))


def stunting_cutoffs(sex: Sex) -> list[tuple[Decimal, Decimal]]:
    """WS/T 456-2014 stunting lines: ``[(band start, height max cm), ...]`` (height <= max)."""
    return [(r.age_years, r.height_max_cm) for r in stunting_rows() if r.sex == sex.value]
