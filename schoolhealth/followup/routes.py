"""Views of follow-up: the nurse's worklist, a case's outcome, reminders, bulk outcomes.

Nurses work their own school's cases; admins any school's; institutions upload outcomes
for the schools whose sessions they ran (access.py's scoping, nothing of their own).
Officials see only the completion figures (the reports page and its export, the
dashboard), never a case. A case out of scope is 404 like a pupil.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import PurePath

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import update
from wtforms import SelectChoice

from ..access import get_school_or_404, id_arg, is_valid_id, roles_required, scoped_schools
from ..audit import record_event
from ..extensions import db
from ..labels import school_class_label
from ..letters.pdf import LetterFontMissing
from ..letters.services import ensure_font
from ..models import FollowupCase, Job, Role, School, utcnow
from ..tabular import ACCEPTED_EXTENSIONS
from . import bp, forms, importing, pdf, services

CASE_ROLES = (Role.ADMIN, Role.NURSE)
UPLOAD_ROLES = (Role.ADMIN, Role.NURSE, Role.INSTITUTION)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def get_case_or_404(case_id: int) -> FollowupCase:
    case_ = (
        db.session.scalars(
            services.scoped_cases(current_user).where(FollowupCase.id == case_id)
        ).one_or_none()
        if is_valid_id(case_id)
        else None
    )
    if case_ is None:
        abort(404)
    return case_


def _school() -> School:
    """The nurse's school; an admin picks one (``?school_id=``, else the first)."""
    if current_user.role == Role.NURSE:
        if current_user.school_id is None:
            abort(404)
        return get_school_or_404(current_user.school_id)
    school_id = request.args.get("school_id", type=id_arg)
    if school_id is not None:
        return get_school_or_404(school_id)
    school = db.session.scalars(scoped_schools(current_user).limit(1)).first()
    if school is None:
        abort(404)
    return school


def _filters(form: forms.WorklistFilterForm, school: School) -> services.WorklistFilters:
    classes = services.school_classes_with_cases(school)
    form.class_id.choices = [SelectChoice("", _("All classes"))] + [
        SelectChoice(str(c.id), f"{c.school_year} · {school_class_label(c)}") for c in classes
    ]
    class_id = None
    if form.class_id.data and form.class_id.data.isdigit():
        class_id = int(form.class_id.data)
        if class_id not in {c.id for c in classes}:
            class_id = None
    return services.WorklistFilters(
        class_id=class_id,
        case_type=form.case_type.data or None,
        state=form.state.data or None,
    )


@bp.route("/")
@roles_required(*CASE_ROLES)
def worklist():
    """Outstanding slips and outcomes by class, oldest referral first."""
    school = _school()
    form = forms.WorklistFilterForm(request.args)
    filters = _filters(form, school)
    cases = services.worklist(school, filters)
    db.session.commit()  # the refresh (letter register, lost-to-follow-up) is audited
    return render_template(
        "followup/worklist.html",
        school=school,
        schools=db.session.scalars(scoped_schools(current_user)).all()
        if current_user.role == Role.ADMIN
        else [],
        form=form,
        cases=cases,
        completion=services.school_completion(school.id),
        reminder_form=forms.ReminderForm(),
        type_labels=services.CASE_TYPE_LABELS,
        state_labels=services.STATE_LABELS,
        lost_days=services.lost_after().days,
        cutoff=services.lost_cutoff(),
    )


def _outcome_data(case_: FollowupCase) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in services.OUTCOME_FIELDS:
        value = getattr(case_, name)
        if isinstance(value, bool):
            out[name] = "yes" if value else "no"
        elif value is not None:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return out


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def show_case(case_id: int):
    """A case and its outcome form: typed from the returned slip, Enter saves and opens
    the next outstanding case."""
    case_ = get_case_or_404(case_id)
    services.refresh([case_])
    form = forms.OutcomeForm(data=None if request.method == "POST" else _outcome_data(case_))
    if request.method == "GET" and case_.state == "outcome_recorded":
        form.close_case.data = False
    status = 200
    if form.validate_on_submit():
        raw = {name: getattr(form, name).data or "" for name in services.OUTCOME_FIELDS}
        outcome, errors = services.parse_outcome(case_.case_type, raw, case_.referred_on)
        if outcome is not None:
            try:
                services.record_outcome(
                    case_, outcome, user=current_user, close_case=bool(form.close_case.data)
                )
            except services.FollowupError as exc:
                db.session.rollback()
                flash(str(exc.message), "error")
                return redirect(url_for("followup.show_case", case_id=case_id))
            db.session.commit()
            flash(_("Outcome saved for %(name)s.", name=case_.student.name), "success")
            following = services.next_case(case_)
            db.session.commit()
            if following is not None and following.id != case_.id:
                return redirect(url_for("followup.show_case", case_id=following.id))
            return redirect(url_for("followup.worklist", school_id=case_.school_id))
        for name, message in errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        status = 422
    elif request.method == "POST":
        status = 400
    else:
        db.session.commit()
    return render_template(
        "followup/case_show.html",
        case=case_,
        form=form,
        fields=forms.TYPE_FIELDS[case_.case_type],
        common=forms.COMMON_FIELDS,
        date_form=forms.DateActionForm(),
        type_labels=services.CASE_TYPE_LABELS,
        state_labels=services.STATE_LABELS,
        intervention_labels=services.INTERVENTION_LABELS,
    ), status


def _update_case(case_id: int, action: str):
    """Mark the letter sent or the slip returned by hand (a date), or close the case."""
    case_ = get_case_or_404(case_id)
    try:
        if action == "close":
            if not forms.CsrfOnlyForm().validate_on_submit():
                abort(400)
            services.close(case_, user=current_user)
        else:
            form = forms.DateActionForm()
            if not form.validate_on_submit():
                if form.csrf_token.errors:
                    abort(400)
                flash(_("Enter a valid date."), "error")
                return redirect(url_for("followup.show_case", case_id=case_id))
            mark = (
                services.mark_letter_sent
                if action == "letter_sent"
                else services.mark_slip_returned
            )
            mark(case_, form.on.data, user=current_user)
    except services.FollowupError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("followup.show_case", case_id=case_id))
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("followup.show_case", case_id=case_id))


@bp.route("/cases/<int:case_id>/letter-sent", methods=["POST"])
@roles_required(*CASE_ROLES)
def mark_letter_sent(case_id: int):
    return _update_case(case_id, "letter_sent")


@bp.route("/cases/<int:case_id>/slip-returned", methods=["POST"])
@roles_required(*CASE_ROLES)
def mark_slip_returned(case_id: int):
    return _update_case(case_id, "slip_returned")


@bp.route("/cases/<int:case_id>/close", methods=["POST"])
@roles_required(*CASE_ROLES)
def close_case(case_id: int):
    return _update_case(case_id, "close")


def _reminder_response(cases: list[FollowupCase], language: str, name: str):
    try:
        ensure_font()
    except LetterFontMissing as exc:
        current_app.logger.error("%s", exc)
        flash(
            _("Letters cannot be printed: the letter font is missing. Tell the administrator."),
            "error",
        )
        return redirect(request.referrer or url_for("followup.worklist"))
    reminders = services.reminders_for(cases, language)
    if not reminders:
        flash(_("None of the selected cases is waiting for a slip or an outcome."), "error")
        return redirect(request.referrer or url_for("followup.worklist"))
    data = pdf.render(
        reminders, title=_("Follow-up reminders"), author=current_app.config["LETTER_AUTHOR"]
    )
    services.audit_reminders(cases, user=current_user)
    db.session.commit()
    response = send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<int:case_id>/reminder.pdf")
@roles_required(*CASE_ROLES)
def case_reminder(case_id: int):
    """One pupil's reminder over every case of the pupil still waiting."""
    case_ = get_case_or_404(case_id)
    cases = db.session.scalars(
        services.scoped_cases(current_user).where(
            FollowupCase.student_id == case_.student_id,
            FollowupCase.state.in_((*services.PRE_OUTCOME, "lost")),
        )
    ).all()
    language = request.args.get("language", "guardian")
    language = language if language in ("guardian", "zh", "en") else "guardian"
    return _reminder_response(list(cases), language, f"followup-reminder-{case_.student.id}.pdf")


@bp.route("/reminders", methods=["POST"])
@roles_required(*CASE_ROLES)
def print_reminders():
    """Reminders of the ticked cases, or (``overdue=1``) of every case of the filtered
    worklist still waiting for a slip or an outcome."""
    school = _school()
    form = forms.ReminderForm()
    if not form.validate_on_submit():
        abort(400)
    if request.form.get("overdue") == "1":
        filters = _filters(forms.WorklistFilterForm(request.args), school)
        cases = [
            c
            for c in services.worklist(school, filters)
            if c.state in (*services.PRE_OUTCOME, "lost")
        ]
    else:
        ids = [
            int(x) for x in request.form.getlist("case_id") if x.isdigit() and is_valid_id(int(x))
        ]
        cases = list(
            db.session.scalars(
                services.scoped_cases(current_user).where(
                    FollowupCase.id.in_(ids), FollowupCase.school_id == school.id
                )
            )
        )
        if not cases:
            flash(_("Tick the pupils to print reminders for."), "error")
            return redirect(url_for("followup.worklist", school_id=school.id))
    return _reminder_response(cases, form.language.data, f"followup-reminders-{school.code}.pdf")


# ----------------------------------------------------------------- bulk outcomes


def _import_job_or_404(job_id: int) -> Job:
    job = db.session.get(Job, job_id) if is_valid_id(job_id) else None
    if job is None or job.kind != "followup_import" or job.user_id != current_user.id:
        abort(404)
    return job


def _expire_old_drafts() -> None:
    """Drop the kept files of previews nobody confirmed in time (IMPORT_CONFIRM_MINUTES,
    as for the roster): a hospital's file of diagnoses is not kept around unasked."""
    ttl = timedelta(minutes=current_app.config.get("IMPORT_CONFIRM_MINUTES", 60))
    db.session.execute(
        update(Job)
        .where(
            Job.kind == "followup_import",
            Job.status == "draft",
            Job.created_at < utcnow() - ttl,
        )
        .values(status="expired", payload=None)
    )


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*UPLOAD_ROLES)
def import_outcomes():
    """Upload a file of outcomes; it is checked and shown before anything is saved."""
    _expire_old_drafts()
    db.session.commit()
    form = forms.UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        name = PurePath(upload.filename or "outcomes.csv").name
        if PurePath(name).suffix.lower() not in ACCEPTED_EXTENSIONS:
            form.file.errors = [_("Upload a .csv, .xlsx, .xls or .ods file.")]
            return render_template("followup/import_form.html", form=form), 422
        data = upload.read()
        report = importing.check_file(data, name, current_user)
        job = Job(
            kind="followup_import",
            status="draft",
            user_id=current_user.id,
            params={"file_name": name},
            payload_name=name,
            payload=data,
            result=report.to_dict(),
            total=len(report.rows),
        )
        db.session.add(job)
        db.session.commit()
        return redirect(url_for("followup.show_import", job_id=job.id))
    status = 422 if request.method == "POST" else 200
    return render_template("followup/import_form.html", form=form), status


@bp.route("/imports/<int:job_id>")
@roles_required(*UPLOAD_ROLES)
def show_import(job_id: int):
    job = _import_job_or_404(job_id)
    report = importing.ImportReport.from_dict(job.result or {})
    return render_template(
        "followup/import_preview.html",
        job=job,
        report=report,
        counts=report.counts(),
        form=forms.CsrfOnlyForm(),
        type_labels=services.CASE_TYPE_LABELS,
    )


@bp.route("/imports/<int:job_id>/confirm", methods=["POST"])
@roles_required(*UPLOAD_ROLES)
def confirm_import(job_id: int):
    """Apply every row or none; the file is checked again first."""
    job = _import_job_or_404(job_id)
    if not forms.CsrfOnlyForm().validate_on_submit():
        abort(400)
    if job.status == "expired":
        flash(_("This upload waited too long to be confirmed: upload the file again."), "error")
        return redirect(url_for("followup.import_outcomes"))
    if job.status != "draft" or job.payload is None:
        flash(_("This upload was already imported."), "error")
        return redirect(url_for("followup.show_import", job_id=job.id))
    report = importing.apply_file(job.payload, job.payload_name or "", current_user)
    if not report.ok:
        db.session.rollback()
        job = _import_job_or_404(job_id)
        job.result = report.to_dict()
        db.session.commit()
        flash(_("The file no longer passes the check; nothing was saved."), "error")
        return redirect(url_for("followup.show_import", job_id=job.id))
    job.status = "done"
    job.result = report.to_dict()
    job.payload = None
    job.finished_at = utcnow()
    db.session.commit()
    flash(_("%(n)d outcomes saved.", n=report.applied), "success")
    return redirect(url_for("followup.show_import", job_id=job.id))


# ----------------------------------------------------------------- completion export


@bp.route("/completion.<any(csv, xlsx):fmt>")
@roles_required(Role.ADMIN, Role.OFFICIAL, Role.NURSE)
def export_completion(fmt: str):
    """The reports page's follow-up completion table, same scope and suppression."""
    from ..reports.forms import ReportFilterForm
    from ..reports.routes import _prepare
    from ..screening.flags import write_xlsx

    form = ReportFilterForm(request.args)
    form.validate()
    scope, _wide, _allowed = _prepare(form)
    rows, total = services.completion_by_school(scope, suppress=current_user.role == Role.OFFICIAL)
    headers, data = services.completion_export_rows(rows, total)
    record_event(
        "export",
        "followup_completion",
        summary=f"Follow-up completion exported ({fmt})",
        after={"schools": len(rows), "school_year": scope.school_year},
    )
    db.session.commit()
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(headers)
        writer.writerows(data)
        content, mimetype = ("\ufeff" + buf.getvalue()).encode("utf-8"), "text/csv"
    else:
        content, mimetype = (
            write_xlsx(headers, data, title=_("Follow-up completion")),
            XLSX_MIMETYPE,
        )
    response = send_file(
        io.BytesIO(content),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"followup-completion.{fmt}",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# ----------------------------------------------------------------- the pupil record


@bp.app_context_processor
def _pupil_followup() -> dict:
    return {"pupil_followup_block": pupil_followup_block}


def pupil_followup_block(student: object) -> dict | None:
    """The pupil record's follow-up block: the pupil's cases (nurses and admins; None
    for everyone else, who sees no block)."""
    if not current_user.is_authenticated or current_user.role not in CASE_ROLES:
        return None
    cases = services.pupil_cases(student)  # type: ignore[arg-type]
    return {
        "cases": cases,
        "type_labels": services.CASE_TYPE_LABELS,
        "state_labels": services.STATE_LABELS,
    }
