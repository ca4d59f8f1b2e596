"""All models, imported here so Alembic autogenerate sees every table."""

from .audit import AuditEvent
from .base import TimestampMixin, utcnow
from .followup import CASE_STATES, CASE_TYPE_OF_SCREENING, CASE_TYPES, INTERVENTIONS, FollowupCase
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
    NOT_SCREENED_REASONS,
    SCREENING_TYPES,
    Finding,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
)

__all__ = [
    "CASE_STATES",
    "CASE_TYPES",
    "CASE_TYPE_OF_SCREENING",
    "INTERVENTIONS",
    "FollowupCase",
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
    "mask_ids",
    "is_masked",
    "utcnow",
]
