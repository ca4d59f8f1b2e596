"""factory_boy factories; each commits, so request handlers (other sessions) see the rows."""

from __future__ import annotations

from datetime import date

import factory
from factory.alchemy import SQLAlchemyModelFactory

from schoolhealth.extensions import db
from schoolhealth.models import (
    District,
    Institution,
    School,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
    User,
)

PASSWORD = "correct horse battery"
_password_hash: str | None = None


def password_hash() -> str:
    """Hash PASSWORD once per run: scrypt is deliberately slow."""
    global _password_hash
    if _password_hash is None:
        from werkzeug.security import generate_password_hash

        _password_hash = generate_password_hash(PASSWORD, method="scrypt")
    return _password_hash


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class DistrictFactory(BaseFactory):
    class Meta:
        model = District

    name = factory.Sequence(lambda n: f"District {n}")
    code = factory.Sequence(lambda n: f"D{n:04d}")


class SchoolFactory(BaseFactory):
    class Meta:
        model = School

    code = factory.Sequence(lambda n: f"S{n:05d}")
    name = factory.Sequence(lambda n: f"School {n}")
    district = factory.SubFactory(DistrictFactory)


class SchoolClassFactory(BaseFactory):
    class Meta:
        model = SchoolClass

    school = factory.SubFactory(SchoolFactory)
    school_year = 2026
    grade = 3
    name = factory.Sequence(lambda n: str(n % 20 + 1))


class StudentFactory(BaseFactory):
    class Meta:
        model = Student

    school_class = factory.SubFactory(SchoolClassFactory)
    school = factory.SelfAttribute("school_class.school")
    student_number = factory.Sequence(lambda n: f"L{n:010d}")
    name = factory.Sequence(lambda n: f"Pupil {n}")
    name_initials = ""
    sex = factory.Iterator(["M", "F"])
    birth_date = date(2017, 5, 14)
    active = True


class InstitutionFactory(BaseFactory):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Screening Clinic {n}")
    code = factory.Sequence(lambda n: f"I{n:04d}")


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"User {n}")
    role = "nurse"
    password_hash = factory.LazyFunction(password_hash)
    active = True
    locale = "en"


class NurseFactory(UserFactory):
    role = "nurse"
    school = factory.SubFactory(SchoolFactory)


class AdminFactory(UserFactory):
    role = "admin"


class OfficialFactory(UserFactory):
    role = "official"
    district = factory.SubFactory(DistrictFactory)


class InstitutionUserFactory(UserFactory):
    role = "institution"
    institution = factory.SubFactory(InstitutionFactory)


class ScreeningSessionFactory(BaseFactory):
    class Meta:
        model = ScreeningSession

    school = factory.SubFactory(SchoolFactory)
    name = factory.Sequence(lambda n: f"2026 autumn screening {n}")
    start_date = date(2026, 10, 12)
    types = "growth,vision"
    ruleset_version = "cn-2026.2"
    rule_options = factory.LazyFunction(dict)
    status = "in_progress"


class ScreeningResultFactory(BaseFactory):
    class Meta:
        model = ScreeningResult

    session = factory.SubFactory(ScreeningSessionFactory)
    student = factory.SubFactory(StudentFactory)
    screening_date = date(2026, 10, 12)
