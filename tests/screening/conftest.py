"""Fixtures of the screening tests: two schools to test scoping against, and sign_in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import pytest
from flask import g

from schoolhealth import clock

# The day the screening tests enter their results: the first day of the sessions they
# build. A result is dated the day it is entered, so ages and age-banded flags depend on
# it; tests of other days set their own with ``entry_day``.
ENTRY_DAY = date(2026, 10, 12)


@pytest.fixture(autouse=True)
def entry_day(monkeypatch):
    """Fix "today" of the screening services; call it with a date to move it."""

    def _set(day: date) -> None:
        monkeypatch.setattr(
            clock, "local_now", lambda: datetime.combine(day, time(12), clock.local_zone())
        )

    _set(ENTRY_DAY)
    return _set


@pytest.fixture
def sign_in(login_as):
    """login_as that also forgets the user Flask-Login cached in ``g``.

    The tests' app context outlives each request, and Flask-Login keeps the signed-in
    user in ``g``: without this, switching users within one test keeps the first one.
    """

    def _sign_in(user) -> None:
        login_as(user)
        g.pop("_login_user", None)

    return _sign_in


@dataclass
class World:
    """Two schools, each with a nurse, a class of pupils and a session."""

    school: object
    school_class: object
    students: list
    session: object
    nurse: object
    other_school: object
    other_class: object
    other_student: object
    other_session: object
    other_nurse: object
    admin: object
    official: object
    institution: object
    institution_user: object


@pytest.fixture
def world(factories) -> World:
    f = factories
    institution = f.InstitutionFactory()
    school = f.SchoolFactory()
    school_class = f.SchoolClassFactory(school=school, grade=3, name="2")
    students = [
        f.StudentFactory(
            school_class=school_class,
            student_number=f"G{n:04d}",
            name=f"Pupil {n}",
            sex="M" if n % 2 else "F",
        )
        for n in (3, 1, 2)
    ]
    session = f.ScreeningSessionFactory(
        school=school,
        types="growth,vision",
        start_date=date(2026, 10, 12),
        end_date=date(2026, 10, 16),
        institution=institution,
    )
    other_school = f.SchoolFactory()
    other_class = f.SchoolClassFactory(school=other_school)
    other_student = f.StudentFactory(school_class=other_class)
    other_session = f.ScreeningSessionFactory(school=other_school, types="growth,vision,spine")
    return World(
        school=school,
        school_class=school_class,
        students=sorted(students, key=lambda s: s.student_number),
        session=session,
        nurse=f.NurseFactory(school=school),
        other_school=other_school,
        other_class=other_class,
        other_student=other_student,
        other_session=other_session,
        other_nurse=f.NurseFactory(school=other_school),
        admin=f.AdminFactory(),
        official=f.OfficialFactory(district=school.district),
        institution=institution,
        institution_user=f.InstitutionUserFactory(institution=institution),
    )
