"""All models, imported here so Alembic autogenerate sees every table."""

from .audit import AuditEvent
from .base import TimestampMixin, utcnow
from .jobs import Job
from .letters import (
    LETTER_LANGUAGES,
    LETTER_STATUSES,
    Letter,
    LetterBatch,
    LetterText,
    LetterThrottle,
)
from .org import District, Institution, School, SchoolClass
from .people import Enrolment, Role, Student, User, mask_id_number
from .screening import (
    NOT_SCREENED_REASONS,
    SCREENING_TYPES,
    Finding,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
)

__all__ = [
    "LETTER_LANGUAGES",
    "LETTER_STATUSES",
    "Letter",
    "LetterBatch",
    "LetterText",
    "LetterThrottle",
    "NOT_SCREENED_REASONS",
    "SCREENING_TYPES",
    "AuditEvent",
    "District",
    "Enrolment",
    "Finding",
    "Institution",
    "Job",
    "Role",
    "School",
    "SchoolClass",
    "ScreeningResult",
    "ScreeningSession",
    "SessionStatus",
    "Student",
    "TimestampMixin",
    "User",
    "mask_id_number",
    "utcnow",
]
