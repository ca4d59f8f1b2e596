"""The admin pages: administrators only, forms with field-level errors, audited changes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, District, Institution, School, User, utcnow
from tests.factories import PASSWORD

STRONG = "long enough password"


@pytest.fixture
def admin(factories, login_as):
    user = factories.AdminFactory(username="root")
    login_as(user)
    return user


def field_errors(html: str, field: str) -> list[str]:
    """The error messages rendered in the form field whose input is named ``field``."""
    for block in re.findall(r'<div class="field[ "].*?</div>', html, re.S):
        if f'name="{field}"' in block:
            return re.findall(r'<p class="error" role="alert">(.*?)</p>', block)
    raise AssertionError(f"no field {field!r} on the page")


def events(entity: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)
        )
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- who may enter ---------------------------------------------------------------------


def admin_urls(app, object_id: int = 1) -> list[tuple[str, str]]:
    """Every admin route (method, URL), with ``object_id`` for each id in the path."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        url = re.sub(r"<int:\w+>", str(object_id), rule.rule)
        method = "POST" if "POST" in rule.methods and "GET" not in rule.methods else "GET"
        urls.append((method, url))
    return sorted(urls)


def test_the_admin_blueprint_has_the_expected_routes(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert {
        "admin.index",
        "admin.list_districts",
        "admin.create_district",
        "admin.edit_district",
        "admin.delete_district",
        "admin.list_schools",
        "admin.create_school",
        "admin.edit_school",
        "admin.delete_school",
        "admin.list_institutions",
        "admin.create_institution",
        "admin.edit_institution",
        "admin.delete_institution",
        "admin.list_users",
        "admin.create_user",
        "admin.edit_user",
        "admin.set_user_password",
        "admin.deactivate_user",
        "admin.activate_user",
        "admin.unlock_user",
        "admin.list_audit_events",
        "admin.show_audit_event",
    } <= endpoints


@pytest.mark.parametrize("factory", ["NurseFactory", "InstitutionUserFactory", "OfficialFactory"])
def test_other_roles_get_403_on_every_admin_route(app, client, factories, login_as, factory):
    login_as(getattr(factories, factory)())
    # Real ids, so a 403 is not a 404 in disguise.
    target = factories.NurseFactory(locked_until=utcnow() + timedelta(minutes=5))
    for method, url in admin_urls(app, target.id):
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, url)
    db.session.refresh(target)
    assert target.active
    assert target.locked_until is not None


def test_anonymous_is_sent_to_sign_in_from_every_admin_route(app, client):
    for method, url in admin_urls(app):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert "/login" in response.headers["Location"]


def test_admin_start_page_is_linked_from_the_navigation(client, admin, factories):
    factories.SchoolFactory()
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="/admin/"' in html
    assert 'href="/admin/users"' in html
    assert 'href="/admin/audit"' in html


def test_nurses_see_no_admin_link(client, factories, login_as):
    login_as(factories.NurseFactory())
    response = client.get("/")
    assert 'href="/admin/"' not in response.get_data(as_text=True)


def test_admin_start_page_lists_locked_accounts(client, admin, factories):
    factories.NurseFactory(username="locked.one", locked_until=utcnow() + timedelta(minutes=5))
    factories.NurseFactory(username="was.locked", locked_until=utcnow() - timedelta(minutes=5))
    html = client.get("/admin/").get_data(as_text=True)
    assert "locked.one" in html
    assert "was.locked" not in html


def test_every_admin_page_renders_in_both_languages(app, client, admin, factories):
    nurse = factories.NurseFactory(locked_until=utcnow() + timedelta(minutes=5))
    factories.InstitutionUserFactory()
    factories.OfficialFactory()
    client.post(f"/admin/users/{nurse.id}/unlock")  # one audit event with a diff
    event_id = db.session.scalar(select(AuditEvent.id))
    ids = {
        "district_id": nurse.school.district_id,
        "school_id": nurse.school_id,
        "institution_id": db.session.scalar(select(Institution.id)),
        "user_id": nurse.id,
        "event_id": event_id,
    }
    pages = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and "GET" in rule.methods:
            pages.append(re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule))
    assert len(pages) >= 12
    for locale in ("zh_Hans_CN", "en"):
        admin.locale = locale
        db.session.commit()
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (locale, url)


# --- districts -------------------------------------------------------------------------


def test_create_district(client, admin):
    response = client.post(
        "/admin/districts/new",
        data={"name": "Haidian", "code": "110108", "growth_reference": "who2007"},
    )
    assert response.status_code == 302
    district = db.session.scalar(select(District))
    assert (district.name, district.growth_reference) == ("Haidian", "who2007")
    [event] = events("district")
    assert event.user_id == admin.id
    assert event.action == "create"


def test_district_form_shows_errors_beside_the_field(client, admin, factories):
    factories.DistrictFactory(name="Haidian")
    response = client.post(
        "/admin/districts/new", data={"name": "haidian", "growth_reference": "wst586"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_errors(html, "name") == ["Another district already has this name."]
    assert count(District) == 1

    response = client.post("/admin/districts/new", data={"name": "", "growth_reference": "x"})
    html = response.get_data(as_text=True)
    assert field_errors(html, "name") == ["This field is required."]
    assert field_errors(html, "growth_reference") == ["Not a valid choice."]


def test_district_growth_reference_is_offered_with_the_national_default(client, admin):
    html = client.get("/admin/districts/new").get_data(as_text=True)
    assert '<option selected value="wst586">' in html
    assert 'value="who2007"' in html
    assert 'value="cdc2000"' in html


def test_edit_district(client, admin, factories):
    district = factories.DistrictFactory(name="Haidian", code="HD")
    page = client.get(f"/admin/districts/{district.id}/edit").get_data(as_text=True)
    assert 'value="Haidian"' in page
    response = client.post(
        f"/admin/districts/{district.id}/edit",
        data={"name": "Haidian", "code": "HD", "growth_reference": "cdc2000"},
    )
    assert response.status_code == 302
    db.session.refresh(district)
    assert district.growth_reference == "cdc2000"
    assert events("district")[0].after == {"growth_reference": "cdc2000"}


def test_district_list_search_and_paging(app, client, admin, factories, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for name in ["Alpha", "Beta", "Gamma", "Delta"]:
        factories.DistrictFactory(name=name)
    first = client.get("/admin/districts").get_data(as_text=True)
    assert "Alpha" in first
    assert "Beta" in first
    assert "Gamma" not in first
    assert "Page 1 of 2" in first
    second = client.get("/admin/districts?page=2").get_data(as_text=True)
    assert "Delta" in second
    assert "Gamma" in second
    assert "Alpha" not in second
    found = client.get("/admin/districts?q=amm").get_data(as_text=True)
    assert "Gamma" in found
    assert "Alpha" not in found
    assert client.get("/admin/districts?page=99").status_code == 200


def test_delete_district_in_use_explains_why(client, admin, factories):
    school = factories.SchoolFactory()
    response = client.post(f"/admin/districts/{school.district_id}/delete", follow_redirects=True)
    assert response.status_code == 200
    assert "cannot be deleted" in response.get_data(as_text=True)
    assert "It is still used by: 1 school." in response.get_data(as_text=True)
    assert count(District) == 1


def test_in_use_counts_read_in_chinese(client, admin, factories):
    admin.locale = "zh_Hans_CN"
    db.session.commit()
    school = factories.SchoolFactory()
    factories.NurseFactory(school=school)
    factories.NurseFactory(school=school)
    html = client.post(f"/admin/schools/{school.id}/delete", follow_redirects=True).get_data(
        as_text=True
    )
    assert "2 个用户账号" in html
    assert "user account" not in html


def test_organisation_names_are_not_called_a_persons_name_in_chinese(client, admin, factories):
    """English says "Name" for both; Chinese says 名称 for a school and 姓名 for a person."""
    admin.locale = "zh_Hans_CN"
    db.session.commit()
    factories.SchoolFactory()
    for path in ("/admin/districts", "/admin/schools", "/admin/institutions/new"):
        html = client.get(path).get_data(as_text=True)
        assert "名称" in html, path
        assert "姓名" not in html, path


def test_the_audit_log_names_actions_records_and_fields_in_chinese(client, admin, factories):
    admin.locale = "zh_Hans_CN"
    db.session.commit()
    client.post("/admin/districts/new", data={"name": "东城区", "code": "110101"})
    event = events("district")[0]
    html = client.get("/admin/audit").get_data(as_text=True)
    assert '<span class="chip" data-action="create">新建</span>' in html
    assert "区县 #" in html
    assert "生长参考标准" in html  # the growth_reference key, labelled
    assert '<option value="district">' in html
    shown = client.get(f"/admin/audit/{event.id}").get_data(as_text=True)
    assert "新建" in shown
    assert ">名称</td>" in shown
    assert "东城区" in shown
    # The stored event stays language-neutral.
    assert (event.action, event.entity) == ("create", "district")
    assert set(event.after) == {"name", "code", "growth_reference"}


def test_delete_unused_district(client, admin, factories):
    district = factories.DistrictFactory()
    response = client.post(f"/admin/districts/{district.id}/delete")
    assert response.status_code == 302
    assert count(District) == 0
    assert [e.action for e in events("district")] == ["delete"]


def test_missing_records_are_404(client, admin):
    assert client.get("/admin/districts/999/edit").status_code == 404
    assert client.get("/admin/schools/999/edit").status_code == 404
    assert client.get("/admin/users/999/edit").status_code == 404
    assert client.post("/admin/users/999/unlock").status_code == 404
    assert client.get("/admin/audit/999").status_code == 404


# --- schools ---------------------------------------------------------------------------


def test_create_and_edit_school(client, admin, factories):
    district = factories.DistrictFactory()
    response = client.post(
        "/admin/schools/new", data={"code": "S01", "name": "No. 1", "district": district.id}
    )
    assert response.status_code == 302
    school = db.session.scalar(select(School))
    page = client.get(f"/admin/schools/{school.id}/edit").get_data(as_text=True)
    assert f'<option selected value="{district.id}">' in page

    other = factories.DistrictFactory()
    client.post(
        f"/admin/schools/{school.id}/edit",
        data={"code": "S01", "name": "No. 1 renamed", "district": other.id},
    )
    db.session.refresh(school)
    assert (school.name, school.district_id) == ("No. 1 renamed", other.id)
    assert [e.action for e in events("school")] == ["create", "update"]


def test_school_form_errors(client, admin, factories):
    factories.SchoolFactory(code="S01")
    response = client.post("/admin/schools/new", data={"code": "S01", "name": "Again"})
    html = response.get_data(as_text=True)
    assert field_errors(html, "code") == ["Another school already has this code."]

    response = client.post("/admin/schools/new", data={"code": "S02", "name": "No district"})
    html = response.get_data(as_text=True)
    assert field_errors(html, "district") == ["Choose the district of the school."]
    assert count(School) == 1


def test_school_list_filters_by_district(client, admin, factories):
    a = factories.SchoolFactory(name="In district A")
    factories.SchoolFactory(name="Elsewhere")
    html = client.get(f"/admin/schools?district_id={a.district_id}").get_data(as_text=True)
    assert "In district A" in html
    assert "Elsewhere" not in html
    html = client.get("/admin/schools?q=elsew").get_data(as_text=True)
    assert "Elsewhere" in html
    assert "In district A" not in html


def test_delete_school_in_use_is_refused(client, admin, factories):
    pupil = factories.StudentFactory()
    response = client.post(f"/admin/schools/{pupil.school_id}/delete", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "cannot be deleted" in html
    assert "1 pupil" in html
    assert "1 pupils" not in html
    assert count(School) == 1


def test_delete_unused_school(client, admin, factories):
    school = factories.SchoolFactory()
    assert client.post(f"/admin/schools/{school.id}/delete").status_code == 302
    assert count(School) == 0


# --- institutions ----------------------------------------------------------------------


def test_institution_pages(client, admin, factories):
    response = client.post("/admin/institutions/new", data={"name": "Eye Clinic", "code": "EC"})
    assert response.status_code == 302
    institution = db.session.scalar(select(Institution))
    assert "Eye Clinic" in client.get("/admin/institutions").get_data(as_text=True)

    response = client.post("/admin/institutions/new", data={"name": "EYE CLINIC"})
    assert field_errors(response.get_data(as_text=True), "name") == [
        "Another institution already has this name."
    ]

    client.post(
        f"/admin/institutions/{institution.id}/edit", data={"name": "Eye Clinic 2", "code": ""}
    )
    db.session.refresh(institution)
    assert (institution.name, institution.code) == ("Eye Clinic 2", None)

    factories.ScreeningSessionFactory(institution=institution)
    html = client.post(
        f"/admin/institutions/{institution.id}/delete", follow_redirects=True
    ).get_data(as_text=True)
    assert "used by: 1 screening session." in html
    assert count(Institution) == 1


# --- users -----------------------------------------------------------------------------


def user_data(**overrides):
    data = {
        "username": "wang.li",
        "display_name": "王丽",
        "role": "nurse",
        "school": "",
        "institution": "",
        "district": "",
        "locale": "",
        "active": "y",
        "password": STRONG,
        "confirm": STRONG,
    }
    data.update(overrides)
    return data


def test_create_nurse(client, admin, factories):
    school = factories.SchoolFactory()
    response = client.post("/admin/users/new", data=user_data(school=school.id))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "wang.li"))
    assert (user.role, user.school_id, user.active) == ("nurse", school.id, True)
    assert user.check_password(STRONG)
    [event] = events("user")
    assert event.user_id == admin.id
    assert "password_hash" not in event.after


def test_a_nurse_without_a_school_is_refused_beside_the_school_field(client, admin):
    response = client.post("/admin/users/new", data=user_data())
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), "school") == ["A nurse needs a school."]
    assert count(User) == 1


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"username": "ROOT"}, "username", "This username is taken."),
    ({"password": "short", "confirm": "short"}, "password",
     "A password has at least 10 characters."),
    ({"password": "wang.li.2026", "confirm": "wang.li.2026", "username": "wang.li.2026"},
     "password", "The password must not be the username."),
    ({"password": "qwerty123456", "confirm": "qwerty123456"}, "password",
     "This password is too common or too easy to guess (a well-known password, a name, a "
     "date or a keyboard pattern). Choose a longer one, such as a few unrelated words."),
    ({"confirm": "something else"}, "confirm", "The passwords differ."),
    ({"role": "official"}, "district", "An official needs a district."),
    ({"role": "institution"}, "institution", "An institution account needs an institution."),
])  # fmt: skip
def test_user_form_errors(client, admin, factories, overrides, field, message):
    response = client.post(
        "/admin/users/new",
        data=user_data(school=factories.SchoolFactory().id, **overrides),
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), field) == [message]
    assert count(User) == 1


def test_edit_user_changes_role_and_scope(client, admin, factories):
    nurse = factories.NurseFactory()
    district = factories.DistrictFactory()
    page = client.get(f"/admin/users/{nurse.id}/edit").get_data(as_text=True)
    assert f'<option selected value="{nurse.school_id}">' in page
    assert 'name="username"' not in page  # fixed once created
    assert 'autocomplete="new-password"' in page  # not the admin's own saved password
    response = client.post(
        f"/admin/users/{nurse.id}/edit",
        data=user_data(role="official", district=district.id, school=nurse.school_id,
                       locale="zh_Hans_CN"),
    )  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(nurse)
    assert (nurse.role, nurse.school_id, nurse.district_id) == ("official", None, district.id)
    assert nurse.locale == "zh_Hans_CN"
    assert nurse.check_password(PASSWORD)  # the edit form never touches the password


def test_admin_cannot_demote_or_deactivate_themselves(client, admin, factories):
    response = client.post(
        f"/admin/users/{admin.id}/edit",
        data=user_data(role="official", district=factories.DistrictFactory().id),
    )
    assert field_errors(response.get_data(as_text=True), "role") == [
        "You cannot take away your own administrator role."
    ]
    response = client.post(f"/admin/users/{admin.id}/edit", data=user_data(role="admin", active=""))
    assert field_errors(response.get_data(as_text=True), "active") == [
        "You cannot deactivate your own account."
    ]
    response = client.post(f"/admin/users/{admin.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert (admin.role, admin.active) == ("admin", True)
    assert events("user") == []


def test_deactivate_and_reactivate_user(client, admin, factories):
    nurse = factories.NurseFactory()
    assert client.post(f"/admin/users/{nurse.id}/deactivate").status_code == 302
    db.session.refresh(nurse)
    assert not nurse.active
    client.post(f"/admin/users/{nurse.id}/activate")
    db.session.refresh(nurse)
    assert nurse.active
    assert [e.action for e in events("user")] == ["deactivate", "activate"]


def test_users_are_never_deleted(app):
    assert not [r for r in app.url_map.iter_rules() if r.endpoint == "admin.delete_user"]


def test_set_password(client, admin, factories):
    nurse = factories.NurseFactory(username="liu")
    response = client.post(
        f"/admin/users/{nurse.id}/password", data={"password": "short", "confirm": "short"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(html, "password") == ["A password has at least 10 characters."]

    new = "a brand new password"
    response = client.post(
        f"/admin/users/{nurse.id}/password", data={"password": new, "confirm": new}
    )
    assert response.status_code == 302
    db.session.refresh(nurse)
    assert nurse.check_password(new)
    [event] = events("user")
    assert event.action == "set_password"
    assert event.after == {"password_changed": True}


def test_unlock_user(client, admin, factories):
    nurse = factories.NurseFactory(locked_until=utcnow() + timedelta(minutes=10))
    html = client.get(f"/admin/users/{nurse.id}/edit").get_data(as_text=True)
    assert f'action="/admin/users/{nurse.id}/unlock"' in html
    response = client.post(f"/admin/users/{nurse.id}/unlock", follow_redirects=True)
    assert "is unlocked" in response.get_data(as_text=True)
    db.session.refresh(nurse)
    assert nurse.locked_until is None
    [event] = events("user")
    assert event.action == "unlock"
    assert event.user_id == admin.id


def test_user_list_search_and_filters(client, admin, factories):
    factories.NurseFactory(username="wang.li", display_name="王丽")
    factories.NurseFactory(username="gone", active=False)
    html = client.get("/admin/users?q=王").get_data(as_text=True)
    assert "wang.li" in html
    assert "gone" not in html
    html = client.get("/admin/users?status=inactive").get_data(as_text=True)
    assert "gone" in html
    assert "wang.li" not in html
    html = client.get("/admin/users?role=admin").get_data(as_text=True)
    assert "root" in html
    assert "wang.li" not in html


# --- audit log -------------------------------------------------------------------------


def test_audit_log_lists_newest_first_with_the_diff(client, admin, factories):
    district = factories.DistrictFactory(name="Haidian")
    client.post(
        f"/admin/districts/{district.id}/edit",
        data={"name": "Haidian West", "growth_reference": "wst586"},
    )
    client.post("/admin/institutions/new", data={"name": "Eye Clinic"})
    html = client.get("/admin/audit").get_data(as_text=True)
    assert html.index("institution Eye Clinic created") < html.index("district Haidian West")
    assert '<td data-key="name">Name</td>' in html
    assert "Haidian</td>" in html
    assert "Haidian West</td>" in html


def test_audit_log_filters(client, admin, factories):
    nurse = factories.NurseFactory(username="nurse.a")
    other = factories.SchoolFactory()
    for event in [
        AuditEvent(user_id=nurse.id, action="import", entity="roster", summary="ALPHA",
                   school_id=nurse.school_id, at=datetime(2026, 10, 12, 2)),
        AuditEvent(action="export", entity="roster", summary="BETA",
                   school_id=other.id, at=datetime(2026, 10, 13, 2)),
    ]:  # fmt: skip
        db.session.add(event)
    db.session.commit()

    def shown(query):
        html = client.get(f"/admin/audit?{query}").get_data(as_text=True)
        return [s for s in ("ALPHA", "BETA") if s in html]

    assert shown("") == ["ALPHA", "BETA"]
    assert shown("user=NURSE.A") == ["ALPHA"]
    assert shown("action=export") == ["BETA"]
    assert shown("entity=roster") == ["ALPHA", "BETA"]
    assert shown(f"school={other.id}") == ["BETA"]
    assert shown("date_from=2026-10-13") == ["BETA"]
    assert shown("date_to=2026-10-12") == ["ALPHA"]


def test_audit_log_filter_errors_show_no_events(client, admin, factories):
    factories.DistrictFactory()
    db.session.add(AuditEvent(action="import", entity="roster", summary="SECRET"))
    db.session.commit()
    response = client.get("/admin/audit?user=nobody")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(html, "user") == ["No user has this username."]
    assert "SECRET" not in html
    response = client.get("/admin/audit?date_from=2026-10-13&date_to=2026-10-12")
    assert field_errors(response.get_data(as_text=True), "date_to") == [
        "The end date is before the start date."
    ]
    response = client.get("/admin/audit?date_from=yesterday")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "date_from")


def test_audit_log_is_paged(app, client, admin, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for n in range(3):
        db.session.add(AuditEvent(action="export", entity="roster", summary=f"EVENT-{n}",
                                  at=datetime(2026, 10, 12, n)))  # fmt: skip
    db.session.commit()
    first = client.get("/admin/audit").get_data(as_text=True)
    assert "EVENT-2" in first
    assert "EVENT-1" in first
    assert "EVENT-0" not in first
    second = client.get("/admin/audit?action=export&page=2").get_data(as_text=True)
    assert "EVENT-0" in second
    assert "EVENT-2" not in second


def test_audit_event_page(client, admin, factories):
    school = factories.SchoolFactory(code="S-AUDIT")
    event = AuditEvent(action="update", entity="student", entity_id="7", school_id=school.id,
                       before={"name": "Old"}, after={"name": "New"}, summary="renamed",
                       at=datetime(2026, 10, 12, 2), ip_address="10.0.0.1")  # fmt: skip
    db.session.add(event)
    db.session.commit()
    html = client.get(f"/admin/audit/{event.id}").get_data(as_text=True)
    assert "S-AUDIT" in html
    assert "10.0.0.1" in html
    assert "Old</td>" in html
    assert "New</td>" in html
    assert "2026-10-12 10:00:00" in html  # shown in Beijing time


def test_nurses_cannot_read_the_audit_log(client, factories, login_as):
    nurse = factories.NurseFactory()
    login_as(nurse)
    assert client.get("/admin/audit").status_code == 403
    assert client.get(f"/admin/audit?school={nurse.school_id}").status_code == 403


def test_the_audit_record_type_filter_lists_each_type_once_and_finds_all_its_events(client, admin):
    for entity, summary in (("screening_result", "ONE"), ("screening_results", "MANY")):
        db.session.add(AuditEvent(action="update", entity=entity, summary=summary))
    db.session.commit()
    html = client.get("/admin/audit").get_data(as_text=True)
    select_box = html[
        html.index('id="entity"') : html.index("</select>", html.index('id="entity"'))
    ]
    assert select_box.count(">Screening result<") == 1
    assert "screening_results" not in select_box
    page = client.get("/admin/audit?entity=screening_result").get_data(as_text=True)
    assert "ONE" in page
    assert "MANY" in page


def test_the_audit_log_reads_in_chinese_without_codes_or_english(client, admin, factories):
    admin.locale = "zh_Hans_CN"
    db.session.add(
        AuditEvent(
            action="update",
            entity="screening_session",
            summary="session 3 updated by nurse.a",
            before={"status": "planned", "growth_reference": "wst586", "active": False},
            after={"status": "in_progress", "growth_reference": "who2007", "active": True},
        )
    )
    db.session.commit()
    html = client.get("/admin/audit").get_data(as_text=True)
    row = html[html.index("<tbody>") : html.index("</tbody>")]
    for english in ("updated by", "in_progress", "wst586", "True", "False"):
        assert english not in row.replace('data-key="', "").replace('data-action="', "")
    for chinese in ("修改", "计划中", "进行中", "WS/T 586-2018", "WHO 2007", "是", "否"):
        assert chinese in row, chinese


def test_a_common_password_is_refused_in_chinese_too(client, admin, factories):
    nurse = factories.NurseFactory(username="liu")
    admin.locale = "zh_Hans_CN"
    db.session.commit()
    response = client.post(
        f"/admin/users/{nurse.id}/password",
        data={"password": "woaini1314520", "confirm": "woaini1314520"},
    )
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "password") == [
        "此密码太常见或太容易被猜到（常用密码、姓名、日期或键盘规律）。"
        "请选择更长的密码，例如几个互不相关的词。"
    ]
