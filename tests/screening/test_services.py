"""Screening services: sessions, their statuses, and saving and flagging results."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from schoolhealth import rules
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Finding, ScreeningResult, ScreeningSession
from schoolhealth.screening import errors, fields, grid_model, results, sessions


def _events(entity: str, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def _result(session, student) -> ScreeningResult | None:
    db.session.expire_all()
    return db.session.execute(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session.id, ScreeningResult.student_id == student.id
        )
    ).scalar_one_or_none()


def _record(world, raw, student=None, version=None, session=None):
    change = results.record_measurements(
        session or world.session,
        student or world.students[0],
        raw,
        user=world.nurse,
        expected_version=version,
    )
    db.session.commit()
    return change


def _assert_conflict(world, raw, version):
    """Saving ``raw`` over ``version`` is refused as a conflict (and rolled back)."""
    with pytest.raises(errors.ResultConflict):
        _record(world, raw, version=version)
    db.session.rollback()


# ----------------------------------------------------------------- sessions


def test_create_session_keeps_ruleset_and_district_reference(world, factories):
    world.school.district.growth_reference = "who2007"
    db.session.commit()
    session = sessions.create_session(
        world.school,
        name=" 2026 秋季 视力筛查 ",
        start_date=date(2026, 11, 2),
        end_date=date(2026, 11, 6),
        types=["vision", "spine", "growth"],
        institution=world.institution,
        atr_positive_degrees=7,
        user=world.nurse,
    )
    db.session.commit()
    assert session.name == "2026 秋季 视力筛查"
    assert session.types == "growth,vision,spine"
    assert session.status == "planned"
    assert session.ruleset_version == rules.RULESET_VERSION
    assert session.rule_options["growth_reference"] == "who2007"
    config = sessions.session_rule_config(session)
    assert config.atr_positive_degrees == Decimal("7")
    assert config.growth_reference == "who2007"
    (event,) = _events("screening_session", "create")
    assert event.user_id == world.nurse.id
    assert event.school_id == world.school.id
    assert event.after["types"] == "growth,vision,spine"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"types": []}, "at least one screening type"),
        ({"types": ["growth", "hearing"]}, "Unknown screening type: hearing"),
        ({"end_date": date(2026, 10, 1)}, "end date cannot be before"),
        ({"name": "   "}, "needs a name"),
        ({"atr_positive_degrees": 45}, "ATR threshold"),
    ],
)
def test_create_session_refuses_bad_input(world, kwargs, message):
    values = {
        "name": "Autumn",
        "start_date": date(2026, 10, 12),
        "end_date": None,
        "types": ["growth"],
        "user": world.nurse,
    }
    values.update(kwargs)
    with pytest.raises(errors.ScreeningError, match=message):
        sessions.create_session(world.school, **values)
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(ScreeningSession.id))) == 2  # world's two


def test_status_moves_planned_in_progress_closed(world):
    session = world.session
    session.status = "planned"
    db.session.commit()
    with pytest.raises(errors.TransitionRefused):
        sessions.change_status(session, "closed", user=world.nurse)
    sessions.change_status(session, "in_progress", user=world.nurse)
    sessions.change_status(session, "closed", user=world.nurse)
    db.session.commit()
    assert session.is_closed
    with pytest.raises(errors.TransitionRefused):
        sessions.change_status(session, "planned", user=world.admin)
    events = _events("screening_session", "update")
    assert [(e.before, e.after) for e in events] == [
        ({"status": "planned"}, {"status": "in_progress"}),
        ({"status": "in_progress"}, {"status": "closed"}),
    ]


def test_only_an_admin_reopens_a_closed_session_and_it_is_audited(world):
    session = world.session
    session.status = "closed"
    db.session.commit()
    with pytest.raises(errors.TransitionRefused, match="Only an administrator"):
        sessions.change_status(session, "in_progress", user=world.nurse)
    db.session.rollback()
    assert db.session.get(ScreeningSession, session.id).is_closed
    assert _events("screening_session", "reopen") == []

    sessions.change_status(session, "in_progress", user=world.admin)
    db.session.commit()
    assert session.status == "in_progress"
    (event,) = _events("screening_session", "reopen")
    assert event.user_id == world.admin.id
    assert (event.before, event.after) == ({"status": "closed"}, {"status": "in_progress"})


def test_closed_session_refuses_every_write(world):
    _record(world, {"height_cm": "130"})
    world.session.status = "closed"
    db.session.commit()
    student = world.students[0]
    with pytest.raises(errors.SessionClosed):
        results.record_measurements(world.session, student, {"height_cm": "140"}, user=world.nurse)
    with pytest.raises(errors.SessionClosed):
        results.set_absent(world.session, world.students[1], True, user=world.nurse)
    with pytest.raises(errors.SessionClosed):
        sessions.update_session(
            world.session,
            name="renamed",
            start_date=world.session.start_date,
            end_date=None,
            types=["growth"],
            institution=None,
            atr_positive_degrees=5,
            user=world.nurse,
        )
    db.session.rollback()
    assert _result(world.session, student).height_cm == Decimal("130.0")
    assert _result(world.session, world.students[1]) is None
    assert db.session.get(ScreeningSession, world.session.id).name != "renamed"


def test_update_session_audits_what_changed(world):
    sessions.update_session(
        world.session,
        name="Renamed",
        start_date=world.session.start_date,
        end_date=world.session.end_date,
        types=["growth", "vision", "dental"],
        institution=None,
        atr_positive_degrees=5,
        user=world.nurse,
    )
    db.session.commit()
    (event,) = _events("screening_session", "update")
    assert set(event.after) == {"name", "types", "institution_id"}
    assert event.after["types"] == "growth,vision,dental"


def test_a_screening_with_results_cannot_be_removed(world):
    _record(world, {"ucva_right": "5.0"})
    with pytest.raises(errors.ScreeningError, match="Vision results were already entered"):
        sessions.update_session(
            world.session,
            name=world.session.name,
            start_date=world.session.start_date,
            end_date=None,
            types=["growth"],
            institution=None,
            atr_positive_degrees=5,
            user=world.nurse,
        )


def test_atr_threshold_is_fixed_once_spine_results_exist(world):
    session = world.other_session
    student = world.other_student
    results.record_measurements(session, student, {"atr_thoracic": "6"}, user=world.other_nurse)
    db.session.commit()
    with pytest.raises(errors.ScreeningError, match="ATR threshold of 5"):
        sessions.update_session(
            session,
            name=session.name,
            start_date=session.start_date,
            end_date=None,
            types=["growth", "vision", "spine"],
            institution=None,
            atr_positive_degrees=7,
            user=world.other_nurse,
        )


# ----------------------------------------------------------------- recording


def test_first_value_creates_the_result_and_is_audited(world):
    change = _record(world, {"height_cm": "130", "weight_kg": "27.5"}, version=0)
    assert change.created
    assert change.ok
    result = _result(world.session, world.students[0])
    assert result.height_cm == Decimal("130.0")
    assert result.weight_kg == Decimal("27.5")
    assert result.version == 1
    assert result.updated_by_id == world.nurse.id
    # dated the day it was entered (the tests enter on 2026-10-12)
    assert result.screening_date == date(2026, 10, 12)
    assert result.bmi == Decimal("16.3")
    assert result.weight_status == "normal"
    assert result.ruleset_version == rules.RULESET_VERSION
    (event,) = _events("screening_result")
    assert event.action == "create"
    assert event.entity_id == str(result.id)
    assert event.school_id == world.school.id
    assert event.after == {"height_cm": "130.0", "weight_kg": "27.5"}

    _record(world, {"weight_kg": "28"}, version=1)
    update = _events("screening_result", "update")[0]
    assert (update.before, update.after) == ({"weight_kg": "27.5"}, {"weight_kg": "28.0"})


def test_decimal_visual_acuity_is_stored_as_five_point(world):
    _record(world, {"ucva_right": "0.6", "ucva_left": "4.9"})
    result = _result(world.session, world.students[0])
    assert result.ucva_right == Decimal("4.8")
    assert results.display_value(result, "ucva_right") == "4.8"
    assert result.vision_right == "moderate"
    assert result.vision_left == "mild"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"height_cm": "abc"}, "not_a_number"),
        ({"height_cm": "1e400"}, "not_a_number"),
        ({"height_cm": "99999999999999999999"}, "out_of_range"),
        ({"ucva_left": "2.5"}, "ambiguous_visual_acuity"),
        ({"weight_kg": "-3"}, "out_of_range"),
        ({"height_cm": "1" * 500}, "too_long"),
        ({"atr_thoracic": "5"}, "not_in_session"),
    ],
)
def test_an_invalid_value_is_a_field_error_and_nothing_is_saved(world, raw, key):
    _record(world, {"height_cm": "130"})
    change = results.record_measurements(
        world.session, world.students[0], raw, user=world.nurse, expected_version=1
    )
    db.session.commit()
    (error,) = change.errors
    assert error.field == next(iter(raw))
    assert error.key == key
    assert fields.field_error_message(error).startswith(str(fields.FIELD_LABELS[error.field]))
    result = _result(world.session, world.students[0])
    assert result.version == 1
    assert result.height_cm == Decimal("130.0")
    assert len(_events("screening_result")) == 1


def test_invalid_first_value_creates_no_result(world):
    change = _record(world, {"weight_kg": "heavy"}, version=0)
    assert not change.changed
    assert change.result is None
    assert _result(world.session, world.students[0]) is None
    assert _events("screening_result") == []


def test_valid_fields_of_a_call_save_when_another_is_refused(world):
    change = _record(world, {"height_cm": "130", "weight_kg": "900"})
    assert [e.field for e in change.errors] == ["weight_kg"]
    result = _result(world.session, world.students[0])
    assert result.height_cm == Decimal("130.0")
    assert result.weight_kg is None


def test_flags_are_stored_as_findings_with_the_ruleset_version(world):
    _record(world, {"height_cm": "130", "weight_kg": "45", "ucva_right": "4.5"})
    result = _result(world.session, world.students[0])
    assert result.flagged is True
    assert result.weight_status == "obese"
    assert result.refer == "vision growth"
    findings = {f.code: f for f in result.findings}
    assert set(findings) == {"weight_status", "vision_right", "myopia_right"}
    assert findings["weight_status"].category == "obese"
    assert findings["weight_status"].standard == "WS/T 586-2018"
    assert findings["vision_right"].category == "severe"
    assert {f.ruleset_version for f in result.findings} == {rules.RULESET_VERSION}
    assert all(f.session_id == world.session.id for f in result.findings)
    assert all(f.student_id == world.students[0].id for f in result.findings)
    labels = results.flag_labels(result)
    assert [(fl["label"], fl["eye"]) for fl in labels] == [
        ("Obesity", None),
        ("Reduced vision (severe) R", "right"),
        ("Myopia not assessed (no refraction) R", "right"),
    ]


def test_a_changed_weight_recomputes_the_flags(world):
    _record(world, {"height_cm": "130", "weight_kg": "34"})
    result = _result(world.session, world.students[0])
    assert result.weight_status == "overweight"
    (finding,) = result.findings
    finding_id = finding.id

    _record(world, {"weight_kg": "45"})
    result = _result(world.session, world.students[0])
    (finding,) = result.findings
    assert (finding.category, finding.severity) == ("obese", 2)
    assert finding.id == finding_id  # letters refer to findings: the row is kept

    _record(world, {"weight_kg": "28"})
    result = _result(world.session, world.students[0])
    assert result.weight_status == "normal"
    assert result.flagged is False
    assert result.refer == ""
    assert db.session.scalars(select(Finding)).all() == []


def test_clearing_a_value_clears_what_was_derived_from_it(world):
    _record(world, {"height_cm": "130", "weight_kg": "45"})
    _record(world, {"weight_kg": ""})
    result = _result(world.session, world.students[0])
    assert result.weight_kg is None
    assert result.bmi is None
    assert result.weight_status is None
    assert result.findings == []


def test_weight_is_rounded_to_the_stored_tenth_before_flagging(world):
    _record(world, {"weight_kg": "30.25"})
    result = _result(world.session, world.students[0])
    assert result.weight_kg == Decimal("30.3")
    assert results.display_value(result, "weight_kg") == "30.3"


def test_screening_date_is_the_day_of_entry_even_outside_the_planned_dates():
    session = ScreeningSession(start_date=date(2026, 11, 20), end_date=date(2026, 11, 27))
    assert results.default_screening_date(session, date(2026, 11, 23)) == date(2026, 11, 23)
    # entered after the planned end or before the start: still the day measured
    assert results.default_screening_date(session, date(2026, 12, 1)) == date(2026, 12, 1)
    assert results.default_screening_date(session, date(2026, 11, 1)) == date(2026, 11, 1)
    open_ended = ScreeningSession(start_date=date(2026, 11, 20), end_date=None)
    assert results.default_screening_date(open_ended, date(2027, 1, 5)) == date(2027, 1, 5)


def test_a_later_entry_keeps_the_screening_date(world):
    _record(world, {"height_cm": "130"})
    result = _result(world.session, world.students[0])
    result.screening_date = date(2026, 10, 13)
    db.session.commit()
    _record(world, {"weight_kg": "30"})
    assert _result(world.session, world.students[0]).screening_date == date(2026, 10, 13)


def test_the_first_result_starts_a_planned_session(world):
    world.session.status = "planned"
    db.session.commit()
    _record(world, {"height_cm": "130"})
    assert db.session.get(ScreeningSession, world.session.id).status == "in_progress"


def test_a_pupil_of_another_school_is_refused(world):
    with pytest.raises(errors.NotInSession):
        results.record_measurements(
            world.session, world.other_student, {"height_cm": "130"}, user=world.nurse
        )


def test_tooth_clash_with_stored_values_is_refused(world, factories):
    session = factories.ScreeningSessionFactory(school=world.school, types="dental")
    student = world.students[0]
    results.record_measurements(session, student, {"caries_teeth": "16 55"}, user=world.nurse)
    db.session.commit()
    change = results.record_measurements(session, student, {"filled_teeth": "16"}, user=world.nurse)
    db.session.commit()
    (error,) = change.errors
    assert (error.field, error.key) == ("filled_teeth", "tooth_in_several_lists")
    result = _result(session, student)
    assert result.filled_teeth is None
    assert result.caries == "yes"
    assert (result.dmft, result.DMFT) == (1, 1)
    assert results.display_value(result, "caries_teeth") == "16 55"

    results.record_measurements(session, student, {"caries_teeth": "无"}, user=world.nurse)
    db.session.commit()
    result = _result(session, student)
    assert result.caries == "no"
    assert results.display_value(result, "caries_teeth") == "0"


# ----------------------------------------------------------------- optimistic locking


def test_a_stale_version_is_a_conflict_and_saves_nothing(world):
    _record(world, {"height_cm": "130"}, version=0)
    _assert_conflict(world, {"height_cm": "131"}, version=0)
    _record(world, {"height_cm": "132"}, version=1)
    _assert_conflict(world, {"height_cm": "133"}, version=1)
    result = _result(world.session, world.students[0])
    assert (result.height_cm, result.version) == (Decimal("132.0"), 2)


def test_a_concurrent_update_between_read_and_write_is_a_conflict(world, monkeypatch):
    """SQLAlchemy's version counter catches a change made after the version was checked."""
    _record(world, {"height_cm": "130"})
    evaluate_into = results.evaluate_into

    def meanwhile(*args, **kwargs):
        with db.engine.begin() as other:
            other.execute(text("UPDATE screening_results SET version = version + 1"))
        return evaluate_into(*args, **kwargs)

    monkeypatch.setattr(results, "evaluate_into", meanwhile)
    _assert_conflict(world, {"height_cm": "140"}, version=1)
    result = _result(world.session, world.students[0])
    assert (result.height_cm, result.version) == (Decimal("130.0"), 2)


def test_conflict_details_name_who_changed_the_result(world):
    _record(world, {"ucva_left": "4.7"})
    details = results.conflict_details(world.session, world.students[0], "ucva_left")
    assert details["value"] == "4.7"
    assert details["version"] == 1
    assert details["changed_by"] == world.nurse.display_name


# ----------------------------------------------------------------- absent


def test_an_absent_pupil_is_done_but_not_normal(world):
    student = world.students[1]
    change = results.set_absent(world.session, student, True, user=world.nurse, expected_version=0)
    db.session.commit()
    assert change.created
    result = _result(world.session, student)
    assert result.absent is True
    assert result.flagged is False
    assert result.weight_status is None
    assert result.vision_right is None
    assert results.is_done(world.session, result)
    (event,) = _events("screening_result")
    assert event.after == {"absent": True, "not_screened_reason": "absent"}

    refused = results.record_measurements(
        world.session, student, {"height_cm": "130"}, user=world.nurse
    )
    assert [e.key for e in refused.errors] == ["absent_with_measurements"]

    results.set_absent(world.session, student, False, user=world.nurse, expected_version=1)
    db.session.commit()
    result = _result(world.session, student)
    assert result.absent is False
    assert not results.is_done(world.session, result)


def test_a_pupil_with_measurements_is_not_marked_absent(world):
    _record(world, {"height_cm": "130"})
    change = results.set_absent(world.session, world.students[0], True, user=world.nurse)
    assert [e.key for e in change.errors] == ["absent_with_measurements"]
    db.session.rollback()
    assert _result(world.session, world.students[0]).absent is False


def test_class_progress_counts_screened_and_absent_pupils(world, factories):
    first, second, third = world.students
    factories.StudentFactory(school_class=world.school_class, active=False)
    _record(
        world,
        {"height_cm": "130", "weight_kg": "30", "ucva_right": "5.0", "ucva_left": "5.0"},
        student=first,
    )
    _record(world, {"height_cm": "130", "weight_kg": "30"}, student=second)  # no vision yet
    results.set_absent(world.session, third, True, user=world.nurse)
    db.session.commit()
    (progress,), unassigned = grid_model.class_progress(world.session)
    assert progress.school_class.id == world.school_class.id
    assert (progress.done, progress.total) == (2, 3)
    assert unassigned == 0
    assert grid_model.class_done_count(world.session, world.school_class) == (2, 3)
    pupils = grid_model.class_pupils(world.session, world.school_class)
    assert [s.student_number for s, _ in pupils] == ["G0001", "G0002", "G0003"]


def test_a_result_the_rules_cannot_evaluate_is_saved_with_the_reason(world, factories):
    """A wrong birth year (an age of 1) keeps the value but flags nothing, and says why."""
    toddler = factories.StudentFactory(school_class=world.school_class, birth_date=date(2025, 6, 1))
    change = _record(world, {"height_cm": "130", "weight_kg": "45"}, student=toddler)
    assert change.ok
    assert change.evaluation is None
    result = _result(world.session, toddler)
    assert result.height_cm == Decimal("130.0")
    assert result.weight_status is None
    assert result.flagged is False
    assert result.findings == []
    assert "birth_date" in result.eval_errors
