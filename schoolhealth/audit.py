"""Writing the audit trail. Callers flush with their own change; one place commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEvent, User, mask_ids


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    return value


def snapshot(obj: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of a model, JSON-ready, for an event's before/after."""
    return {f: _json_safe(getattr(obj, f)) for f in fields}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values differ, so an update's event shows what changed."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _masked(value: Any) -> Any:
    """``value`` with every resident ID number in its strings masked (the trail never holds one)."""
    if isinstance(value, str):
        return mask_ids(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def record_event(
    action: str,
    entity: str,
    entity_id: Any = None,
    *,
    school_id: int | None = None,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    user: User | None = None,
) -> AuditEvent:
    """Add one audit event to the session (no commit: it lands with the change it records).

    The summary and the before/after values are passed through ``mask_ids``: a summary
    naming a "G" + ID student number, or an import's error text, cannot put a full
    resident ID number into the trail that admins browse and export.
    """
    actor = user
    ip = None
    if has_request_context():
        ip = request.remote_addr
        if actor is None and current_user and current_user.is_authenticated:
            actor = current_user
    event = AuditEvent(
        user_id=actor.id if actor is not None else None,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        school_id=school_id,
        summary=mask_ids(summary)[:500],
        before=_masked(_json_safe(before)) if before is not None else None,
        after=_masked(_json_safe(after)) if after is not None else None,
        ip_address=ip,
    )
    db.session.add(event)
    return event


def compact_ids(ids: Iterable[int]) -> str:
    """Ids as sorted ranges, "3, 7–12, 40": a class of 40 pupils stays one short line."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = prev = None
    for number in ordered:
        if start is None:
            start = prev = number
        elif number == prev + 1:
            prev = number
        else:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = prev = number
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(parts)


def record_view(
    entity: str,
    entity_id: Any,
    *,
    school_id: int | None,
    summary: str,
    pupil_ids: Iterable[int],
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """One "view" event for a page that showed pupils' health data.

    One event per page view, not per pupil: a class grid of 40 would otherwise bury the
    trail in 40 rows a minute. The pupils shown are listed in the event (``pupils``:
    how many, ``pupil_ids``: their ids as ranges), with whatever identifies the page
    (session, class, filters) in ``details``. Never names or ID numbers: the trail is
    read by administrators of every school.
    """
    shown = list(pupil_ids)
    after = {**(details or {}), "pupils": len(shown), "pupil_ids": compact_ids(shown)}
    return record_event(
        "view", entity, entity_id, school_id=school_id, summary=summary, after=after
    )
