"""People: pupils (with their class history) and the users who sign in."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import TimestampMixin
from .org import District, Institution, School, SchoolClass


class Student(TimestampMixin, db.Model):
    """A pupil. The national student number (学籍号) is the natural key for every import."""

    __tablename__ = "students"
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex_code"),
        # Roster pages list a school's pupils by class and name; keep that an index scan.
        Index("ix_students_school_class", "school_id", "class_id", "name"),
        Index("ix_students_school_initials", "school_id", "name_initials"),
        # Reports by sex join a district's results to their pupils: (id, sex) is read
        # without touching the wide rows (reports/services.py).
        Index("ix_students_id_sex", "id", "sex"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_number: Mapped[str] = mapped_column(String(32), unique=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    # Pinyin initials of the name (张小明 -> zxm), so nurses can search by typing "zxm".
    name_initials: Mapped[str] = mapped_column(String(50), default="")
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    guardian_phone: Mapped[str | None] = mapped_column(String(32))
    guardian_language: Mapped[str] = mapped_column(String(8), default="zh")

    school: Mapped[School] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship(back_populates="students")
    enrolments: Mapped[list[Enrolment]] = relationship(
        back_populates="student", order_by="Enrolment.school_year"
    )

    @property
    def masked_id_number(self) -> str:
        """Resident ID shown as 1101**********123X: enough to tell pupils apart, no more."""
        return mask_id_number(self.id_number)

    @property
    def masked_student_number(self) -> str:
        """The student number with any embedded resident ID masked (G1101**********123X).

        The national student number is usually "G" + the full ID number, so showing it
        unmasked beside the masked ID would undo the masking.
        """
        return mask_ids(self.student_number)

    def __repr__(self) -> str:
        return f"<Student {self.student_number}>"


# An 18-character resident ID (GB 11643: 17 digits and a check digit, 0-9 or X), alone or
# inside a longer text such as a "G" student number, an audit summary or an error message.
# Digits on either side mean a longer number, not an ID.
ID_NUMBER_PATTERN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")


def mask_ids(text: str | None) -> str:
    """``text`` with every resident ID number in it masked as 1101**********123X.

    The one masking function of the system: pages, exports, audit text, error reports
    and letters all go through it (directly or via :func:`mask_id_number`), so an ID is
    masked the same way wherever it would be shown, whether alone or embedded in a
    student number. The first four digits (province and city) and the last four (sequence
    and check digit) tell pupils apart; the birth date in between is hidden.
    """
    if not text:
        return ""
    return ID_NUMBER_PATTERN.sub(lambda m: m.group()[:4] + "*" * 10 + m.group()[-4:], text)


def mask_id_number(value: str | None) -> str:
    """A value of the ID-number field, masked; a malformed one is masked all the same."""
    if not value:
        return ""
    if ID_NUMBER_PATTERN.fullmatch(value):
        return mask_ids(value)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def is_masked(value: str | None) -> bool:
    """Whether ``value`` was masked by :func:`mask_ids` (an export re-imported, a form)."""
    return bool(value) and "*" * 4 in value


class Enrolment(db.Model):
    """Which class a pupil was in during a school year: the roster's history."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("student_id", "school_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    school_year: Mapped[int]
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)

    student: Mapped[Student] = relationship(back_populates="enrolments")
    school_class: Mapped[SchoolClass] = relationship()


class Role(StrEnum):
    ADMIN = "admin"
    NURSE = "nurse"
    INSTITUTION = "institution"
    OFFICIAL = "official"


class User(UserMixin, TimestampMixin, db.Model):
    """Someone who signs in. The role decides what they may see (see schoolhealth/access.py)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'nurse', 'institution', 'official')", name="role_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Part of every session and remember cookie (see get_id): raising it ends every sign-in
    # of this account at once, on every computer, whoever holds a copy of the cookie.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    school: Mapped[School | None] = relationship()
    institution: Mapped[Institution | None] = relationship()
    district: Mapped[District | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember cookie.

        ``"<id>:<generation>:<signed-in at>"``: the generation lets logout, a password
        change or reset and deactivation void every copy of an old cookie, and the sign-in
        time lets the server itself cap how long a remembered sign-in lasts (a cookie's
        own expiry is only the browser's promise). See schoolhealth/auth/sessions.py.
        """
        from ..auth.sessions import session_id_for

        return session_id_for(self)

    def end_sessions(self) -> None:
        """Void every session and remember cookie of this account (flushed by the caller)."""
        self.session_generation = (self.session_generation or 0) + 1

    def set_password(self, password: str) -> None:
        """A new password ends every existing sign-in: whoever knew the old one is out."""
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
