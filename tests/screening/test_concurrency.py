"""Saves that lose a race at flush time answer 409 with the current value, never 500.

The version check in the services reads the row first; a colleague's save can still land
between that read and our UPDATE/INSERT. Two real connections force that interleaving:
just before our request flushes, a second connection commits its own change (an UPDATE
that bumps the version: StaleDataError; or the INSERT of the same pupil's result:
IntegrityError on the unique key). A threaded test then has several nurses save the first
value of the same pupils at once through separate clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, ScreeningResult
from schoolhealth.screening import results
from tests.clients import request_scoped_client


def _field_url(session, student) -> str:
    return f"/screening/sessions/{session.id}/students/{student.id}/field"


def _row_url(session, school_class, student) -> str:
    return f"/screening/sessions/{session.id}/classes/{school_class.id}/students/{student.id}"


def _result(session_id: int, student_id: int) -> ScreeningResult | None:
    db.session.expire_all()
    return db.session.execute(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session_id, ScreeningResult.student_id == student_id
        )
    ).scalar_one_or_none()


@contextmanager
def _meanwhile(action: Callable[[object], None]) -> Iterator[list]:
    """Run ``action`` on a second connection (committed) just before the next flush that
    writes a ScreeningResult: a colleague's save landing after our version check.

    Yields a list that holds 1 once the change was committed (or the error it raised)."""
    fired: list[int] = []

    def before_flush(session, flush_context, instances) -> None:
        if fired:
            return
        if not any(isinstance(o, ScreeningResult) for o in (*session.new, *session.dirty)):
            return
        try:
            with db.engine.begin() as other:
                action(other)
        except Exception as exc:  # noqa: BLE001 - a broken interleaving fails the test
            fired.append(exc)
            raise RuntimeError("the concurrent change itself failed") from exc
        fired.append(1)

    event.listen(Session, "before_flush", before_flush)
    try:
        yield fired
    finally:
        event.remove(Session, "before_flush", before_flush)


def _bump_height(session_id: int, student_id: int, height: str) -> Callable[[object], None]:
    def action(conn) -> None:
        conn.execute(
            text(
                "UPDATE screening_results SET height_cm = :h, version = version + 1 "
                "WHERE session_id = :s AND student_id = :p"
            ),
            {"h": height, "s": session_id, "p": student_id},
        )

    return action


def _insert_result(session_id: int, student_id: int, height: str) -> Callable[[object], None]:
    def action(conn) -> None:
        conn.execute(
            text(
                "INSERT INTO screening_results (session_id, student_id, screening_date, "
                "absent, flagged, refer, height_cm, version, created_at, updated_at) "
                "VALUES (:s, :p, :d, false, false, '', :h, 1, :now, :now)"
            ),
            {
                "s": session_id,
                "p": student_id,
                "d": date(2026, 10, 12),
                "h": height,
                "now": "2026-10-12 08:00:00",
            },
        )

    return action


def _events() -> int:
    """Audit events that record a change (opening the grid records a "view")."""
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "view")
    )


def test_a_grid_save_losing_an_update_race_answers_409_with_the_value(client, sign_in, world):
    student = world.students[0]
    results.record_measurements(world.session, student, {"height_cm": "130"}, user=world.nurse)
    db.session.commit()
    events = _events()
    sign_in(world.nurse)
    with _meanwhile(_bump_height(world.session.id, student.id, "131.5")) as fired:
        response = client.post(
            _field_url(world.session, student),
            json={"field": "height_cm", "value": "140", "version": 1},
            headers={"Accept": "text/html"},
        )
    assert fired == [1]
    assert response.status_code == 409
    assert response.is_json
    assert response.json["error"] == "conflict"
    assert (response.json["value"], response.json["version"]) == ("131.5", 2)
    assert response.json["your_value"] == "140"
    result = _result(world.session.id, student.id)
    assert (str(result.height_cm), result.version) == ("131.5", 2)
    assert _events() == events


def test_a_grid_save_losing_a_create_race_answers_409_with_the_value(client, sign_in, world):
    """Two nurses create the same pupil's result: the unique key refuses the second."""
    student = world.students[1]
    sign_in(world.nurse)
    with _meanwhile(_insert_result(world.session.id, student.id, "125.0")) as fired:
        response = client.post(
            _field_url(world.session, student),
            json={"field": "height_cm", "value": "126", "version": 0},
        )
    assert fired == [1]
    assert response.status_code == 409
    assert response.json["error"] == "conflict"
    assert (response.json["value"], response.json["version"]) == ("125.0", 1)
    result = _result(world.session.id, student.id)
    assert (str(result.height_cm), result.version) == ("125.0", 1)
    assert _events() == 0


def test_a_row_form_losing_a_create_race_shows_a_form_error(client, sign_in, world):
    student = world.students[2]
    sign_in(world.nurse)
    url = _row_url(world.session, world.school_class, student)
    with _meanwhile(_insert_result(world.session.id, student.id, "125.0")) as fired:
        response = client.post(url, data={"height_cm": "126", "version": "0"})
    assert fired == [1]
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Someone else changed" in page
    assert "125.0" in page
    assert str(_result(world.session.id, student.id).height_cm) == "125.0"
    assert _events() == 0


def test_a_row_form_losing_an_update_race_shows_a_form_error(client, sign_in, world):
    student = world.students[0]
    results.record_measurements(world.session, student, {"height_cm": "130"}, user=world.nurse)
    db.session.commit()
    events = _events()
    sign_in(world.nurse)
    url = _row_url(world.session, world.school_class, student)
    with _meanwhile(_bump_height(world.session.id, student.id, "131.5")) as fired:
        response = client.post(url, data={"height_cm": "140", "version": "1"})
    assert fired == [1]
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Someone else changed" in page
    assert str(_result(world.session.id, student.id).height_cm) == "131.5"
    assert _events() == events


def test_nurses_saving_the_first_values_at_once_get_200_or_409(app, sign_in, world, factories):
    """Six nurses in threads, each with its own client and connection, save the first value
    of the same three pupils of a planned session at the same moment."""
    world.session.status = "planned"
    nurses = [world.nurse] + [factories.NurseFactory(school=world.school) for _ in range(5)]
    db.session.commit()
    session_id = world.session.id
    student_ids = [s.id for s in world.students]
    nurse_ids = [n.get_id() for n in nurses]  # what the session cookie holds
    barrier = threading.Barrier(len(nurse_ids))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def save(index: int, nurse_id: int) -> None:
        client = request_scoped_client(app)
        with client.session_transaction() as cookie:
            cookie["_user_id"] = nurse_id
            cookie["_fresh"] = True
        student_id = student_ids[index % len(student_ids)]
        try:
            barrier.wait(timeout=10)
            response = client.post(
                f"/screening/sessions/{session_id}/students/{student_id}/field",
                json={"field": "height_cm", "value": str(120 + index), "version": 0},
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i, n)) for i, n in enumerate(nurse_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(set(statuses)) <= [200, 409], statuses
    assert statuses.count(200) == len(student_ids), statuses
    db.session.expire_all()
    results = db.session.scalars(
        select(ScreeningResult).where(ScreeningResult.session_id == session_id)
    ).all()
    assert len(results) == len(student_ids)
    assert all(r.version == 1 for r in results)
