"""Pupil pages: the list and its search, adding, editing, deactivating."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from schoolhealth.clock import local_today
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment, Student
from tests import factories

from .helpers import birth_date_aged, make_id_number, roster_state, with_wrong_check_digit


def _field_errors(html: str, field: str) -> list[str]:
    """The error messages rendered inside the form field ``field`` (its .field block)."""
    match = re.search(
        rf'<div class="field[^"]*">\s*<label for="{field}">.*?</div>', html, flags=re.S
    )
    assert match, f"field {field} not rendered"
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', match.group(0))


def _options(html: str, name: str) -> set[str]:
    """The option values of the select named ``name``."""
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, flags=re.S)
    return set(re.findall(r'value="([^"]*)"', match.group(1))) if match else set()


# --- list ------------------------------------------------------------------------------


def test_nurse_sees_her_pupils_with_masked_id(client, login_as, school_a, school_b):
    number = make_id_number(school_a.student.birth_date, "M")
    school_a.student.id_number = number
    db.session.commit()
    login_as(school_a.nurse)
    html = client.get("/roster/").get_data(as_text=True)
    assert school_a.student.student_number in html
    assert "A学生" in html
    assert number not in html
    assert school_a.student.masked_id_number in html
    assert "A离校" not in html  # inactive pupils are hidden by default
    assert "B学生" not in html
    assert 'name="school_id"' not in html  # a nurse's school is fixed
    (search_box,) = re.findall(r'<input[^>]*id="q"[^>]*>', html)
    assert " autofocus " in search_box
    assert "1 pupil" in html


def test_show_inactive_lists_pupils_who_left(client, login_as, school_a):
    login_as(school_a.nurse)
    html = client.get("/roster/?show=inactive").get_data(as_text=True)
    assert "A离校" in html
    assert "A学生" not in html
    html = client.get("/roster/?show=all").get_data(as_text=True)
    assert "A离校" in html
    assert "A学生" in html


@pytest.fixture
def named_pupils(school_a):
    cls = school_a.school_class
    for number, name, initials in [
        ("G11010120150101", "张小明", "zxm"),
        ("G11010120150102", "张晓梅", "zxm"),
        ("L20150303", "王芳", "wf"),
        ("L20150404", "Anna Li", "al"),
    ]:
        factories.StudentFactory(
            school_class=cls, student_number=number, name=name, name_initials=initials
        )
    return school_a


SEARCHES = [
    ("张", {"张小明", "张晓梅"}),
    ("小明", {"张小明"}),
    ("zxm", {"张小明", "张晓梅"}),
    ("ZX", {"张小明", "张晓梅"}),
    ("w", {"王芳"}),
    ("anna", {"Anna Li"}),
    ("G1101", {"张小明", "张晓梅"}),
    ("g11010120150102", {"张晓梅"}),
    ("L2015", {"王芳", "Anna Li"}),
    ("20150303", set()),  # a student number is matched from its start only
    ("%", set()),  # LIKE wildcards are literal
    ("_", set()),
    ("陈", set()),
    ("", {"张小明", "张晓梅", "王芳", "Anna Li", "A学生"}),
]


def test_search_by_name_initials_or_student_number(client, login_as, named_pupils):
    login_as(named_pupils.nurse)
    names = {"张小明", "张晓梅", "王芳", "Anna Li", "A学生"}
    wrong = {}
    for q, found in SEARCHES:
        html = client.get("/roster/", query_string={"q": q}).get_data(as_text=True)
        shown = {n for n in names if f"<td>{n}</td>" in html}
        if shown != found:
            wrong[q] = shown
    assert not wrong


def test_filter_by_class(client, login_as, school_a):
    other = factories.SchoolClassFactory(
        school=school_a.school, school_year=school_a.school_class.school_year, grade=5, name="2"
    )
    factories.StudentFactory(school_class=other, name="五年级学生")
    login_as(school_a.nurse)
    html = client.get(f"/roster/?class_id={other.id}").get_data(as_text=True)
    assert "五年级学生" in html
    assert "A学生" not in html
    html = client.get("/roster/").get_data(as_text=True)
    assert "五年级学生" in html
    assert "A学生" in html


def test_list_pages_with_a_next_link(app, client, login_as, school_a, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for n in range(4):
        factories.StudentFactory(school_class=school_a.school_class, name=f"Z{n}")
    login_as(school_a.nurse)
    first = client.get("/roster/").get_data(as_text=True)
    assert "Page 1 of 3" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    last = client.get("/roster/?page=3").get_data(as_text=True)
    assert "Page 3 of 3" in last
    assert 'rel="next"' not in last
    assert "Z3" in last


def test_admin_without_a_school_pages_without_counting(
    app, client, login_as, school_a, school_b, monkeypatch
):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    login_as(factories.AdminFactory())
    html = client.get("/roster/").get_data(as_text=True)
    assert "Page 1" in html
    assert "Page 1 of" not in html
    assert 'rel="next"' in html
    html = client.get("/roster/?page=2").get_data(as_text=True)
    assert "B学生" in html  # ordered by school: A's pupil, then B's


def test_admin_name_search_across_schools_asks_for_a_school(client, login_as, school_a, school_b):
    login_as(factories.AdminFactory())
    html = client.get("/roster/?q=学生").get_data(as_text=True)
    assert "Choose a school to search by name" in html
    assert "A学生" not in html
    html = client.get("/roster/", query_string={"q": school_b.student.student_number})
    assert "B学生" in html.get_data(as_text=True)
    html = client.get(f"/roster/?school_id={school_b.school.id}&q=学生").get_data(as_text=True)
    assert "B学生" in html
    assert "A学生" not in html


def test_admin_chooses_among_all_schools(client, login_as, school_a, school_b):
    login_as(factories.AdminFactory())
    html = client.get("/roster/").get_data(as_text=True)
    assert _options(html, "school_id") == {"", str(school_a.school.id), str(school_b.school.id)}


def test_institution_sees_only_schools_it_screens(client, login_as, school_a, school_b):
    user = factories.InstitutionUserFactory()
    factories.ScreeningSessionFactory(school=school_a.school, institution=user.institution)
    login_as(user)
    html = client.get("/roster/").get_data(as_text=True)
    assert "A学生" in html
    assert "B学生" not in html
    assert _options(html, "school_id") == {"", str(school_a.school.id)}
    assert "Add pupil" not in html  # institutions read rosters, schools keep them
    assert client.get(f"/roster/?school_id={school_b.school.id}").status_code == 404
    assert client.get(f"/roster/students/{school_a.student.id}").status_code == 200
    assert client.get(f"/roster/students/{school_b.student.id}").status_code == 404
    assert client.get(f"/roster/schools/{school_a.school.id}/classes").status_code == 200


def test_institution_without_sessions_sees_no_pupils(client, login_as, school_a):
    login_as(factories.InstitutionUserFactory())
    html = client.get("/roster/").get_data(as_text=True)
    assert "A学生" not in html


# --- add ------------------------------------------------------------------------------


def _form(world, **overrides) -> dict:
    birth = birth_date_aged(9)
    values = {
        "student_number": "g110101201501011234",
        "name": " 张  小明 ",
        "sex": "M",
        "birth_date": birth.strftime("%Y%m%d"),
        "class_id": str(world.school_class.id),
        "id_number": make_id_number(birth, "M").lower(),
        "guardian_phone": "138-0013 8000",
        "guardian_language": "zh",
    }
    values.update(overrides)
    return values


def test_nurse_adds_a_pupil(client, login_as, school_a):
    login_as(school_a.nurse)
    form = _form(school_a)
    response = client.post(f"/roster/schools/{school_a.school.id}/students/new", data=form)
    assert response.status_code == 302
    student = db.session.scalars(
        select(Student).where(Student.student_number == "G110101201501011234")
    ).one()
    assert student.name == "张 小明"
    assert student.name_initials == "zxm"
    assert student.id_number == form["id_number"].upper()
    assert student.guardian_phone == "13800138000"
    assert student.school_id == school_a.school.id
    assert student.active
    enrolment = db.session.scalars(
        select(Enrolment).where(Enrolment.student_id == student.id)
    ).one()
    assert enrolment.class_id == school_a.school_class.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "create")).one()
    assert event.entity_id == str(student.id)
    assert event.user_id == school_a.nurse.id
    assert event.after["student_number"] == "G1101**********1234"  # the trail masks IDs


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+2", "@SUM(A1)", "-2+3"])
def test_the_form_refuses_a_name_a_spreadsheet_would_run(client, login_as, school_a, name):
    login_as(school_a.nurse)
    form = _form(school_a) | {"name": name}
    response = client.post(f"/roster/schools/{school_a.school.id}/students/new", data=form)
    assert response.status_code == 200
    assert "would run it as a formula" in response.get_data(as_text=True)
    assert db.session.scalars(select(Student).where(Student.name == name)).first() is None


def test_save_and_add_another_returns_to_the_form_with_the_class(client, login_as, school_a):
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data={**_form(school_a), "add_another": "1"},
    )
    assert response.status_code == 302
    assert f"/students/new?class_id={school_a.school_class.id}" in response.location
    html = client.get(response.location).get_data(as_text=True)
    assert re.search(rf'<option selected value="{school_a.school_class.id}">', html)


def test_new_pupil_form_offers_only_this_years_classes(client, login_as, school_a):
    old = factories.SchoolClassFactory(school=school_a.school, school_year=2001, grade=2, name="7")
    login_as(school_a.nurse)
    html = client.get(f"/roster/schools/{school_a.school.id}/students/new").get_data(as_text=True)
    assert _options(html, "class_id") == {
        "",
        str(school_a.school_class.id),
        str(school_a.empty_class.id),
    }
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, class_id=str(old.id)),
    )
    assert _field_errors(response.get_data(as_text=True), "class_id") == [
        "Choose one of the school&#39;s classes."
    ]


INVALID = [
    ({"student_number": ""}, "student_number", "Enter the student number."),
    ({"student_number": "12345"}, "student_number", "6–32 letters or digits"),
    ({"student_number": "G-123456"}, "student_number", "6–32 letters or digits"),
    ({"student_number": "1" * 33}, "student_number", "6–32 letters or digits"),
    ({"name": "  "}, "name", "Enter the pupil"),
    ({"name": "名" * 51}, "name", "longer than 50"),
    ({"sex": ""}, "sex", "Choose the sex."),
    ({"sex": "X"}, "sex", "Choose the sex."),
    ({"birth_date": ""}, "birth_date", "Enter the birth date."),
    ({"birth_date": "2015-02-30"}, "birth_date", "not a date"),
    ({"birth_date": "yesterday"}, "birth_date", "not a date"),
    ({"class_id": ""}, "class_id", "Choose the class."),
    ({"class_id": "x"}, "class_id", "Choose the class."),
    ({"guardian_phone": "138 0013 800a"}, "guardian_phone", "only digits, spaces and dashes"),
    ({"guardian_phone": "1234"}, "guardian_phone", "5–20 digits"),
    ({"guardian_language": "fr"}, "guardian_language", "Chinese or English"),
    ({"id_number": "11010120150101"}, "id_number", "18 characters"),
]


def test_validation_errors_name_the_field(client, login_as, school_a):
    """Each bad value is refused with one message next to its field; nothing is saved."""
    login_as(school_a.nurse)
    before = roster_state()
    wrong = []
    for overrides, field, message in INVALID:
        response = client.post(
            f"/roster/schools/{school_a.school.id}/students/new",
            data=_form(school_a, **overrides),
        )
        errors = _field_errors(response.get_data(as_text=True), field)
        if response.status_code != 200 or len(errors) != 1 or message not in unescape(errors[0]):
            wrong.append((overrides, field, errors))
    assert not wrong
    assert roster_state() == before


def test_birth_date_in_the_future_is_refused(client, login_as, school_a):
    login_as(school_a.nurse)
    tomorrow = local_today() + timedelta(days=1)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, birth_date=tomorrow.isoformat(), id_number=""),
    )
    assert _field_errors(response.get_data(as_text=True), "birth_date") == [
        "The birth date is in the future."
    ]


def test_birth_date_must_give_age_3_to_25(client, login_as, school_a):
    login_as(school_a.nurse)
    for n, (age, ok) in enumerate([(2, False), (3, True), (25, True), (26, False)]):
        birth = birth_date_aged(age)
        response = client.post(
            f"/roster/schools/{school_a.school.id}/students/new",
            data=_form(
                school_a, student_number=f"AGE00{n}", birth_date=birth.isoformat(), id_number=""
            ),
        )
        if ok:
            assert response.status_code == 302, age
        else:
            errors = _field_errors(response.get_data(as_text=True), "birth_date")
            assert errors == [f"The birth date gives an age of {age}; pupils are 3 to 25."]


def test_id_number_check_digit_failure(client, login_as, school_a):
    login_as(school_a.nurse)
    good = make_id_number(birth_date_aged(9), "M")
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, id_number=with_wrong_check_digit(good)),
    )
    (error,) = _field_errors(response.get_data(as_text=True), "id_number")
    assert f"check digit should be {good[-1]}" in error
    assert "GB 11643" in error
    assert db.session.scalar(select(db.func.count()).select_from(Student)) == 2


def test_id_number_impossible_birth_date(client, login_as, school_a):
    from schoolhealth.rules.idnumber import check_character

    first17 = "11010120150230123"
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, id_number=first17 + check_character(first17)),
    )
    (error,) = _field_errors(response.get_data(as_text=True), "id_number")
    assert "impossible birth date" in error


def test_id_number_must_agree_with_birth_date(client, login_as, school_a):
    login_as(school_a.nurse)
    birth = birth_date_aged(9)
    other_day = birth + timedelta(days=1)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, id_number=make_id_number(other_day, "M")),
    )
    (error,) = _field_errors(response.get_data(as_text=True), "id_number")
    assert error == (
        f"The ID number gives the birth date {other_day.isoformat()}, but the birth date "
        f"entered is {birth.isoformat()}."
    )


def test_id_number_must_agree_with_sex(client, login_as, school_a):
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, sex="F"),
    )
    (error,) = _field_errors(response.get_data(as_text=True), "id_number")
    assert error == "The ID number belongs to a male pupil, but the sex entered is female."


def test_duplicate_student_number_is_refused(client, login_as, school_a, school_b):
    login_as(school_a.nurse)
    before = roster_state()
    # The number is unique nationally: a pupil of another school already holds it.
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, student_number=school_b.student.student_number.lower()),
    )
    assert _field_errors(response.get_data(as_text=True), "student_number") == [
        "This student number is already recorded for another pupil."
    ]
    assert "B学生" not in response.get_data(as_text=True)
    assert roster_state() == before


def test_student_number_of_a_pupil_who_left_points_to_reactivation(client, login_as, school_a):
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, student_number=school_a.inactive_student.student_number),
    )
    (error,) = _field_errors(response.get_data(as_text=True), "student_number")
    assert "belongs to a pupil of this school who left" in error


def test_duplicate_id_number_is_refused(client, login_as, school_a):
    number = make_id_number(birth_date_aged(9), "M")
    school_a.student.id_number = number
    db.session.commit()
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/schools/{school_a.school.id}/students/new",
        data=_form(school_a, id_number=number),
    )
    assert _field_errors(response.get_data(as_text=True), "id_number") == [
        "This ID number is already recorded for another pupil."
    ]


# --- edit -----------------------------------------------------------------------------


def test_edit_form_never_shows_the_full_id_number(client, login_as, school_a):
    number = make_id_number(school_a.student.birth_date, "M")
    school_a.student.id_number = number
    school_a.student.student_number = "G" + number
    db.session.commit()
    login_as(school_a.nurse)
    html = client.get(f"/roster/students/{school_a.student.id}/edit").get_data(as_text=True)
    assert number not in html
    masked = school_a.student.masked_id_number
    assert re.search(rf'<input[^>]*name="id_number"[^>]*value="{re.escape(masked)}"', html)
    assert re.search(rf'<input[^>]*name="student_number"[^>]*value="G{re.escape(masked)}"', html)
    detail = client.get(f"/roster/students/{school_a.student.id}").get_data(as_text=True)
    assert number not in detail
    assert school_a.student.masked_id_number in detail


def _g_pupil(school_a):
    s = school_a.student
    number = make_id_number(s.birth_date, s.sex)
    s.id_number, s.student_number = number, "G" + number
    db.session.commit()
    return s, number


def _edit_data(s, **changes):
    data = {
        "student_number": s.masked_student_number,
        "name": s.name,
        "sex": s.sex,
        "birth_date": s.birth_date.isoformat(),
        "class_id": str(s.class_id),
        "id_number": s.masked_id_number,
        "guardian_phone": "",
        "guardian_language": "zh",
    }
    data.update(changes)
    return data


def test_saving_the_masked_values_keeps_the_stored_numbers(client, login_as, school_a):
    s, number = _g_pupil(school_a)
    login_as(school_a.nurse)
    response = client.post(f"/roster/students/{s.id}/edit", data=_edit_data(s, name="李四"))
    assert response.status_code == 302
    db.session.expire_all()
    s = db.session.get(Student, s.id)
    assert (s.name, s.id_number, s.student_number) == ("李四", number, "G" + number)


def test_a_hand_edited_masked_id_is_refused_not_stored(client, login_as, school_a):
    s, number = _g_pupil(school_a)
    login_as(school_a.nurse)
    tampered = s.masked_id_number[:-1] + ("1" if s.masked_id_number[-1] != "1" else "2")
    response = client.post(f"/roster/students/{s.id}/edit", data=_edit_data(s, id_number=tampered))
    assert response.status_code == 200
    assert "Type the full number" in response.get_data(as_text=True)
    assert number not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Student, s.id).id_number == number


def test_a_new_full_id_replaces_the_stored_one(client, login_as, school_a):
    s, number = _g_pupil(school_a)
    other = make_id_number(s.birth_date, s.sex, seq="98")
    login_as(school_a.nurse)
    response = client.post(f"/roster/students/{s.id}/edit", data=_edit_data(s, id_number=other))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Student, s.id).id_number == other


def test_nurse_edits_a_pupil_and_changes_class(client, login_as, school_a):
    s = school_a.student
    new_class = factories.SchoolClassFactory(
        school=school_a.school, school_year=school_a.school_class.school_year, grade=3, name="2"
    )
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/students/{s.id}/edit",
        data={
            "student_number": s.student_number,
            "name": "李四",
            "sex": s.sex,
            "birth_date": s.birth_date.isoformat(),
            "class_id": str(new_class.id),
            "id_number": "",
            "guardian_phone": "",
            "guardian_language": "en",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    s = db.session.get(Student, s.id)
    assert (s.name, s.name_initials, s.class_id, s.guardian_language) == (
        "李四",
        "ls",
        new_class.id,
        "en",
    )
    enrolment = db.session.scalars(select(Enrolment).where(Enrolment.student_id == s.id)).one()
    assert enrolment.class_id == new_class.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.before == {
        "name": "A学生",
        "class_id": school_a.school_class.id,
        "guardian_language": "zh",
    }
    assert event.after == {"name": "李四", "class_id": new_class.id, "guardian_language": "en"}


def test_editing_keeps_its_own_student_number(client, login_as, school_a):
    """The uniqueness check must not trip over the pupil being edited."""
    s = school_a.student
    login_as(school_a.nurse)
    response = client.post(
        f"/roster/students/{s.id}/edit",
        data={
            "student_number": s.student_number,
            "name": s.name,
            "sex": s.sex,
            "birth_date": s.birth_date.isoformat(),
            "class_id": str(s.class_id),
            "guardian_language": "zh",
        },
    )
    assert response.status_code == 302
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).all() == []


def test_editing_a_pupil_in_last_years_class_keeps_the_class(client, login_as, school_a):
    old = factories.SchoolClassFactory(school=school_a.school, school_year=2001, grade=2, name="7")
    pupil = factories.StudentFactory(school_class=old, birth_date=birth_date_aged(9))
    login_as(school_a.nurse)
    html = client.get(f"/roster/students/{pupil.id}/edit").get_data(as_text=True)
    assert re.search(rf'<option selected value="{old.id}">', html)


# --- deactivate / reactivate ----------------------------------------------------------


def test_deactivate_asks_then_hides_the_pupil(client, login_as, school_a):
    s = school_a.student
    login_as(school_a.nurse)
    page = client.get(f"/roster/students/{s.id}/deactivate")
    assert page.status_code == 200
    assert "Mark A学生 as left?" in page.get_data(as_text=True)
    assert db.session.get(Student, s.id).active
    response = client.post(f"/roster/students/{s.id}/deactivate", data={"reason": "转学"})
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Student, s.id).active
    client.get("/")  # consume the flash message that names the pupil
    assert "<td>A学生</td>" not in client.get("/roster/").get_data(as_text=True)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "deactivate")).one()
    assert (event.before, event.after) == ({"active": True}, {"active": False})
    assert "转学" in event.summary


def test_reactivate_puts_the_pupil_back(client, login_as, school_a):
    s = school_a.inactive_student
    login_as(school_a.nurse)
    assert client.get(f"/roster/students/{s.id}/reactivate").status_code == 200
    assert client.post(f"/roster/students/{s.id}/reactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(Student, s.id).active
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reactivate")).one()
    assert event.after == {"active": True}


def test_deactivating_twice_changes_nothing(client, login_as, school_a):
    login_as(school_a.nurse)
    before = roster_state()
    response = client.post(f"/roster/students/{school_a.inactive_student.id}/deactivate")
    assert response.status_code == 302
    assert roster_state() == before


def test_there_is_no_way_to_delete_a_pupil(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("roster.")]
    assert not any("DELETE" in r.methods for r in rules)
    assert not any("delete" in r.endpoint and "student" in r.endpoint for r in rules)
