"""The presentation catalogue: what the user sees of each measurement field."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import rules
from ..models import (
    SessionStatus,
)

TYPE_LABELS = {
    "growth": _l("Growth (height, weight)"),
    "vision": _l("Vision"),
    "spine": _l("Spine"),
    "dental": _l("Dental"),
}
STATUS_LABELS = {
    SessionStatus.PLANNED.value: _l("Planned"),
    SessionStatus.IN_PROGRESS.value: _l("In progress"),
    SessionStatus.CLOSED.value: _l("Closed"),
}
# The ATR thresholds a session may flag with (RuleConfig.atr_positive_degrees): 5 is the

FIELD_LABELS = {
    "height_cm": _l("Height (cm)"),
    "weight_kg": _l("Weight (kg)"),
    "ucva_right": _l("Uncorrected visual acuity, right"),
    "ucva_left": _l("Uncorrected visual acuity, left"),
    "glasses": _l("Glasses"),
    "cva_right": _l("Corrected visual acuity, right"),
    "cva_left": _l("Corrected visual acuity, left"),
    "sph_right": _l("Sphere, right (D)"),
    "cyl_right": _l("Cylinder, right (D)"),
    "sph_left": _l("Sphere, left (D)"),
    "cyl_left": _l("Cylinder, left (D)"),
    "se_right": _l("Spherical equivalent, right (D)"),
    "se_left": _l("Spherical equivalent, left (D)"),
    "spine_general": _l("General inspection"),
    "adams": _l("Forward bend test"),
    "atr_thoracic": _l("ATR thoracic (°)"),
    "atr_thoracolumbar": _l("ATR thoracolumbar (°)"),
    "atr_lumbar": _l("ATR lumbar (°)"),
    "sagittal": _l("Sagittal curvature"),
    "prone_test": _l("Prone test"),
    "motion_test": _l("Spinal motion test"),
    "caries_teeth": _l("Decayed teeth (FDI)"),
    "filled_teeth": _l("Filled teeth (FDI)"),
    "missing_teeth": _l("Teeth missing due to caries (FDI)"),
    "sealed_teeth": _l("Sealed teeth (FDI)"),
    "dmft": _l("dmft (primary teeth)"),
    "DMFT": _l("DMFT (permanent teeth)"),
    "absent": _l("Absent"),
}

CHOICES: dict[str, tuple[tuple[str, Any], ...]] = {
    "glasses": (
        ("none", _l("None")),
        ("frame", _l("Frame glasses")),
        ("contact", _l("Contact lenses")),
        ("ortho_k", _l("Ortho-k lenses")),
    ),
    "spine_general": (("normal", _l("Normal")), ("abnormal", _l("Abnormal"))),
    "adams": (("negative", _l("Negative")), ("positive", _l("Positive"))),
    "sagittal": (
        ("normal", _l("Normal")),
        ("kyphosis", _l("Kyphosis")),
        ("lordosis", _l("Lordosis")),
        ("straight_back", _l("Straight back")),
    ),
    "prone_test": (("resolved", _l("Resolved")), ("persists", _l("Persists"))),
    "motion_test": (("resolved", _l("Resolved")), ("persists", _l("Persists"))),
}
TOOTH_FIELDS = ("caries_teeth", "filled_teeth", "missing_teeth", "sealed_teeth")


@dataclass(frozen=True)
class GridColumn:
    """One input column of the class grid."""

    field: str
    label: Any
    short: Any
    kind: str  # "number", "select" or "teeth"
    group: str | None = None  # "refraction" columns can be collapsed
    options: tuple[tuple[str, Any], ...] | None = None  # set by translated()

    @property
    def choices(self) -> tuple[tuple[str, Any], ...]:
        return self.options if self.options is not None else CHOICES.get(self.field, ())

    def translated(self) -> GridColumn:
        """A copy whose labels and choices are plain text in the current language.

        The grid prints every label once per pupil; a lazy string translates itself each
        time it is printed, which made translation most of the grid's server time.
        """
        return replace(
            self,
            label=str(self.label),
            short=str(self.short),
            options=tuple((code, str(label)) for code, label in self.choices),
        )


# What the grid asks for, per screening type, in entry order (results.md field names).
GRID_COLUMNS: dict[str, tuple[GridColumn, ...]] = {
    "growth": (
        GridColumn("height_cm", FIELD_LABELS["height_cm"], _l("Height"), "number"),
        GridColumn("weight_kg", FIELD_LABELS["weight_kg"], _l("Weight"), "number"),
    ),
    "vision": (
        GridColumn("ucva_right", FIELD_LABELS["ucva_right"], _l("UCVA R"), "number"),
        GridColumn("ucva_left", FIELD_LABELS["ucva_left"], _l("UCVA L"), "number"),
        GridColumn("glasses", FIELD_LABELS["glasses"], _l("Glasses"), "select"),
        GridColumn("cva_right", FIELD_LABELS["cva_right"], _l("CVA R"), "number"),
        GridColumn("cva_left", FIELD_LABELS["cva_left"], _l("CVA L"), "number"),
        GridColumn("sph_right", FIELD_LABELS["sph_right"], _l("Sph R"), "number", "refraction"),
        GridColumn("cyl_right", FIELD_LABELS["cyl_right"], _l("Cyl R"), "number", "refraction"),
        GridColumn("sph_left", FIELD_LABELS["sph_left"], _l("Sph L"), "number", "refraction"),
        GridColumn("cyl_left", FIELD_LABELS["cyl_left"], _l("Cyl L"), "number", "refraction"),
    ),
    "spine": (
        GridColumn("spine_general", FIELD_LABELS["spine_general"], _l("General"), "select"),
        GridColumn("adams", FIELD_LABELS["adams"], _l("Bend test"), "select"),
        GridColumn("atr_thoracic", FIELD_LABELS["atr_thoracic"], _l("ATR T"), "number"),
        GridColumn("atr_thoracolumbar", FIELD_LABELS["atr_thoracolumbar"], _l("ATR TL"), "number"),
        GridColumn("atr_lumbar", FIELD_LABELS["atr_lumbar"], _l("ATR L"), "number"),
        GridColumn("motion_test", FIELD_LABELS["motion_test"], _l("Motion"), "select"),
        GridColumn("sagittal", FIELD_LABELS["sagittal"], _l("Sagittal"), "select"),
        GridColumn("prone_test", FIELD_LABELS["prone_test"], _l("Prone"), "select"),
    ),
    "dental": (
        GridColumn("caries_teeth", FIELD_LABELS["caries_teeth"], _l("Decayed"), "teeth"),
        GridColumn("filled_teeth", FIELD_LABELS["filled_teeth"], _l("Filled"), "teeth"),
        GridColumn("missing_teeth", FIELD_LABELS["missing_teeth"], _l("Missing"), "teeth"),
        GridColumn("sealed_teeth", FIELD_LABELS["sealed_teeth"], _l("Sealed"), "teeth"),
    ),
}

# A pupil counts as screened for a type once these are entered (absent counts as done).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "growth": ("height_cm", "weight_kg"),
    "vision": ("ucva_right", "ucva_left"),
    "spine": ("spine_general",),
    "dental": ("caries_teeth",),
}


def field_error_message(error: rules.FieldError) -> str:
    """A refused field in the user's language: "Height (cm): 300 is outside ...".

    The rules core gives each error a key and params for exactly this; an unknown key
    falls back to the core's English message.
    """
    p = dict(error.params or {})
    value = p.get("value", error.value)
    key = error.key
    if key == "not_a_number":
        text = _("%(value)s is not a number.", value=value)
    elif key == "foreign_digit":
        text = _(
            "%(value)s contains the digit “%(char)s”; type numbers with the digits 0–9.",
            value=value,
            char=p.get("char", ""),
        )
    elif key == "out_of_range":
        text = _(
            "%(value)s is outside the plausible range %(min)s–%(max)s %(unit)s.",
            value=value,
            min=p.get("min", ""),
            max=p.get("max", ""),
            unit=p.get("unit", ""),
        )
    elif key == "too_many_decimals":
        text = _(
            "%(value)s has too many decimal places (at most %(decimals)s).",
            value=value,
            decimals=p.get("decimals", ""),
        )
    elif key == "ambiguous_visual_acuity":
        text = _(
            "%(value)s is ambiguous: enter 5-point (3.0–5.3) or decimal (0.01–2.0) acuity.",
            value=value,
        )
    elif key == "not_a_chart_value":
        text = _(
            "%(value)s is not a decimal value of the GB/T 11533 chart; enter the 5-point "
            "value (3.0–5.3) instead.",
            value=value,
        )
    elif key == "unknown_choice":
        text = _("%(value)s is not one of: %(choices)s.", value=value, choices=p.get("choices", ""))
    elif key == "invalid_tooth_code":
        text = _(
            "%(value)s is not an FDI tooth code (11–48 permanent, 51–85 primary).", value=value
        )
    elif key == "duplicate_tooth":
        text = _("tooth %(value)s is listed twice.", value=value)
    elif key == "tooth_in_several_lists":
        other = p.get("other_field", "")
        text = _(
            "tooth %(value)s is also listed under %(other)s.",
            value=value,
            other=str(FIELD_LABELS.get(other, other)),
        )
    elif key == "primary_and_permanent_same_position":
        text = _(
            "primary tooth %(primary)s and permanent tooth %(permanent)s occupy the same "
            "position; record only the tooth present.",
            primary=p.get("primary", ""),
            permanent=p.get("permanent", ""),
        )
    elif key == "not_in_session":
        text = _("this screening is not part of the session.")
    elif key == "too_long":
        text = _("the value is too long.")
    elif key == "absent_with_measurements" and error.field == "absent":
        text = _("the pupil has measurements; clear them before marking the pupil absent.")
    elif key == "absent_with_measurements":
        text = _("the pupil is marked absent; untick “absent” first.")
    else:
        return error.message
    label = FIELD_LABELS.get(error.field, error.field)
    return f"{label}: {text}"


FLAG_LABELS: dict[tuple[str, str], Any] = {
    ("weight_status", "overweight"): _l("Overweight"),
    ("weight_status", "obese"): _l("Obesity"),
    ("thinness", "mild"): _l("Mild thinness"),
    ("thinness", "moderate_severe"): _l("Moderate or severe thinness"),
    ("stunting", "yes"): _l("Stunting"),
    ("vision_right", "mild"): _l("Reduced vision (mild) R"),
    ("vision_right", "moderate"): _l("Reduced vision (moderate) R"),
    ("vision_right", "severe"): _l("Reduced vision (severe) R"),
    ("vision_left", "mild"): _l("Reduced vision (mild) L"),
    ("vision_left", "moderate"): _l("Reduced vision (moderate) L"),
    ("vision_left", "severe"): _l("Reduced vision (severe) L"),
    ("myopia_right", "yes"): _l("Suspected myopia R"),
    ("myopia_left", "yes"): _l("Suspected myopia L"),
    ("myopia_right", "unknown"): _l("Myopia not assessed (no refraction) R"),
    ("myopia_left", "unknown"): _l("Myopia not assessed (no refraction) L"),
    ("spine", "postural"): _l("Postural spine asymmetry"),
    ("spine", "suspected_scoliosis"): _l("Suspected scoliosis"),
    ("spine", "sagittal_abnormal"): _l("Sagittal curvature abnormality"),
    ("caries", "yes"): _l("Untreated caries"),
}


_FLAG_LABEL_CACHE: dict[tuple[str, str, str], str] = {}


def flag_label(code: str, category: str, locale: str | None = None) -> str:
    """The translated chip text of one finding, e.g. "Reduced vision (moderate) R".

    Remembered per language: a grid or flags page prints the same few labels many times
    (callers labelling many findings pass ``locale``, ``str(get_locale())``, once).
    """
    key = (locale or str(get_locale()), code, category)
    text = _FLAG_LABEL_CACHE.get(key)
    if text is None:
        label = FLAG_LABELS.get((code, category))
        text = str(label) if label is not None else f"{code}: {category}"
        if len(_FLAG_LABEL_CACHE) < 10_000:  # bounded, whatever codes a database holds
            _FLAG_LABEL_CACHE[key] = text
    return text


# Chips appear in this order: growth, vision by eye, spine, dental.
FLAG_ORDER = (
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
