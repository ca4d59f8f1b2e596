"""``flask backup`` and ``flask restore`` round-trip the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, ScreeningResult, Student


def snapshot_data() -> dict:
    """What a restore must bring back exactly: pupils and their measurements."""
    db.session.expire_all()
    pupils = db.session.execute(
        select(Student.id, Student.name, Student.student_number, Student.active).order_by(
            Student.id
        )
    ).all()
    results = db.session.execute(
        select(ScreeningResult.id, ScreeningResult.height_cm, ScreeningResult.weight_kg).order_by(
            ScreeningResult.id
        )
    ).all()
    return {"pupils": [tuple(p) for p in pupils], "results": [tuple(r) for r in results]}


@pytest.fixture
def school_data(factories):
    school = factories.SchoolFactory()
    klass = factories.SchoolClassFactory(school=school)
    pupils = factories.StudentFactory.create_batch(5, school=school, school_class=klass)
    session = factories.ScreeningSessionFactory(school=school)
    for pupil in pupils:
        factories.ScreeningResultFactory(
            session=session, student=pupil, height_cm=Decimal("130.5"), weight_kg=Decimal("28.1")
        )
    db.session.commit()
    return [p.id for p in pupils]


def test_backup_then_restore_brings_back_every_record(runner, school_data, tmp_path):
    before = snapshot_data()
    out = tmp_path / "schoolhealth.backup"

    backed_up = runner.invoke(args=["backup", str(out)])
    assert backed_up.exit_code == 0, backed_up.output
    assert out.stat().st_size > 0
    assert not (tmp_path / "schoolhealth.backup.partial").exists()

    # Life goes on after the backup: a pupil renamed, one deleted, results changed.
    first, second = school_data[0], school_data[1]
    db.session.get(Student, first).name = "改过的名字"
    db.session.execute(
        ScreeningResult.__table__.delete().where(ScreeningResult.student_id == second)
    )
    db.session.execute(Student.__table__.delete().where(Student.id == second))
    db.session.execute(ScreeningResult.__table__.update().values(height_cm=Decimal("99.9")))
    db.session.commit()
    assert snapshot_data() != before

    restored = runner.invoke(args=["restore", str(out), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert snapshot_data() == before
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    # The backup's own event is inside the backup; the restore's is written after it.
    assert actions[-2:] == ["backup", "restore"]


def test_restore_asks_first_and_changes_nothing_when_declined(runner, school_data, tmp_path):
    out = tmp_path / "copy.backup"
    assert runner.invoke(args=["backup", str(out)]).exit_code == 0
    db.session.get(Student, school_data[0]).name = "备份之后"
    db.session.commit()

    declined = runner.invoke(args=["restore", str(out)], input="n\n")
    assert declined.exit_code == 1
    assert "Replace every record" in declined.output
    db.session.expire_all()
    assert db.session.get(Student, school_data[0]).name == "备份之后"


@pytest.mark.parametrize(
    "content",
    [b"", b"not a backup at all\n" * 10, b"PGDMP\x00broken", b"SQLite format 3\x00" + b"\x00" * 50],
    ids=["empty", "text", "damaged-dump", "damaged-sqlite"],
)
def test_restore_refuses_a_file_that_is_not_a_good_backup(runner, school_data, tmp_path, content):
    before = snapshot_data()
    bad = tmp_path / "bad.backup"
    bad.write_bytes(content)

    refused = runner.invoke(args=["restore", str(bad), "--yes"])

    assert refused.exit_code == 1
    assert "Error:" in refused.output
    assert snapshot_data() == before
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_backup_into_a_missing_folder_is_refused(runner, school_data, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "nowhere" / "x.backup")])
    assert result.exit_code != 0
    assert not (tmp_path / "nowhere").exists()
