"""Helpers of the roster tests: valid resident ID numbers, dates relative to today, and
a snapshot of the roster tables to prove that a refused request changed nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from schoolhealth.clock import local_today
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment, SchoolClass, Student
from schoolhealth.rules.idnumber import check_character


def make_id_number(birth: date, sex: str, *, area: str = "110101", seq: str = "12") -> str:
    """A GB 11643-valid number for this birth date and sex (digit 17 odd = male)."""
    first17 = f"{area}{birth:%Y%m%d}{seq}{'3' if sex == 'M' else '4'}"
    return first17 + check_character(first17)


def with_wrong_check_digit(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def birth_date_aged(years: int) -> date:
    """A birth date that makes a pupil ``years`` old today (birthday already passed)."""
    today = local_today()
    return date(today.year - years, 1, 1)


def roster_state() -> dict:
    """Every row a roster request could touch, to compare before and after."""
    db.session.expire_all()
    students = db.session.execute(
        select(
            Student.id,
            Student.school_id,
            Student.student_number,
            Student.name,
            Student.sex,
            Student.birth_date,
            Student.class_id,
            Student.id_number,
            Student.active,
            Student.guardian_phone,
        ).order_by(Student.id)
    ).all()
    classes = db.session.execute(
        select(
            SchoolClass.id, SchoolClass.school_year, SchoolClass.grade, SchoolClass.name
        ).order_by(SchoolClass.id)
    ).all()
    enrolments = db.session.execute(
        select(Enrolment.student_id, Enrolment.school_year, Enrolment.class_id).order_by(
            Enrolment.id
        )
    ).all()
    # A page a user may read is audited as a "view": a record of reading, not a change.
    audit = db.session.scalars(select(AuditEvent.id).where(AuditEvent.action != "view")).all()
    return {"students": students, "classes": classes, "enrolments": enrolments, "audit": audit}
