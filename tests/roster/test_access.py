"""Who may use which roster page: every rule of the roster blueprint, for every role.

The tests are parametrised over the app's url_map (each roster endpoint and method), and
each rule must have a case in CASES: a new roster route fails here until someone says
how to reach another school's records through it. For every rule, in one database
state, the nurse of school A, an official, an institution and a signed-out visitor are
refused and change nothing; then the requests that the nurse of the school, and an
admin, may make succeed (so the refusals are about scope, not broken requests).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from config import TestingConfig
from schoolhealth import create_app
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Job
from schoolhealth.roster.services import current_school_year
from tests import factories
from tests.clients import request_scoped_client
from tests.roster.fixtures.rosters import HEADER_ZH, csv_bytes, pupil

from .conftest import SchoolWorld, build_school
from .helpers import roster_state

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def roster_rules() -> list[tuple[str, str]]:
    """(endpoint, method) of every rule of the roster blueprint, from a fresh app."""
    app = create_app(TestingConfig)
    return sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("roster.")
        for method in rule.methods - IGNORED_METHODS
    )


RULES = roster_rules()


@dataclass
class World(SchoolWorld):
    job: Job  # a pending upload (draft) of the school's nurse


@dataclass(frozen=True)
class Case:
    """One way to reach a school's records through a route.

    ``url`` and ``data`` are built over the target school's world; ``data`` is the form
    of a POST that would change something if it were let through. ``targetless``: the
    URL names no school (the import form), so another school's nurse gets her own page,
    which must not show the target school. ``uploader_only``: an upload's pages answer
    only the user who uploaded it (even an admin gets 404).
    """

    url: Callable[[World], str]
    data: Callable[[World], dict] | None = None
    targetless: bool = False
    uploader_only: bool = False
    read_only: bool = False  # institutions may read it for the schools they screen


def _student_form(w: World, **changes: str) -> dict:
    form = {
        "student_number": w.student.student_number,
        "name": "改名",
        "sex": w.student.sex,
        "birth_date": w.student.birth_date.isoformat(),
        "class_id": str(w.school_class.id),
        "guardian_language": "zh",
    }
    return {**form, **changes}


def _upload_form(w: World) -> dict:
    row = pupil(1, name="闯入者")
    row[0] = f"NEW{w.school.id:06d}"
    return {
        "file": (io.BytesIO(csv_bytes(HEADER_ZH, [row])), "roster.csv"),
        "school_year": str(current_school_year()),
        "school_id": str(w.school.id),
    }


CASES: dict[tuple[str, str], list[Case]] = {
    ("roster.list_students", "GET"): [
        Case(lambda w: f"/roster/?school_id={w.school.id}", read_only=True),
        Case(lambda w: f"/roster/?class_id={w.school_class.id}", read_only=True),
        Case(lambda w: f"/roster/?school_id={w.school.id}&show=inactive&q=离校", read_only=True),
    ],
    ("roster.show_student", "GET"): [
        Case(lambda w: f"/roster/students/{w.student.id}", read_only=True),
        Case(lambda w: f"/roster/students/{w.inactive_student.id}", read_only=True),
    ],
    ("roster.new_student", "GET"): [
        Case(lambda w: f"/roster/schools/{w.school.id}/students/new"),
    ],
    ("roster.new_student", "POST"): [
        Case(
            lambda w: f"/roster/schools/{w.school.id}/students/new",
            lambda w: _student_form(w, student_number=f"NEW{w.school.id:06d}", name="新生"),
        ),
    ],
    ("roster.edit_student", "GET"): [Case(lambda w: f"/roster/students/{w.student.id}/edit")],
    ("roster.edit_student", "POST"): [
        Case(lambda w: f"/roster/students/{w.student.id}/edit", _student_form),
    ],
    ("roster.deactivate_student", "GET"): [
        Case(lambda w: f"/roster/students/{w.student.id}/deactivate"),
    ],
    ("roster.deactivate_student", "POST"): [
        Case(lambda w: f"/roster/students/{w.student.id}/deactivate", lambda w: {"reason": "x"}),
    ],
    ("roster.reactivate_student", "GET"): [
        Case(lambda w: f"/roster/students/{w.inactive_student.id}/reactivate"),
    ],
    ("roster.reactivate_student", "POST"): [
        Case(lambda w: f"/roster/students/{w.inactive_student.id}/reactivate", lambda w: {}),
    ],
    ("roster.list_classes", "GET"): [
        Case(lambda w: f"/roster/schools/{w.school.id}/classes", read_only=True),
    ],
    ("roster.new_class", "GET"): [Case(lambda w: f"/roster/schools/{w.school.id}/classes/new")],
    ("roster.new_class", "POST"): [
        Case(
            lambda w: f"/roster/schools/{w.school.id}/classes/new",
            lambda w: {"school_year": str(current_school_year()), "grade": "5", "name": "5"},
        ),
    ],
    ("roster.rename_class", "GET"): [
        Case(lambda w: f"/roster/classes/{w.school_class.id}/rename"),
    ],
    ("roster.rename_class", "POST"): [
        Case(lambda w: f"/roster/classes/{w.school_class.id}/rename", lambda w: {"name": "8"}),
    ],
    ("roster.delete_class", "GET"): [
        Case(lambda w: f"/roster/classes/{w.empty_class.id}/delete"),
    ],
    ("roster.delete_class", "POST"): [
        Case(lambda w: f"/roster/classes/{w.empty_class.id}/delete", lambda w: {}),
    ],
    ("roster.promote_school", "GET"): [
        Case(lambda w: f"/roster/schools/{w.school.id}/promote"),
    ],
    ("roster.promote_school", "POST"): [
        Case(
            lambda w: f"/roster/schools/{w.school.id}/promote",
            lambda w: {"from_year": str(current_school_year()), "action": "promote"},
        ),
    ],
    ("roster.import_roster", "GET"): [
        Case(lambda w: f"/roster/import?school_id={w.school.id}", targetless=True),
    ],
    ("roster.import_roster", "POST"): [Case(lambda w: "/roster/import", _upload_form)],
    ("roster.show_import", "GET"): [
        Case(lambda w: f"/roster/import/{w.job.id}", uploader_only=True),
        Case(lambda w: f"/roster/import/{w.job.id}?page=2", uploader_only=True),
    ],
    ("roster.poll_import", "GET"): [
        Case(lambda w: f"/roster/import/{w.job.id}/status.json", uploader_only=True),
    ],
    ("roster.confirm_import", "POST"): [
        Case(lambda w: f"/roster/import/{w.job.id}/confirm", lambda w: {}, uploader_only=True),
    ],
    ("roster.cancel_import", "POST"): [
        Case(lambda w: f"/roster/import/{w.job.id}/cancel", lambda w: {}, uploader_only=True),
    ],
    ("roster.download_roster", "GET"): [
        Case(lambda w: f"/roster/export?school_id={w.school.id}"),
        Case(lambda w: f"/roster/export?school_id={w.school.id}&format=xlsx&include_inactive=1"),
    ],
}


# Let through, these write an audit event: every change of roster data, every export.
AUDITED = {
    ("roster.new_student", "POST"),
    ("roster.edit_student", "POST"),
    ("roster.deactivate_student", "POST"),
    ("roster.reactivate_student", "POST"),
    ("roster.new_class", "POST"),
    ("roster.rename_class", "POST"),
    ("roster.delete_class", "POST"),
    ("roster.promote_school", "POST"),
    ("roster.confirm_import", "POST"),
    ("roster.download_roster", "GET"),
}


def test_every_roster_rule_has_a_case():
    assert set(CASES) == set(RULES), "add a case to CASES for every new roster route"
    assert set(RULES) >= AUDITED


# --- the worlds ------------------------------------------------------------------------------


def _pending_upload(app, world: SchoolWorld) -> Job:
    """The school's nurse uploads a roster (checked, not yet confirmed), via the route."""
    client = request_scoped_client(app)
    with client.session_transaction() as session:
        session["_user_id"] = world.nurse.get_id()
        session["_fresh"] = True
    row = pupil(2, name=f"{world.school.name}新生")
    row[0] = f"UP{world.school.id:06d}"
    response = client.post(
        "/roster/import",
        data={
            "file": (io.BytesIO(csv_bytes(HEADER_ZH, [row])), "roster.csv"),
            "school_year": str(current_school_year()),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    job_id = int(re.search(r"/roster/import/(\d+)$", response.headers["Location"]).group(1))
    return db.session.get(Job, job_id)


def build_world(app, name: str) -> World:
    school = build_school(name)
    return World(**vars(school), job=_pending_upload(app, school))


def audit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def state() -> dict:
    """roster_state() plus the uploads: a refused request must not touch those either."""
    jobs = db.session.execute(
        select(Job.id, Job.kind, Job.status, Job.payload.is_(None)).order_by(Job.id)
    ).all()
    return {**roster_state(), "jobs": jobs}


# --- the requests ----------------------------------------------------------------------------


def _send(client, method: str, case: Case, world: World):
    url = case.url(world)
    if method == "GET":
        return client.get(url)
    data = case.data(world) if case.data is not None else {}
    if any(isinstance(v, tuple) for v in data.values()):
        return client.post(url, data=data, content_type="multipart/form-data")
    return client.post(url, data=data)


def _marks_of(world: World) -> list[str]:
    """Text that shows a school's records: its pupils' names, its code."""
    return [world.student.name, world.inactive_student.name, world.school.code]


def _leaks(response, world: World) -> list[str]:
    if "attachment" in response.headers.get("Content-Disposition", ""):
        return ["a file download"]
    body = response.get_data(as_text=True)
    return [mark for mark in _marks_of(world) if mark in body]


@pytest.mark.parametrize(("endpoint", "method"), RULES, ids=[f"{e} {m}" for e, m in RULES])
def test_route_keeps_other_schools_out(app, client, login_as, endpoint, method):
    cases = CASES.get((endpoint, method))
    assert cases, f"{method} {endpoint} is a new roster route: add its cases to CASES"
    a = build_world(app, "A")
    b = build_world(app, "B")
    official = factories.OfficialFactory(district=a.school.district)
    clinic_user = factories.InstitutionUserFactory()
    factories.ScreeningSessionFactory(school=a.school, institution=clinic_user.institution)
    admin = factories.AdminFactory()
    before = state()
    failures: list[str] = []

    def refused(label: str, response, allowed: tuple[int, ...], world: World) -> None:
        if response.status_code not in allowed:
            failures.append(f"{label}: expected {allowed}, got {response.status_code}")
        elif leaks := _leaks(response, world):
            failures.append(f"{label}: shows {leaks}")

    for number, case in enumerate(cases):
        label = f"{method} {endpoint} case {number}"

        # The nurse of school A, at school B's records.
        login_as(a.nurse)
        response = _send(client, method, case, b)
        if case.targetless:
            refused(f"{label}, nurse of A", response, (200,), b)
        else:
            refused(f"{label}, nurse of A", response, (404,), b)

        # An official of the district: counts only, never a roster page.
        login_as(official)
        refused(f"{label}, official", _send(client, method, case, a), (403, 404), a)

        # An institution reads the rosters it screens (A), never changes them, never sees B.
        login_as(clinic_user)
        response = _send(client, method, case, a)
        if case.read_only:
            if response.status_code != 200:
                failures.append(f"{label}, institution at A: got {response.status_code}")
        else:
            refused(f"{label}, institution at A", response, (403, 404), a)
        refused(f"{label}, institution at B", _send(client, method, case, b), (403, 404), b)

        # Nobody signed in.
        with client.session_transaction() as session:
            session.clear()
        response = _send(client, method, case, a)
        if not (response.status_code == 302 and "/login" in response.location):
            failures.append(f"{label}, signed out: not sent to sign in ({response.status_code})")

    assert not failures, "\n".join(failures)
    assert state() == before, f"a refused {method} {endpoint} changed something"

    # The same requests work for the school's own nurse, and for an admin (except an
    # upload's pages, which are its uploader's only): the refusals above are about scope.
    # A GET shows its page; a POST does what it is for and redirects (a 200 would be
    # the form again, with an error).
    works = 200 if method == "GET" else 302
    for number, case in enumerate(cases):
        label = f"{method} {endpoint} case {number}"
        login_as(a.nurse)
        events = audit_count()
        response = _send(client, method, case, a)
        if response.status_code != works:
            failures.append(
                f"{label}, nurse of A at A: expected {works}, got {response.status_code}"
            )
        elif (endpoint, method) in AUDITED and audit_count() == events:
            failures.append(f"{label}, nurse of A at A: wrote no audit event")
        login_as(admin)
        response = _send(client, method, case, b)
        expected = 404 if case.uploader_only else works
        if response.status_code != expected:
            failures.append(f"{label}, admin at B: expected {expected}, got {response.status_code}")
    assert not failures, "\n".join(failures)


def test_the_own_nurse_really_changes_her_school(app, client, login_as):
    """A spot check that the allowed requests above did something (not a silent no-op)."""
    a = build_world(app, "A")
    login_as(a.nurse)
    response = client.post(f"/roster/import/{a.job.id}/confirm")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Job, a.job.id).status == "done"
    client.post(f"/roster/students/{a.student.id}/edit", data=_student_form(a))
    db.session.expire_all()
    assert db.session.get(type(a.student), a.student.id).name == "改名"


def test_a_nurse_cannot_move_her_pupil_into_another_schools_class(client, login_as, app):
    a = build_world(app, "A")
    b = build_world(app, "B")
    login_as(a.nurse)
    before = state()
    edit = client.post(
        f"/roster/students/{a.student.id}/edit",
        data=_student_form(a, class_id=str(b.school_class.id)),
    )
    new = client.post(
        f"/roster/schools/{a.school.id}/students/new",
        data=_student_form(a, student_number="NEWPUPIL01", class_id=str(b.school_class.id)),
    )
    for response in (edit, new):
        assert response.status_code == 200
        assert "Choose one of the school&#39;s classes." in response.get_data(as_text=True)
    assert state() == before


def test_a_nurses_import_cannot_take_over_another_schools_pupil(client, login_as, app):
    """A student number of school B in A's file is an error, not a transfer."""
    a = build_world(app, "A")
    b = build_world(app, "B")
    login_as(a.nurse)
    row = pupil(3, name="冒名")
    row[0] = b.student.student_number
    response = client.post(
        "/roster/import",
        data={
            "file": (io.BytesIO(csv_bytes(HEADER_ZH, [row])), "roster.csv"),
            "school_year": str(current_school_year()),
        },
        content_type="multipart/form-data",
    )
    job_id = int(re.search(r"/roster/import/(\d+)$", response.headers["Location"]).group(1))
    report = client.get(f"/roster/import/{job_id}").get_data(as_text=True)
    assert "belongs to a pupil of another school" in report
    assert b.student.name not in report
    before = state()
    client.post(f"/roster/import/{job_id}/confirm")
    assert state()["students"] == before["students"]
