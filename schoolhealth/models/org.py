"""Organisations: districts, schools, classes and screening institutions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TimestampMixin

if TYPE_CHECKING:
    from .people import Student


class District(TimestampMixin, db.Model):
    """A district (区县) whose officials read prevalence across its schools."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Growth reference the district flags BMI with: wst586 (national), who2007 or cdc2000.
    growth_reference: Mapped[str] = mapped_column(String(16), default="wst586")

    schools: Mapped[list[School]] = relationship(back_populates="district")

    def __repr__(self) -> str:
        return f"<District {self.name}>"


class School(TimestampMixin, db.Model):
    """A primary or secondary school; the unit every nurse's access is scoped to."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)

    district: Mapped[District] = relationship(back_populates="schools", lazy="joined")
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school")

    def __repr__(self) -> str:
        return f"<School {self.code} {self.name}>"


class SchoolClass(TimestampMixin, db.Model):
    """A class (班) of one school year: grade 1–12 and a name such as "3"."""

    __tablename__ = "school_classes"
    __table_args__ = (
        UniqueConstraint("school_id", "school_year", "grade", "name"),
        CheckConstraint("grade BETWEEN 1 AND 12", name="grade_range"),
        Index("ix_school_classes_school_year", "school_id", "school_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    # The calendar year the school year starts in: 2026 means 2026–2027.
    school_year: Mapped[int]
    grade: Mapped[int]
    name: Mapped[str] = mapped_column(String(32))

    school: Mapped[School] = relationship(back_populates="classes")
    students: Mapped[list[Student]] = relationship(back_populates="school_class")

    @property
    def label(self) -> str:
        return f"{self.grade}-{self.name}"

    def __repr__(self) -> str:
        return f"<SchoolClass {self.school_id} {self.school_year} {self.label}>"


class Institution(TimestampMixin, db.Model):
    """A contracted screening institution (筛查机构), e.g. a clinic or hospital team."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)

    def __repr__(self) -> str:
        return f"<Institution {self.name}>"
