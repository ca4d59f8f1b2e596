"""Spine: scoliosis and sagittal-curvature screening (脊柱弯曲异常筛查).

GB/T 16133-2014 and the NHC 脊柱弯曲异常防控技术指南 (README §4): general inspection from
behind, Adams forward-bend test, scoliometer angle of trunk rotation (ATR) at the
thoracic, thoracolumbar and lumbar segments, and a sagittal inspection with the prone
test. Screening can only ever say "suspected": a standing full-spine X-ray with Cobb
>= 10 degrees confirms scoliosis, and only follow-up records that (:func:`confirms_scoliosis`).

Decision order (one ``spine`` result, the most serious of coronal and sagittal):

* coronal, suspected_scoliosis: any ATR >= the positive threshold (default 5 degrees,
  UNVERIFIED, configurable, e.g. 7 as SOSORT; B12); or a positive Adams test with no
  ATR measured; or an abnormal general inspection with neither Adams nor ATR recorded
  (a structural curve cannot be excluded, so refer);
* coronal, signs with every measured ATR below the threshold (abnormal general inspection
  or positive Adams test): the spinal motion test (脊柱运动试验, GB/T 16133) tells postural
  from structural. Asymmetry that persists is suspected_scoliosis (refer); one that
  resolves is postural (advice); not done is postural with ``motion_test_needed`` in the
  detail, an open item the nurse sees (never silently normal);
* sagittal: kyphosis / lordosis / straight back that resolves on the prone test is
  postural; one that persists, or with no prone test recorded, is sagittal_abnormal;
* normal only when the coronal screening was done (general, Adams or ATR recorded) and
  found nothing, and any sagittal inspection was normal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .tables import constants
from .types import NOT_EVALUABLE, Finding, ScreeningType

STANDARD = "GB/T 16133-2014"
_S = constants()["spine"]
ATR_BAND_EDGES = tuple(Decimal(v) for v in _S["atr_band_edges"])  # 5, 7, 10 (UNVERIFIED)
COBB_SCOLIOSIS_DEGREES = Decimal(_S["cobb_scoliosis_degrees"])  # >= 10 (README §4.1, VERIFIED)

SPINE_RANK = {"normal": 0, "postural": 1, "sagittal_abnormal": 2, "suspected_scoliosis": 3}
SPINE_ADVICE = {
    "normal": "spine.normal",
    "postural": "spine.postural",
    "sagittal_abnormal": "spine.sagittal_abnormal",
    "suspected_scoliosis": "spine.suspected_scoliosis",
}
SAGITTAL_FINDINGS = frozenset({"kyphosis", "lordosis", "straight_back"})

# reasons (hot path returns them; findings turn them into clauses)
R_ATR = "atr"
R_ADAMS_NO_ATR = "adams_positive_without_atr"
R_GENERAL_ONLY = "general_abnormal_without_adams_or_atr"
R_POSTURAL = "signs_with_atr_below_threshold"  # motion test not done: still needed
# Words of R_POSTURAL's clause that mark the open item (stored with the finding).
MOTION_TEST_NEEDED = "spinal motion test not recorded"
R_MOTION_RESOLVED = "signs_with_atr_below_threshold_motion_test_resolved"
R_MOTION_PERSISTS = "signs_with_atr_below_threshold_motion_test_persists"
R_SAGITTAL_RESOLVED = "sagittal_resolved_on_prone_test"
R_SAGITTAL_PERSISTS = "sagittal_persists_on_prone_test"
R_SAGITTAL_NO_PRONE = "sagittal_without_prone_test"
R_NORMAL = "normal"
R_CORONAL_MISSING = "coronal_not_recorded"


def atr_band(atr: Decimal) -> str:
    """Band of the national-format form: "<5", "5-<7", "7-<10", ">=10" (README §4.3)."""
    low, mid, high = ATR_BAND_EDGES
    if atr < low:
        return f"<{low}"
    if atr < mid:
        return f"{low}-<{mid}"
    if atr < high:
        return f"{mid}-<{high}"
    return f">={high}"


def confirms_scoliosis(cobb_degrees: Decimal) -> bool:
    """Follow-up only: a standing full-spine X-ray Cobb angle >= 10 degrees confirms scoliosis."""
    return cobb_degrees >= COBB_SCOLIOSIS_DEGREES


def classify_spine(
    atr_cut: int,
    general: int | None,
    adams: int | None,
    atr_t: int | None,
    atr_tl: int | None,
    atr_l: int | None,
    sagittal: str | None,
    prone: str | None,
    motion: str | None = None,
) -> tuple[str | None, int | None, str, str]:
    """Hot path: (category, atr_max_tenths, coronal reason, sagittal reason).

    ``general``/``adams``: 1 abnormal/positive, 0 normal/negative, None not recorded;
    ATR in tenths of a degree; positive when ATR tenths >= ``atr_cut``; ``motion``: the
    spinal motion test, "resolved", "persists" or None (not done).
    """
    atr_max = atr_t
    if atr_tl is not None and (atr_max is None or atr_tl > atr_max):
        atr_max = atr_tl
    if atr_l is not None and (atr_max is None or atr_l > atr_max):
        atr_max = atr_l
    if atr_max is not None and atr_max >= atr_cut:
        coronal, c_reason = "suspected_scoliosis", R_ATR
    elif adams == 1 and atr_max is None:
        coronal, c_reason = "suspected_scoliosis", R_ADAMS_NO_ATR
    elif general == 1 and adams is None and atr_max is None:
        coronal, c_reason = "suspected_scoliosis", R_GENERAL_ONLY
    elif adams == 1 or general == 1:
        if motion == "persists":
            coronal, c_reason = "suspected_scoliosis", R_MOTION_PERSISTS
        elif motion == "resolved":
            coronal, c_reason = "postural", R_MOTION_RESOLVED
        else:
            coronal, c_reason = "postural", R_POSTURAL
    elif general is None and adams is None and atr_max is None:
        coronal, c_reason = None, R_CORONAL_MISSING
    else:
        coronal, c_reason = "normal", R_NORMAL
    if sagittal is None or sagittal == "normal":
        sag, s_reason = ("normal", R_NORMAL) if sagittal else (None, "")
    elif prone == "resolved":
        sag, s_reason = "postural", R_SAGITTAL_RESOLVED
    elif prone == "persists":
        sag, s_reason = "sagittal_abnormal", R_SAGITTAL_PERSISTS
    else:
        sag, s_reason = "sagittal_abnormal", R_SAGITTAL_NO_PRONE
    if coronal is None:
        if sag is None:
            return (None, None, c_reason, s_reason)
        if sag == "normal":
            # A normal side view says nothing about scoliosis: never report "normal".
            return (NOT_EVALUABLE, None, c_reason, s_reason)
        return (sag, None, c_reason, s_reason)
    if sag is not None and SPINE_RANK[sag] > SPINE_RANK[coronal]:
        return (sag, atr_max, c_reason, s_reason)
    return (coronal, atr_max, c_reason, s_reason)


_CLAUSES = {
    R_ATR: "ATR >= {thr} degrees at {segments} (scoliometer, positive threshold {thr})",
    R_ADAMS_NO_ATR: "positive forward-bend (Adams) test without ATR measurement",
    R_GENERAL_ONLY: "abnormal general inspection; forward-bend test and ATR not recorded",
    R_POSTURAL: (
        "signs on inspection/forward bend with every ATR below {thr} degrees; "
        + MOTION_TEST_NEEDED
        + " (needed to tell postural from structural)"
    ),
    R_MOTION_RESOLVED: (
        "signs on inspection/forward bend with every ATR below {thr} degrees; asymmetry "
        "resolved on the spinal motion test (postural)"
    ),
    R_MOTION_PERSISTS: (
        "signs on inspection/forward bend with every ATR below {thr} degrees; asymmetry "
        "persists on the spinal motion test (structural curve suspected)"
    ),
    R_SAGITTAL_RESOLVED: "{sagittal} sign resolved on the prone test (postural)",
    R_SAGITTAL_PERSISTS: "{sagittal} sign persists on the prone test",
    R_SAGITTAL_NO_PRONE: "{sagittal} sign; prone test not recorded",
    R_NORMAL: "no sign on inspection, forward bend or scoliometer",
    R_CORONAL_MISSING: "coronal screening (general, Adams, ATR) not recorded",
}


def spine_finding(
    codes: tuple[str | None, int | None, str, str],
    atr: dict[str, Decimal | None],
    sagittal: str | None,
    threshold: Decimal,
    refer_policy: dict[str, frozenset[str]],
) -> Finding | None:
    """The ``spine`` finding for :func:`classify_spine`'s codes (None if not screened)."""
    category, atr_max_t, c_reason, s_reason = codes
    if category is None:
        return None
    measured = {k: v for k, v in atr.items() if v is not None}
    positive = [k for k, v in measured.items() if v >= threshold]
    detail: dict[str, Any] = {
        "atr_positive_degrees": threshold,
        "atr": measured,
        "atr_bands": {k: atr_band(v) for k, v in measured.items()},
        "positive_segments": positive,
        "coronal_reason": c_reason,
        "sagittal": sagittal,
        "sagittal_reason": s_reason or None,
        "motion_test_needed": c_reason == R_POSTURAL,
    }
    if atr_max_t is not None:
        detail["atr_max"] = Decimal(atr_max_t).scaleb(-1)
    reasons = [c_reason] if c_reason else []
    if s_reason and s_reason != R_NORMAL:
        reasons.append(s_reason)
    clause = "; ".join(
        _CLAUSES[r].format(
            thr=threshold, segments=", ".join(positive), sagittal=(sagittal or "").replace("_", " ")
        )
        for r in reasons
    )
    if category == NOT_EVALUABLE:
        return Finding(
            ScreeningType.SPINE,
            "spine",
            category,
            0,
            False,
            STANDARD,
            clause,
            "spine.incomplete",
            detail,
        )
    return Finding(
        ScreeningType.SPINE,
        "spine",
        category,
        SPINE_RANK[category],
        category in refer_policy["spine"],
        STANDARD,
        clause,
        SPINE_ADVICE[category],
        detail,
    )
