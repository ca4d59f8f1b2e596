"""Follow-up of referrals: one case per pupil, session and kind of referred finding."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin
from .org import School
from .people import Student, User
from .screening import ScreeningSession

# Screening type -> the kind of case its referred findings open.
CASE_TYPES = ("scoliosis", "myopia", "caries", "weight")
CASE_TYPE_OF_SCREENING = {
    "spine": "scoliosis",
    "vision": "myopia",
    "dental": "caries",
    "growth": "weight",
}
CASE_STATES = (
    "open",
    "letter_sent",
    "slip_returned",
    "outcome_recorded",
    "closed",
    "lost",
    "withdrawn",
)
INTERVENTIONS = ("advice", "clinic")


class FollowupCase(TimestampMixin, db.Model):
    """What became of one referral: letter, returned slip, hospital outcome, closure.

    Opened when the rules refer a finding (screening.results flags the result), so a
    referral whose letter was never printed is counted as outstanding rather than
    invisible: attrition starts at the flag, not at the letter. ``school_id`` is the
    session's school, copied so worklists and completion rates are one indexed query.
    """

    __tablename__ = "followup_cases"
    __table_args__ = (
        UniqueConstraint("session_id", "student_id", "case_type"),
        CheckConstraint(
            "case_type IN ('scoliosis', 'myopia', 'caries', 'weight')", name="case_type_code"
        ),
        CheckConstraint(
            "state IN ('open', 'letter_sent', 'slip_returned', 'outcome_recorded', 'closed', "
            "'lost', 'withdrawn')",
            name="state_code",
        ),
        CheckConstraint(
            "intervention IS NULL OR intervention IN ('advice', 'clinic')",
            name="intervention_code",
        ),
        CheckConstraint(
            "cobb_angle IS NULL OR (cobb_angle >= 0 AND cobb_angle <= 120)", name="cobb_range"
        ),
        Index("ix_followup_cases_school_state", "school_id", "state"),
        Index("ix_followup_cases_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("screening_sessions.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    case_type: Mapped[str] = mapped_column(String(16))
    # The referred finding codes when the case was opened or last re-flagged.
    finding_codes: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20), default="open")
    state_at: Mapped[datetime | None] = mapped_column(DateTime)
    referred_on: Mapped[date] = mapped_column(Date)
    letter_sent_on: Mapped[date | None] = mapped_column(Date)
    slip_returned_on: Mapped[date | None] = mapped_column(Date)

    # The outcome: whether the hospital confirmed the screening finding, and by type
    # the Cobb angle, the cycloplegic spherical equivalents, the caries treatment or
    # the weight intervention.
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    cobb_angle: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    cyclo_se_right: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    cyclo_se_left: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    treated: Mapped[bool | None] = mapped_column(Boolean)
    teeth_treated: Mapped[int | None]
    intervention: Mapped[str | None] = mapped_column(String(16))
    hospital: Mapped[str | None] = mapped_column(String(100))
    doctor: Mapped[str | None] = mapped_column(String(50))
    diagnosis_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    outcome_source: Mapped[str | None] = mapped_column(String(16))
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    session: Mapped[ScreeningSession] = relationship()
    student: Mapped[Student] = relationship()
    school: Mapped[School] = relationship()
    outcome_by: Mapped[User | None] = relationship()

    @property
    def has_outcome(self) -> bool:
        return self.outcome_at is not None
