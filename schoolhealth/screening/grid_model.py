"""The class grid's view model: its columns, its pupils with their results, and progress."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    Student,
)
from .fields import GRID_COLUMNS, GridColumn
from .results import done_clause


def grid_columns(session: ScreeningSession) -> list[GridColumn]:
    """The grid's input columns for the session's screening types.

    Sphere and cylinder only when the session records refraction: a column nobody fills
    costs a keystroke per pupil.
    """
    return [
        c
        for t in session.type_list
        for c in GRID_COLUMNS.get(t, ())
        if c.group != "refraction" or session.records_refraction
    ]


def class_pupils(
    session: ScreeningSession, school_class: SchoolClass
) -> list[tuple[Student, ScreeningResult | None]]:
    """The class's active pupils in roster order (student number) with their results."""
    rows = db.session.execute(
        select(Student, ScreeningResult)
        .outerjoin(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(
            Student.class_id == school_class.id,
            Student.school_id == session.school_id,
            Student.active.is_(True),
        )
        .options(selectinload(ScreeningResult.findings))
        .order_by(Student.student_number)
    ).all()
    return [(student, result) for student, result in rows]


@dataclass(frozen=True)
class ClassProgress:
    school_class: SchoolClass
    total: int
    done: int


def _progress_query(session: ScreeningSession) -> Select:
    return (
        select(
            Student.class_id,
            func.count(Student.id),
            func.coalesce(func.sum(case((done_clause(session), 1), else_=0)), 0),
        )
        .outerjoin(
            ScreeningResult,
            and_(
                ScreeningResult.student_id == Student.id,
                ScreeningResult.session_id == session.id,
            ),
        )
        .where(Student.school_id == session.school_id, Student.active.is_(True))
        .group_by(Student.class_id)
    )


def class_progress(session: ScreeningSession) -> tuple[list[ClassProgress], int]:
    """Screened (or absent) / active pupils per class of the session's school.

    Also returns the number of active pupils without a class (they have no grid).
    """
    counts = {
        class_id: (total, done)
        for class_id, total, done in db.session.execute(_progress_query(session))
    }
    unassigned = counts.pop(None, (0, 0))[0]
    classes = (
        db.session.scalars(
            select(SchoolClass)
            .where(SchoolClass.id.in_(list(counts)), SchoolClass.school_id == session.school_id)
            .order_by(SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.name)
        ).all()
        if counts
        else []
    )
    progress = [ClassProgress(c, int(counts[c.id][0]), int(counts[c.id][1])) for c in classes]
    return progress, int(unassigned)


def class_done_count(session: ScreeningSession, school_class: SchoolClass) -> tuple[int, int]:
    """(done, total) of one class."""
    row = db.session.execute(
        _progress_query(session).where(Student.class_id == school_class.id)
    ).first()
    if row is None:
        return 0, 0
    return int(row[2]), int(row[1])


def results_flagged_with_other_ruleset(session: ScreeningSession) -> int:
    """How many results were flagged with another rule set than the session records.

    Results are always flagged with the installed rules (``rules.RULESET_VERSION``) and
    record the version used; after an upgrade, a reopened older session says so.
    """
    return int(
        db.session.scalar(
            select(func.count(ScreeningResult.id)).where(
                ScreeningResult.session_id == session.id,
                ScreeningResult.ruleset_version.is_not(None),
                ScreeningResult.ruleset_version != session.ruleset_version,
            )
        )
        or 0
    )
