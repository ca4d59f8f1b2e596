"""Forms of the roster: a pupil, a class, deactivation and promotion.

Checks use the same helpers as the roster import (rules.idnumber, parse_date,
services.parse_grade / normalize_class_name), so a value the form refuses is also
refused in a file, with the same reasoning.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import labels
from ..cells import formula_like
from ..clock import local_today
from ..extensions import db
from ..models import School, SchoolClass, Student, is_masked, mask_id_number, mask_ids
from ..rules import InvalidMeasurement, numbers, parse_date
from ..rules.idnumber import id_number_birth_date, id_number_sex, validate_id_number
from .services import (
    StudentData,
    current_school_year,
    find_class,
    normalize_class_name,
    parse_grade,
    school_classes,
)

MIN_AGE, MAX_AGE = 3, 25
_STUDENT_NUMBER = re.compile(r"[0-9A-Z]{6,32}")
_PHONE = re.compile(r"[0-9][0-9 \-]*")


def _nfkc(value: Any) -> Any:
    """Full-width to half-width and trimmed; nurses type on Chinese input methods."""
    if not isinstance(value, str):
        return value
    return numbers.nfkc(value).strip()


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _collapse_spaces(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _int_or_none(value: Any) -> int | None:
    """A select's value as an int; blank or garbage is None (the field says what to do)."""
    try:
        return numbers.parse_int(None if value is None else str(value))
    except (TypeError, ValueError):
        return None


def class_label(school_class: SchoolClass) -> str:
    """A class as people say it: "Grade 3, class 2" (3年级2班 in Chinese)."""
    return labels.class_label(school_class.grade, school_class.name)


def age_on(birth_date: date, today: date) -> int:
    """Completed years at ``today``."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


class FlexibleDateField(StringField):
    """A date typed as 2015-03-02, 2015/3/2, 20150302 or 2015年3月2日 (roster.md forms).

    A text input rather than ``type=date``: typing eight digits is faster than a picker.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        try:
            self.data = parse_date(str(valuelist[0]), self.name)
        except InvalidMeasurement as exc:
            raise ValueError(
                _("The birth date is not a date; type it as 2015-03-02 or 20150302.")
            ) from exc

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.data.isoformat() if isinstance(self.data, date) else ""


class StudentForm(FlaskForm):
    """Add or edit one pupil of ``school``; ``student`` is the pupil being edited."""

    student_number = StringField(
        _l("Student number"),
        filters=[_nfkc, _upper],
        validators=[DataRequired(message=_l("Enter the student number."))],
        description=_l("The national student number (学籍号): 6–32 letters and digits."),
    )
    name = StringField(
        _l("Name"),
        filters=[_nfkc, _collapse_spaces],
        validators=[
            DataRequired(message=_l("Enter the pupil's name.")),
            Length(max=50, message=_l("The name is longer than 50 characters.")),
        ],
    )
    sex = SelectField(
        _l("Sex"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice("M", _l("Male")),
            SelectChoice("F", _l("Female")),
        ],
        validate_choice=False,
    )
    birth_date = FlexibleDateField(
        _l("Birth date"), description=_l("For example 2015-03-02 or 20150302.")
    )
    class_id = SelectField(_l("Class"), coerce=_int_or_none, validate_choice=False)
    id_number = StringField(
        _l("Resident ID number"),
        filters=[_nfkc, _upper],
        description=_l("Optional. 18 characters; the last one may be X."),
    )
    guardian_phone = StringField(_l("Guardian phone"), filters=[_nfkc], validators=[Optional()])
    guardian_language = SelectField(
        _l("Letter language"),
        choices=[SelectChoice("zh", _l("Chinese")), SelectChoice("en", _l("English"))],
        default="zh",
        validate_choice=False,
    )

    def __init__(
        self,
        *args: Any,
        school: School,
        student: Student | None = None,
        today: date | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, obj=student, **kwargs)
        self.school = school
        self.student = student
        if student is not None and not self.is_submitted():
            # The page never carries a full resident ID (nor a "G" + ID student number):
            # the masked value is shown, and sent back unchanged it keeps the stored one.
            self.id_number.data = student.masked_id_number or None
            self.student_number.data = student.masked_student_number
        self.today = today or local_today()
        self.school_year = current_school_year(self.today)
        classes = school_classes(school, self.school_year)
        current = student.school_class if student is not None else None
        if current is not None and current not in classes:
            # Not yet promoted, or left: keep the pupil's class choosable as it is.
            classes.insert(0, current)
        self.classes = classes
        self.class_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(c.id, class_label(c)) for c in classes
        ]

    # --- single fields -------------------------------------------------------------

    def _kept(self, field: StringField, stored: str | None, masked: str) -> bool:
        """Whether ``field`` came back as the masked stored value (then: keep the stored one).

        A masked value that is not the pupil's own (edited by hand) is refused with a
        message that says what to do, rather than stored with its asterisks.
        """
        if not is_masked(field.data):
            return False
        if self.student is not None and stored and field.data == masked:
            field.data = stored
            return True
        raise ValidationError(
            _("Type the full number, or leave the masked one unchanged to keep the stored one.")
        )

    def validate_student_number(self, field: StringField) -> None:
        stored = self.student.student_number if self.student is not None else None
        if self._kept(field, stored, mask_ids(stored)):
            return
        if not _STUDENT_NUMBER.fullmatch(field.data or ""):
            raise ValidationError(_("The student number must be 6–32 letters or digits."))
        query = select(Student.school_id, Student.active).where(
            Student.student_number == field.data
        )
        if self.student is not None:
            query = query.where(Student.id != self.student.id)
        holder = db.session.execute(query).first()
        if holder is None:
            return
        if holder.school_id == self.school.id and not holder.active:
            raise ValidationError(
                _(
                    "This student number belongs to a pupil of this school who left; "
                    "put that pupil back on the roster instead (list: Show → Left)."
                )
            )
        raise ValidationError(_("This student number is already recorded for another pupil."))

    def validate_sex(self, field: SelectField) -> None:
        if field.data not in ("M", "F"):
            raise ValidationError(_("Choose the sex."))

    def validate_birth_date(self, field: FlexibleDateField) -> None:
        if field.process_errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the birth date."))
        if field.data > self.today:
            raise ValidationError(_("The birth date is in the future."))
        age = age_on(field.data, self.today)
        if not MIN_AGE <= age <= MAX_AGE:
            raise ValidationError(
                _(
                    "The birth date gives an age of %(age)s; pupils are %(min)s to %(max)s.",
                    age=age,
                    min=MIN_AGE,
                    max=MAX_AGE,
                )
            )

    def validate_class_id(self, field: SelectField) -> None:
        if field.data is None:
            raise ValidationError(_("Choose the class."))
        if field.data not in {c.id for c in self.classes}:
            raise ValidationError(_("Choose one of the school's classes."))

    def validate_id_number(self, field: StringField) -> None:
        if not field.data:
            field.data = None
            return
        student = self.student
        stored = student.id_number if student is not None else None
        if self._kept(field, stored, mask_id_number(stored)):
            return
        try:
            field.data = validate_id_number(field.data)
        except InvalidMeasurement as exc:
            if exc.key == "id_check_digit":
                message = _(
                    "The ID number's check digit should be %(expected)s (GB 11643); "
                    "the number was mistyped.",
                    expected=exc.params.get("expected", "?"),
                )
            elif exc.key == "id_birth_date":
                message = _("The ID number holds an impossible birth date.")
            else:
                message = _(
                    "The ID number must be 18 characters: 17 digits and a check digit (0–9 or X)."
                )
            raise ValidationError(message) from exc
        query = select(Student.id).where(Student.id_number == field.data)
        if self.student is not None:
            query = query.where(Student.id != self.student.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_("This ID number is already recorded for another pupil."))

    def validate_name(self, field: StringField) -> None:
        # Names are exported to spreadsheets: one that Excel would run is refused here.
        if formula_like(field.data):
            raise ValidationError(
                _(
                    "A name cannot begin with =, +, -, @ or a tab: a spreadsheet would run it "
                    "as a formula."
                )
            )

    def validate_guardian_phone(self, field: StringField) -> None:
        if not field.data:
            field.data = None
            return
        if not _PHONE.fullmatch(field.data):
            raise ValidationError(_("The guardian phone may hold only digits, spaces and dashes."))
        digits = field.data.replace(" ", "").replace("-", "")
        if not 5 <= len(digits) <= 20:
            raise ValidationError(_("The guardian phone must have 5–20 digits."))
        field.data = digits

    def validate_guardian_language(self, field: SelectField) -> None:
        if field.data not in ("zh", "en"):
            raise ValidationError(_("Choose Chinese or English for the letters."))

    # --- across fields -------------------------------------------------------------

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks (see :meth:`_check`); a form shown again never shows a full ID."""
        valid = self._check(extra_validators)
        student = self.student
        if not valid and student is not None:
            if self.student_number.data == student.student_number:
                self.student_number.data = student.masked_student_number
            if student.id_number and self.id_number.data == student.id_number:
                self.id_number.data = student.masked_id_number
        return valid

    def _check(self, extra_validators: Any = None) -> bool:
        """Field checks, then the ID number against the birth date and sex typed."""
        valid = super().validate(extra_validators)
        number = self.id_number.data
        if not number or self.id_number.errors:
            return valid
        if self.birth_date.data is not None and not self.birth_date.errors:
            id_birth = id_number_birth_date(number)
            if id_birth != self.birth_date.data:
                self.id_number.errors.append(
                    _(
                        "The ID number gives the birth date %(id_date)s, but the birth date "
                        "entered is %(date)s.",
                        id_date=id_birth.isoformat(),
                        date=self.birth_date.data.isoformat(),
                    )
                )
                valid = False
        if self.sex.data in ("M", "F") and not self.sex.errors:
            id_sex = id_number_sex(number).value
            if id_sex != self.sex.data:
                self.id_number.errors.append(
                    _(
                        "The ID number belongs to a %(id_sex)s pupil, but the sex entered is "
                        "%(sex)s.",
                        id_sex=sex_label(id_sex),
                        sex=sex_label(self.sex.data),
                    )
                )
                valid = False
        return valid

    def to_data(self) -> StudentData:
        return StudentData(
            student_number=self.student_number.data,
            name=self.name.data,
            sex=self.sex.data,
            birth_date=self.birth_date.data,
            class_id=self.class_id.data,
            id_number=self.id_number.data or None,
            guardian_phone=self.guardian_phone.data or None,
            guardian_language=self.guardian_language.data,
        )


def sex_label(code: str) -> str:
    return labels.sex_label(code)


def _class_name(field: StringField) -> str:
    """The class name as the roster stores it ("(3)班" -> "3"), for a new or a renamed class."""
    try:
        return normalize_class_name(field.data)
    except ValueError as exc:
        raise ValidationError(
            _("The class name must be 1–32 characters, such as 3, 3班 or (3)班.")
        ) from exc


class ClassForm(FlaskForm):
    """A new class of a school: grade as rosters write it, name normalised ("(3)班" -> "3")."""

    school_year = SelectField(_l("School year"), coerce=_int_or_none, validate_choice=False)
    grade = StringField(
        _l("Grade"),
        filters=[_nfkc],
        validators=[DataRequired(message=_l("Enter the grade."))],
        description=_l("1–12, or 三年级, 初一, 高二 …"),
    )
    name = StringField(
        _l("Class"),
        filters=[_nfkc],
        validators=[DataRequired(message=_l("Enter the class."))],
        description=_l("For example 3, 3班, (3)班 or 三班: all are saved as 3."),
    )

    def __init__(self, *args: Any, school: School, today: date | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.school = school
        year = current_school_year(today)
        self.years = [year - 1, year, year + 1]
        self.school_year.choices = [SelectChoice(y, school_year_label(y)) for y in self.years]
        self.grade_value: int | None = None
        self.name_value: str | None = None

    def validate_school_year(self, field: SelectField) -> None:
        if field.data not in self.years:
            raise ValidationError(_("Choose one of the school years offered."))

    def validate_grade(self, field: StringField) -> None:
        try:
            self.grade_value = parse_grade(field.data)
        except ValueError as exc:
            raise ValidationError(
                _("The grade must be 1–12 (or 一年级…六年级, 初一…初三, 高一…高三).")
            ) from exc

    def validate_name(self, field: StringField) -> None:
        self.name_value = _class_name(field)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if valid and find_class(
            self.school, self.school_year.data, self.grade_value, self.name_value
        ):
            self.name.errors.append(_("The school already has this class in that school year."))
            return False
        return valid


class RenameClassForm(FlaskForm):
    name = StringField(
        _l("New class name"),
        filters=[_nfkc],
        validators=[DataRequired(message=_l("Enter the class."))],
        description=_l("For example 3, 3班, (3)班 or 三班: all are saved as 3."),
    )

    def __init__(self, *args: Any, school_class: SchoolClass, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.school_class = school_class
        self.name_value: str | None = None

    def validate_name(self, field: StringField) -> None:
        self.name_value = _class_name(field)
        c = self.school_class
        other = find_class(c.school, c.school_year, c.grade, self.name_value)
        if other is not None and other.id != c.id:
            raise ValidationError(_("The school already has this class in that school year."))


class DeactivateForm(FlaskForm):
    reason = StringField(
        _l("Reason"),
        filters=[_nfkc],
        validators=[Length(max=200, message=_l("The reason is longer than 200 characters."))],
        description=_l("Optional, e.g. moved to another school."),
    )


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a POST that needs no input besides "yes"."""


class PromoteForm(FlaskForm):
    from_year = SelectField(_l("From school year"), coerce=_int_or_none, validate_choice=False)
    graduating_grades = SelectMultipleField(
        _l("Grades that graduate (besides grade 12)"),
        coerce=numbers.coerce_int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
        description=_l("Tick grade 6 for a primary school, grade 9 for a junior middle school."),
    )

    def __init__(self, *args: Any, years: list[int], grades: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.years = years
        self.from_year.choices = [
            SelectChoice(y, f"{school_year_label(y)} → {school_year_label(y + 1)}") for y in years
        ]
        self.grade_values = [g for g in grades if g < 12]
        self.graduating_grades.choices = [
            SelectChoice(g, labels.grade_label(g)) for g in self.grade_values
        ]

    def validate_from_year(self, field: SelectField) -> None:
        if field.data not in self.years:
            raise ValidationError(_("Choose one of the school years offered."))

    def validate_graduating_grades(self, field: SelectMultipleField) -> None:
        if any(g not in self.grade_values for g in field.data or []):
            raise ValidationError(_("Choose among the grades listed."))


class StudentSearchForm(FlaskForm):
    """The roster's filter bar (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    school_id = SelectField(_l("School"), coerce=_int_or_none, validate_choice=False)
    class_id = SelectField(_l("Class"), coerce=_int_or_none, validate_choice=False)
    q = StringField(
        _l("Search"),
        render_kw={"type": "search", "autocomplete": "off", "spellcheck": "false"},
    )
    show = SelectField(
        _l("Show"),
        choices=[
            SelectChoice("active", _l("On the roster")),
            SelectChoice("inactive", _l("Left")),
            SelectChoice("all", _l("All")),
        ],
        validate_choice=False,
    )

    def __init__(
        self,
        formdata: Any,
        *,
        schools: list[Any] | None,
        classes: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(formdata, **kwargs)
        if schools is None:
            del self.school_id
        else:
            self.school_id.choices = [SelectChoice("", _("All my schools"))] + [
                SelectChoice(s.id, f"{s.code} {s.name}") for s in schools
            ]
        self.class_id.choices = [SelectChoice("", _("All classes"))] + [
            SelectChoice(value, label) for value, label in classes
        ]


def school_year_label(year: int) -> str:
    """2026 -> "2026–2027": how schools name a school year."""
    return f"{year}–{year + 1}"
