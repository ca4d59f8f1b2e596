"""Who may use which roster page: every route, for every role that must be kept out."""

from __future__ import annotations

from datetime import date

from schoolhealth.roster.services import current_school_year
from tests import factories

from .conftest import SchoolWorld
from .helpers import roster_state

# (method, endpoint, URL builder over the target school's world, form data of a POST
# that would change something if it were let through)
ROUTES = [
    ("GET", "list_students", lambda w: f"/roster/?school_id={w.school.id}", None),
    ("GET", "list_students", lambda w: f"/roster/?class_id={w.school_class.id}", None),
    ("GET", "show_student", lambda w: f"/roster/students/{w.student.id}", None),
    ("GET", "new_student", lambda w: f"/roster/schools/{w.school.id}/students/new", None),
    (
        "POST",
        "new_student",
        lambda w: f"/roster/schools/{w.school.id}/students/new",
        lambda w: {
            "student_number": "INTRUDER01",
            "name": "闯入者",
            "sex": "M",
            "birth_date": date(date.today().year - 9, 1, 1).isoformat(),
            "class_id": str(w.school_class.id),
            "guardian_language": "zh",
        },
    ),
    ("GET", "edit_student", lambda w: f"/roster/students/{w.student.id}/edit", None),
    (
        "POST",
        "edit_student",
        lambda w: f"/roster/students/{w.student.id}/edit",
        lambda w: {
            "student_number": w.student.student_number,
            "name": "改名",
            "sex": w.student.sex,
            "birth_date": w.student.birth_date.isoformat(),
            "class_id": str(w.school_class.id),
            "guardian_language": "zh",
        },
    ),
    ("GET", "deactivate_student", lambda w: f"/roster/students/{w.student.id}/deactivate", None),
    (
        "POST",
        "deactivate_student",
        lambda w: f"/roster/students/{w.student.id}/deactivate",
        lambda w: {},
    ),
    (
        "GET",
        "reactivate_student",
        lambda w: f"/roster/students/{w.inactive_student.id}/reactivate",
        None,
    ),
    (
        "POST",
        "reactivate_student",
        lambda w: f"/roster/students/{w.inactive_student.id}/reactivate",
        lambda w: {},
    ),
    ("GET", "list_classes", lambda w: f"/roster/schools/{w.school.id}/classes", None),
    ("GET", "new_class", lambda w: f"/roster/schools/{w.school.id}/classes/new", None),
    (
        "POST",
        "new_class",
        lambda w: f"/roster/schools/{w.school.id}/classes/new",
        lambda w: {"school_year": str(current_school_year()), "grade": "5", "name": "5"},
    ),
    ("GET", "rename_class", lambda w: f"/roster/classes/{w.school_class.id}/rename", None),
    (
        "POST",
        "rename_class",
        lambda w: f"/roster/classes/{w.school_class.id}/rename",
        lambda w: {"name": "8"},
    ),
    ("GET", "delete_class", lambda w: f"/roster/classes/{w.empty_class.id}/delete", None),
    ("POST", "delete_class", lambda w: f"/roster/classes/{w.empty_class.id}/delete", lambda w: {}),
    ("GET", "promote_school", lambda w: f"/roster/schools/{w.school.id}/promote", None),
    (
        "POST",
        "promote_school",
        lambda w: f"/roster/schools/{w.school.id}/promote",
        lambda w: {"from_year": str(current_school_year()), "action": "promote"},
    ),
]
ROUTE_IDS = [f"{m} {e} {i}" for i, (m, e, _u, _d) in enumerate(ROUTES)]
READ_ONLY = {"list_students", "show_student", "list_classes"}


def _request(client, route, world: SchoolWorld):
    method, _endpoint, url, data = route
    if method == "GET":
        return client.get(url(world))
    return client.post(url(world), data=data(world))


def test_every_roster_endpoint_is_covered(app):
    """Every view of roster/routes.py is in ROUTES (import/export views are tested with
    roster/import_routes.py)."""
    endpoints = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if view.__module__ == "schoolhealth.roster.routes"
    }
    assert endpoints == {f"roster.{e}" for _m, e, _u, _d in ROUTES}


# Each test walks every route in one database state (a fresh state per route would
# cost a full table reset each on PostgreSQL); failures are collected, then reported.


def _check_all(client, world: SchoolWorld, expect) -> None:
    failures = []
    for label, route in zip(ROUTE_IDS, ROUTES, strict=True):
        response = _request(client, route, world)
        problem = expect(route, response)
        if problem:
            failures.append(f"{label}: {problem} (got {response.status_code})")
    assert not failures, "\n".join(failures)


def test_nurse_of_another_school_gets_404_and_changes_nothing(client, login_as, school_a, school_b):
    login_as(school_a.nurse)
    before = roster_state()

    def expect(route, response):
        if response.status_code != 404:
            return "expected 404"
        if "B学生" in response.get_data(as_text=True):
            return "shows a pupil of the other school"
        return None

    _check_all(client, school_b, expect)
    assert roster_state() == before


def test_the_routes_work_for_the_own_schools_nurse(client, login_as, school_a):
    """The same requests succeed for the right nurse, so the 404s above are about scope."""
    login_as(school_a.nurse)
    _check_all(
        client,
        school_a,
        lambda route, response: None if response.status_code in (200, 302) else "refused",
    )


def test_officials_never_reach_roster_pages(client, login_as, school_a):
    official = factories.OfficialFactory(district=school_a.school.district)
    login_as(official)
    before = roster_state()

    def expect(route, response):
        if response.status_code not in (403, 404):
            return "expected 403/404"
        if "A学生" in response.get_data(as_text=True):
            return "shows a pupil's name"
        return None

    _check_all(client, school_a, expect)
    assert roster_state() == before


def test_signed_out_users_are_sent_to_sign_in(client, school_a):
    before = roster_state()
    _check_all(
        client,
        school_a,
        lambda route, response: (
            None
            if response.status_code == 302 and "/login" in response.location
            else "not sent to sign in"
        ),
    )
    assert roster_state() == before


def test_institution_reads_rosters_it_screens_but_changes_nothing(
    client, login_as, school_a, school_b
):
    user = factories.InstitutionUserFactory()
    factories.ScreeningSessionFactory(school=school_a.school, institution=user.institution)
    login_as(user)
    before = roster_state()

    def own(route, response):
        expected = 200 if route[1] in READ_ONLY else 403
        return None if response.status_code == expected else f"expected {expected}"

    def other(route, response):
        expected = (404,) if route[1] in READ_ONLY else (403, 404)
        return None if response.status_code in expected else f"expected {expected}"

    _check_all(client, school_a, own)
    _check_all(client, school_b, other)
    assert roster_state() == before


def test_admin_reaches_every_school(client, login_as, school_b):
    login_as(factories.AdminFactory())
    _check_all(
        client,
        school_b,
        lambda route, response: None if response.status_code in (200, 302) else "refused",
    )
