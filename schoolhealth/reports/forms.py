"""The report's filters: a GET form, so a report is a link that can be shared and bookmarked."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from ..fields import StrictIntegerField
from .services import GROUPINGS, INDICATORS

BY_LABELS = {
    "school": _l("School"),
    "grade": _l("Grade"),
    "sex": _l("Sex"),
    "age": _l("Age"),
}


class ReportFilterForm(Form):
    """Read from the query string; every field is optional and has a sensible default."""

    by = SelectField(
        _l("Group by"),
        choices=[SelectChoice(g, BY_LABELS[g]) for g in GROUPINGS],
        default="school",
        validate_choice=True,
    )
    school_year = SelectField(_l("School year"), choices=[], validate_choice=False)
    district = SelectField(_l("District"), choices=[], validate_choice=False)
    school = SelectField(_l("School"), choices=[], validate_choice=False)
    session = StrictIntegerField(
        _l("Screening session (id)"), validators=[Optional(), NumberRange(1, 2**31 - 1)]
    )
    date_from = DateField(_l("Sessions from"), validators=[Optional()])
    date_to = DateField(_l("Sessions until"), validators=[Optional()])
    indicator = SelectField(
        _l("Chart"),
        choices=[SelectChoice(i.key, i.label) for i in INDICATORS],
        default="myopia",
        validate_choice=True,
    )

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date cannot be before the start date."))

    @staticmethod
    def _chosen_id(field: SelectField) -> int | None:
        value = (field.data or "").strip()
        return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None

    @property
    def district_id(self) -> int | None:
        return self._chosen_id(self.district)

    @property
    def school_id(self) -> int | None:
        return self._chosen_id(self.school)

    @property
    def year(self) -> int | None:
        value = (self.school_year.data or "").strip()
        return int(value) if value.isdigit() and 1990 < int(value) < 2200 else None
