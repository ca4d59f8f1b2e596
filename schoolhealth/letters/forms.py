"""Forms of the letters: batch options, one pupil's letter, the register, wording, parents."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, ValidationError

from . import texts

LANGUAGE_LABELS = {
    "guardian": _l("Each guardian's language"),
    "zh": _l("Chinese"),
    "en": _l("English"),
}
STATUS_LABELS = {
    "printed": _l("Printed"),
    "handed_out": _l("Handed out"),
    "slip_returned": _l("Slip returned"),
    "generated": _l("Generated"),
}


def _choices(labels: dict[str, Any], keys: Any = None) -> list[SelectChoice]:
    return [SelectChoice(k, labels[k]) for k in (keys or labels)]


class BatchForm(FlaskForm):
    """Options of a class or school batch; the class is the button pressed."""

    language = SelectField(
        _l("Letter language"), choices=_choices(LANGUAGE_LABELS), default="guardian"
    )
    include_normal = BooleanField(_l("Also letters of normal results to every other parent"))
    duplex = BooleanField(_l("Start each letter on an odd page (double-sided printing)"))


class SingleLetterForm(FlaskForm):
    language = SelectField(
        _l("Letter language"), choices=_choices(LANGUAGE_LABELS), default="guardian"
    )


class RegisterForm(FlaskForm):
    status = SelectField(_l("Mark the ticked letters as"), choices=_choices(STATUS_LABELS))


class TextsScopeForm(FlaskForm):
    """Which wording to edit (a GET form)."""

    class Meta:
        csrf = False

    scope = SelectField(_l("For"), validate_choice=False)
    language = SelectField(_l("Language"), choices=_choices(LANGUAGE_LABELS, ("zh", "en")))


def texts_form(language: str, current: dict[str, str], formdata: Any = None) -> FlaskForm:
    """A form with one text area per wording key, filled with the wording in force."""

    class TextsForm(FlaskForm):
        pass

    for key in texts.EDITABLE_KEYS:
        setattr(
            TextsForm,
            "t_" + key.replace(".", "__"),
            TextAreaField(
                key,
                default=current.get(key, ""),
                validators=[Length(max=2000)],
                description=texts.DEFAULTS[language][key],
            ),
        )
    form = TextsForm(formdata=formdata)
    return form


def form_values(form: FlaskForm) -> dict[str, str]:
    return {
        field.name[2:].replace("__", "."): field.data or ""
        for field in form
        if field.name.startswith("t_")
    }


def check_texts(form: FlaskForm) -> bool:
    """Each text's braces must be balanced; the error names the field."""
    ok = True
    for field in form:
        if field.name.startswith("t_") and field.data:
            problem = texts.check_template(field.data)
            if problem:
                field.errors = [*field.errors, _l("Unbalanced braces in this text.")]
                ok = False
    return ok


class ParentForm(FlaskForm):
    """A parent's code and the pupil's birth date."""

    code = StringField(
        _l("Code on the letter"),
        validators=[DataRequired(), Length(min=4, max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    birth_date = DateField(
        _l("Your child's date of birth"),
        validators=[DataRequired(message=_l("Enter the date of birth, e.g. 2017-05-14."))],
    )

    def validate_code(self, field: StringField) -> None:
        if not any(ch.isalnum() for ch in field.data or ""):
            raise ValidationError(_l("Enter the code printed on the letter."))
