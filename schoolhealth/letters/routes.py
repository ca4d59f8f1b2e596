"""Views of parent letters: a session's letters page (batches and the register), one
pupil's letter, batch progress and download, the wording screen, and the parents' page.

Access: nurses their school's sessions and pupils, administrators all, through
:mod:`schoolhealth.access` (out of scope = 404). Institution users and officials get 403:
letters go from the school to its parents. The parents' page needs no sign-in: a code
and the pupil's birth date, throttled per code and per client, every attempt audited.
"""

from __future__ import annotations

import io
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from .. import jobs
from ..access import (
    get_session_or_404,
    get_student_or_404,
    roles_required,
    scoped_schools,
    scoped_sessions,
)
from ..audit import record_event, record_view
from ..extensions import db
from ..models import (
    District,
    Job,
    Letter,
    LetterBatch,
    Role,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
)
from . import bp, forms, pdf, services, texts

LETTER_ROLES = (Role.ADMIN, Role.NURSE)
PDF = "application/pdf"


def _font_error(exc: pdf.LetterFontMissing) -> None:
    current_app.logger.error("%s", exc)
    flash(
        _("Letters cannot be printed: the letter font is missing. Ask the administrator."), "error"
    )


# ----------------------------------------------------------------- a session's letters


@bp.route("/letters/sessions/<int:session_id>")
@roles_required(*LETTER_ROLES)
def show_session(session_id: int):
    """Print a class's letters (one click per class) and follow the register."""
    session = get_session_or_404(session_id)
    letters = services.session_register(session)
    page = render_template(
        "letters/session_letters.html",
        session=session,
        classes=services.letter_classes(session),
        form=forms.BatchForm(),
        register_form=forms.RegisterForm(),
        letters=letters,
        counts=services.register_counts(letters),
        status_labels=forms.STATUS_LABELS,
    )
    # The register lists each pupil's findings: one audit event for the page view.
    record_view(
        "letter",
        None,
        school_id=session.school_id,
        summary=f"letter register of session {session.id}: {len(letters)} pupils",
        pupil_ids=[letter.student_id for letter in letters],
        details={"session_id": session.id, "page": "letter_register"},
    )
    db.session.commit()
    return page


@bp.route("/letters/sessions/<int:session_id>/batches", methods=["POST"])
@roles_required(*LETTER_ROLES)
def start_batch(session_id: int):
    """Queue a class PDF (button ``class_id``) or the school's ZIP (``class_id=school``)."""
    session = get_session_or_404(session_id)
    form = forms.BatchForm()
    if not form.validate_on_submit():
        abort(400)
    target = request.form.get("class_id", "")
    school_class = None
    if target != "school":
        try:
            class_id = int(target)
        except ValueError:
            abort(400)
        school_class = db.session.get(SchoolClass, class_id) if 0 < class_id < 2**31 else None
        if school_class is None or school_class.school_id != session.school_id:
            abort(404)
    try:
        batch = services.start_batch(
            session,
            school_class,
            language_mode=form.language.data,
            include_normal=form.include_normal.data,
            duplex=form.duplex.data,
            user=current_user,
        )
    except pdf.LetterFontMissing as exc:
        db.session.rollback()
        _font_error(exc)
        return redirect(url_for("letters.show_session", session_id=session.id))
    return redirect(url_for("letters.show_batch", batch_id=batch.id, auto=1))


def _batch_or_404(batch_id: int) -> tuple[LetterBatch, ScreeningSession]:
    batch = db.session.get(LetterBatch, batch_id) if 0 < batch_id < 2**31 else None
    if batch is None:
        abort(404)
    session = get_session_or_404(batch.session_id)
    return batch, session


@bp.route("/letters/batches/<int:batch_id>")
@roles_required(*LETTER_ROLES)
def show_batch(batch_id: int):
    """Progress of a batch; when it is ready the browser starts the download by itself."""
    batch, session = _batch_or_404(batch_id)
    job = db.session.get(Job, batch.job_id) if batch.job_id else None
    if job is not None and job.status == "running" and jobs.reap_stale(job_id=job.id):
        db.session.refresh(job)  # its worker died: say so rather than wait forever
    school_class = db.session.get(SchoolClass, batch.class_id) if batch.class_id else None
    return render_template(
        "letters/batch_show.html",
        batch=batch,
        job=job,
        session=session,
        school_class=school_class,
        can_cancel=_can_cancel(job),
        auto=request.args.get("auto") == "1" and batch.content is not None,
    )


def _can_cancel(job: Job | None) -> bool:
    """Whoever started a batch, or an administrator, may stop it while it waits or runs."""
    return (
        job is not None
        and job.status in jobs.ACTIVE
        and (job.user_id == current_user.id or current_user.role == Role.ADMIN)
    )


@bp.route("/letters/batches/<int:batch_id>/cancel", methods=["POST"])
@roles_required(*LETTER_ROLES)
def cancel_batch(batch_id: int):
    """Stop a queued or stuck batch; a running one's letters are rolled back when it ends."""
    batch, _session = _batch_or_404(batch_id)
    job = db.session.get(Job, batch.job_id) if batch.job_id else None
    if job is None or not (job.user_id == current_user.id or current_user.role == Role.ADMIN):
        abort(404)
    if jobs.cancel(job, current_user):
        flash(_("The letters were cancelled."), "info")
    return redirect(url_for("letters.show_batch", batch_id=batch.id))


@bp.route("/letters/batches/<int:batch_id>/download")
@roles_required(*LETTER_ROLES)
def download_batch(batch_id: int):
    batch, _session = _batch_or_404(batch_id)
    if batch.content is None:
        abort(404)
    services.mark_downloaded(batch, user=current_user, ip_address=request.remote_addr)
    db.session.commit()
    return send_file(
        io.BytesIO(batch.content),
        mimetype=PDF if batch.kind == "class" else "application/zip",
        as_attachment=True,
        download_name=batch.file_name,
        max_age=0,
    )


@bp.route("/letters/sessions/<int:session_id>/register", methods=["POST"])
@roles_required(*LETTER_ROLES)
def update_register(session_id: int):
    """Mark the ticked letters printed, handed out or slip returned."""
    session = get_session_or_404(session_id)
    form = forms.RegisterForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [int(x) for x in request.form.getlist("letter_id") if x.isdigit() and len(x) < 10]
    letters = db.session.scalars(
        select(Letter).where(Letter.session_id == session.id, Letter.id.in_(ids))
    ).all()
    count = services.set_status(letters, form.status.data, user=current_user)
    db.session.commit()
    flash(_("%(num)d letters updated.", num=count), "success")
    return redirect(url_for("letters.show_session", session_id=session.id) + "#register")


# ----------------------------------------------------------------- one pupil's letter


@bp.route("/letters/sessions/<int:session_id>/pupils/<int:student_id>", methods=["POST"])
@roles_required(*LETTER_ROLES)
def pupil_letter(session_id: int, student_id: int):
    """The PDF of one pupil's letter for one session (from the record or the flags list)."""
    session = get_session_or_404(session_id)
    student = get_student_or_404(student_id)
    if student.school_id != session.school_id:
        abort(404)
    form = forms.SingleLetterForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        letter, data = services.single_letter(
            session, student, language_mode=form.language.data, user=current_user
        )
    except pdf.LetterFontMissing as exc:
        db.session.rollback()
        _font_error(exc)
        return redirect(url_for("screening.pupil_record", student_id=student.id))
    except services.LetterError:
        db.session.rollback()
        flash(_("This pupil has no screening result in this session."), "error")
        return redirect(url_for("screening.pupil_record", student_id=student.id))
    record_event(
        "download",
        "letter",
        letter.id,
        school_id=letter.school_id,
        summary=services.letter_file_name(letter),
        after={"student_id": student.id, "session_id": session.id, "language": letter.language},
    )
    db.session.commit()
    return send_file(
        io.BytesIO(data),
        mimetype=PDF,
        as_attachment=True,
        download_name=services.letter_file_name(letter),
        max_age=0,
    )


@bp.app_context_processor
def _letters_helpers() -> dict[str, Any]:
    return {"pupil_letters_block": pupil_letters_block}


def pupil_letters_block(student: Any) -> dict[str, Any] | None:
    """What the pupil record's letters block shows: the register rows and the sessions
    a letter can be printed for (nurses and administrators only; else None)."""
    if not current_user.is_authenticated or current_user.role not in LETTER_ROLES:
        return None
    session_ids = scoped_sessions(current_user).with_only_columns(ScreeningSession.id)
    letters = services.pupil_letters(student, session_ids)
    sessions = db.session.scalars(
        scoped_sessions(current_user)
        .where(ScreeningSession.school_id == student.school_id)
        .join(
            ScreeningResult,
            (ScreeningResult.session_id == ScreeningSession.id)
            & (ScreeningResult.student_id == student.id)
            & ScreeningResult.absent.is_(False),
        )
        .order_by(ScreeningSession.start_date.desc())
    ).all()
    return {
        "letters": letters,
        "sessions": sessions,
        "form": forms.SingleLetterForm(),
        "status_labels": forms.STATUS_LABELS,
    }


# ----------------------------------------------------------------- wording (admins)


@bp.route("/letters/texts", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_texts():
    """Letter wording per district or school and language; each save is a new version."""
    scope_form = forms.TextsScopeForm(request.args)
    districts = db.session.scalars(select(District).order_by(District.name)).all()
    schools = db.session.scalars(scoped_schools(current_user)).all()
    scopes = {f"district:{d.id}": d.name for d in districts} | {
        f"school:{s.id}": f"{s.name} ({s.code})" for s in schools
    }
    scope_form.scope.choices = [SelectChoice(k, v) for k, v in scopes.items()]
    scope_value = request.args.get("scope") or next(iter(scopes), "")
    language = request.args.get("language", "zh")
    if language not in texts.DEFAULTS:
        abort(404)
    if not scope_value:
        return render_template("letters/texts_form.html", scope_form=scope_form, form=None)
    try:
        scope, raw_id = scope_value.split(":", 1)
        scope_id = int(raw_id)
    except ValueError:
        abort(404)
    if scope not in ("district", "school") or scope_value not in scopes:
        abort(404)
    scope_form.scope.data = scope_value
    scope_form.language.data = language
    latest = services._latest_text(scope, scope_id, language)
    current = texts.wording(language, latest.texts if latest else {})
    form = forms.texts_form(language, current, request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate() and forms.check_texts(form):
        row = services.save_wording(
            scope, scope_id, language, forms.form_values(form), user=current_user
        )
        db.session.commit()
        flash(_("Letter wording saved as version %(version)s.", version=row.version), "success")
        return redirect(url_for("letters.edit_texts", scope=scope_value, language=language))
    return render_template(
        "letters/texts_form.html",
        scope_form=scope_form,
        form=form,
        version=latest.version if latest else 0,
        scope_value=scope_value,
        language=language,
    )


# ----------------------------------------------------------------- parents


@bp.route("/l", methods=["GET", "POST"])
@bp.route("/l/<code>", methods=["GET", "POST"])
def parent_letter(code: str | None = None):
    """A parent downloads the letter with its code and the pupil's birth date.

    Nothing about the pupil is shown before both match; unknown codes and wrong dates
    get the same answer; lock-outs per code and per client address.
    """
    form = forms.ParentForm()
    if request.method == "GET" and code:
        form.code.data = services.normalize_code(code)[: services.CODE_LENGTH]
    message = None
    status = 200
    if form.validate_on_submit():
        lookup = services.parent_lookup(form.code.data, form.birth_date.data, request.remote_addr)
        if lookup.letter is not None:
            try:
                data = services.render_letter(lookup.letter)
            except (pdf.LetterFontMissing, services.LetterError):
                db.session.rollback()
                abort(503)
            db.session.commit()
            return send_file(
                io.BytesIO(data),
                mimetype=PDF,
                as_attachment=True,
                download_name="letter.pdf",
                max_age=0,
            )
        db.session.commit()
        if lookup.reason == "locked":
            when = format_datetime(lookup.locked_until, "short") if lookup.locked_until else ""
            message = _("Too many attempts. Please try again after %(time)s.", time=when)
            status = 429
        elif lookup.reason == "expired":
            message = _("This code has expired. Please ask the school for the letter.")
        else:
            message = _("The code and the date of birth do not match a letter.")
    return render_template("letters/parent.html", form=form, message=message), status
