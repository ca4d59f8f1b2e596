"""Background jobs (bulk imports, letter batches) with progress users can watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import TimestampMixin


class Job(TimestampMixin, db.Model):
    """A queued unit of work, and the queue itself.

    The row is the user's view of it (status, progress, result) and, without Redis, the
    queue: ``flask worker`` claims ``queued`` rows (see :mod:`schoolhealth.jobs`). With
    Redis, RQ carries the job id to a worker, which claims the row the same way.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # queued -> running -> done | failed | cancelled; an import waits as "draft" (then
    # "expired" or "cancelled") until its uploader confirms the checked file.
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Uploaded file bytes are kept until the job finishes so a retry can run it again.
    payload_name: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[bytes | None] = mapped_column(db.LargeBinary)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Execution: who claimed the job ("host:pid"), when, and the worker's last sign of
    # life. A running job whose heartbeat is stale lost its worker and is failed.
    worker: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
