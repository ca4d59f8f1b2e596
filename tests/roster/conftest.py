"""Fixtures of the roster tests: two schools, each with a nurse, classes and pupils."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from schoolhealth.extensions import db
from schoolhealth.roster.services import current_school_year
from tests import factories

from .helpers import birth_date_aged


@dataclass
class SchoolWorld:
    school: Any
    nurse: Any
    school_class: Any  # grade 3, class "1", current school year
    empty_class: Any  # grade 4, class "9", no pupils ever
    student: Any
    inactive_student: Any


def build_school(name: str) -> SchoolWorld:
    """Build one school's rows and commit them once (a commit per row is slow on SQLite)."""
    year = current_school_year()
    school = factories.SchoolFactory.build(name=name)
    school_class = factories.SchoolClassFactory.build(
        school=school, school_year=year, grade=3, name="1"
    )
    empty_class = factories.SchoolClassFactory.build(
        school=school, school_year=year, grade=4, name="9"
    )
    student = factories.StudentFactory.build(
        school_class=school_class, name=f"{name}学生", sex="M", birth_date=birth_date_aged(9)
    )
    inactive = factories.StudentFactory.build(
        school_class=school_class, name=f"{name}离校", active=False, birth_date=birth_date_aged(9)
    )
    nurse = factories.NurseFactory.build(school=school)
    db.session.add_all([school, school_class, empty_class, student, inactive, nurse])
    db.session.commit()
    return SchoolWorld(school, nurse, school_class, empty_class, student, inactive)


@pytest.fixture
def school_a(app) -> SchoolWorld:
    return build_school("A")


@pytest.fixture
def school_b(app) -> SchoolWorld:
    return build_school("B")
