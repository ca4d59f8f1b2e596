"""Forms of the screening blueprint: the session form and the status buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import SCREENING_TYPES, Institution, School, SessionStatus
from ..rules import numbers
from .fields import TYPE_LABELS
from .sessions import ATR_CHOICES


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes (one per choice) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SessionForm(FlaskForm):
    """Create or edit a screening session.

    ``schools`` (administrators only) adds a school choice; nurses always plan for their
    own school. ``institutions`` are the screening institutions to choose from.
    """

    school_id = SelectField(_l("School"), coerce=numbers.coerce_int)
    name = StringField(
        lazy_pgettext("not a person", "Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("For example “2026 秋季 视力筛查”."),
    )
    start_date = DateField(_l("Start date"), validators=[InputRequired()])
    end_date = DateField(_l("End date"), validators=[Optional()])
    types = MultiCheckboxField(
        _l("Screenings"),
        choices=[SelectChoice(t, TYPE_LABELS[t]) for t in SCREENING_TYPES],
        validators=[DataRequired(message=_l("Choose at least one screening type."))],
    )
    institution_id = SelectField(_l("Screening institution"), coerce=numbers.coerce_int, default=0)
    atr_positive_degrees = SelectField(
        _l("ATR threshold (spine)"),
        coerce=numbers.coerce_int,
        choices=[SelectChoice(v, f"{v}°") for v in ATR_CHOICES],
        default=ATR_CHOICES[0],
        description=_l(
            "The angle of trunk rotation at or above which the forward-bend test counts as "
            "positive: 5° is the national default, 7° the usual international referral value."
        ),
    )

    records_refraction = BooleanField(
        _l("Records refraction (sphere and cylinder)"),
        description=_l(
            "Tick when an autorefractor is used: only then does the class grid ask for "
            "sphere and cylinder."
        ),
    )

    def __init__(
        self,
        *args: Any,
        schools: Sequence[School] | None = None,
        institutions: Sequence[Institution] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if schools is None:
            del self.school_id
        else:
            self.school_id.choices = [SelectChoice(s.id, f"{s.code} {s.name}") for s in schools]
        self.institution_id.choices = [SelectChoice(0, _l("— none —"))] + [
            SelectChoice(i.id, i.name) for i in institutions
        ]

    def validate_end_date(self, field: DateField) -> None:
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError(_l("The end date cannot be before the start date."))


class StatusForm(FlaskForm):
    """One button of the session page: start, close or reopen."""

    status = HiddenField(
        validators=[DataRequired(), AnyOf([s.value for s in SessionStatus])],
    )
