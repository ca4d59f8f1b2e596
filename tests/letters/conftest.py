"""Fixtures of the letter tests: the screening tests' two schools, with results entered."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from pypdf import PdfReader

from schoolhealth.extensions import db
from schoolhealth.screening import results as screening_results
from tests.screening.conftest import World, sign_in, world  # noqa: F401  (fixtures)

# Pupil 1 (boy, born 2017-05-14, 9.4 y on 2026-10-12): obesity (BMI 22.0 >= 20.8 for boys
# of 9.0~), screening myopia in the right eye; pupil 2: normal; pupil 3: overweight only.
VALUES = {
    "G0001": {
        "height_cm": "130",
        "weight_kg": "37.2",
        "ucva_right": "4.7",
        "ucva_left": "5.0",
        "sph_right": "-1.25",
        "cyl_right": "-0.50",
    },
    "G0002": {"height_cm": "130", "weight_kg": "27", "ucva_right": "5.0", "ucva_left": "5.0"},
    "G0003": {"height_cm": "130", "weight_kg": "32.5", "ucva_right": "5.1", "ucva_left": "5.0"},
}


@dataclass
class Screened:
    world: World
    flagged: object  # G0001
    normal: object  # G0002
    overweight: object  # G0003


@pytest.fixture
def screened(world) -> Screened:  # noqa: F811
    by_number = {s.student_number: s for s in world.students}
    for number, values in VALUES.items():
        change = screening_results.record_measurements(
            world.session,
            by_number[number],
            values,
            user=world.nurse,
            screening_date=world.session.start_date,  # results are dated the day entered
        )
        assert change.ok, change.errors
    other = screening_results.record_measurements(
        world.other_session,
        world.other_student,
        {"height_cm": "130", "weight_kg": "40"},
        user=world.other_nurse,
        screening_date=world.other_session.start_date,
    )
    assert other.ok
    db.session.commit()
    return Screened(world, by_number["G0001"], by_number["G0002"], by_number["G0003"])


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace removed (lines break anywhere in Chinese)."""
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_texts(data: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(data))
    return [re.sub(r"\s+", "", page.extract_text()) for page in reader.pages]
