"""Reading pupils' health data is audited: one "view" event per page view, listing the
pupils shown, and the audit page shows those events readably."""

from __future__ import annotations

from sqlalchemy import select

from schoolhealth.audit import compact_ids
from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent
from schoolhealth.screening import results


def _views() -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "view").order_by(AuditEvent.id)
        )
    )


def test_compact_ids_lists_ranges():
    assert compact_ids([]) == ""
    assert compact_ids([7]) == "7"
    assert compact_ids([12, 3, 4, 5, 9, 10, 4]) == "3–5, 9–10, 12"


def test_a_class_grid_view_is_one_event_listing_its_pupils(client, sign_in, world):
    sign_in(world.nurse)
    url = f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
    assert client.get(url).status_code == 200
    (event,) = _views()
    ids = sorted(s.id for s in world.students)
    assert (event.entity, event.entity_id) == ("class_grid", str(world.school_class.id))
    assert (event.user_id, event.school_id) == (world.nurse.id, world.school.id)
    assert event.after["pupils"] == 3
    assert event.after["pupil_ids"] == compact_ids(ids)
    assert event.after["session_id"] == world.session.id
    assert "Pupil" not in event.summary  # no names in the trail
    client.get(url)
    assert len(_views()) == 2


def test_a_flags_list_view_is_one_event_listing_the_pupils_of_the_page(client, sign_in, world):
    for student in world.students[:2]:
        results.record_measurements(
            world.session, student, {"ucva_right": "4.5", "ucva_left": "4.6"}, user=world.nurse
        )
    db.session.commit()
    sign_in(world.nurse)
    assert client.get(f"/screening/sessions/{world.session.id}/flags").status_code == 200
    (event,) = _views()
    assert (event.entity, event.entity_id) == ("screening_flags", str(world.session.id))
    assert event.after["pupils"] == 2
    assert event.after["pupil_ids"] == compact_ids(s.id for s in world.students[:2])


def test_a_roster_pupil_page_view_is_audited(client, sign_in, world):
    student = world.students[0]
    sign_in(world.nurse)
    assert client.get(f"/roster/students/{student.id}").status_code == 200
    (event,) = _views()
    assert (event.entity, event.entity_id, event.after["pupils"]) == ("student", str(student.id), 1)


def test_the_letter_register_view_is_one_event(client, sign_in, world):
    sign_in(world.nurse)
    assert client.get(f"/letters/sessions/{world.session.id}").status_code == 200
    (event,) = _views()
    assert event.entity == "letter"
    assert event.after["session_id"] == world.session.id


def test_a_refused_page_is_not_recorded_as_a_view(client, sign_in, world):
    sign_in(world.other_nurse)
    url = f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}"
    assert client.get(url).status_code == 404
    assert _views() == []


def test_the_audit_page_shows_view_events_readably(client, sign_in, world):
    sign_in(world.nurse)
    client.get(f"/screening/sessions/{world.session.id}/classes/{world.school_class.id}")
    sign_in(world.admin)
    page = client.get("/admin/audit?action=view").get_data(as_text=True)
    assert "Viewed" in page
    assert "Class grid" in page
    assert "Pupils shown (ids)" in page
    assert compact_ids(s.id for s in world.students) in page
    (event,) = _views()
    detail = client.get(f"/admin/audit/{event.id}").get_data(as_text=True)
    assert "Pupils shown (ids)" in detail
    assert "Screening session" in detail


def test_a_pupil_record_view_lists_the_pupil_without_the_student_number(client, sign_in, world):
    """The student number is "G" + the resident ID number: it stays out of the trail."""
    student = world.students[0]
    sign_in(world.nurse)
    assert client.get(f"/screening/pupils/{student.id}").status_code == 200
    (event,) = _views()
    assert (event.entity, event.entity_id) == ("student", str(student.id))
    assert event.after["pupil_ids"] == str(student.id)
    assert student.student_number not in event.summary
