"""Forms of follow-up: the outcome as typed from a returned slip, filters, uploads."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired

from ..letters.forms import LANGUAGE_LABELS
from .services import CASE_TYPE_LABELS, INTERVENTION_LABELS, STATE_LABELS

YES_NO = [SelectChoice("", "—"), SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]


def _choices(blank: object, labels: dict) -> list[SelectChoice]:
    return [SelectChoice("", blank), *[SelectChoice(k, v) for k, v in labels.items()]]


class OutcomeForm(FlaskForm):
    """Text fields, checked by services.parse_outcome (one set of rules for the form and
    the bulk upload); which ones show depends on the case type."""

    confirmed = SelectField(_l("Confirmed"), choices=YES_NO, default="")
    cobb_angle = StringField(_l("Cobb angle (°)"), description=_l("0–120; 10° or more confirms"))
    cyclo_se_right = StringField(
        _l("Cycloplegic SE, right eye (D)"), description=_l("−30 to +20; −0.50 or less confirms")
    )
    cyclo_se_left = StringField(_l("Cycloplegic SE, left eye (D)"))
    treated = SelectField(_l("Caries treated"), choices=YES_NO, default="")
    teeth_treated = StringField(_l("Teeth treated"), description=_l("0–32"))
    intervention = SelectField(
        _l("Intervention"),
        choices=_choices("—", INTERVENTION_LABELS),
        default="",
    )
    hospital = StringField(_l("Hospital"))
    doctor = StringField(_l("Doctor"))
    diagnosis_date = StringField(_l("Diagnosis date"), description=_l("e.g. 2026-11-03"))
    note = TextAreaField(_l("Note"))
    close_case = BooleanField(_l("Close the case"), default=True)


TYPE_FIELDS = {
    "scoliosis": ("confirmed", "cobb_angle"),
    "myopia": ("confirmed", "cyclo_se_right", "cyclo_se_left"),
    "caries": ("treated", "teeth_treated"),
    "weight": ("intervention",),
}
COMMON_FIELDS = ("hospital", "doctor", "diagnosis_date", "note")


class DateActionForm(FlaskForm):
    on = DateField(_l("Date"), validators=[DataRequired()])


class CsrfOnlyForm(FlaskForm):
    pass


class WorklistFilterForm(FlaskForm):
    class Meta:
        csrf = False

    class_id = SelectField(_l("Class"), choices=[], default="", validate_choice=False)
    case_type = SelectField(
        _l("Type"), choices=_choices(_l("All types"), CASE_TYPE_LABELS), default=""
    )
    state = SelectField(
        _l("State"), choices=_choices(_l("All outstanding"), STATE_LABELS), default=""
    )


class ReminderForm(FlaskForm):
    language = SelectField(
        _l("Letter language"),
        choices=[SelectChoice(k, v) for k, v in LANGUAGE_LABELS.items()],
        default="guardian",
    )


class UploadForm(FlaskForm):
    file = FileField(_l("Outcomes file (CSV or Excel)"), validators=[FileRequired()])


__all__ = [
    "COMMON_FIELDS",
    "TYPE_FIELDS",
    "CsrfOnlyForm",
    "DateActionForm",
    "OutcomeForm",
    "ReminderForm",
    "UploadForm",
    "WorklistFilterForm",
]
