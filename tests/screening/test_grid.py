"""The class grid for a nurse's hands: reasons for not screening, improbable values
questioned before they are saved, refraction only where recorded, SE kept, typed keys."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, ScreeningResult
from schoolhealth.screening import grid, results


def _result(session, student) -> ScreeningResult | None:
    db.session.expire_all()
    return db.session.execute(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session.id, ScreeningResult.student_id == student.id
        )
    ).scalar_one_or_none()


def _field_url(session, student) -> str:
    return f"/screening/sessions/{session.id}/students/{student.id}/field"


def _grid_url(session, school_class) -> str:
    return f"/screening/sessions/{session.id}/classes/{school_class.id}"


def _save(client, session, student, field, value, version, **extra):
    return client.post(
        _field_url(session, student),
        json={"field": field, "value": value, "version": version, **extra},
    )


# ----------------------------------------------------------------- not screened


def test_a_reason_for_not_screening_is_stored_and_never_normal(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]
    response = _save(client, world.session, pupil, "not_screened", "ill", 0)
    assert response.status_code == 200
    body = response.json
    assert (body["not_screened"], body["absent"], body["done"]) == ("ill", True, True)
    result = _result(world.session, pupil)
    assert (result.absent, result.not_screened_reason, result.flagged) == (True, "ill", False)
    assert result.findings == []

    # another reason: only the reason changes, audited
    body = _save(client, world.session, pupil, "not_screened", "refused", 1).json
    assert body["not_screened"] == "refused"
    assert _result(world.session, pupil).not_screened_reason == "refused"
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.before == {"not_screened_reason": "ill"}
    assert event.after == {"not_screened_reason": "refused"}

    # blank: screened after all
    body = _save(client, world.session, pupil, "not_screened", "", body["version"]).json
    assert (body["not_screened"], body["absent"]) == ("", False)
    result = _result(world.session, pupil)
    assert (result.absent, result.not_screened_reason) == (False, None)


def test_an_unknown_reason_is_refused(client, sign_in, world):
    sign_in(world.nurse)
    response = _save(client, world.session, world.students[0], "not_screened", "holiday", 0)
    assert response.status_code == 400
    assert response.json["message"] == "Unknown reason for not screening a pupil."
    assert _result(world.session, world.students[0]) is None


def test_a_pupil_with_measurements_is_not_marked_not_screened(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]
    _save(client, world.session, pupil, "height_cm", "135", 0)
    response = _save(client, world.session, pupil, "not_screened", "absent", 1)
    assert response.status_code == 422
    assert "has measurements" in response.json["message"]
    assert _result(world.session, pupil).absent is False


def test_the_row_form_stores_the_reason(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[1]
    client.post(
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
        f"/students/{pupil.id}",
        data={"not_screened": "exempt", "version": "0"},
    )
    result = _result(world.session, pupil)
    assert (result.absent, result.not_screened_reason) == (True, "exempt")


def test_the_grid_shows_the_reason_and_its_keys(client, sign_in, world):
    results.set_absent(world.session, world.students[2], True, user=world.nurse, reason="ill")
    db.session.commit()
    sign_in(world.nurse)
    page = client.get(_grid_url(world.session, world.school_class)).get_data(as_text=True)
    assert '<option value="ill" selected>Ill</option>' in page
    assert "A Absent, R Refused, I Ill, E Exempt" in page
    assert 'data-next-key="n"' in page


# ----------------------------------------------------------------- improbable values


def test_an_improbable_height_asks_for_confirmation_before_saving(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]  # a boy of 9 y 4 m on the entry day
    response = _save(client, world.session, pupil, "height_cm", "104", 0)
    assert response.status_code == 422
    body = response.json
    assert body["error"] == "needs_confirmation"
    assert body["needs_confirmation"] is True
    assert body["reasons"] == ["height_for_age"]
    assert body["message"] == (
        "Height 104.0 cm is unusual at 9 years 4 months (plausible 110.6–160.6 cm)."
    )
    assert _result(world.session, pupil) is None  # nothing saved, nothing flagged

    response = _save(client, world.session, pupil, "height_cm", "104", 0, confirm=True)
    assert response.status_code == 200
    result = _result(world.session, pupil)
    assert result.height_cm == Decimal("104.0")
    assert result.stunting == "yes"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm")).one()
    assert event.after["field"] == "height_cm"
    assert event.after["confirmed"] == ["height_for_age"]
    assert event.entity_id == str(result.id) or event.entity_id == result.id


def test_a_plausible_height_is_saved_without_a_question(client, sign_in, world):
    sign_in(world.nurse)
    response = _save(client, world.session, world.students[0], "height_cm", "135", 0)
    assert response.status_code == 200
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm")).all() == []


def test_an_extreme_bmi_is_questioned_on_the_weight(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]
    _save(client, world.session, pupil, "height_cm", "130", 0)
    response = _save(client, world.session, pupil, "weight_kg", "148.7", 1)
    assert response.status_code == 422
    assert response.json["reasons"] == ["bmi_extreme"]
    assert "BMI of 88.0" in response.json["message"]
    assert _result(world.session, pupil).weight_kg is None


def test_a_height_below_last_years_is_questioned(client, sign_in, world, factories):
    pupil = world.students[0]
    last_year = factories.ScreeningSessionFactory(
        school=world.school, types="growth", start_date=date(2025, 10, 13)
    )
    results.record_measurements(
        last_year,
        pupil,
        {"height_cm": "138"},
        user=world.nurse,
        screening_date=date(2025, 10, 13),
    )
    db.session.commit()
    sign_in(world.nurse)
    response = _save(client, world.session, pupil, "height_cm", "135.5", 0)
    assert response.status_code == 422
    assert response.json["reasons"] == ["height_dropped"]
    assert response.json["message"] == (
        "Height 135.5 cm is 2.5 cm below the 138.0 cm measured on 2025-10-13."
    )
    assert _save(client, world.session, pupil, "height_cm", "136", 0).status_code == 200


def test_a_hard_range_refusal_stays_a_refusal(client, sign_in, world):
    sign_in(world.nurse)
    response = _save(client, world.session, world.students[0], "height_cm", "300", 0, confirm=True)
    assert response.status_code == 422
    assert response.json["error"] == "invalid"


def test_the_row_form_saves_an_improbable_value_only_when_confirmed(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]
    url = (
        f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
        f"/students/{pupil.id}"
    )
    page = client.post(
        url, data={"height_cm": "104", "weight_kg": "20", "version": "0"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "not saved — Height 104.0 cm is unusual" in page
    result = _result(world.session, pupil)
    assert result.height_cm is None
    assert result.weight_kg == Decimal("20.0")
    client.post(url, data={"height_cm": "104", "version": str(result.version), "confirm": "1"})
    assert _result(world.session, pupil).height_cm == Decimal("104.0")
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm")).one()


# ----------------------------------------------------------------- columns and values


def test_refraction_columns_only_where_the_session_records_refraction(client, sign_in, world):
    sign_in(world.nurse)
    url = _grid_url(world.session, world.school_class)
    page = client.get(url).get_data(as_text=True)
    assert 'data-field="sph_right"' not in page
    assert 'data-field="glasses"' in page
    refused = _save(client, world.session, world.students[0], "sph_right", "-1.00", 0)
    assert refused.status_code == 400
    world.session.records_refraction = True
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    for field in ("sph_right", "cyl_right", "sph_left", "cyl_left"):
        assert f'data-field="{field}"' in page


def test_the_session_form_sets_records_refraction(client, sign_in, world):
    sign_in(world.nurse)
    client.post(
        f"/screening/sessions/{world.session.id}/edit",
        data={
            "name": world.session.name,
            "start_date": "2026-10-12",
            "end_date": "2026-10-16",
            "types": ["growth", "vision"],
            "institution_id": "0",
            "atr_positive_degrees": "5",
            "records_refraction": "y",
        },
    )
    db.session.expire_all()
    assert world.session.records_refraction is True


def test_sphere_and_cylinder_keep_their_spherical_equivalent(world):
    world.session.records_refraction = True
    pupil = world.students[0]
    results.record_measurements(
        world.session,
        pupil,
        {"ucva_right": "4.7", "sph_right": "-1.25", "cyl_right": "-0.50"},
        user=world.nurse,
    )
    db.session.commit()
    result = _result(world.session, pupil)
    assert result.se_right == Decimal("-1.50")
    assert result.myopia_right == "yes"
    # the derived SE follows a corrected sphere (it was never entered)
    change = results.record_measurements(
        world.session, pupil, {"sph_right": "-0.25"}, user=world.nurse
    )
    assert change.ok, change.errors
    db.session.commit()
    assert _result(world.session, pupil).se_right == Decimal("-0.50")
    # cleared cylinder: no SE
    results.record_measurements(world.session, pupil, {"cyl_right": ""}, user=world.nurse)
    db.session.commit()
    assert _result(world.session, pupil).se_right is None


def test_the_grid_shows_ages_and_choice_keys(client, sign_in, world, factories):
    session = factories.ScreeningSessionFactory(
        school=world.school, types="vision,spine", start_date=date(2026, 10, 12)
    )
    sign_in(world.nurse)
    page = client.get(_grid_url(session, world.school_class)).get_data(as_text=True)
    assert '<kbd class="keys">0/1</kbd>' in page  # general inspection
    assert '<kbd class="keys">0/1/2/3</kbd>' in page  # glasses, sagittal
    assert '<kbd class="keys">-/+</kbd>' in page  # forward bend test
    assert "- Negative · + Positive · 0 Negative · 1 Positive" in page
    birth = world.students[0].birth_date
    assert grid.age_text(birth, date(2026, 10, 12)) in page


def test_age_text_counts_completed_months():
    assert grid.age_text(date(2017, 5, 14), date(2026, 10, 12)) == "9 y 4 m"
    assert grid.age_text(date(2017, 5, 14), date(2026, 10, 14)) == "9 y 5 m"
    assert grid.age_text(None, date(2026, 10, 14)) == ""


def test_the_session_page_counts_pupils_not_screened_by_reason(client, sign_in, world):
    results.set_absent(world.session, world.students[0], True, user=world.nurse)
    results.set_absent(world.session, world.students[1], True, user=world.nurse, reason="ill")
    results.set_absent(world.session, world.students[2], True, user=world.nurse, reason="ill")
    db.session.commit()
    sign_in(world.nurse)
    page = client.get(f"/screening/sessions/{world.session.id}").get_data(as_text=True)
    assert '<td class="not-screened">Absent 1 · Ill 2</td>' in page


def test_full_width_digits_and_both_acuity_notations_stay_accepted(client, sign_in, world):
    sign_in(world.nurse)
    pupil = world.students[0]
    assert (
        _save(client, world.session, pupil, "height_cm", "１３５．５", 0).json["value"] == "135.5"
    )
    assert _save(client, world.session, pupil, "ucva_right", "０.６", 1).json["value"] == "4.8"
    assert _save(client, world.session, pupil, "ucva_left", "4.9", 2).json["value"] == "4.9"
