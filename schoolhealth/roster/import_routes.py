"""Views of the roster import (upload, dry-run report, confirm, progress) and export.

The flow is habit 6 of docs/DEVELOPING.md in the browser: an upload is always checked first (the
dry run) and nothing is written until the user confirms the report. The uploaded file
waits server-side in a :class:`~schoolhealth.models.Job` row ("draft") that only its
uploader can see or confirm, only for ``IMPORT_CONFIRM_MINUTES``, and at most
``IMPORT_MAX_DRAFTS`` of them per user. A request never parses a large file: it checks
the file's size (and a spreadsheet's uncompressed size) and then hands the check to a
worker, unless the file is at most ``IMPORT_INLINE_BYTES``. The import itself always
runs on a worker (:mod:`schoolhealth.jobs`); the browser waits on a progress page that
polls JSON, and can cancel.
"""

from __future__ import annotations

import io
import os
import tempfile
from datetime import timedelta
from math import ceil
from pathlib import PurePath
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select, update
from wtforms import BooleanField, SelectField
from wtforms.validators import InputRequired, NumberRange

from ..access import (
    can_access_school,
    get_school_or_404,
    id_arg,
    is_valid_id,
    page_arg,
    roles_required,
    scoped_schools,
)
from ..clock import local_today
from ..extensions import db
from ..fields import StrictIntegerField
from ..jobs import ACTIVE, cancel, enqueue, failure, reap_stale, run_job
from ..models import Job, Role, School, utcnow
from ..rules import numbers
from ..tabular import FileRejected, check_upload
from . import bp
from .exporting import FORMATS, MIMETYPES, export_roster
from .importing import (
    ERROR,
    ROSTER_FIELDS,
    Issue,
    map_roster_headers,
    read_roster,
    upload_limits,
)
from .services import current_school_year

ISSUES_PER_PAGE = 100
SEVERAL_SCHOOLS = 0  # the admin's "school" choice for a file with a school_code column

# FileRejected.key -> the message shown on the form (tabular.py's text is English only).
FILE_MESSAGES = {
    "empty": _l("The file is empty."),
    "type": _l("This is not a CSV or spreadsheet file (accepted: .csv, .txt, .xlsx, .xls, .ods)."),
    "not_spreadsheet": _l(
        "This file is a ZIP archive, not a spreadsheet. Save the roster from Excel or WPS "
        "as .xlsx or .csv and upload it again."
    ),
    "web_page": _l(
        "This file is a web page (HTML) with a spreadsheet's name, not a spreadsheet. Open "
        "it in Excel or WPS, save it as .xlsx or .csv and upload that file."
    ),
    "encoding": _l(
        "The file's text encoding is not UTF-8 or GBK/GB18030. Save it as 'CSV UTF-8' "
        "from Excel and upload it again."
    ),
    "no_header": _l("The first row must hold the column headers, but it is empty."),
    "csv": _l("The CSV file is malformed (for example, a quote that is never closed)."),
    "spreadsheet": _l(
        "The spreadsheet could not be opened; it may be damaged or password-protected."
    ),
    "too_many_rows": _l("The file has more than %(max_rows)s rows; split it into smaller files."),
    "too_many_rows_per_school": _l(
        "The file has %(rows)s pupils for one school; at most %(max_rows)s can be imported "
        "for a school. Split the file, or ask an administrator."
    ),
    "too_many_rows_for_school_code": _l(
        "The file has %(rows)s pupils for the school %(code)s; at most %(max_rows)s can be "
        "imported for a school. Split the file, or ask an administrator."
    ),
    "file_too_large": _l(
        "The file is %(size_mb)s MB; a file of this type may have at most %(max_mb)s MB."
    ),
    "uncompressed_too_large": _l(
        "The spreadsheet expands to more than %(max_mb)s MB when opened; it cannot be a "
        "school roster. Save the roster sheet alone as .xlsx or .csv and upload that."
    ),
    "compression_ratio": _l(
        "The spreadsheet is compressed %(ratio)s times (at most %(max_ratio)s is accepted); "
        "it cannot be a school roster. Save the roster sheet alone as .xlsx or .csv."
    ),
}

# jobs.JobFailure.key -> the message shown when an import job failed that way.
JOB_MESSAGES = {
    "upload_gone": _l("The uploaded file is no longer available; upload it again."),
    "out_of_memory": _l(
        "The file needed more memory than a background job may use; nothing was written. "
        "Split it into smaller files."
    ),
    "worker_lost": _l(
        "The worker running this job stopped before it finished; nothing was written. "
        "Upload the file again."
    ),
}
# Parameters shown as numbers with thousands separators.
NUMBER_PARAMS = ("max_rows", "rows")


class RosterImportForm(FlaskForm):
    file = FileField(
        _l("Roster file"),
        validators=[FileRequired(_l("Choose a roster file."))],
        description=_l(
            "CSV (UTF-8 or GBK), .xlsx, .xls or .ods with the columns of the roster "
            "format: 学籍号, 姓名, 性别, 出生日期, 年级, 班级 …"
        ),
    )
    school_id = SelectField(_l("School"), coerce=numbers.coerce_int, validators=[InputRequired()])
    school_year = StrictIntegerField(
        _l("School year (the year it starts in)"),
        validators=[InputRequired(), NumberRange(min=2000, max=2100)],
    )
    skip_invalid_rows = BooleanField(
        _l("Skip invalid rows (import the valid rows even if other rows have errors)")
    )


# --- helpers -----------------------------------------------------------------------------


def _confirm_ttl() -> timedelta:
    return timedelta(minutes=current_app.config.get("IMPORT_CONFIRM_MINUTES", 60))


def _expire_old_drafts() -> None:
    """Drop the kept files of previews nobody confirmed in time (anyone's), and keep the
    uploader's own waiting files under ``IMPORT_MAX_DRAFTS``: the oldest make room."""
    db.session.execute(
        update(Job)
        .where(
            Job.kind == "roster_import",
            Job.status == "draft",
            Job.created_at < utcnow() - _confirm_ttl(),
        )
        .values(status="expired", payload=None)
    )
    keep = max(current_app.config["IMPORT_MAX_DRAFTS"] - 1, 0)
    drafts = db.session.scalars(
        select(Job)
        .where(Job.kind == "roster_import", Job.status == "draft", Job.user_id == current_user.id)
        .order_by(Job.created_at.desc(), Job.id.desc())
    ).all()
    for old in drafts[keep:]:
        old.status = "expired"
        old.payload = None
        flash(
            _(
                "Your unconfirmed upload %(file)s was discarded to make room (at most "
                "%(max)s uploads wait for confirmation).",
                file=old.payload_name or "",
                max=current_app.config["IMPORT_MAX_DRAFTS"],
            ),
            "info",
        )


def _is_expired(job: Job) -> bool:
    return job.status == "draft" and job.created_at < utcnow() - _confirm_ttl()


def _get_import_job_or_404(job_id: int) -> Job:
    """The import job of the signed-in user, in a school they may still use; else 404.

    An upload belongs to whoever uploaded it: another user, even of the same school,
    can neither see its report nor confirm it.
    """
    job = db.session.get(Job, job_id) if is_valid_id(job_id) else None
    if (
        job is None
        or job.kind != "roster_import"
        or job.user_id != current_user.id
        or (job.school_id is not None and not can_access_school(current_user, job.school_id))
    ):
        abort(404)
    return job


def _preview_job(job: Job) -> Job | None:
    preview_id = (job.params or {}).get("preview_job_id")
    return db.session.get(Job, preview_id) if preview_id is not None else None


def _dispatch_check(preview: Job, inline: bool) -> None:
    """Check a small file here and now; queue a larger one for a worker."""
    if inline:
        db.session.commit()
        run_job(preview.id)
    else:
        enqueue(preview)  # commits, then queues


def _file_message(exc: FileRejected) -> str:
    return _known_message(exc.key, exc.params) or str(exc)


def _known_message(key: str | None, params: dict[str, Any]) -> str | None:
    """The translated text of a file or job problem, or None for a key without one."""
    message = FILE_MESSAGES.get(key or "") or JOB_MESSAGES.get(key or "")
    if message is None:
        return None
    if "%(" not in str(message):
        return str(message)
    values: dict[str, Any] = dict(params)
    for name in NUMBER_PARAMS:
        if isinstance(values.get(name), int):
            values[name] = f"{values[name]:,}"
    try:
        return str(message) % values
    except (KeyError, TypeError, ValueError):
        return None


def _failure_message(job: Job) -> str:
    """Why a job failed, in the reader's language; an unexpected error keeps its own text."""
    key, params = failure(job)
    known = _known_message(key, params)
    if known is not None:
        return known
    return _("an unexpected error occurred (%(detail)s)", detail=job.error or "")


def _school_choices(form: RosterImportForm) -> School | None:
    """Fill the school list; a nurse's school is fixed. Returns the fixed school."""
    if current_user.role == Role.NURSE:
        if current_user.school_id is None:
            abort(404)
        school = get_school_or_404(current_user.school_id)
        del form.school_id  # fixed: never taken from the request
        return school
    schools = db.session.scalars(scoped_schools(current_user)).all()
    form.school_id.choices = [(s.id, f"{s.code} {s.name}") for s in schools]
    form.school_id.choices.append((SEVERAL_SCHOOLS, _("Several schools (school_code column)")))
    return None


def _page_of(items: list[Any], page: int) -> tuple[list[Any], int]:
    pages = max(1, ceil(len(items) / ISSUES_PER_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * ISSUES_PER_PAGE
    return items[start : start + ISSUES_PER_PAGE], pages


def _issues_view(report: dict[str, Any]) -> dict[str, Any]:
    issues = [Issue.from_dict(d) for d in report.get("issues", [])]
    page = request.args.get("page", 1, type=page_arg)
    shown, pages = _page_of(issues, page)
    return {
        "issues": shown,
        "issues_stored": len(issues),
        "issues_total": report.get("issues_total", len(issues)),
        "page": min(max(page, 1), pages),
        "pages": pages,
    }


# --- views -------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.NURSE)
def import_roster():
    """Upload form; a valid upload is checked (dry run) and its report shown."""
    form = RosterImportForm()
    fixed_school = _school_choices(form)
    if fixed_school is not None and request.method == "POST":
        posted = request.form.get("school_id", type=id_arg)
        if posted is not None and posted != fixed_school.id:
            abort(404)  # another school's roster, as if it did not exist
    if request.method == "GET":
        form.school_year.data = current_school_year(local_today())
    status = 200
    if form.validate_on_submit():
        school_id = fixed_school.id if fixed_school is not None else form.school_id.data
        school = get_school_or_404(school_id) if school_id != SEVERAL_SCHOOLS else None
        upload = form.file.data
        file_name = PurePath(upload.filename or "roster").name[-255:]
        data = upload.read()
        problems, rows, inline = _check_upload(data, file_name, one_school=school is not None)
        if problems:
            form.file.errors = [*form.file.errors, *problems]
            status = 400
        else:
            _expire_old_drafts()
            job = _create_import_job(data, file_name, rows, school, form, inline=inline)
            return redirect(url_for("roster.show_import", job_id=job.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "roster/import_form.html", form=form, fixed_school=fixed_school, fields=ROSTER_FIELDS
    ), status


def _check_upload(data: bytes, file_name: str, *, one_school: bool) -> tuple[list[str], int, bool]:
    """File-level problems found before anything is kept, the number of rows (0 when not
    read yet), and whether the file is small enough to be checked in this request.

    Every upload gets the cheap checks (size, a spreadsheet's uncompressed size and
    compression ratio, from its directory alone). Only a small file is read here, so a
    nurse sees an unreadable file or a missing column at once, on the form; a larger
    one is read by a worker and its problems shown on the report page.
    """
    limits = upload_limits()
    try:
        work = check_upload(data, file_name, limits)
    except FileRejected as exc:
        return [_file_message(exc)], 0, False
    if work > current_app.config["IMPORT_INLINE_BYTES"]:
        return [], 0, False
    try:
        table = read_roster(data, file_name, one_school=one_school, limits=limits)
    except FileRejected as exc:
        return [_file_message(exc)], 0, False
    _columns, issues = map_roster_headers(table.headers)
    problems = [i.message for i in issues if i.severity == ERROR]
    if not problems and not table.rows:
        problems.append(_("The file has a header row but no pupils."))
    return problems, len(table.rows), True


def _create_import_job(
    data: bytes,
    file_name: str,
    rows: int,
    school: School | None,
    form: RosterImportForm,
    *,
    inline: bool,
) -> Job:
    job = Job(
        kind="roster_import",
        status="draft",
        user_id=current_user.id,
        school_id=school.id if school is not None else None,
        params={
            "school_year": form.school_year.data,
            "skip_invalid_rows": bool(form.skip_invalid_rows.data),
        },
        payload=data,
        payload_name=file_name,
        total=rows,
    )
    db.session.add(job)
    db.session.flush()
    preview = Job(
        kind="roster_preview",
        user_id=current_user.id,
        school_id=job.school_id,
        params={"import_job_id": job.id},
        total=rows,
    )
    db.session.add(preview)
    db.session.flush()
    job.params = {**job.params, "preview_job_id": preview.id}
    _dispatch_check(preview, inline)
    return job


@bp.route("/import/<int:job_id>")
@roles_required(Role.ADMIN, Role.NURSE)
def show_import(job_id: int):
    """The dry-run report (with Confirm), the progress of a running job, or the outcome."""
    job = _get_import_job_or_404(job_id)
    if _is_expired(job) or job.status in ("expired", "cancelled"):
        return _gone(job)
    _reap_if_stale(job)
    school = db.session.get(School, job.school_id) if job.school_id else None
    if job.status == "draft":
        preview = _preview_job(job)
        if preview is None or preview.status in ("queued", "running"):
            return render_template(
                "roster/import_progress.html", job=job, school=school, stage=_("Checking the file")
            )
        if preview.status == "failed":
            return render_template(
                "roster/import_result.html",
                job=job,
                school=school,
                failed=_failure_message(preview),
                summary=None,
                report={},
                counts={},
                **_issues_view({}),
            )
        report = preview.result or {}
        return render_template(
            "roster/import_preview.html",
            job=job,
            school=school,
            report=report,
            issue_message=lambda group: Issue.from_dict(group).message,
            counts=report.get("counts", {}),
            can_confirm=_can_confirm(job, report),
            expires_at=job.created_at + _confirm_ttl(),
            **_issues_view(report),
        )
    if job.status in ("queued", "running"):
        return render_template(
            "roster/import_progress.html", job=job, school=school, stage=_("Importing")
        )
    result = job.result or {}
    report = result.get("report") or {}
    return render_template(
        "roster/import_result.html",
        job=job,
        school=school,
        failed=_failure_message(job) if job.status == "failed" else None,
        summary=result.get("summary"),
        report=report,
        counts=report.get("counts", {}),
        **_issues_view(report),
    )


def _reap_if_stale(job: Job) -> None:
    """A page about a job whose worker died says so, even when no worker runs the reaper."""
    watched = _preview_job(job) if job.status == "draft" else job
    if watched is not None and watched.status == "running" and reap_stale(job_id=watched.id):
        db.session.refresh(watched)


def _can_confirm(job: Job, report: dict[str, Any]) -> bool:
    counts = report.get("counts") or {}
    valid = counts.get("new", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)
    if valid == 0:
        return False
    return not counts.get("errors") or bool(job.params.get("skip_invalid_rows"))


def _gone(job: Job):
    if job.status == "draft":
        job.status = "expired"
        job.payload = None
        db.session.commit()
    flash(_("This upload has expired or was cancelled; upload the file again."), "warning")
    return redirect(url_for("roster.import_roster"))


@bp.route("/import/<int:job_id>/confirm", methods=["POST"])
@roles_required(Role.ADMIN, Role.NURSE)
def confirm_import(job_id: int):
    """Import the checked file: all rows, or the valid ones if the user chose to skip."""
    job = _get_import_job_or_404(job_id)
    if _is_expired(job) or job.status in ("expired", "cancelled"):
        return _gone(job)
    if job.status != "draft":
        flash(_("This file has already been imported."), "info")
        return redirect(url_for("roster.show_import", job_id=job.id))
    preview = _preview_job(job)
    if preview is None or preview.status != "done":
        return redirect(url_for("roster.show_import", job_id=job.id))
    if not _can_confirm(job, preview.result or {}):
        flash(
            _(
                "The file has errors: fix them and upload it again, or upload it again with "
                "“Skip invalid rows”."
            ),
            "error",
        )
        return redirect(url_for("roster.show_import", job_id=job.id))
    job.status = "queued"
    job.total = (preview.result or {}).get("counts", {}).get("rows", 0)
    # Never in the request: a worker writes it, and the page shows its progress.
    enqueue(job)
    return redirect(url_for("roster.show_import", job_id=job.id))


@bp.route("/import/<int:job_id>/cancel", methods=["POST"])
@roles_required(Role.ADMIN, Role.NURSE)
def cancel_import(job_id: int):
    """Discard a checked upload, or stop a queued or running (perhaps stuck) import.

    A running import's worker finishes on its own, but its writes are rolled back
    (see :func:`schoolhealth.jobs.execute`): a cancelled import imports nothing.
    """
    job = _get_import_job_or_404(job_id)
    if job.status == "draft":
        preview = _preview_job(job)
        if preview is not None and preview.status in ACTIVE:
            cancel(preview, current_user)
        job.status = "cancelled"
        job.payload = None
        db.session.commit()
        flash(_("The upload was discarded; nothing was imported."), "info")
    elif job.status in ACTIVE:
        if cancel(job, current_user):
            flash(_("The import was cancelled; nothing was imported."), "info")
        else:
            flash(_("The import had already finished."), "info")
            return redirect(url_for("roster.show_import", job_id=job.id))
    return redirect(url_for("roster.import_roster"))


@bp.route("/import/<int:job_id>/status.json")
@roles_required(Role.ADMIN, Role.NURSE)
def poll_import(job_id: int):
    """Small JSON for the progress page: state, rows checked, and whether to reload."""
    job = _get_import_job_or_404(job_id)
    _reap_if_stale(job)
    watched = job
    if job.status == "draft":
        watched = _preview_job(job) or job
    state = watched.status
    if state == "running" and watched.total and watched.progress >= watched.total:
        state = "writing" if watched is job else "running"
    finished = watched.status in ("done", "failed", "cancelled") or job.status in (
        "expired",
        "cancelled",
    )
    return jsonify(
        state=state,
        progress=watched.progress,
        total=watched.total,
        finished=finished,
        url=url_for("roster.show_import", job_id=job.id),
    )


@bp.route("/export")
@roles_required(Role.ADMIN, Role.NURSE)
def download_roster():
    """The school's roster as .csv or .xlsx, ID numbers masked; audited.

    ``full_ids=1`` (admins only: a nurse asking gets 403) writes resident ID numbers and
    student numbers in full, for a registry submission; the audit event says so.
    """
    school_id = request.args.get("school_id", type=id_arg) or current_user.school_id
    if school_id is None:
        abort(404)
    school = get_school_or_404(school_id)
    fmt = request.args.get("format", "csv")
    if fmt not in FORMATS:
        abort(400)
    include_inactive = request.args.get("include_inactive", "") in ("1", "true", "on", "y")
    full_ids = request.args.get("full_ids", "") in ("1", "true", "on", "y")
    if full_ids and current_user.role != Role.ADMIN:
        abort(403)
    download_name = f"roster-{school.code}-{local_today().isoformat()}.{fmt}"
    # XlsxWriter's constant_memory mode writes to a path; the finished file is read back
    # (a 100,000-pupil roster is a few MB) so no temporary file outlives the request.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, download_name)
        export_roster(
            school,
            path,
            fmt=fmt,
            include_inactive=include_inactive,
            user=current_user,
            file_name=download_name,
            full_ids=full_ids,
        )
        with open(path, "rb") as handle:
            data = handle.read()
    db.session.commit()
    return send_file(
        io.BytesIO(data), mimetype=MIMETYPES[fmt], as_attachment=True, download_name=download_name
    )
