"""Every route of the screening blueprint against every kind of outsider.

The routes are read from the application's url_map, so a route added later is checked
without anyone remembering to list it here: a route with a session, class or pupil in
its URL must answer another school's nurse 404 and change nothing; a route without one
must be described in UNSCOPED, or test_every_route_without_an_id_is_described fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import url_for
from sqlalchemy import func, select

from config import TestingConfig
from schoolhealth import create_app
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Finding, ScreeningResult, ScreeningSession
from schoolhealth.screening import results

SCOPING_ARGUMENTS = ("session_id", "class_id", "student_id")
# Sent with every POST: whatever field a view reads, it finds a value that would write.
POST_DATA = {
    "name": "Hijacked 2026",
    "start_date": "2026-11-23",
    "end_date": "2026-11-27",
    "types": ["growth", "vision"],
    "institution_id": "0",
    "atr_positive_degrees": "5",
    "status": "closed",
    "field": "height_cm",
    "value": "131",
    "version": "1",  # the version of the screened pupil's result
    "height_cm": "131",
    "weight_kg": "30",
}


def _screening_routes() -> list[Any]:
    """(endpoint, rule, method) of every screening route, read from a throwaway app."""
    app = create_app(TestingConfig)
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint.partition(".")[0] != "screening":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(
                pytest.param(rule.endpoint, rule.rule, method, id=f"{method} {rule.rule}")
            )
    return routes


ROUTES = _screening_routes()
SCOPED = [r for r in ROUTES if any(a in r.values[1] for a in SCOPING_ARGUMENTS)]
# Each scoped route once per id in its URL: that id swapped for another school's.
SWAPPED = [
    pytest.param(*r.values, argument, id=f"{r.id} {argument}")
    for r in SCOPED
    for argument in SCOPING_ARGUMENTS
    if f"<int:{argument}>" in r.values[1]
]


def _url(app, endpoint: str, rule: str, values: dict[str, int]) -> str:
    with app.test_request_context():
        adapter_rule = next(r for r in app.url_map.iter_rules(endpoint) if r.rule == rule)
        unknown = set(adapter_rule.arguments) - set(SCOPING_ARGUMENTS)
        if unknown:
            pytest.fail(
                f"{rule} has URL arguments this test cannot fill: {sorted(unknown)}; "
                "teach tests/screening/test_access.py what they are."
            )
        return url_for(endpoint, **{k: values[k] for k in adapter_rule.arguments})


def _own(world) -> dict[str, int]:
    return {
        "session_id": world.session.id,
        "class_id": world.school_class.id,
        "student_id": world.students[0].id,
    }


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url, headers={"Accept": "text/html"})
    return client.post(url, data=POST_DATA)


def _state(world) -> tuple:
    """Everything an outsider's request must leave as it was."""
    db.session.expire_all()
    session = db.session.get(ScreeningSession, world.session.id)
    return (
        db.session.scalar(select(func.count()).select_from(ScreeningResult)),
        db.session.scalar(select(func.count()).select_from(Finding)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
        db.session.scalar(
            select(func.count())
            .select_from(ScreeningSession)
            .where(ScreeningSession.school_id == world.school.id)
        ),
        session.name,
        session.status,
    )


@pytest.fixture
def screened(world):
    """The world with a flagged result, so every page of school A has a pupil to show."""
    results.record_measurements(
        world.session,
        world.students[0],
        {"height_cm": "130", "weight_kg": "40", "ucva_right": "4.6", "ucva_left": "5.0"},
        user=world.nurse,
    )
    db.session.commit()
    return world


# ----------------------------------------------------------------- routes without an id


def _list_shows_own_sessions_only(world, response) -> None:
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"/screening/sessions/{world.session.id}" not in page
    assert f"/screening/sessions/{world.other_session.id}" in page


def _create_plans_for_own_school(world, response) -> None:
    assert response.status_code in (200, 302)
    created = db.session.scalars(
        select(ScreeningSession).where(ScreeningSession.name == POST_DATA["name"])
    ).all()
    assert all(s.school_id == world.other_school.id for s in created)


def _form_for_own_school(world, response) -> None:
    assert response.status_code == 200
    assert world.school.name not in response.get_data(as_text=True)


# What another school's nurse gets from routes that name no session, class or pupil.
UNSCOPED: dict[tuple[str, str], Callable[[Any, Any], None]] = {
    ("screening.list_sessions", "GET"): _list_shows_own_sessions_only,
    ("screening.create_session", "GET"): _form_for_own_school,
    ("screening.create_session", "POST"): _create_plans_for_own_school,
}


def test_every_route_without_an_id_is_described():
    unscoped = {(r.values[0], r.values[2]) for r in ROUTES if r not in SCOPED}
    assert unscoped == set(UNSCOPED), (
        "a screening route without a session, class or pupil in its URL must say in "
        "UNSCOPED what another school's nurse gets from it"
    )
    assert len(SCOPED) >= 9


@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES)
def test_another_schools_nurse_is_refused_and_changes_nothing(
    app, client, sign_in, screened, endpoint, rule, method
):
    world = screened
    url = _url(app, endpoint, rule, _own(world))
    sign_in(world.other_nurse)
    before = _state(world)
    response = _request(client, method, url)
    if (endpoint, method) in UNSCOPED:
        UNSCOPED[(endpoint, method)](world, response)
        return
    assert response.status_code == 404, (method, url, response.status_code)
    assert world.students[0].name not in response.get_data(as_text=True)
    assert _state(world) == before


@pytest.mark.parametrize(("endpoint", "rule", "method", "foreign"), SWAPPED)
def test_one_id_of_another_school_in_the_url_is_404(
    app, client, sign_in, screened, endpoint, rule, method, foreign
):
    """The own nurse, with the session, class or pupil swapped for another school's."""
    world = screened
    others = {
        "session_id": world.other_session.id,
        "class_id": world.other_class.id,
        "student_id": world.other_student.id,
    }
    url = _url(app, endpoint, rule, {**_own(world), foreign: others[foreign]})
    sign_in(world.nurse)
    before = _state(world)
    response = _request(client, method, url)
    assert response.status_code == 404, (method, url, response.status_code)
    assert world.other_student.name not in response.get_data(as_text=True)
    assert _state(world) == before


@pytest.mark.parametrize(("endpoint", "rule", "method"), SCOPED)
def test_an_institution_not_assigned_to_the_session_gets_404(
    app, client, sign_in, screened, factories, endpoint, rule, method
):
    world = screened
    url = _url(app, endpoint, rule, _own(world))
    sign_in(factories.InstitutionUserFactory())
    before = _state(world)
    response = _request(client, method, url)
    # 403 from the planning routes, which are the school's whatever the session.
    assert response.status_code in (403, 404), (method, url, response.status_code)
    assert world.students[0].name not in response.get_data(as_text=True)
    assert _state(world) == before


@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES)
def test_officials_get_403_and_no_names(app, client, sign_in, screened, endpoint, rule, method):
    """District officials read aggregates elsewhere; here they see no pupil at all."""
    world = screened
    url = _url(app, endpoint, rule, _own(world))
    sign_in(world.official)
    before = _state(world)
    response = _request(client, method, url)
    assert response.status_code == 403, (method, url, response.status_code)
    body = response.get_data(as_text=True)
    for student in world.students:
        assert student.name not in body
        assert student.student_number not in body
    assert _state(world) == before


@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES)
def test_signed_out_requests_go_to_sign_in(app, client, screened, endpoint, rule, method):
    world = screened
    url = _url(app, endpoint, rule, _own(world))
    before = _state(world)
    response = _request(client, method, url)
    assert response.status_code == 302, (method, url, response.status_code)
    assert "/login" in response.headers["Location"]
    assert _state(world) == before


@pytest.mark.parametrize("role", ["nurse", "admin"])
@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES)
def test_the_schools_nurse_and_an_admin_reach_every_route(
    app, client, sign_in, screened, endpoint, rule, method, role
):
    """The control for the refusals above: the same requests succeed for those in scope."""
    world = screened
    url = _url(app, endpoint, rule, _own(world))
    sign_in(getattr(world, role))
    response = _request(client, method, url)
    assert response.status_code in (200, 302), (method, url, response.status_code)
