"""Follow-up cases: opened by referrals, moved along by letters, outcomes and time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.followup import services
from schoolhealth.letters import services as letter_services
from schoolhealth.models import AuditEvent, FollowupCase, Letter
from tests.followup.conftest import NORMAL, REFERRED, SCREENED_ON, record


def cases_of(pupil):
    return {
        c.case_type: c
        for c in db.session.scalars(select(FollowupCase).where(FollowupCase.student_id == pupil.id))
    }


def test_a_referral_opens_one_case_per_kind_of_finding(fu):
    cases = cases_of(fu.pupils[0])
    assert set(cases) == {"weight", "myopia", "scoliosis", "caries"}
    assert all(c.state == "open" and c.referred_on == SCREENED_ON for c in cases.values())
    assert all(c.school_id == fu.school.id for c in cases.values())
    assert "myopia_right" in cases["myopia"].finding_codes
    assert cases_of(fu.pupils[1]) == {}  # normal results open nothing
    created = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "followup_case", AuditEvent.action == "create"
        )
    ).all()
    assert len(created) == 4 * 3  # pupils 0 and 2 here, one pupil of the other school


def test_saving_the_same_result_again_opens_nothing_new(fu):
    record(fu.session, fu.pupils[0], {**REFERRED, "weight_kg": "37.3"}, fu.nurse)
    db.session.commit()
    assert db.session.query(FollowupCase).filter_by(student_id=fu.pupils[0].id).count() == 4


def test_a_result_corrected_to_normal_withdraws_and_a_new_referral_reopens(fu):
    pupil = fu.pupils[0]
    record(fu.session, pupil, NORMAL, fu.nurse)
    db.session.commit()
    assert {c.state for c in cases_of(pupil).values()} == {"withdrawn"}
    record(fu.session, pupil, REFERRED, fu.nurse)
    db.session.commit()
    assert {c.state for c in cases_of(pupil).values()} == {"open"}
    assert db.session.query(FollowupCase).filter_by(student_id=pupil.id).count() == 4


def test_a_case_with_an_outcome_is_kept_when_the_result_is_corrected(fu):
    pupil = fu.pupils[0]
    case = cases_of(pupil)["weight"]
    outcome, errors = services.parse_outcome(
        "weight", {"intervention": "advice", "diagnosis_date": "2026-11-02"}, case.referred_on
    )
    assert errors == {}
    services.record_outcome(case, outcome, user=fu.nurse)
    record(fu.session, pupil, NORMAL, fu.nurse)
    db.session.commit()
    assert cases_of(pupil)["weight"].state == "closed"
    assert cases_of(pupil)["myopia"].state == "withdrawn"


def _letter(fu, pupil):
    letter, _pdf = letter_services.single_letter(
        fu.session, pupil, language_mode="zh", user=fu.nurse
    )
    db.session.flush()
    return letter


def test_the_letter_register_moves_cases_to_sent_and_slip_returned(fu):
    pupil = fu.pupils[0]
    letter = _letter(fu, pupil)
    services.refresh(list(cases_of(pupil).values()))
    assert {c.state for c in cases_of(pupil).values()} == {"open"}  # generated is not sent
    letter_services.set_status([letter], "handed_out", user=fu.nurse)
    services.refresh(list(cases_of(pupil).values()))
    cases = cases_of(pupil)
    assert {c.state for c in cases.values()} == {"letter_sent"}
    assert cases["myopia"].letter_sent_on == letter.status_at.date()
    letter_services.set_status([letter], "slip_returned", user=fu.nurse)
    assert services.refresh(list(cases.values())) == 4
    assert {c.state for c in cases_of(pupil).values()} == {"slip_returned"}
    assert services.refresh(list(cases.values())) == 0  # idempotent


def test_cases_without_outcome_are_lost_after_the_configured_days(fu, app):
    app.config["FOLLOWUP_LOST_AFTER_DAYS"] = 30
    try:
        day_before = SCREENED_ON + timedelta(days=30)
        assert services.expire(on=day_before) == 0
        assert services.expire(on=day_before + timedelta(days=1)) == 12
        assert {c.state for c in db.session.scalars(select(FollowupCase))} == {"lost"}
        # A late outcome still closes a lost case.
        case = cases_of(fu.pupils[0])["caries"]
        outcome, errors = services.parse_outcome(
            "caries",
            {
                "treated": "yes",
                "teeth_treated": "2",
                "hospital": "口腔医院",
                "diagnosis_date": "2026-11-20",
            },
            case.referred_on,
        )
        assert errors == {}
        assert services.record_outcome(case, outcome, user=fu.nurse)
        assert case.state == "closed"
        assert case.closed_at is not None
    finally:
        app.config["FOLLOWUP_LOST_AFTER_DAYS"] = 90


def test_the_state_machine_refuses_impossible_moves(fu):
    case = cases_of(fu.pupils[0])["scoliosis"]
    with pytest.raises(services.FollowupError):
        services.close(case, user=fu.nurse)  # no outcome yet
    case.state = "closed"
    with pytest.raises(services.FollowupError):
        services.move(case, "open")
    case.state = "withdrawn"
    outcome, _errors = services.parse_outcome(
        "scoliosis",
        {"cobb_angle": "12", "hospital": "H", "diagnosis_date": "2026-11-01"},
        case.referred_on,
    )
    with pytest.raises(services.FollowupError):
        services.record_outcome(case, outcome, user=fu.nurse)


@pytest.mark.parametrize(
    ("case_type", "data", "field", "fragment"),
    [
        ("scoliosis", {"cobb_angle": "130"}, "cobb_angle", "outside 0 to 120"),
        ("scoliosis", {"cobb_angle": "abc"}, "cobb_angle", "not a number"),
        ("scoliosis", {"confirmed": "yes", "cobb_angle": "6"}, "confirmed", "does not"),
        ("scoliosis", {"confirmed": "yes"}, "cobb_angle", "Cobb angle"),
        ("scoliosis", {"confirmed": "maybe"}, "confirmed", "not yes or no"),
        ("myopia", {"cyclo_se_right": "-31"}, "cyclo_se_right", "outside -30 to 20"),
        ("myopia", {"confirmed": "yes"}, "cyclo_se_right", "at least one eye"),
        ("myopia", {"confirmed": "no", "cyclo_se_left": "-1.00"}, "confirmed", "confirms myopia"),
        ("caries", {"treated": "no", "teeth_treated": "2"}, "teeth_treated", "Untreated"),
        ("caries", {"treated": "yes", "teeth_treated": "33"}, "teeth_treated", "0 to 32"),
        ("weight", {"intervention": "pills"}, "intervention", "not an intervention"),
        ("weight", {}, "intervention", "Choose"),
    ],
)
def test_outcomes_are_checked_field_by_field(app, case_type, data, field, fragment):
    base = {"hospital": "市儿童医院", "diagnosis_date": "2026-11-03"}
    outcome, errors = services.parse_outcome(case_type, {**base, **data}, SCREENED_ON)
    assert outcome is None
    assert fragment in errors[field], errors


def test_diagnosis_dates_are_not_in_the_future_nor_before_screening(app):
    future = (services.today() + timedelta(days=1)).isoformat()
    _o, errors = services.parse_outcome(
        "weight", {"intervention": "clinic", "diagnosis_date": future}, SCREENED_ON
    )
    assert "future" in errors["diagnosis_date"]
    _o, errors = services.parse_outcome(
        "weight", {"intervention": "clinic", "diagnosis_date": "2026-10-11"}, SCREENED_ON
    )
    assert "before the screening" in errors["diagnosis_date"]
    _o, errors = services.parse_outcome("myopia", {"confirmed": "yes"}, SCREENED_ON)
    assert set(errors) >= {"hospital", "diagnosis_date", "cyclo_se_right"}


def test_outcomes_derive_confirmation_from_the_measurement(app):
    base = {"hospital": "H", "diagnosis_date": "2026年11月3日"}
    outcome, errors = services.parse_outcome(
        "scoliosis", {**base, "cobb_angle": "12°"}, SCREENED_ON
    )
    assert errors == {}
    assert outcome.values["confirmed"] is True
    assert outcome.values["diagnosis_date"] == date(2026, 11, 3)
    outcome, errors = services.parse_outcome(
        "myopia", {**base, "cyclo_se_right": "+0.25", "cyclo_se_left": "−0.25"}, SCREENED_ON
    )
    assert errors == {}
    assert outcome.values["confirmed"] is False


def test_recording_the_same_outcome_twice_changes_nothing(fu):
    case = cases_of(fu.pupils[0])["scoliosis"]
    data = {"cobb_angle": "15", "hospital": "H", "doctor": "Dr Li", "diagnosis_date": "2026-11-01"}
    outcome, _e = services.parse_outcome("scoliosis", data, case.referred_on)
    assert services.record_outcome(case, outcome, user=fu.nurse) is True
    db.session.commit()
    events = db.session.query(AuditEvent).filter_by(entity="followup_case").count()
    outcome, _e = services.parse_outcome("scoliosis", data, case.referred_on)
    assert services.record_outcome(case, outcome, user=fu.nurse) is False
    assert db.session.query(AuditEvent).filter_by(entity="followup_case").count() == events


def test_completion_per_school_matches_an_independent_count(fu, app):
    from schoolhealth.reports.services import ReportScope

    cases = list(
        db.session.scalars(select(FollowupCase).where(FollowupCase.school_id == fu.school.id))
    )
    closing = cases[:3]
    for case in closing:
        data = {
            "scoliosis": {"cobb_angle": "4"},
            "myopia": {"confirmed": "no"},
            "caries": {"treated": "yes"},
            "weight": {"intervention": "advice"},
        }[case.case_type]
        outcome, errors = services.parse_outcome(
            case.case_type,
            {**data, "hospital": "H", "diagnosis_date": "2026-11-01"},
            case.referred_on,
        )
        assert errors == {}
        services.record_outcome(case, outcome, user=fu.nurse)
    record(fu.session, fu.pupils[2], NORMAL, fu.nurse)  # withdraws pupil 2's open cases
    db.session.commit()
    rows, total = services.completion_by_school(ReportScope())
    by_school = {r.key: r for r in rows}
    all_cases = db.session.scalars(select(FollowupCase)).all()
    for school_id in (fu.school.id, fu.other_school.id):
        mine = [c for c in all_cases if c.school_id == school_id]
        referred = sum(1 for c in mine if c.state != "withdrawn")
        closed = sum(1 for c in mine if c.state == "closed")
        assert (by_school[school_id].referred, by_school[school_id].closed) == (referred, closed)
    assert (total.referred, total.closed) == (
        4 + 4 + sum(1 for c in closing if c.student_id == fu.pupils[2].id),
        3,
    )
    assert services.school_completion(fu.school.id).closed == 3


def test_officials_small_completion_cells_are_hidden(fu):
    from schoolhealth.reports.services import ReportScope

    rows, total = services.completion_by_school(ReportScope(), suppress=True)
    # 8 referred cases here, 4 (< 5) in the other school: hidden, and this school as
    # its partner (else the total minus this school gives it back). The total shows.
    assert all(r.hidden for r in rows)
    _headers, data = services.completion_export_rows(rows, total)
    assert all(cell == "<5" for row in data[:-1] for cell in row[1:])
    assert data[-1][1] == 12
    assert not total.hidden


def test_letters_register_a_letter_for_a_referred_pupil(fu):
    _letter(fu, fu.pupils[0])
    assert db.session.query(Letter).count() == 1
