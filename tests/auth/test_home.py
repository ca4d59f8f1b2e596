"""Each role's start page shows what that role works with, and nothing more."""

from __future__ import annotations

import pytest


@pytest.fixture
def two_schools(factories):
    """School A with two pupils and school B with one, in different districts."""
    a, b = factories.SchoolFactory(name="School Alpha"), factories.SchoolFactory(name="School Beta")
    a_class = factories.SchoolClassFactory(school=a)
    factories.StudentFactory(school_class=a_class, name="Alpha Pupil One")
    factories.StudentFactory(school_class=a_class, name="Alpha Pupil Two")
    factories.StudentFactory(school_class=a_class, name="Alpha Leaver", active=False)
    factories.StudentFactory(school_class=factories.SchoolClassFactory(school=b), name="Beta Pupil")
    return a, b


def page(client, user, login_as) -> str:
    login_as(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_nurse_sees_only_their_school(client, factories, login_as, two_schools):
    a, b = two_schools
    html = page(client, factories.NurseFactory(school=a), login_as)
    assert "School Alpha" in html
    assert "School Beta" not in html
    assert '<td class="num">2</td>' in html  # active pupils only


def test_nurse_sees_their_sessions_only(client, factories, login_as, two_schools):
    a, b = two_schools
    factories.ScreeningSessionFactory(school=a, name="Alpha autumn")
    factories.ScreeningSessionFactory(school=b, name="Beta autumn")
    html = page(client, factories.NurseFactory(school=a), login_as)
    assert "Alpha autumn" in html
    assert "Beta autumn" not in html


def test_institution_sees_the_schools_of_its_sessions(client, factories, login_as, two_schools):
    a, b = two_schools
    clinic = factories.InstitutionFactory()
    factories.ScreeningSessionFactory(school=b, institution=clinic, name="Beta by clinic")
    factories.ScreeningSessionFactory(school=a, name="Alpha, no institution")
    html = page(client, factories.InstitutionUserFactory(institution=clinic), login_as)
    assert "School Beta" in html
    assert "School Alpha" not in html
    assert "Beta by clinic" in html
    assert "Alpha, no institution" not in html


def test_admin_sees_every_school(client, factories, login_as, two_schools):
    html = page(client, factories.AdminFactory(), login_as)
    assert "School Alpha" in html
    assert "School Beta" in html


def test_official_sees_district_counts_and_no_names(client, factories, login_as, two_schools):
    a, b = two_schools
    neighbour = factories.SchoolFactory(name="School Gamma", district=a.district)
    html = page(client, factories.OfficialFactory(district=a.district), login_as)
    assert "District overview" in html
    assert "School Alpha" in html
    assert "School Gamma" in html
    assert "School Beta" not in html
    assert '<td class="num">2</td>' in html
    assert '<td class="num">0</td>' in html
    assert "Alpha Pupil" not in html
    assert "Alpha Leaver" not in html
    assert neighbour.code in html
    # No links into rosters or screening, which hold names.
    assert "/roster" not in html
    assert "/screening" not in html
