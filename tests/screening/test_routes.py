"""Screening views: sessions, the class grid, saving cells and rows, and who may see what."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from schoolhealth import rules
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, ScreeningResult, ScreeningSession
from schoolhealth.screening import results

JSON = {"Accept": "application/json"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _result(session_id: int, student_id: int) -> ScreeningResult | None:
    db.session.expire_all()
    return db.session.execute(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session_id, ScreeningResult.student_id == student_id
        )
    ).scalar_one_or_none()


def _field_url(session, student) -> str:
    return f"/screening/sessions/{session.id}/students/{student.id}/field"


def _row_url(session, school_class, student) -> str:
    return f"/screening/sessions/{session.id}/classes/{school_class.id}/students/{student.id}"


def _session_form(**overrides) -> dict:
    data = {
        "name": "2026 秋季 视力筛查",
        "start_date": "2026-11-23",
        "end_date": "2026-11-27",
        "types": ["growth", "vision"],
        "institution_id": "0",
        "atr_positive_degrees": "5",
    }
    data.update(overrides)
    return data


# ----------------------------------------------------------------- access
# Every route against another school's nurse, officials, outsiders and signed-out users:
# tests/screening/test_access.py (parametrised over the url_map). Here: the finer points.


def test_an_institution_works_only_in_sessions_assigned_to_it(client, sign_in, world):
    sign_in(world.institution_user)
    assert client.get(f"/screening/sessions/{world.session.id}").status_code == 200
    assert client.get(f"/screening/sessions/{world.other_session.id}").status_code == 404
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "height_cm", "value": "130", "version": 0},
    )
    assert response.status_code == 200
    response = client.post(
        _field_url(world.other_session, world.other_student),
        json={"field": "height_cm", "value": "130"},
        headers=JSON,
    )
    assert response.status_code == 404
    assert _result(world.other_session.id, world.other_student.id) is None
    # Institutions enter results; planning and closing are the school's.
    assert client.get("/screening/sessions/new").status_code == 403
    response = client.post(
        f"/screening/sessions/{world.session.id}/status", data={"status": "closed"}
    )
    assert response.status_code == 403
    listing = client.get("/screening/sessions").get_data(as_text=True)
    assert world.session.name in listing
    assert world.other_session.name not in listing


def test_a_class_or_pupil_of_another_school_in_the_url_is_404(client, sign_in, world):
    sign_in(world.nurse)
    s = world.session
    responses = [
        client.get(f"/screening/sessions/{s.id}/classes/{world.other_class.id}"),
        client.get(f"/screening/sessions/{s.id}/classes/999999"),
        client.get(f"/screening/sessions/999999/classes/{world.school_class.id}"),
        client.post(
            _field_url(s, world.other_student), json={"field": "height_cm", "value": "130"}
        ),
        client.post(
            f"/screening/sessions/{s.id}/students/999999/field",
            json={"field": "height_cm", "value": "130"},
        ),
        client.post(_row_url(s, world.other_class, world.other_student), data={"height_cm": "130"}),
        client.post(
            _row_url(s, world.school_class, world.other_student), data={"height_cm": "130"}
        ),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert _count(ScreeningResult) == 0


def test_a_pupil_of_another_class_cannot_be_saved_through_this_classs_row(
    client, sign_in, world, factories
):
    other_class = factories.SchoolClassFactory(school=world.school, grade=4, name="1")
    sign_in(world.nurse)
    response = client.post(
        _row_url(world.session, other_class, world.students[0]), data={"height_cm": "130"}
    )
    assert response.status_code == 404
    assert _count(ScreeningResult) == 0


# ----------------------------------------------------------------- sessions


def test_session_list_shows_own_school_only_and_filters_by_status(
    client, sign_in, world, factories
):
    closed = factories.ScreeningSessionFactory(
        school=world.school, status="closed", name="Spring 2026"
    )
    sign_in(world.nurse)
    page = client.get("/screening/sessions").get_data(as_text=True)
    assert world.session.name in page
    assert closed.name in page
    assert world.other_session.name not in page
    assert 'href="/screening/sessions/new"' in page
    page = client.get("/screening/sessions?status=closed").get_data(as_text=True)
    assert closed.name in page
    assert world.session.name not in page
    assert client.get("/screening/sessions?status=bogus&page=-3").status_code == 200


def test_admin_sees_every_session(client, sign_in, world):
    sign_in(world.admin)
    page = client.get("/screening/sessions").get_data(as_text=True)
    assert world.session.name in page
    assert world.other_session.name in page


def test_a_nurse_plans_a_session_for_her_own_school(client, sign_in, world):
    sign_in(world.nurse)
    page = client.get("/screening/sessions/new").get_data(as_text=True)
    assert 'name="school_id"' not in page
    response = client.post(
        "/screening/sessions/new",
        data=_session_form(
            institution_id=str(world.institution.id),
            atr_positive_degrees="7",
            types=["vision", "spine"],
        ),
    )
    assert response.status_code == 302
    session = db.session.scalars(
        select(ScreeningSession).order_by(ScreeningSession.id.desc())
    ).first()
    assert response.headers["Location"].endswith(f"/screening/sessions/{session.id}")
    assert session.school_id == world.school.id
    assert session.types == "vision,spine"
    assert session.institution_id == world.institution.id
    assert session.rule_options["atr_positive_degrees"] == "7"
    assert session.created_by_id == world.nurse.id


def test_an_admin_plans_a_session_for_a_chosen_school(client, sign_in, world):
    sign_in(world.admin)
    assert 'name="school_id"' in client.get("/screening/sessions/new").get_data(as_text=True)
    response = client.post(
        "/screening/sessions/new", data=_session_form(school_id=str(world.other_school.id))
    )
    assert response.status_code == 302
    session = db.session.scalars(
        select(ScreeningSession).order_by(ScreeningSession.id.desc())
    ).first()
    assert session.school_id == world.other_school.id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"end_date": "2026-11-01"}, "end date cannot be before"),
        ({"types": []}, "Choose at least one screening type"),
        ({"types": ["hearing"]}, "is not a valid choice"),
        ({"start_date": "yesterday"}, "Not a valid date"),
        ({"atr_positive_degrees": "6"}, "Not a valid choice"),
        ({"atr_positive_degrees": "abc"}, "Invalid Choice"),
        ({"institution_id": "999999"}, "Not a valid choice"),
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters"),
    ],
)
def test_the_session_form_names_the_wrong_field(client, sign_in, world, overrides, message):
    sign_in(world.nurse)
    response = client.post("/screening/sessions/new", data=_session_form(**overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _count(ScreeningSession) == 2


def test_an_admin_must_pick_an_existing_school(client, sign_in, world):
    sign_in(world.admin)
    response = client.post("/screening/sessions/new", data=_session_form(school_id="999999"))
    assert response.status_code == 200
    assert _count(ScreeningSession) == 2


def test_editing_a_session(client, sign_in, world):
    sign_in(world.nurse)
    page = client.get(f"/screening/sessions/{world.session.id}/edit").get_data(as_text=True)
    assert world.session.name in page
    checked = re.findall(r'<input checked[^>]*value="(\w+)"', page)
    assert checked == ["growth", "vision"]
    response = client.post(
        f"/screening/sessions/{world.session.id}/edit",
        data=_session_form(name="Renamed", types=["growth", "vision", "dental"]),
    )
    assert response.status_code == 302
    session = db.session.get(ScreeningSession, world.session.id)
    db.session.refresh(session)
    assert (session.name, session.types) == ("Renamed", "growth,vision,dental")


def test_a_refused_edit_is_explained(client, sign_in, world):
    results.record_measurements(
        world.session, world.students[0], {"ucva_right": "5.0"}, user=world.nurse
    )
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        f"/screening/sessions/{world.session.id}/edit", data=_session_form(types=["growth"])
    )
    assert response.status_code == 200
    assert "Vision results were already entered" in response.get_data(as_text=True)
    assert db.session.get(ScreeningSession, world.session.id).types == "growth,vision"


def test_a_closed_session_cannot_be_edited(client, sign_in, world):
    world.session.status = "closed"
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        f"/screening/sessions/{world.session.id}/edit",
        data=_session_form(name="Renamed"),
        follow_redirects=True,
    )
    assert "This screening session is closed" in response.get_data(as_text=True)
    assert db.session.get(ScreeningSession, world.session.id).name != "Renamed"


def test_closing_and_reopening(client, sign_in, world):
    url = f"/screening/sessions/{world.session.id}/status"
    sign_in(world.nurse)
    page = client.post(url, data={"status": "closed"}, follow_redirects=True)
    assert "The session is now: Closed." in page.get_data(as_text=True)
    page = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert "Reopen session" not in page
    assert "An administrator can reopen it." in page
    page = client.post(url, data={"status": "in_progress"}, follow_redirects=True)
    assert "Only an administrator can reopen" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ScreeningSession, world.session.id).status == "closed"

    sign_in(world.admin)
    assert "Reopen session" in client.get(f"/screening/sessions/{world.session.id}").get_data(
        as_text=True
    )
    client.post(url, data={"status": "in_progress"})
    session = db.session.get(ScreeningSession, world.session.id)
    db.session.refresh(session)
    assert session.status == "in_progress"
    reopen = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reopen")).one()
    assert reopen.user_id == world.admin.id
    assert client.post(url, data={"status": "finished"}).status_code == 400
    assert client.post(url, data={}).status_code == 400


def test_session_page_shows_progress_per_class(client, sign_in, world, factories):
    results.set_absent(world.session, world.students[0], True, user=world.nurse)
    results.record_measurements(
        world.session,
        world.students[1],
        {"height_cm": "130", "weight_kg": "30", "ucva_right": "5", "ucva_left": "5"},
        user=world.nurse,
    )
    db.session.commit()
    factories.StudentFactory(school=world.school, school_class=None)
    sign_in(world.nurse)
    page = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert "2 / 3" in page
    assert f'/screening/sessions/{world.session.id}/classes/{world.school_class.id}"' in page
    assert "1 active pupil has no class" in page
    assert "<td>Grade 3, class 2</td>" in page
    assert "Growth (height, weight), Vision" in page
    world.nurse.locale = "zh_Hans_CN"
    db.session.commit()
    sign_in(world.nurse)
    chinese = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert "<td>三年级（2）班</td>" in chinese
    assert "生长发育（身高、体重）、视力" in chinese  # a Chinese list separator
    flags_link = f"/screening/sessions/{world.session.id}/flags"
    from flask import current_app

    if "screening.list_flags" in current_app.view_functions:
        assert "Flagged pupils" in page
    else:
        assert "Flagged pupils" not in page
        assert flags_link not in page


# ----------------------------------------------------------------- class grid


def test_grid_lists_active_pupils_by_student_number_with_the_sessions_inputs(
    client, sign_in, world, factories
):
    factories.StudentFactory(
        school_class=world.school_class, student_number="G0000", name="Left School", active=False
    )
    results.record_measurements(
        world.session,
        world.students[1],
        {"height_cm": "130", "weight_kg": "45"},
        user=world.nurse,
    )
    db.session.commit()
    sign_in(world.nurse)
    page = client.get(
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
    ).get_data(as_text=True)
    assert "Left School" not in page
    positions = [page.index(f">{s.student_number}<") for s in world.students]
    assert positions == sorted(positions)
    for field in ("height_cm", "weight_kg", "ucva_right", "ucva_left", "glasses", "cva_left"):
        assert f'data-field="{field}"' in page
    # only the session's types; refraction only where the session records it
    for field in ("atr_thoracic", "spine_general", "caries_teeth", "sph_left", "cyl_right"):
        assert f'data-field="{field}"' not in page
    assert 'value="130.0"' in page
    assert '>Obesity <small class="evidence">BMI 26.6</small></span>' in page
    assert "grid.js" in page
    assert f'data-version="{_result(world.session.id, world.students[1].id).version}"' in page


def test_grid_labels_follow_the_users_language(client, sign_in, world):
    """Labels are translated once per request (not once per cell) but still per user."""
    results.record_measurements(
        world.session,
        world.students[0],
        {"height_cm": "130", "weight_kg": "34", "glasses": "frame"},
        user=world.nurse,
    )
    db.session.commit()
    url = f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
    sign_in(world.nurse)
    english = client.get(url).get_data(as_text=True)
    world.nurse.locale = "zh_Hans_CN"
    db.session.commit()
    sign_in(world.nurse)
    chinese = client.get(url).get_data(as_text=True)
    for text in ("Overweight", ">Height<", "Frame glasses", "Not screened · Pupil 1", "Save row"):
        assert text in english
        assert text not in chinese
    for text in ("超重", ">身高<", "框架眼镜", "未筛查 · Pupil 1", "保存本行"):
        assert text in chinese
    # The class as people say it, and the count with the colon inside the translation.
    assert "<h1>Grade 3, class 2 <small" in english
    assert "<h1>三年级（2）班 <small" in chinese
    assert 'Screened: <strong id="grid-done">0</strong> / <span id="grid-total">3</span>' in english
    assert '已筛查：<strong id="grid-done">0</strong> / <span id="grid-total">3</span>' in chinese
    assert '<option value="frame" selected>框架眼镜</option>' in chinese


def test_grid_of_a_closed_session_is_read_only(client, sign_in, world):
    world.session.status = "closed"
    db.session.commit()
    sign_in(world.nurse)
    page = client.get(
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
    ).get_data(as_text=True)
    assert "This session is closed" in page
    assert "grid.js" not in page
    assert "row-submit" not in page
    # 7 vision and growth cells and the not-screened choice, per pupil
    assert page.count(" disabled") >= len(world.students) * 8


def test_grid_of_a_spine_and_dental_session(client, sign_in, world, factories):
    session = factories.ScreeningSessionFactory(school=world.school, types="spine,dental")
    sign_in(world.nurse)
    page = client.get(f"/screening/sessions/{session.id}/classes/{world.school_class.id}").get_data(
        as_text=True
    )
    for field in (
        "spine_general",
        "adams",
        "atr_thoracic",
        "atr_thoracolumbar",
        "atr_lumbar",
        "sagittal",
        "prone_test",
        "motion_test",
        "caries_teeth",
        "filled_teeth",
        "missing_teeth",
        "sealed_teeth",
    ):
        assert f'data-field="{field}"' in page
    assert 'data-field="height_cm"' not in page
    assert "toggle-refraction" not in page


# ----------------------------------------------------------------- saving one cell (JSON)


def test_saving_a_cell_answers_the_canonical_value_and_the_rows_flags(client, sign_in, world):
    sign_in(world.nurse)
    student = world.students[0]
    url = _field_url(world.session, student)
    response = client.post(url, json={"field": "ucva_left", "value": "0.6", "version": 0})
    assert response.status_code == 200
    body = response.json
    assert body["ok"] is True
    assert (body["value"], body["version"], body["done"]) == ("4.8", 1, False)
    assert [f["label"] for f in body["flags"]] == [
        "Reduced vision (moderate) L",
        "Myopia not assessed (no refraction) L",
    ]
    assert body["flags"][0]["eye"] == "left"
    assert body["screening_date"] == "2026-10-12"
    for field, value, version in (
        ("ucva_right", "5.0", 1),
        ("height_cm", "130", 2),
        ("weight_kg", "34", 3),
    ):
        body = client.post(url, json={"field": field, "value": value, "version": version}).json
    assert body["done"] is True
    assert body["value"] == "34.0"
    assert "Overweight" in [f["label"] for f in body["flags"]]
    result = _result(world.session.id, student.id)
    assert (result.ucva_left, result.weight_status, result.version) == (
        Decimal("4.8"),
        "overweight",
        4,
    )


def test_the_spinal_motion_test_decides_postural_or_suspected_and_is_asked_for(
    client, sign_in, world, factories
):
    """GB/T 16133: a positive bend test with ATR below 5 degrees needs the motion test."""
    session = factories.ScreeningSessionFactory(school=world.school, types="spine")
    sign_in(world.nurse)
    url = _field_url(session, world.students[0])
    body = client.post(url, json={"field": "adams", "value": "阳性", "version": 0}).json
    body = client.post(url, json={"field": "atr_thoracic", "value": "3", "version": 1}).json
    assert [(f["code"], f["label"]) for f in body["flags"]] == [
        ("spine", "Postural spine asymmetry"),
        ("motion_test", "Motion test needed"),
    ]
    body = client.post(url, json={"field": "motion_test", "value": "未消失", "version": 2}).json
    assert body["value"] == "persists"
    assert [(f["code"], f["refer"]) for f in body["flags"]] == [("spine", True)]
    assert _result(session.id, world.students[0].id).spine == "suspected_scoliosis"
    body = client.post(url, json={"field": "motion_test", "value": "resolved", "version": 3}).json
    assert [f["label"] for f in body["flags"]] == ["Postural spine asymmetry"]
    assert _result(session.id, world.students[0].id).spine == "postural"


def test_a_refused_value_is_422_with_the_fields_message(client, sign_in, world):
    sign_in(world.nurse)
    url = _field_url(world.session, world.students[0])
    response = client.post(url, json={"field": "height_cm", "value": "300", "version": 0})
    assert response.status_code == 422
    assert response.json == {
        "ok": False,
        "error": "invalid",
        "field": "height_cm",
        "value": "300",
        "key": "out_of_range",
        "message": "Height (cm): 300 is outside the plausible range 80.0–220.0 cm.",
    }
    assert _count(ScreeningResult) == 0


def test_a_stale_version_is_409_naming_who_changed_it_and_the_current_value(client, sign_in, world):
    results.record_measurements(
        world.session, world.students[0], {"ucva_right": "4.7"}, user=world.admin
    )
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "ucva_right", "value": "4.8", "version": 0},
    )
    assert response.status_code == 409
    body = response.json
    assert body["error"] == "conflict"
    assert (body["value"], body["your_value"], body["version"]) == ("4.7", "4.8", 1)
    assert body["changed_by"] == world.admin.display_name
    assert body["message"].startswith(f"Changed by {world.admin.display_name} at ")
    assert "now 4.7; your value 4.8 was not saved" in body["message"]
    assert _result(world.session.id, world.students[0].id).ucva_right == Decimal("4.7")
    # Re-entering with the version the conflict returned overwrites.
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "ucva_right", "value": "4.8", "version": body["version"]},
    )
    assert response.status_code == 200
    assert _result(world.session.id, world.students[0].id).ucva_right == Decimal("4.8")


def test_a_save_without_the_row_version_is_refused_so_nothing_is_overwritten_unseen(
    client, sign_in, world
):
    results.record_measurements(
        world.session, world.students[0], {"height_cm": "140"}, user=world.admin
    )
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]), json={"field": "height_cm", "value": "130"}
    )
    assert response.status_code == 400
    assert response.json["message"] == ("The row version is missing or not valid; reload the page.")
    response = client.post(
        _row_url(world.session, world.school_class, world.students[0]),
        data={"height_cm": "130"},
    )
    assert response.status_code == 400
    assert _result(world.session.id, world.students[0].id).height_cm == Decimal("140.0")


def test_a_retried_save_whose_answer_was_lost_is_answered_as_saved(client, sign_in, world):
    """The network dropped the answer after the commit; the grid sends the value again
    with the version it had: that is the nurse's own value, not someone else's change."""
    sign_in(world.nurse)
    url = _field_url(world.session, world.students[0])
    first = client.post(url, json={"field": "ucva_right", "value": "0.6", "version": 0})
    assert (first.status_code, first.json["version"]) == (200, 1)
    events = _count(AuditEvent)
    again = client.post(url, json={"field": "ucva_right", "value": "0.6", "version": 0})
    assert again.status_code == 200
    assert (again.json["value"], again.json["version"]) == ("4.8", 1)
    assert [f["code"] for f in again.json["flags"]] == [f["code"] for f in first.json["flags"]]
    assert _count(AuditEvent) == events  # nothing changed, nothing audited
    # The same stale version with another value is a conflict, as before.
    other = client.post(url, json={"field": "ucva_right", "value": "4.9", "version": 0})
    assert other.status_code == 409
    # Absent, too.
    client.post(
        _field_url(world.session, world.students[1]),
        json={"field": "absent", "value": "1", "version": 0},
    )
    again = client.post(
        _field_url(world.session, world.students[1]),
        json={"field": "absent", "value": "1", "version": 0},
    )
    assert (again.status_code, again.json["absent"]) == (200, True)


def test_saving_in_a_closed_session_is_409_with_the_reason(client, sign_in, world):
    world.session.status = "closed"
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "height_cm", "value": "130", "version": 0},
    )
    assert response.status_code == 409
    assert response.json["error"] == "session_closed"
    assert "closed" in response.json["message"]
    assert _count(ScreeningResult) == 0


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"field": "atr_thoracic", "value": "5"}, "unknown_field"),
        ({"field": "version", "value": "5"}, "unknown_field"),
        ({"value": "130"}, "unknown_field"),
        ({"field": ["height_cm"], "value": "130"}, "unknown_field"),
        ({"field": "height_cm", "value": ["130"]}, "bad_request"),
        ({"field": "height_cm", "value": {"a": 1}}, "bad_request"),
        ({"field": "height_cm", "value": True}, "bad_request"),
        ({"field": "height_cm", "value": "130"}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": None}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": ""}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": "one"}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": -1}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": 1.5}, "bad_request"),
        ({"field": "height_cm", "value": "130", "version": 10**30}, "bad_request"),
        (["height_cm", "130"], "bad_request"),
        ("height_cm=130", "bad_request"),
    ],
)
def test_malformed_requests_are_400_json(client, sign_in, world, payload, error):
    sign_in(world.nurse)
    response = client.post(_field_url(world.session, world.students[0]), json=payload)
    assert response.status_code == 400
    assert response.json["ok"] is False
    assert response.json["error"] == error
    assert response.json["message"]
    assert _count(ScreeningResult) == 0


def test_a_body_that_is_not_json_is_400(client, sign_in, world):
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        data=b"\xff\xfe{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json["error"] == "bad_request"


@pytest.mark.parametrize(
    "value",
    ["abc", "1e400", "NaN", "Infinity", "9" * 199, "-0", "130,5", "１３０", " ", "", None, 130],
)
def test_junk_values_never_500(client, sign_in, world, value):
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "height_cm", "value": value, "version": 0},
    )
    assert response.status_code in (200, 422)
    assert response.is_json
    if response.status_code == 200:
        assert response.json["value"] in ("", "130.0")


def test_form_encoded_cells_are_accepted(client, sign_in, world):
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        data={"field": "height_cm", "value": "131.5", "version": "0"},
    )
    assert response.status_code == 200
    assert response.json["value"] == "131.5"


def test_marking_a_pupil_absent_from_the_grid(client, sign_in, world):
    sign_in(world.nurse)
    url = _field_url(world.session, world.students[0])
    body = client.post(url, json={"field": "absent", "value": "1", "version": 0}).json
    assert (body["ok"], body["absent"], body["done"], body["value"]) == (True, True, True, "1")
    response = client.post(url, json={"field": "height_cm", "value": "130", "version": 1})
    assert response.status_code == 422
    assert "marked absent" in response.json["message"]
    body = client.post(url, json={"field": "absent", "value": "0", "version": 1}).json
    assert (body["absent"], body["done"]) == (False, False)
    client.post(url, json={"field": "height_cm", "value": "130", "version": 2})
    response = client.post(url, json={"field": "absent", "value": "1", "version": 3})
    assert response.status_code == 422
    assert "clear them before marking the pupil absent" in response.json["message"]


# ----------------------------------------------------------------- saving a row (no JavaScript)


def test_a_row_form_saves_the_row(client, sign_in, world):
    sign_in(world.nurse)
    student = world.students[0]
    response = client.post(
        _row_url(world.session, world.school_class, student),
        data={
            "height_cm": "130",
            "weight_kg": "45",
            "ucva_right": "0.6",
            "ucva_left": "",
            "glasses": "",
            "version": "0",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}#pupil-{student.id}"
    )
    result = _result(world.session.id, student.id)
    assert (result.height_cm, result.weight_kg, result.ucva_right) == (
        Decimal("130.0"),
        Decimal("45.0"),
        Decimal("4.8"),
    )
    assert result.weight_status == "obese"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Saved: {student.name}." in page


def test_a_row_form_reports_refused_fields_and_keeps_the_others(client, sign_in, world):
    sign_in(world.nurse)
    student = world.students[0]
    response = client.post(
        _row_url(world.session, world.school_class, student),
        data={"height_cm": "130", "weight_kg": "lots", "version": "0"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert f"{student.name}: Weight (kg): lots is not a number." in page
    result = _result(world.session.id, student.id)
    assert (result.height_cm, result.weight_kg) == (Decimal("130.0"), None)


def test_a_stale_row_form_saves_nothing(client, sign_in, world):
    results.record_measurements(
        world.session, world.students[0], {"height_cm": "140"}, user=world.admin
    )
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _row_url(world.session, world.school_class, world.students[0]),
        data={"height_cm": "130", "version": "0"},
        follow_redirects=True,
    )
    assert "Someone else changed" in response.get_data(as_text=True)
    assert _result(world.session.id, world.students[0].id).height_cm == Decimal("140.0")


def test_a_row_form_marks_absent_and_back(client, sign_in, world):
    sign_in(world.nurse)
    student = world.students[2]
    url = _row_url(world.session, world.school_class, student)
    client.post(url, data={"absent": "1", "version": "0"})
    assert _result(world.session.id, student.id).absent is True
    client.post(url, data={"height_cm": "128", "version": "1"})
    result = _result(world.session.id, student.id)
    assert (result.absent, result.height_cm) == (False, Decimal("128.0"))
    assert client.post(url, data={"version": "x"}).status_code == 400


def test_a_row_form_in_a_closed_session_is_refused(client, sign_in, world):
    world.session.status = "closed"
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _row_url(world.session, world.school_class, world.students[0]),
        data={"height_cm": "130", "version": "0"},
        follow_redirects=True,
    )
    assert "This screening session is closed" in response.get_data(as_text=True)
    assert _count(ScreeningResult) == 0


def test_a_result_entered_after_the_sessions_dates_is_dated_the_day_entered(
    client, sign_in, world, entry_day
):
    entry_day(date(2026, 11, 23))  # the session ran 2026-10-12..16
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "height_cm", "value": "130", "version": 0},
    )
    assert response.json["screening_date"] == "2026-11-23"
    assert _result(world.session.id, world.students[0].id).screening_date == date(2026, 11, 23)


def test_a_conflict_on_absent_reports_the_current_state(client, sign_in, world):
    results.set_absent(world.session, world.students[0], True, user=world.admin)
    db.session.commit()
    sign_in(world.nurse)
    response = client.post(
        _field_url(world.session, world.students[0]),
        json={"field": "absent", "value": "0", "version": 0},
    )
    assert response.status_code == 409
    assert (response.json["value"], response.json["version"]) == ("1", 1)
    assert _result(world.session.id, world.students[0].id).absent is True


def test_session_page_says_when_results_used_another_rule_set(client, sign_in, world):
    results.record_measurements(
        world.session, world.students[0], {"height_cm": "130"}, user=world.nurse
    )
    world.session.ruleset_version = "cn-2000.1"
    db.session.commit()
    sign_in(world.nurse)
    page = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert (
        f"1 result was flagged with rule set {rules.RULESET_VERSION}, not with the session’s "
        "cn-2000.1." in page
    )
    world.session.ruleset_version = rules.RULESET_VERSION
    db.session.commit()
    page = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert "flagged with rule set" not in page


# ----------------------------------------------------------------- strict numbers, JSON errors


def test_a_grid_save_refuses_digits_other_than_ascii_and_full_width(client, sign_in, world):
    """float() reads "٣" (Arabic-Indic three) as 3.0; the grid must refuse it, clearly."""
    sign_in(world.nurse)
    url = _field_url(world.session, world.students[0])
    response = client.post(url, json={"field": "height_cm", "value": "١٣٠", "version": 0})
    assert response.status_code == 422
    assert response.json["key"] == "foreign_digit"
    assert "0–9" in response.json["message"]
    assert _count(ScreeningResult) == 0
    assert _count(AuditEvent) == 0
    response = client.post(url, json={"field": "height_cm", "value": "１３０", "version": 0})
    assert response.status_code == 200
    assert _result(world.session.id, world.students[0].id).height_cm == Decimal("130.0")
    response = client.post(url, json={"field": "height_cm", "value": "131", "version": "١"})
    assert response.status_code == 400
    assert _result(world.session.id, world.students[0].id).height_cm == Decimal("130.0")


@pytest.mark.parametrize("accept", ["text/html", "*/*", None])
def test_the_grid_save_answers_json_errors_whatever_the_accept_header(
    app, client, sign_in, world, accept
):
    sign_in(world.nurse)
    headers = {"Accept": accept} if accept else {}
    missing = f"/screening/sessions/{world.session.id}/students/999999/field"
    response = client.post(
        missing, json={"field": "height_cm", "value": "1", "version": 0}, headers=headers
    )
    assert (response.status_code, response.is_json) == (404, True)
    url = _field_url(world.session, world.students[0])
    response = client.get(url, headers=headers)
    assert (response.status_code, response.is_json) == (405, True)
    response = client.post(url, data="{not json", headers=headers)
    assert (response.status_code, response.is_json) == (400, True)
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post(
            url,
            json={"field": "height_cm", "value": "1" * 4096, "version": 0},
            headers=headers,
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert (response.status_code, response.is_json) == (413, True)
    assert _count(ScreeningResult) == 0
