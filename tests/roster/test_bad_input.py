"""Hand-edited URLs and odd parameters get a page (404, 400 or the list), never a 500.

An id past the database's INTEGER (2**31 - 1 on PostgreSQL; SQLite's driver cannot even
send one past 2**63), a page number in the billions, a school year of another era, a NUL
character (PostgreSQL refuses it in any text): each used to reach the database as is.
"""

from __future__ import annotations

import pytest

from schoolhealth.access import MAX_ID

from .conftest import SchoolWorld, build_school

HUGE = "99999999999999999999"  # past 2**63
PAST_INTEGER = str(MAX_ID + 1)  # past PostgreSQL's INTEGER, inside SQLite's

NOT_FOUND = [
    "/roster/students/{n}",
    "/roster/students/{n}/edit",
    "/roster/students/{n}/deactivate",
    "/roster/students/{n}/reactivate",
    "/roster/schools/{n}/classes",
    "/roster/schools/{n}/classes/new",
    "/roster/schools/{n}/students/new",
    "/roster/schools/{n}/promote",
    "/roster/classes/{n}/rename",
    "/roster/classes/{n}/delete",
    "/roster/import/{n}",
    "/roster/import/{n}/status.json",
    "/roster/export?school_id={n}",
]
# Query parameters that are not what they should be are ignored, like ?page=abc.
PAGES = [
    "/roster/?school_id={n}",
    "/roster/?class_id={n}",
    "/roster/?page={n}",
    "/roster/?school_id={school}&page={n}",
    "/roster/?page=-{n}",
    "/roster/schools/{school}/classes?year={n}",
    "/roster/schools/{school}/classes?year=-1",
    "/roster/schools/{school}/classes/new?year={n}",
    "/roster/schools/{school}/promote?from_year={n}",
    "/roster/schools/{school}/students/new?class_id={n}",
    "/roster/import?page={n}",
]


@pytest.fixture
def world(app) -> SchoolWorld:
    return build_school("A")


@pytest.mark.parametrize("number", [HUGE, PAST_INTEGER, "0"])
@pytest.mark.parametrize("url", NOT_FOUND)
def test_ids_no_record_can_have_are_404(client, login_as, factories, world, url, number):
    login_as(factories.AdminFactory())
    assert client.get(url.format(n=number)).status_code == 404


@pytest.mark.parametrize("number", [HUGE, PAST_INTEGER])
@pytest.mark.parametrize("url", PAGES)
def test_out_of_range_pages_and_years_fall_back(client, login_as, world, url, number):
    login_as(world.nurse)
    response = client.get(url.format(n=number, school=world.school.id))
    assert response.status_code == 200


def test_a_page_past_the_end_is_an_empty_page(client, login_as, world):
    login_as(world.nurse)
    html = client.get(f"/roster/?page={HUGE}").get_data(as_text=True)
    assert world.student.name not in html


@pytest.mark.parametrize(
    "url",
    [
        "/roster/?q=a%00b",
        "/roster/?school_id={school}&q=%00",
        "/roster/schools/{school}/classes?year=%00",
        "/roster/export?format=csv%00",
    ],
)
def test_a_nul_character_in_a_parameter_is_a_bad_request(client, login_as, world, url):
    login_as(world.nurse)
    assert client.get(url.format(school=world.school.id)).status_code == 400


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/roster/schools/{school}/students/new", "name"),
        ("/roster/students/{student}/edit", "guardian_phone"),
        ("/roster/students/{student}/deactivate", "reason"),
        ("/roster/schools/{school}/classes/new", "name"),
        ("/roster/classes/{klass}/rename", "name"),
    ],
)
def test_a_nul_character_in_a_form_is_a_bad_request(client, login_as, world, url, field):
    from .helpers import roster_state

    login_as(world.nurse)
    before = roster_state()
    ids = {"school": world.school.id, "student": world.student.id, "klass": world.school_class.id}
    response = client.post(url.format(**ids), data={field: "张\x00三"})
    assert response.status_code == 400
    assert "The request could not be understood." in response.get_data(as_text=True)
    assert roster_state() == before
