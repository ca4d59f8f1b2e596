"""Parent letters (告家长书): the register of letters sent, their wording, their batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin
from .org import SchoolClass
from .people import Student, User
from .screening import ScreeningSession

LETTER_STATUSES = ("generated", "printed", "handed_out", "slip_returned")
LETTER_LANGUAGES = ("zh", "en")


class Letter(TimestampMixin, db.Model):
    """One letter to one pupil's guardian for one session: the school's register entry.

    The row is what the school reads ("which parents were told, which slips are still
    out"); the PDF itself is rendered again from the data whenever it is needed (the
    same data gives the same bytes), so nothing but the code that opens it is secret.
    """

    __tablename__ = "letters"
    __table_args__ = (
        UniqueConstraint("session_id", "student_id"),
        CheckConstraint(
            "status IN ('generated', 'printed', 'handed_out', 'slip_returned')",
            name="status_code",
        ),
        CheckConstraint("kind IN ('referral', 'summary')", name="kind_code"),
        Index("ix_letters_school_session", "school_id", "session_id"),
        Index("ix_letters_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("screening_sessions.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"))
    # "referral" when the pupil has findings, "summary" for a letter of normal results.
    kind: Mapped[str] = mapped_column(String(16), default="referral")
    language: Mapped[str] = mapped_column(String(8), default="zh")
    # The findings the letter covers: [{"id", "code", "category", "advice_key"}, ...].
    findings: Mapped[list] = mapped_column(JSON, default=list)
    template_version: Mapped[str] = mapped_column(String(64))
    # The parent's download code (no ambiguous characters) and when it stops working.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    code_expires_at: Mapped[datetime] = mapped_column(DateTime)
    generated_at: Mapped[datetime] = mapped_column(DateTime)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    generations: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="generated")
    status_at: Mapped[datetime | None] = mapped_column(DateTime)
    status_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    session: Mapped[ScreeningSession] = relationship()
    student: Mapped[Student] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    generated_by: Mapped[User | None] = relationship(foreign_keys=[generated_by_id])
    status_by: Mapped[User | None] = relationship(foreign_keys=[status_by_id])


class LetterText(TimestampMixin, db.Model):
    """One version of a district's or a school's letter wording in one language.

    Only the keys the admin changed are stored; the rest come from the defaults shipped
    in code (schoolhealth/letters/texts.py). Saving makes a new version, never an edit,
    so the register can say which wording each letter had.
    """

    __tablename__ = "letter_texts"
    __table_args__ = (
        UniqueConstraint("scope", "scope_id", "language", "version"),
        CheckConstraint("scope IN ('district', 'school')", name="scope_code"),
        CheckConstraint("language IN ('zh', 'en')", name="language_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[int]
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[int]
    texts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LetterBatch(TimestampMixin, db.Model):
    """A class PDF or a school ZIP made by a background job, kept for download."""

    __tablename__ = "letter_batches"
    __table_args__ = (CheckConstraint("kind IN ('class', 'school')", name="kind_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    session_id: Mapped[int] = mapped_column(
        ForeignKey("screening_sessions.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"))
    kind: Mapped[str] = mapped_column(String(8))
    # "zh", "en" or "guardian" (each letter in its guardian's language).
    language: Mapped[str] = mapped_column(String(16), default="guardian")
    include_normal: Mapped[bool] = mapped_column(Boolean, default=False)
    duplex: Mapped[bool] = mapped_column(Boolean, default=False)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[bytes | None] = mapped_column(db.LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    letters: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)


class LetterThrottle(db.Model):
    """Failed parent look-ups per code and per client address, for lock-outs."""

    __tablename__ = "letter_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
