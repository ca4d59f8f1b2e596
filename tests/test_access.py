"""access.py, role by role: who may see which school, pupil and session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask_login import login_user, logout_user
from werkzeug.exceptions import Forbidden, NotFound

from schoolhealth import access
from schoolhealth.extensions import db
from schoolhealth.models import Role, School, ScreeningSession, Student


@dataclass
class World:
    """Two districts; the clinic screens school B only."""

    a: School
    b: School
    c: School  # B's district, no sessions
    pupil_a: Student
    pupil_b: Student
    pupil_c: Student
    session_a: ScreeningSession
    session_b: ScreeningSession  # institution: clinic
    session_b_other: ScreeningSession  # institution: another clinic
    clinic: object


@pytest.fixture
def world(factories) -> World:
    a = factories.SchoolFactory(code="A")
    b = factories.SchoolFactory(code="B")
    c = factories.SchoolFactory(code="C", district=b.district)
    clinic, other_clinic = factories.InstitutionFactory(), factories.InstitutionFactory()

    def pupil(school):
        return factories.StudentFactory(school_class=factories.SchoolClassFactory(school=school))

    return World(
        a=a,
        b=b,
        c=c,
        pupil_a=pupil(a),
        pupil_b=pupil(b),
        pupil_c=pupil(c),
        session_a=factories.ScreeningSessionFactory(school=a),
        session_b=factories.ScreeningSessionFactory(school=b, institution=clinic),
        session_b_other=factories.ScreeningSessionFactory(school=b, institution=other_clinic),
        clinic=clinic,
    )


def ids(query) -> set[int]:
    return {row.id for row in db.session.scalars(query)}


def school_ids(user) -> set[int] | None:
    query = access.school_ids_for(user)
    return None if query is None else set(db.session.scalars(query))


@pytest.fixture
def signed_in(app):
    """Run the helpers that read current_user as ``user``."""
    contexts = []

    def _as(user):
        ctx = app.test_request_context("/")
        ctx.push()
        contexts.append(ctx)
        if user is not None:
            login_user(user)
        return user

    yield _as
    for ctx in reversed(contexts):
        logout_user()
        ctx.pop()


# --- admin -----------------------------------------------------------------------------


def test_admin_sees_everything(factories, world):
    admin = factories.AdminFactory()
    assert access.school_ids_for(admin) is None
    assert ids(access.scoped_schools(admin)) == {world.a.id, world.b.id, world.c.id}
    assert ids(access.scoped_students(admin)) == {
        world.pupil_a.id,
        world.pupil_b.id,
        world.pupil_c.id,
    }
    assert ids(access.scoped_sessions(admin)) == {
        world.session_a.id,
        world.session_b.id,
        world.session_b_other.id,
    }
    assert access.can_access_school(admin, world.b.id)
    assert access.can_see_names(admin)


# --- nurse -----------------------------------------------------------------------------


def test_nurse_sees_their_own_school_only(factories, world):
    nurse = factories.NurseFactory(school=world.a)
    assert school_ids(nurse) == {world.a.id}
    assert ids(access.scoped_schools(nurse)) == {world.a.id}
    assert ids(access.scoped_students(nurse)) == {world.pupil_a.id}
    assert ids(access.scoped_sessions(nurse)) == {world.session_a.id}
    assert access.can_access_school(nurse, world.a.id)
    assert not access.can_access_school(nurse, world.b.id)
    assert access.can_see_names(nurse)


def test_nurse_without_a_school_sees_nothing(factories, world):
    nurse = factories.UserFactory(role="nurse", school=None)
    assert school_ids(nurse) == set()
    assert ids(access.scoped_students(nurse)) == set()
    assert ids(access.scoped_sessions(nurse)) == set()


# --- institution -----------------------------------------------------------------------


def test_institution_sees_the_schools_of_its_sessions(factories, world):
    user = factories.InstitutionUserFactory(institution=world.clinic)
    assert school_ids(user) == {world.b.id}
    assert ids(access.scoped_schools(user)) == {world.b.id}
    assert ids(access.scoped_students(user)) == {world.pupil_b.id}
    # Its own sessions, not another institution's at the same school.
    assert ids(access.scoped_sessions(user)) == {world.session_b.id}
    assert not access.can_access_school(user, world.a.id)
    assert access.can_see_names(user)


def test_institution_gains_a_school_when_a_session_is_assigned(factories, world):
    user = factories.InstitutionUserFactory(institution=world.clinic)
    assert world.a.id not in school_ids(user)
    world.session_a.institution = world.clinic
    db.session.commit()
    assert school_ids(user) == {world.a.id, world.b.id}


def test_institution_account_without_an_institution_sees_nothing(factories, world):
    """Not the sessions no institution was assigned to ("institution_id IS NULL")."""
    user = factories.UserFactory(role="institution", institution=None)
    assert school_ids(user) == set()
    assert ids(access.scoped_students(user)) == set()
    assert ids(access.scoped_sessions(user)) == set()


# --- official --------------------------------------------------------------------------


def test_official_sees_no_pupils_and_no_sessions(factories, world):
    official = factories.OfficialFactory(district=world.b.district)
    assert school_ids(official) == set()
    assert ids(access.scoped_students(official)) == set()
    assert ids(access.scoped_sessions(official)) == set()
    assert ids(access.scoped_schools(official)) == set()
    assert not access.can_access_school(official, world.b.id)
    assert not access.can_see_names(official)


def test_official_reads_aggregates_of_their_district(factories, world):
    official = factories.OfficialFactory(district=world.b.district)
    assert set(db.session.scalars(access.district_school_ids(official))) == {
        world.b.id,
        world.c.id,
    }


def test_district_aggregates_of_other_roles_follow_their_scope(factories, world):
    assert access.district_school_ids(factories.AdminFactory()) is None
    nurse = factories.NurseFactory(school=world.a)
    assert set(db.session.scalars(access.district_school_ids(nurse))) == {world.a.id}


def test_unknown_role_sees_nothing(factories, world):
    user = factories.UserFactory.build(role="visitor")
    assert school_ids(user) == set()
    assert ids(access.scoped_sessions(user)) == set()


# --- load-or-404 helpers ---------------------------------------------------------------


def test_get_student_or_404(factories, world, signed_in):
    signed_in(factories.NurseFactory(school=world.a))
    assert access.get_student_or_404(world.pupil_a.id) is world.pupil_a
    with pytest.raises(NotFound):
        access.get_student_or_404(world.pupil_b.id)  # exists, but not theirs: 404, not 403
    with pytest.raises(NotFound):
        access.get_student_or_404(999_999)


def test_get_school_or_404(factories, world, signed_in):
    signed_in(factories.InstitutionUserFactory(institution=world.clinic))
    assert access.get_school_or_404(world.b.id) is world.b
    with pytest.raises(NotFound):
        access.get_school_or_404(world.a.id)
    with pytest.raises(NotFound):
        access.get_school_or_404(999_999)


def test_get_session_or_404(factories, world, signed_in):
    signed_in(factories.InstitutionUserFactory(institution=world.clinic))
    assert access.get_session_or_404(world.session_b.id).id == world.session_b.id
    with pytest.raises(NotFound):
        access.get_session_or_404(world.session_b_other.id)
    with pytest.raises(NotFound):
        access.get_session_or_404(world.session_a.id)


def test_official_gets_404_for_every_record(factories, world, signed_in):
    signed_in(factories.OfficialFactory(district=world.a.district))
    with pytest.raises(NotFound):
        access.get_student_or_404(world.pupil_a.id)
    with pytest.raises(NotFound):
        access.get_school_or_404(world.a.id)
    with pytest.raises(NotFound):
        access.get_session_or_404(world.session_a.id)


def test_admin_gets_any_record(factories, world, signed_in):
    signed_in(factories.AdminFactory())
    assert access.get_student_or_404(world.pupil_b.id) is world.pupil_b
    assert access.get_session_or_404(world.session_b_other.id).id == world.session_b_other.id


def test_signed_out_gets_404_not_an_error(world, signed_in):
    signed_in(None)
    for helper, record_id in [
        (access.get_student_or_404, world.pupil_a.id),
        (access.get_school_or_404, world.a.id),
        (access.get_session_or_404, world.session_a.id),
    ]:
        with pytest.raises(NotFound):
            helper(record_id)


# --- roles_required --------------------------------------------------------------------


@access.roles_required(Role.ADMIN, Role.NURSE)
def _staff_view():
    return "ok"


def test_roles_required_lets_listed_roles_in(factories, signed_in):
    signed_in(factories.NurseFactory())
    assert _staff_view() == "ok"


@pytest.mark.parametrize("factory", ["OfficialFactory", "InstitutionUserFactory"])
def test_roles_required_refuses_other_roles(factories, signed_in, factory):
    signed_in(getattr(factories, factory)())
    with pytest.raises(Forbidden):
        _staff_view()


def test_roles_required_sends_anonymous_to_sign_in(signed_in):
    signed_in(None)
    response = _staff_view()
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_roles_required_keeps_the_view_name():
    assert _staff_view.__name__ == "_staff_view"


def test_url_numbers_take_ascii_and_full_width_digits_only():
    """int() reads "٣" as 3: an id, page or year in a URL is 0-9 (or ０-９) only."""
    from schoolhealth.access import id_arg, page_arg
    from schoolhealth.roster.routes import year_arg

    assert (id_arg("42"), id_arg("４２"), page_arg("２"), year_arg("2026")) == (42, 42, 2, 2026)
    for parse, text in ((id_arg, "٤٢"), (page_arg, "٢"), (year_arg, "٢٠٢٦"), (id_arg, "")):
        with pytest.raises(ValueError):
            parse(text)
