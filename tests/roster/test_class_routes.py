"""Class pages and promotion to the next school year."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, SchoolClass, Student
from schoolhealth.roster.services import current_school_year
from tests import factories

from .helpers import roster_state


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', html)


def test_class_list_shows_counts(client, login_as, school_a):
    factories.StudentFactory(school_class=school_a.school_class)
    login_as(school_a.nurse)
    html = client.get(f"/roster/schools/{school_a.school.id}/classes").get_data(as_text=True)
    row = re.search(r"Grade 3, class 1</a></td>\s*<td class=\"num\">(\d+)</td>", html)
    assert row.group(1) == "2"  # two active pupils; the one who left is not counted
    assert "Grade 4, class 9" in html


def test_class_list_of_another_year(client, login_as, school_a):
    factories.SchoolClassFactory(school=school_a.school, school_year=2001, grade=2, name="8")
    login_as(school_a.nurse)
    html = client.get(f"/roster/schools/{school_a.school.id}/classes?year=2001").get_data(
        as_text=True
    )
    assert "Grade 2, class 8" in html
    assert "Grade 3, class 1" not in html


@pytest.mark.parametrize(("grade", "name"), [("三年级", "(2)班"), ("3", "二班"), ("3", "2")])
def test_nurse_adds_a_class_with_normalised_name(client, login_as, school_a, grade, name):
    login_as(school_a.nurse)
    year = current_school_year()
    response = client.post(
        f"/roster/schools/{school_a.school.id}/classes/new",
        data={"school_year": str(year), "grade": grade, "name": name},
    )
    assert response.status_code == 302
    created = db.session.scalars(
        select(SchoolClass).where(SchoolClass.grade == 3, SchoolClass.name == "2")
    ).one()
    assert created.school_year == year
    assert created.school_id == school_a.school.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity == "class")).one()
    assert event.action == "create"
    assert event.after == {
        "school_year": year,
        "grade": 3,
        "name": "2",
    }


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"grade": "13", "name": "1"}, "The grade must be 1–12"),
        ({"grade": "", "name": "1"}, "Enter the grade."),
        ({"grade": "3", "name": ""}, "Enter the class."),
        ({"grade": "3", "name": "x" * 40}, "1–32 characters"),
        ({"grade": "3", "name": "(1)班"}, "already has this class"),
        ({"grade": "3", "name": "1", "school_year": "1990"}, "Choose one of the school years"),
        ({"grade": "3", "name": "1", "school_year": "next"}, "Choose one of the school years"),
    ],
)
def test_class_form_errors_name_the_field(client, login_as, school_a, form, message):
    login_as(school_a.nurse)
    before = roster_state()
    data = {"school_year": str(current_school_year()), **form}
    response = client.post(f"/roster/schools/{school_a.school.id}/classes/new", data=data)
    assert response.status_code == 200
    (error,) = _errors(response.get_data(as_text=True))
    assert message in error
    assert roster_state() == before


def test_rename_class(client, login_as, school_a):
    login_as(school_a.nurse)
    url = f"/roster/classes/{school_a.school_class.id}/rename"
    assert 'value="1"' in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"name": "五班"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(SchoolClass, school_a.school_class.id).name == "5"
    response = client.post(url, data={"name": "9"})  # grade 3 has no class 9: allowed
    assert response.status_code == 302
    other = factories.SchoolClassFactory(
        school=school_a.school, school_year=school_a.school_class.school_year, grade=3, name="7"
    )
    response = client.post(url, data={"name": "7"})
    assert response.status_code == 200
    assert any("already has this class" in e for e in _errors(response.get_data(as_text=True)))
    assert other.name == "7"


def test_delete_only_an_empty_class(client, login_as, school_a):
    login_as(school_a.nurse)
    full = f"/roster/classes/{school_a.school_class.id}/delete"
    assert "still has pupils" in client.get(full).get_data(as_text=True)
    before = roster_state()
    assert client.post(full).status_code == 302
    assert roster_state() == before
    empty_id = school_a.empty_class.id
    empty = f"/roster/classes/{empty_id}/delete"
    assert "cannot be undone" in client.get(empty).get_data(as_text=True)
    assert client.post(empty).status_code == 302
    db.session.expire_all()
    assert db.session.get(SchoolClass, empty_id) is None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).one()
    assert event.before["grade"] == 4
    assert event.before["name"] == "9"


# --- promotion ------------------------------------------------------------------------


@pytest.fixture
def primary(app):
    """Last school year's grades 1 and 6 of a primary school, and its nurse."""
    last = current_school_year() - 1
    school = factories.SchoolFactory()
    g1 = factories.SchoolClassFactory(school=school, school_year=last, grade=1, name="1")
    g6 = factories.SchoolClassFactory(school=school, school_year=last, grade=6, name="1")
    first = factories.StudentFactory(school_class=g1, name="一年级学生")
    sixth = factories.StudentFactory(school_class=g6, name="六年级学生")
    nurse = factories.NurseFactory(school=school)
    return {"school": school, "nurse": nurse, "year": last, "first": first, "sixth": sixth}


def test_promotion_page_previews_without_changing(client, login_as, primary):
    login_as(primary["nurse"])
    before = roster_state()
    url = f"/roster/schools/{primary['school'].id}/promote"
    html = client.get(url).get_data(as_text=True)
    # The top grade of a primary school is ticked to graduate; the preview says so.
    assert re.search(r'<input checked id="graduating_grades-1" name="graduating_grades"', html)
    assert "1 pupils move up, 1 graduate, 1 classes are created." in html
    preview = client.post(
        url, data={"from_year": str(primary["year"]), "action": "preview"}
    ).get_data(as_text=True)
    assert "2 pupils move up, 0 graduate, 2 classes are created." in preview
    assert roster_state() == before


def test_nurse_promotes_her_school_once(client, login_as, primary):
    login_as(primary["nurse"])
    url = f"/roster/schools/{primary['school'].id}/promote"
    data = {"from_year": str(primary["year"]), "graduating_grades": "6", "action": "promote"}
    response = client.post(url, data=data)
    assert response.status_code == 302
    db.session.expire_all()
    first = db.session.get(Student, primary["first"].id)
    sixth = db.session.get(Student, primary["sixth"].id)
    assert (first.school_class.school_year, first.school_class.grade) == (primary["year"] + 1, 2)
    assert not sixth.active
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "promote")).one()
    assert event.after["promoted"] == 1
    assert event.after["graduated"] == 1

    before = roster_state()
    again = client.post(url, data=data, follow_redirects=True).get_data(as_text=True)
    assert "already promoted" in again
    assert roster_state() == before


def test_promotion_into_a_year_after_next_is_refused(client, login_as, primary):
    """Only years up to the current one can be promoted from (no double move in a summer)."""
    future = current_school_year() + 1
    factories.StudentFactory(
        school_class=factories.SchoolClassFactory(
            school=primary["school"], school_year=future, grade=2, name="1"
        )
    )
    login_as(primary["nurse"])
    url = f"/roster/schools/{primary['school'].id}/promote"
    assert (
        str(future)
        not in re.search(
            r'<select[^>]*name="from_year".*?</select>',
            client.get(url).get_data(as_text=True),
            re.S,
        )
        .group(0)
        .split("→")[0]
    )
    before = roster_state()
    response = client.post(url, data={"from_year": str(future), "action": "promote"})
    assert response.status_code == 200
    assert "Choose one of the school years offered." in _errors(response.get_data(as_text=True))
    assert roster_state() == before


def test_promoting_classes_without_pupils_says_so(client, login_as, school_a):
    last = current_school_year() - 1
    factories.SchoolClassFactory(school=school_a.school, school_year=last, grade=2, name="1")
    login_as(school_a.nurse)
    before = roster_state()
    response = client.post(
        f"/roster/schools/{school_a.school.id}/promote",
        data={"from_year": str(last), "action": "promote"},
    )
    assert f"The classes of {last} have no active pupils" in response.get_data(as_text=True)
    assert roster_state() == before


def test_promotion_page_without_classes(client, login_as, app):
    nurse = factories.NurseFactory()
    login_as(nurse)
    html = client.get(f"/roster/schools/{nurse.school_id}/promote").get_data(as_text=True)
    assert "no classes to promote" in html
