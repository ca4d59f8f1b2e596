"""Screening sessions, their per-pupil results, and the findings flagged from them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin
from .org import Institution, School
from .people import Student, User


class SessionStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


SCREENING_TYPES = ("growth", "vision", "spine", "dental")
# Why a pupil was not screened (screening_results.not_screened_reason).
NOT_SCREENED_REASONS = ("absent", "refused", "ill", "exempt")


class ScreeningSession(TimestampMixin, db.Model):
    """One screening event of one school, e.g. "2026 秋季 视力筛查".

    It records the rule-set version and options it flags with, so a later change of
    standard never silently rewrites past results.
    """

    __tablename__ = "screening_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'closed')", name="status_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # Comma-separated subset of SCREENING_TYPES, in that order.
    types: Mapped[str] = mapped_column(String(64))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    ruleset_version: Mapped[str] = mapped_column(String(32))
    rule_options: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.PLANNED.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The session measures refraction (autorefractor): only then does the grid ask for
    # sphere and cylinder, so a session without it costs the nurse no empty cells.
    records_refraction: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false(), nullable=False
    )

    school: Mapped[School] = relationship()
    institution: Mapped[Institution | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def type_list(self) -> list[str]:
        return [t for t in self.types.split(",") if t]

    @property
    def is_closed(self) -> bool:
        return self.status == SessionStatus.CLOSED.value


class ScreeningResult(TimestampMixin, db.Model):
    """One pupil's measurements in one session, plus the codes the rules derived from them.

    Measurements follow docs/formats/results.md (a NULL is "not measured", never
    "normal"); the derived columns hold docs/formats/evaluation.md codes so reports
    can count prevalence with plain GROUP BY queries.
    """

    __tablename__ = "screening_results"
    __table_args__ = (
        UniqueConstraint("session_id", "student_id"),
        Index("ix_screening_results_student", "student_id"),
        Index("ix_screening_results_session_flagged", "session_id", "flagged"),
        # Covers the reports' aggregation (reports/services.py): every column it reads,
        # led by the session, so a district's figures are an index-only range scan of its
        # sessions instead of a read of the whole (wide) table, on PostgreSQL and SQLite.
        Index(
            "ix_screening_results_report",
            "session_id",
            "absent",
            "age_band",
            "weight_status",
            "thinness",
            "stunting",
            "vision_right",
            "vision_left",
            "myopia_right",
            "myopia_left",
            "spine",
            "caries",
            "student_id",
        ),
        CheckConstraint(
            "not_screened_reason IS NULL OR not_screened_reason IN "
            "('absent', 'refused', 'ill', 'exempt')",
            name="not_screened_reason_code",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("screening_sessions.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    screening_date: Mapped[date | None] = mapped_column(Date)
    absent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the pupil was not screened (``absent`` is True for every reason): absent,
    # refused, ill or exempt (NOT_SCREENED_REASONS). Never read as "normal".
    not_screened_reason: Mapped[str | None] = mapped_column(String(16))

    # Growth
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    # Vision (5-point notation, GB/T 11533) and non-cycloplegic refraction
    ucva_right: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    ucva_left: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    cva_right: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    cva_left: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    glasses: Mapped[str | None] = mapped_column(String(16))
    sph_right: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    cyl_right: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    sph_left: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    cyl_left: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    se_right: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    se_left: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # Spine
    spine_general: Mapped[str | None] = mapped_column(String(16))
    adams: Mapped[str | None] = mapped_column(String(16))
    atr_thoracic: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    atr_thoracolumbar: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    atr_lumbar: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    sagittal: Mapped[str | None] = mapped_column(String(16))
    prone_test: Mapped[str | None] = mapped_column(String(16))
    # 脊柱运动试验: for coronal signs with every ATR below the threshold (resolved/persists)
    motion_test: Mapped[str | None] = mapped_column(String(16))
    # Dental: FDI codes, space-separated
    caries_teeth: Mapped[str | None] = mapped_column(String(200))
    filled_teeth: Mapped[str | None] = mapped_column(String(200))
    missing_teeth: Mapped[str | None] = mapped_column(String(200))
    sealed_teeth: Mapped[str | None] = mapped_column(String(200))
    dmft: Mapped[int | None]
    DMFT: Mapped[int | None] = mapped_column("dmft_permanent")

    # Derived by schoolhealth.rules (evaluation.md codes); recomputed on every change.
    age_band: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    bmi: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    weight_status: Mapped[str | None] = mapped_column(String(16))
    thinness: Mapped[str | None] = mapped_column(String(20))
    stunting: Mapped[str | None] = mapped_column(String(8))
    vision_right: Mapped[str | None] = mapped_column(String(16))
    vision_left: Mapped[str | None] = mapped_column(String(16))
    myopia_right: Mapped[str | None] = mapped_column(String(16))
    myopia_left: Mapped[str | None] = mapped_column(String(16))
    spine: Mapped[str | None] = mapped_column(String(24))
    atr_max: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    caries: Mapped[str | None] = mapped_column(String(8))
    refer: Mapped[str] = mapped_column(String(64), default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    ruleset_version: Mapped[str | None] = mapped_column(String(32))
    eval_errors: Mapped[str | None] = mapped_column(Text)

    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic locking: two people editing one result never silently overwrite each other.
    version: Mapped[int] = mapped_column(default=1, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    session: Mapped[ScreeningSession] = relationship()
    student: Mapped[Student] = relationship()
    findings: Mapped[list[Finding]] = relationship(
        back_populates="result", cascade="all, delete-orphan"
    )


class Finding(db.Model):
    """An abnormal finding of one result (normal findings are not stored as rows).

    Letters and follow-up hang off findings; the session's flags list reads them.
    """

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_session_type", "session_id", "screening_type", "category"),
        Index("ix_findings_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(
        ForeignKey("screening_results.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(ForeignKey("screening_sessions.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    screening_type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[int] = mapped_column(default=0)
    refer: Mapped[bool] = mapped_column(Boolean, default=False)
    standard: Mapped[str] = mapped_column(String(64))
    clause: Mapped[str] = mapped_column(String(200), default="")
    advice_key: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(32))

    result: Mapped[ScreeningResult] = relationship(back_populates="findings")
    student: Mapped[Student] = relationship()
