"""Admin services: the rules every view and CLI command relies on."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from schoolhealth.admin import services
from schoolhealth.admin.services import AdminError, AuditFilter, InUseError
from schoolhealth.audit import record_event
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, District, Institution, School, User, utcnow
from tests.factories import PASSWORD

STRONG = "long enough password"


def events(entity: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    return list(db.session.scalars(query))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- districts -------------------------------------------------------------------------


def test_new_district_uses_the_national_reference_and_is_audited(app):
    district = services.create_district("  Haidian  ", code="110108")
    db.session.commit()

    assert district.name == "Haidian"
    assert district.growth_reference == "wst586"
    [event] = events("district")
    assert (event.action, event.entity_id) == ("create", str(district.id))
    assert event.after == {"name": "Haidian", "code": "110108", "growth_reference": "wst586"}
    assert event.before is None


@pytest.mark.parametrize("reference", ["who2007", "cdc2000"])
def test_district_can_choose_another_growth_reference(app, reference):
    district = services.create_district("Chaoyang", growth_reference=reference)
    assert district.growth_reference == reference


def test_unknown_growth_reference_is_refused(app):
    with pytest.raises(AdminError) as info:
        services.create_district("Chaoyang", growth_reference="iotf")
    assert info.value.field == "growth_reference"


def test_district_names_and_codes_are_unique_whatever_the_case(app, factories):
    factories.DistrictFactory(name="Haidian", code="HD")
    with pytest.raises(AdminError) as info:
        services.create_district("HAIDIAN")
    assert info.value.field == "name"
    with pytest.raises(AdminError) as info:
        services.create_district("Other", code="hd")
    assert info.value.field == "code"


def test_district_update_audits_only_what_changed(app, factories):
    district = factories.DistrictFactory(name="Haidian", code="HD", growth_reference="wst586")
    services.update_district(district, name="Haidian", code="HD", growth_reference="who2007")
    db.session.commit()

    [event] = events("district")
    assert event.action == "update"
    assert event.before == {"growth_reference": "wst586"}
    assert event.after == {"growth_reference": "who2007"}


def test_saving_an_unchanged_district_records_nothing(app, factories):
    district = factories.DistrictFactory(name="Haidian", code="HD")
    services.update_district(
        district, name="Haidian", code="HD", growth_reference=district.growth_reference
    )
    assert events() == []


def test_district_with_schools_cannot_be_deleted(app, factories):
    school = factories.SchoolFactory()
    with pytest.raises(InUseError) as info:
        services.delete_district(school.district)
    assert str(info.value).endswith("It is still used by: 1 school.")
    assert school.district.name in str(info.value)


def test_empty_district_is_deleted_and_audited(app, factories):
    district = factories.DistrictFactory(name="Mistake")
    district_id = district.id
    services.delete_district(district)
    db.session.commit()

    assert db.session.get(District, district_id) is None
    [event] = events("district")
    assert event.action == "delete"
    assert event.before["name"] == "Mistake"


# --- schools ---------------------------------------------------------------------------


def test_create_school_in_a_district(app, factories):
    district = factories.DistrictFactory()
    change = services.create_school("1101080001", "Haidian No. 1", district=district)
    db.session.commit()

    assert change.created
    assert not change.district_created
    assert change.school.district_id == district.id
    [event] = events("school")
    assert event.after == {
        "code": "1101080001",
        "name": "Haidian No. 1",
        "district_id": district.id,
    }


def test_school_code_is_unique(app, factories):
    factories.SchoolFactory(code="S01")
    with pytest.raises(AdminError) as info:
        services.create_school("s01", "Again", district=factories.DistrictFactory())
    assert info.value.field == "code"


def test_a_district_name_creates_the_district_when_missing(app):
    change = services.create_school("S01", "First", district="New Area")
    assert change.created
    assert change.district_created
    assert change.school.district.name == "New Area"
    assert [e.entity for e in events()] == ["district", "school"]


def test_a_district_is_found_by_name_or_code(app, factories):
    district = factories.DistrictFactory(name="Haidian", code="110108")
    assert services.create_school("S01", "A", district="haidian").school.district is district
    assert services.create_school("S02", "B", district="110108").school.district is district
    assert count(District) == 1


def test_update_existing_renames_the_school(app, factories):
    school = factories.SchoolFactory(code="S01", name="Old name")
    change = services.create_school("S01", "New name", district=None, update_existing=True)
    assert change.school is school
    assert not change.created
    assert school.name == "New name"
    assert change.changes == {"name": ("Old name", "New name")}
    [event] = events("school")
    assert (event.before, event.after) == ({"name": "Old name"}, {"name": "New name"})


def test_a_new_school_needs_a_district(app):
    with pytest.raises(AdminError) as info:
        services.create_school("S01", "No district", district=None)
    assert info.value.field == "district"


@pytest.mark.parametrize(("code", "name", "field"), [
    ("", "A school", "code"),
    ("has space", "A school", "code"),
    ("S01", "   ", "name"),
    ("S01", "x" * 101, "name"),
])  # fmt: skip
def test_school_code_and_name_are_checked(app, factories, code, name, field):
    with pytest.raises(AdminError) as info:
        services.create_school(code, name, district=factories.DistrictFactory())
    assert info.value.field == field


def test_school_update_moves_it_to_another_district(app, factories):
    school = factories.SchoolFactory(code="S01")
    other = factories.DistrictFactory()
    services.update_school(school, code="S01", name=school.name, district=other)
    [event] = events("school")
    assert event.after == {"district_id": other.id}


def test_school_update_refuses_another_schools_code(app, factories):
    factories.SchoolFactory(code="S01")
    school = factories.SchoolFactory(code="S02")
    with pytest.raises(AdminError) as info:
        services.update_school(school, code="S01", name="x", district=school.district)
    assert info.value.field == "code"


def test_school_with_pupils_or_staff_cannot_be_deleted(app, factories):
    pupil = factories.StudentFactory()
    factories.NurseFactory(school=pupil.school)
    with pytest.raises(InUseError) as info:
        services.delete_school(pupil.school)
    message = str(info.value)
    assert "1 class, 1 pupil, 1 user account." in message


def test_references_are_counted_from_every_table(app, factories):
    school = factories.SchoolFactory()
    factories.ScreeningSessionFactory(school=school)
    record_event("export", "roster", school.id, school_id=school.id)
    db.session.flush()
    assert services.references_to("schools", school.id) == {
        "screening_sessions": 1,
        "audit_events": 1,
    }


def test_unused_school_is_deleted(app, factories):
    school = factories.SchoolFactory(code="S01")
    school_id = school.id
    services.delete_school(school)
    db.session.commit()
    assert db.session.get(School, school_id) is None
    assert [e.action for e in events("school")] == ["delete"]


def test_a_school_created_by_mistake_can_still_be_deleted(app, factories):
    """Its own audit events must not keep it alive (they carry no school_id)."""
    change = services.create_school("S01", "Typo", district=factories.DistrictFactory())
    db.session.commit()
    services.delete_school(change.school)
    db.session.commit()
    assert count(School) == 0


# --- institutions ----------------------------------------------------------------------


def test_institution_lifecycle(app, factories):
    institution = services.create_institution("Eye Clinic", code="EC")
    services.update_institution(institution, name="Eye Clinic", code="EC2")
    db.session.commit()
    assert [(e.action, e.after) for e in events("institution")] == [
        ("create", {"name": "Eye Clinic", "code": "EC"}),
        ("update", {"code": "EC2"}),
    ]
    services.delete_institution(institution)
    db.session.commit()
    assert count(Institution) == 0


def test_institution_name_is_unique(app, factories):
    factories.InstitutionFactory(name="Eye Clinic")
    with pytest.raises(AdminError) as info:
        services.create_institution("eye clinic")
    assert info.value.field == "name"


def test_institution_with_sessions_cannot_be_deleted(app, factories):
    institution = factories.InstitutionFactory()
    factories.ScreeningSessionFactory(institution=institution)
    with pytest.raises(InUseError, match="used by: 1 screening session\\."):
        services.delete_institution(institution)


# --- users -----------------------------------------------------------------------------


def test_create_nurse(app, factories):
    school = factories.SchoolFactory()
    user = services.create_user(
        "Wang.Li", role="nurse", password=STRONG, display_name="王丽", school=school
    )
    db.session.commit()
    assert user.username == "Wang.Li"
    assert user.school_id == school.id
    assert user.check_password(STRONG)
    [event] = events("user")
    assert event.action == "create"
    assert event.school_id == school.id
    assert event.after["role"] == "nurse"


def test_the_audit_trail_never_holds_a_password_or_its_hash(app, factories):
    user = services.create_user("admin2", role="admin", password=STRONG)
    services.set_password(user, "another long password")
    db.session.commit()
    stored = json.dumps([[e.before, e.after, e.summary] for e in events()])
    assert "password_hash" not in stored
    assert "scrypt" not in stored
    assert user.password_hash not in stored
    assert STRONG not in stored
    assert "another long password" not in stored
    assert events()[-1].action == "set_password"


def test_usernames_are_unique_whatever_the_case(app, factories):
    factories.AdminFactory(username="wang")
    with pytest.raises(AdminError) as info:
        services.create_user("WANG", role="admin", password=STRONG)
    assert info.value.field == "username"


@pytest.mark.parametrize("username", ["ab", "with space", "中文名", "x" * 65, "-dash"])
def test_usernames_have_a_safe_shape(app, username):
    with pytest.raises(AdminError) as info:
        services.create_user(username, role="admin", password=STRONG)
    assert info.value.field == "username"


@pytest.mark.parametrize(("password", "message"), [
    ("short", "at least 10"),
    ("123456789", "at least 10"),
    ("zhang.wei.99", "must not be the username"),
    ("ZHANG.WEI.99", "must not be the username"),
])  # fmt: skip
def test_weak_passwords_are_refused(app, password, message):
    with pytest.raises(AdminError, match=message) as info:
        services.create_user("zhang.wei.99", role="admin", password=password)
    assert info.value.field == "password"
    assert count(User) == 0


def test_ten_unpredictable_characters_are_enough(app):
    assert services.create_user("zhang", role="admin", password="k7#mQ2pLx9")


@pytest.mark.parametrize("password", [
    "0123456789",  # a run of digits
    "qwertyuiop",  # a keyboard row
    "password123",  # the most breached password there is
    "P@ssw0rd2024",  # the same in l33t with a year
    "woaini1314520",  # "I love you for ever" in pinyin and digits
    "zhang.wei.1985",  # the username and a year
    "Wangli@2026",  # the display name and a year
])  # fmt: skip
def test_common_and_trivial_passwords_are_refused(app, password):
    with pytest.raises(AdminError, match="too common or too easy to guess") as caught:
        services.create_user("zhang.wei", role="admin", password=password, display_name="Wang Li")
    assert caught.value.field == "password"
    assert services.find_user("zhang.wei") is None


@pytest.mark.parametrize(("role", "field"), [
    ("nurse", "school"),
    ("institution", "institution"),
    ("official", "district"),
])  # fmt: skip
def test_each_role_needs_its_scope(app, role, field):
    with pytest.raises(AdminError) as info:
        services.create_user("someone", role=role, password=STRONG)
    assert info.value.field == field


def test_unknown_role_is_refused(app):
    with pytest.raises(AdminError) as info:
        services.create_user("someone", role="superuser", password=STRONG)
    assert info.value.field == "role"


def test_only_the_scope_of_the_role_is_kept(app, factories):
    school = factories.SchoolFactory()
    institution = factories.InstitutionFactory()
    user = services.create_user(
        "official1",
        role="official",
        password=STRONG,
        school=school,
        institution=institution,
        district=school.district,
    )
    assert (user.school_id, user.institution_id) == (None, None)
    assert user.district_id == school.district_id

    admin = services.create_user("admin1", role="admin", password=STRONG, school=school)
    assert admin.school_id is None


def test_unknown_locale_is_refused(app):
    with pytest.raises(AdminError) as info:
        services.create_user("someone", role="admin", password=STRONG, locale="fr")
    assert info.value.field == "locale"


def test_change_role_moves_the_scope(app, factories):
    nurse = factories.NurseFactory()
    admin = factories.AdminFactory()
    district = factories.DistrictFactory()
    services.update_user(
        nurse, actor=admin, display_name="Now official", role="official", district=district
    )
    db.session.commit()
    assert (nurse.role, nurse.school_id, nurse.district_id) == ("official", None, district.id)
    [event] = events("user")
    assert event.action == "update"
    assert event.before["role"] == "nurse"
    assert event.after["role"] == "official"
    assert event.after["school_id"] is None


def test_admin_cannot_demote_themselves(app, factories):
    admin = factories.AdminFactory()
    with pytest.raises(AdminError) as info:
        services.update_user(
            admin,
            actor=admin,
            display_name="",
            role="official",
            district=factories.DistrictFactory(),
        )
    assert info.value.field == "role"


def test_admin_cannot_deactivate_themselves(app, factories):
    admin = factories.AdminFactory()
    with pytest.raises(AdminError) as info:
        services.update_user(admin, actor=admin, display_name="", role="admin", active=False)
    assert info.value.field == "active"
    with pytest.raises(AdminError):
        services.set_active(admin, False, actor=admin)
    assert admin.active


def test_admin_can_deactivate_another_admin(app, factories):
    admin, other = factories.AdminFactory(), factories.AdminFactory()
    services.set_active(other, False, actor=admin)
    db.session.commit()
    assert not other.active
    [event] = events("user")
    assert (event.action, event.before, event.after) == (
        "deactivate",
        {"active": True},
        {"active": False},
    )


def test_deactivating_through_the_edit_form_is_called_deactivate(app, factories):
    admin, nurse = factories.AdminFactory(), factories.NurseFactory()
    services.update_user(
        nurse,
        actor=admin,
        display_name=nurse.display_name,
        role="nurse",
        school=nurse.school,
        locale=nurse.locale,
        active=False,
    )
    assert [e.action for e in events("user")] == ["deactivate"]


def test_set_password_checks_strength(app, factories):
    user = factories.NurseFactory(username="liu.fang")
    with pytest.raises(AdminError):
        services.set_password(user, "liu.fang")
    assert user.check_password(PASSWORD)


def test_unlock_clears_the_lockout(app, factories):
    user = factories.NurseFactory(locked_until=utcnow() + timedelta(minutes=10), failed_logins=2)
    assert services.is_locked(user)
    assert services.unlock_user(user) is True
    db.session.commit()
    assert user.locked_until is None
    assert user.failed_logins == 0
    assert not services.is_locked(user)
    [event] = events("user")
    assert event.action == "unlock"
    assert event.after == {"locked_until": None, "failed_logins": 0}


def test_unlocking_an_unlocked_user_records_nothing(app, factories):
    assert services.unlock_user(factories.NurseFactory()) is False
    assert events() == []


def test_user_search(app, factories):
    factories.NurseFactory(username="wang.li", display_name="王丽")
    factories.AdminFactory(username="boss", display_name="Chief")
    factories.NurseFactory(username="inactive", active=False)

    def names(*args, **kwargs):
        return [u.username for u in db.session.scalars(services.user_query(*args, **kwargs))]

    assert names("王") == ["wang.li"]
    assert names("chief") == ["boss"]
    assert names(role="admin") == ["boss"]
    assert names(active=False) == ["inactive"]
    assert names("%") == []  # LIKE wildcards are searched for literally


# --- audit trail -----------------------------------------------------------------------


def _event(at: datetime, **kwargs) -> AuditEvent:
    event = record_event(kwargs.pop("action", "update"), kwargs.pop("entity", "student"), **kwargs)
    event.at = at
    db.session.flush()
    return event


def ids(filters: AuditFilter) -> list[int]:
    return [e.id for e in db.session.scalars(services.audit_query(filters))]


def test_audit_filters(app, factories):
    nurse = factories.NurseFactory()
    other = factories.SchoolFactory()
    t0 = datetime(2026, 10, 12, 8, 0)
    a = _event(t0, user=nurse, school_id=nurse.school_id, action="import", entity="roster")
    b = _event(t0 + timedelta(hours=1), school_id=other.id)
    c = _event(t0 + timedelta(hours=2), action="create", entity="school", entity_id=other.id)

    assert ids(AuditFilter()) == [c.id, b.id, a.id]  # newest first
    assert ids(AuditFilter(user=nurse)) == [a.id]
    assert ids(AuditFilter(action="import")) == [a.id]
    assert ids(AuditFilter(entity="student")) == [b.id]
    # A school's own events belong to it too, though they carry no school_id.
    assert ids(AuditFilter(school_id=other.id)) == [c.id, b.id]


def test_audit_dates_are_local_days(app):
    """``at`` is UTC; a day typed in the filter is a day in Beijing (UTC+8)."""
    late_on_the_11th = _event(datetime(2026, 10, 11, 15, 59))  # 23:59 in Beijing
    early_on_the_12th = _event(datetime(2026, 10, 11, 16, 0))  # 00:00 in Beijing
    end_of_the_12th = _event(datetime(2026, 10, 12, 15, 59, 59))  # 23:59:59 in Beijing
    on_the_13th = _event(datetime(2026, 10, 12, 16, 0))

    day = date(2026, 10, 12)
    assert ids(AuditFilter(date_from=day, date_to=day)) == [
        end_of_the_12th.id,
        early_on_the_12th.id,
    ]
    assert ids(AuditFilter(date_to=date(2026, 10, 11))) == [late_on_the_11th.id]
    assert ids(AuditFilter(date_from=date(2026, 10, 13))) == [on_the_13th.id]


def test_audit_diff_marks_changed_values(app):
    event = record_event(
        "update", "student", 1, before={"name": "A", "sex": "M"}, after={"name": "B", "sex": "M"}
    )
    diff = services.audit_diff(event)
    assert [(r.key, r.before, r.after, r.changed) for r in diff] == [
        ("name", "A", "B", True),
        ("sex", "M", "M", False),
    ]
    created = services.audit_diff(record_event("create", "district", 1, after={"name": "X"}))
    assert [(r.key, r.before, r.after, r.changed) for r in created] == [("name", None, "X", True)]
    assert services.audit_diff(record_event("login", "user", 1)) == []
