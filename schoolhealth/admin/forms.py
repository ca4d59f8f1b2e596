"""Forms of the admin blueprint.

Database rules (unique codes, the scope of each role, password strength) live in
admin/services.py, shared with the CLI; the views put a refused value's message on the
field it names. These forms check only shape: required, length, matching passwords.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from ..extensions import db
from ..labels import audit_action_label, audit_entity_label, audit_entity_type
from ..models import District, Institution, Role, School
from ..rules import numbers
from ..rules.ruleset import GROWTH_REFERENCE_DEFAULT, GROWTH_REFERENCES
from .services import PASSWORD_MIN_LENGTH, find_user

GROWTH_REFERENCE_LABELS: dict[str, Any] = {
    "wst586": _l("WS/T 586-2018 (national standard)"),
    "who2007": _l("WHO 2007 growth reference"),
    "cdc2000": _l("CDC 2000 growth charts"),
}

# A district's, school's or institution's name (名称), not a person's (姓名 is "Name").
ORG_NAME = lazy_pgettext("not a person", "Name")

# Someone else's new password: a browser must not offer the admin's own saved one.
NEW_PASSWORD = {"autocomplete": "new-password"}

ROLE_LABELS: dict[str, Any] = {
    Role.ADMIN.value: _l("Administrator"),
    Role.NURSE.value: _l("School nurse"),
    Role.INSTITUTION.value: _l("Screening institution"),
    Role.OFFICIAL.value: _l("District official"),
}


def optional_int(value: Any) -> int | None:
    """Coerce a drop-down value: the empty choice is None."""
    if value in (None, "", "None"):
        return None
    try:
        return numbers.parse_int(str(value))
    except ValueError:
        return None


def _blank_choice() -> list[tuple[str, Any]]:
    return [("", "—")]


def district_choices() -> list[tuple[Any, Any]]:
    rows = db.session.execute(select(District.id, District.name).order_by(District.name)).all()
    return _blank_choice() + [(i, n) for i, n in rows]


def school_choices() -> list[tuple[Any, Any]]:
    rows = db.session.execute(
        select(School.id, School.code, School.name).order_by(School.code)
    ).all()
    return _blank_choice() + [(i, f"{c} {n}") for i, c, n in rows]


def institution_choices() -> list[tuple[Any, Any]]:
    rows = db.session.execute(
        select(Institution.id, Institution.name).order_by(Institution.name)
    ).all()
    return _blank_choice() + [(i, n) for i, n in rows]


class SearchForm(FlaskForm):
    """The search box of the list pages (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])


class DistrictForm(FlaskForm):
    name = StringField(ORG_NAME, validators=[DataRequired(), Length(max=100)])
    code = StringField(
        _l("Code"),
        validators=[Optional(), Length(max=32)],
        description=_l("Optional, e.g. the administrative division code."),
    )
    growth_reference = SelectField(
        _l("Growth reference for BMI"),
        default=GROWTH_REFERENCE_DEFAULT,
        description=_l("The screening rules flag overweight and thinness with this reference."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.growth_reference.choices = [
            (code, GROWTH_REFERENCE_LABELS.get(code, code)) for code in GROWTH_REFERENCES
        ]


class SchoolForm(FlaskForm):
    code = StringField(
        _l("School code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("The school identification code (学校标识码); unique."),
    )
    name = StringField(ORG_NAME, validators=[DataRequired(), Length(max=100)])
    district = SelectField(_l("District"), coerce=optional_int)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.district.choices = district_choices()


class InstitutionForm(FlaskForm):
    name = StringField(ORG_NAME, validators=[DataRequired(), Length(max=100)])
    code = StringField(_l("Code"), validators=[Optional(), Length(max=32)])


class UserForm(FlaskForm):
    """Create an account (with ``user=None``) or edit one (username and password fixed)."""

    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(min=3, max=64)],
        description=_l("Letters, digits, dots, hyphens, underscores or @; case does not matter."),
        render_kw={"autocomplete": "off"},
    )
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"))
    school = SelectField(
        _l("School"), coerce=optional_int, description=_l("Required for school nurses.")
    )
    institution = SelectField(
        _l("Institution"),
        coerce=optional_int,
        description=_l("Required for screening institution accounts."),
    )
    district = SelectField(
        _l("District"), coerce=optional_int, description=_l("Required for district officials.")
    )
    locale = SelectField(_l("Language"))
    active = BooleanField(_l("Active (may sign in)"), default=True)
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        description=_l(
            "At least %(n)s characters, not the username, not a common or easily guessed password.",
            n=PASSWORD_MIN_LENGTH,
        ),
        render_kw=NEW_PASSWORD,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw=NEW_PASSWORD,
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            # The username is what the audit trail and sign-in know a person by; the
            # password has its own form, so an edit never resets it by accident.
            del self.username
            del self.password
            del self.confirm
        self.role.choices = [(r.value, ROLE_LABELS[r.value]) for r in Role]
        self.school.choices = school_choices()
        self.institution.choices = institution_choices()
        self.district.choices = district_choices()
        self.locale.choices = [("", _l("As the browser asks"))] + list(
            current_app.config["LANGUAGES"].items()
        )

    def validate_username(self, field: StringField) -> None:
        if find_user(field.data or "") is not None:
            raise ValidationError(_l("This username is taken."))


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=200)],
        description=_l(
            "At least %(n)s characters, not the username, not a common or easily guessed password.",
            n=PASSWORD_MIN_LENGTH,
        ),
        render_kw=NEW_PASSWORD,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw=NEW_PASSWORD,
    )


class AuditFilterForm(FlaskForm):
    """Filters of the audit viewer (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    user = StringField(_l("User"), validators=[Optional(), Length(max=64)])
    action = SelectField(_l("Action"), validators=[Optional()])
    entity = SelectField(_l("Record type"), validators=[Optional()])
    school = SelectField(_l("School"), coerce=optional_int, validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def __init__(self, *args: Any, actions: list[str], entities: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.action.choices = [("", _l("Any"))] + sorted(
            ((a, audit_action_label(a)) for a in actions), key=lambda choice: choice[1]
        )
        types = {audit_entity_type(e) for e in entities}
        self.entity.choices = [("", _l("Any"))] + sorted(
            ((e, audit_entity_label(e)) for e in types), key=lambda choice: choice[1]
        )
        self.school.choices = [("", _l("Any"))] + school_choices()[1:]

    def validate_user(self, field: StringField) -> None:
        if field.data and find_user(field.data) is None:
            raise ValidationError(_l("No user has this username."))

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
