"""Fixtures of the follow-up tests: a school whose screening referred pupils, and another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from schoolhealth.extensions import db
from schoolhealth.screening import results as screening_results
from tests.screening.conftest import sign_in  # noqa: F401  (fixture)

SCREENED_ON = date(2026, 10, 12)
# Obese boy (BMI 22.0), screening myopia right, ATR 7 (suspected scoliosis), caries.
REFERRED = {
    "height_cm": "130",
    "weight_kg": "37.2",
    "ucva_right": "4.7",
    "ucva_left": "5.0",
    "sph_right": "-1.25",
    "cyl_right": "-0.50",
    "spine_general": "normal",
    "adams": "positive",
    "atr_thoracic": "7",
    "caries_teeth": "16 26",
}
NORMAL = {
    "height_cm": "130",
    "weight_kg": "27",
    "ucva_right": "5.0",
    "ucva_left": "5.0",
    "spine_general": "normal",
    "adams": "negative",
    "atr_thoracic": "",
    "sph_right": "",
    "cyl_right": "",
    "caries_teeth": "",
}


@dataclass
class Followup:
    school: object
    classes: list
    session: object
    nurse: object
    pupils: list  # pupils[0], pupils[2] referred for everything; pupils[1] normal
    other_school: object
    other_session: object
    other_pupil: object
    other_nurse: object
    admin: object
    official: object
    institution_user: object


def record(session, pupil, values, user):
    change = screening_results.record_measurements(
        session, pupil, values, user=user, screening_date=SCREENED_ON
    )
    assert change.ok, change.errors
    return change


@pytest.fixture
def fu(factories) -> Followup:
    f = factories
    institution = f.InstitutionFactory()
    school = f.SchoolFactory(name="Riverside Primary")
    classes = [
        f.SchoolClassFactory(school=school, grade=3, name="2"),
        f.SchoolClassFactory(school=school, grade=3, name="1"),
    ]
    session = f.ScreeningSessionFactory(
        school=school,
        types="growth,vision,spine,dental",
        start_date=SCREENED_ON,
        institution=institution,
    )
    nurse = f.NurseFactory(school=school)
    pupils = [
        f.StudentFactory(
            school_class=classes[n % 2],
            student_number=f"F{n:04d}",
            id_number=f"11010120170514{n:03d}X",
            name=f"学生{n}",
            sex="M",
            birth_date=date(2017, 5, 14),
        )
        for n in range(3)
    ]
    record(session, pupils[0], REFERRED, nurse)
    record(session, pupils[1], NORMAL, nurse)
    record(session, pupils[2], REFERRED, nurse)
    other_school = f.SchoolFactory(district=school.district)
    other_session = f.ScreeningSessionFactory(
        school=other_school, types="growth,vision,spine,dental", start_date=SCREENED_ON
    )
    other_pupil = f.StudentFactory(
        school_class=f.SchoolClassFactory(school=other_school),
        sex="M",
        birth_date=date(2017, 5, 14),
    )
    other_nurse = f.NurseFactory(school=other_school)
    record(other_session, other_pupil, REFERRED, other_nurse)
    db.session.commit()
    return Followup(
        school=school,
        classes=classes,
        session=session,
        nurse=nurse,
        pupils=pupils,
        other_school=other_school,
        other_session=other_session,
        other_pupil=other_pupil,
        other_nurse=other_nurse,
        admin=f.AdminFactory(),
        official=f.OfficialFactory(district=school.district),
        institution_user=f.InstitutionUserFactory(institution=institution),
    )
