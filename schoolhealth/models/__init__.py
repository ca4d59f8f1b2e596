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
from .people import Enrolment, Role, Student, User, is_masked, mask_id_number, mask_ids
from .screening import (
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
    "mask_ids",
    "is_masked",
    "utcnow",
]
