"""Views of the screening blueprint: sessions, their per-class progress and the class grid.

Every session, class and pupil is loaded through :mod:`schoolhealth.access` (out of
scope: 404); officials, who never see names, get 403 on every screening page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import rules
from ..access import (
    get_session_or_404,
    get_student_or_404,
    page_arg,
    roles_required,
    scoped_schools,
    scoped_sessions,
)
from ..audit import record_view
from ..clock import local_today
from ..extensions import db
from ..models import (
    Institution,
    Role,
    School,
    SchoolClass,
    ScreeningSession,
    SessionStatus,
    Student,
)
from ..rules import numbers
from . import bp, fields, grid, grid_model, results, sessions
from .errors import ResultConflict, ScreeningError, SessionClosed
from .forms import SessionForm, StatusForm

# Who works with named pupils' screening results; officials read aggregates elsewhere.
SCREENING_ROLES = (Role.ADMIN, Role.NURSE, Role.INSTITUTION)
# Who plans sessions and moves them through their statuses.
PLANNING_ROLES = (Role.ADMIN, Role.NURSE)

SEX_LABELS = {"M": _l("Male"), "F": _l("Female")}


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    return {
        "has_endpoint": lambda name: name in current_app.view_functions,
        "type_labels": fields.TYPE_LABELS,
        "status_labels": fields.STATUS_LABELS,
    }


# ----------------------------------------------------------------- sessions


@bp.route("/sessions")
@roles_required(*SCREENING_ROLES)
def list_sessions():
    """The sessions the user may see, newest first."""
    query = scoped_sessions(current_user).order_by(
        ScreeningSession.start_date.desc(), ScreeningSession.id.desc()
    )
    status = request.args.get("status", "")
    if status in {s.value for s in SessionStatus}:
        query = query.where(ScreeningSession.status == status)
    else:
        status = ""
    pagination = db.paginate(
        query,
        page=request.args.get("page", 1, type=page_arg),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "screening/session_list.html",
        pagination=pagination,
        sessions=pagination.items,
        status=status,
        can_plan=current_user.role in PLANNING_ROLES,
    )


def _session_form(session: ScreeningSession | None = None) -> SessionForm:
    schools = None
    if session is None and current_user.role == Role.ADMIN:
        schools = db.session.scalars(scoped_schools(current_user)).all()
    institutions = db.session.scalars(select(Institution).order_by(Institution.name)).all()
    if session is None:
        return SessionForm(schools=schools, institutions=institutions)
    options = sessions.session_rule_config(session)
    return SessionForm(
        schools=None,
        institutions=institutions,
        data={
            "name": session.name,
            "start_date": session.start_date,
            "end_date": session.end_date,
            "types": session.type_list,
            "institution_id": session.institution_id or 0,
            "atr_positive_degrees": int(options.atr_positive_degrees),
            "records_refraction": session.records_refraction,
        },
    )


def _session_details(form: SessionForm) -> dict[str, Any]:
    """The form's fields as the keyword arguments of create_session and update_session."""
    institution_id = form.institution_id.data
    return {
        "name": form.name.data,
        "start_date": form.start_date.data,
        "end_date": form.end_date.data,
        "types": form.types.data,
        "institution": db.session.get(Institution, institution_id) if institution_id else None,
        "atr_positive_degrees": form.atr_positive_degrees.data,
        "records_refraction": bool(form.records_refraction.data),
    }


@bp.route("/sessions/new", methods=["GET", "POST"])
@roles_required(*PLANNING_ROLES)
def create_session():
    """Plan a session: nurses for their own school, administrators for any school."""
    form = _session_form()
    if current_user.role == Role.NURSE and current_user.school_id is None:
        abort(403)
    if form.validate_on_submit():
        if current_user.role == Role.ADMIN:
            school = db.session.get(School, form.school_id.data)
        else:
            school = db.session.get(School, current_user.school_id)
        if school is None:
            abort(404)
        try:
            session = sessions.create_session(school, **_session_details(form), user=current_user)
        except ScreeningError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Screening session “%(name)s” created.", name=session.name), "success")
            return redirect(url_for("screening.show_session", session_id=session.id))
    return render_template("screening/session_form.html", form=form, session=None)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(*PLANNING_ROLES)
def edit_session(session_id: int):
    session = get_session_or_404(session_id)
    if session.is_closed:
        flash(str(SessionClosed().message), "error")
        return redirect(url_for("screening.show_session", session_id=session.id))
    form = _session_form(session)
    if form.validate_on_submit():
        try:
            sessions.update_session(session, **_session_details(form), user=current_user)
        except ScreeningError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Screening session saved."), "success")
            return redirect(url_for("screening.show_session", session_id=session.id))
    return render_template("screening/session_form.html", form=form, session=session)


@bp.route("/sessions/<int:session_id>/status", methods=["POST"])
@roles_required(*PLANNING_ROLES)
def change_session_status(session_id: int):
    """Start, close or (administrators) reopen a session."""
    session = get_session_or_404(session_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        sessions.change_status(session, form.status.data, user=current_user)
    except ScreeningError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(
            _("The session is now: %(status)s.", status=fields.STATUS_LABELS[session.status]),
            "success",
        )
    return redirect(url_for("screening.show_session", session_id=session_id))


@bp.route("/sessions/<int:session_id>")
@roles_required(*SCREENING_ROLES)
def show_session(session_id: int):
    """The session's details and, per class, how many pupils are screened."""
    session = get_session_or_404(session_id)
    progress, unassigned = grid_model.class_progress(session)
    not_screened = {
        class_id: grid.not_screened_text(counts)
        for class_id, counts in grid.not_screened_counts(session).items()
    }
    return render_template(
        "screening/session_show.html",
        session=session,
        progress=progress,
        not_screened=not_screened,
        unassigned=unassigned,
        total=sum(p.total for p in progress),
        done=sum(p.done for p in progress),
        options=sessions.session_rule_config(session),
        other_ruleset=grid_model.results_flagged_with_other_ruleset(session),
        current_ruleset=rules.RULESET_VERSION,
        can_plan=current_user.role in PLANNING_ROLES,
        is_admin=current_user.role == Role.ADMIN,
        status_form=StatusForm(),
    )


# ----------------------------------------------------------------- class grid


def _class_or_404(session: ScreeningSession, class_id: int) -> SchoolClass:
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != session.school_id:
        abort(404)
    return school_class


def _session_student_or_404(session: ScreeningSession, student_id: int) -> Student:
    student = get_student_or_404(student_id)
    if student.school_id != session.school_id:
        abort(404)
    return student


@bp.route("/sessions/<int:session_id>/classes/<int:class_id>")
@roles_required(*SCREENING_ROLES)
def class_grid(session_id: int, class_id: int):
    """One class's pupils with an input per measurement of the session (keyboard entry)."""
    session = get_session_or_404(session_id)
    school_class = _class_or_404(session, class_id)
    columns = [c.translated() for c in grid_model.grid_columns(session)]
    today = local_today()
    rows = []
    for student, result in grid_model.class_pupils(session, school_class):
        on = result.screening_date if result and result.screening_date else today
        rows.append(
            {
                "student": student,
                "result": result,
                "version": result.version if result else 0,
                "absent": bool(result and result.absent),
                "not_screened": results.display_value(result, "not_screened"),
                "age": grid.age_text(student.birth_date, on),
                "done": results.is_done(session, result),
                "flags": grid.with_evidence(result, results.flag_labels(result)),
                "values": {c.field: results.display_value(result, c.field) for c in columns},
            }
        )
    page = render_template(
        "screening/class_grid.html",
        session=session,
        school_class=school_class,
        columns=columns,
        rows=rows,
        done=sum(1 for r in rows if r["done"]),
        has_refraction=any(c.group == "refraction" for c in columns),
        sex_labels={k: str(v) for k, v in SEX_LABELS.items()},
        choice_keys={c.field: grid.choice_keys(c.field) for c in columns},
        choice_hints={c.field: grid.choice_hint(c.field) for c in columns},
        choice_legends={c.field: grid.choice_legend(c.field) for c in columns},
        not_screened_labels={k: str(v) for k, v in grid.NOT_SCREENED_LABELS.items()},
        not_screened_keys=grid.NOT_SCREENED_KEYS,
        next_pupil_key=grid.NEXT_PUPIL_KEY,
    )
    # One audit event for the page (the pupils shown listed in it), after rendering:
    # committing first would expire what the page reads.
    record_view(
        "class_grid",
        school_class.id,
        school_id=session.school_id,
        summary=f"class grid of class {school_class.id} in session {session.id}: "
        f"{len(rows)} pupils",
        pupil_ids=[r["student"].id for r in rows],
        details={"session_id": session.id, "class_id": school_class.id},
    )
    db.session.commit()
    return page


def _json_error(status: int, error: str, message: str | None = None, **extra: Any):
    return jsonify(ok=False, error=error, message=message, **extra), status


def _row_payload(session: ScreeningSession, student: Student, field: str) -> dict[str, Any]:
    result = results.get_result(session, student)
    reason = result.not_screened_reason if result and result.absent else None
    value = reason or "" if field == "not_screened" else results.display_value(result, field)
    return {
        "ok": True,
        "field": field,
        "value": value,
        "version": result.version if result else 0,
        "absent": bool(result and result.absent),
        "not_screened": reason or "",
        "age": grid.age_text(student.birth_date, grid.age_date(result)),
        "done": results.is_done(session, result),
        "flags": grid.with_evidence(result, results.flag_labels(result)),
        "screening_date": (
            result.screening_date.isoformat() if result and result.screening_date else None
        ),
    }


def _parse_version(value: Any) -> int:
    """The row version the client last saw (0: no result yet); ValueError when missing or bad.

    Required: a save without it could overwrite a colleague's value unseen.
    """
    if value is None or isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        # str.isdigit() and int() accept "٣": versions are ASCII digits (rules.numbers).
        parsed = numbers.parse_int(value)
        if parsed is None:
            raise ValueError(value)
        number = parsed
    else:
        raise ValueError(value)
    if number < 0 or number > 2**31:
        raise ValueError(value)
    return number


def _conflict_response(session: ScreeningSession, student: Student, field: str, mine: Any):
    details = results.conflict_details(session, student, field)
    current = details["value"]
    who = details["changed_by"] or _("someone else")
    when = format_time(details["changed_at"], "HH:mm") if details["changed_at"] else "?"
    message = _(
        "Changed by %(user)s at %(time)s: now %(current)s; your value %(mine)s was not saved "
        "— re-enter it to overwrite.",
        user=who,
        time=when,
        current=current or _("(blank)"),
        mine=mine if mine not in (None, "") else _("(blank)"),
    )
    return _json_error(
        409,
        "conflict",
        message,
        field=field,
        value=current,
        your_value=mine,
        version=details["version"],
        changed_by=details["changed_by"],
        changed_at=details["changed_at"].isoformat() if details["changed_at"] else None,
    )


@bp.route("/sessions/<int:session_id>/students/<int:student_id>/field", methods=["POST"])
@roles_required(*SCREENING_ROLES)
def save_result_field(session_id: int, student_id: int):
    """Save one grid cell (JSON): ``{"field", "value", "version"}``.

    Answers the canonical value, the row's new version, whether the pupil is done and the
    row's flags; 422 for a refused value, 409 for a conflict or a closed session.
    """
    session = get_session_or_404(session_id)
    student = _session_student_or_404(session, student_id)
    payload = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(payload, Mapping):
        return _json_error(400, "bad_request", _("Send a JSON object with field and value."))
    field = payload.get("field")
    allowed = {c.field for c in grid_model.grid_columns(session)} | {"absent", "not_screened"}
    if not isinstance(field, str) or field not in allowed:
        return _json_error(
            400, "unknown_field", _("This value is not part of this screening session.")
        )
    value = payload.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
        return _json_error(400, "bad_request", _("The value must be text."), field=field)
    value = None if value is None else str(value)
    try:
        version = _parse_version(payload.get("version"))
    except ValueError:
        return _json_error(
            400,
            "bad_request",
            _("The row version is missing or not valid; reload the page."),
            field=field,
        )

    questions = grid.improbable(session, student, field, value)
    if questions and payload.get("confirm") is not True:
        # Possible but improbable for this pupil (a slip, usually): ask before saving.
        return _json_error(
            422,
            "needs_confirmation",
            field=field,
            value=value,
            **grid.confirmation_payload(questions),
        )
    try:
        if field == "absent":
            absent = (value or "").strip().lower() in {"1", "true", "yes", "on"}
            change = results.set_absent(
                session, student, absent, user=current_user, expected_version=version
            )
        elif field == "not_screened":
            reason = (value or "").strip().lower() or None
            if reason is not None and reason not in grid.NOT_SCREENED_LABELS:
                return _json_error(
                    400, "bad_request", _("Unknown reason for not screening a pupil."), field=field
                )
            change = results.set_absent(
                session,
                student,
                reason is not None,
                user=current_user,
                expected_version=version,
                reason=reason,
            )
        else:
            change = results.record_measurements(
                session, student, {field: value}, user=current_user, expected_version=version
            )
    except ResultConflict:
        db.session.rollback()
        if results.field_holds(session, student, field, value):
            # A retry of a save whose answer was lost (the network dropped it after the
            # commit): the value is already there, so this is not someone else's change.
            return jsonify(_row_payload(session, student, field))
        return _conflict_response(session, student, field, value)
    except SessionClosed as exc:
        db.session.rollback()
        return _json_error(409, "session_closed", str(exc.message), field=field)
    except ScreeningError as exc:
        db.session.rollback()
        return _json_error(400, "refused", str(exc.message), field=field)
    if change.errors:
        db.session.rollback()
        error = change.errors[0]
        return _json_error(
            422,
            "invalid",
            fields.field_error_message(error),
            field=field,
            value=value,
            key=error.key,
        )
    if questions and change.changed:
        grid.record_confirmation(session, student, field, value, questions, user=current_user)
    db.session.commit()
    return jsonify(_row_payload(session, student, field))


@bp.route(
    "/sessions/<int:session_id>/classes/<int:class_id>/students/<int:student_id>",
    methods=["POST"],
)
@roles_required(*SCREENING_ROLES)
def save_result_row(session_id: int, class_id: int, student_id: int):
    """Save a whole grid row (the form that works without JavaScript)."""
    session = get_session_or_404(session_id)
    school_class = _class_or_404(session, class_id)
    student = _session_student_or_404(session, student_id)
    if student.class_id != school_class.id:
        abort(404)
    back = (
        url_for("screening.class_grid", session_id=session.id, class_id=school_class.id)
        + f"#pupil-{student.id}"
    )
    names = [c.field for c in grid_model.grid_columns(session)]
    raw = {f: request.form.get(f, "") for f in names if f in request.form}
    reason = request.form.get("not_screened", "").strip().lower() or None
    if reason is not None and reason not in grid.NOT_SCREENED_LABELS:
        abort(400)
    if "not_screened" not in request.form and request.form.get("absent") in {
        "1",
        "on",
        "true",
        "yes",
    }:
        reason = "absent"
    absent = reason is not None
    try:
        version = _parse_version(request.form.get("version"))
    except ValueError:
        abort(400)
    errors = []
    confirmed = request.form.get("confirm") in {"1", "on", "true", "yes"}
    questioned: list[tuple[str, list]] = []
    for name in grid.GROWTH_FIELDS:
        questions = grid.improbable(session, student, name, raw.get(name))
        if questions and not confirmed:
            # Not saved until confirmed (the row's "confirm" box), like the grid's prompt.
            del raw[name]
            for question in questions:
                flash(
                    _(
                        "%(name)s: not saved — %(question)s Tick “confirm” and save again "
                        "if it is right.",
                        name=student.name,
                        question=grid.question_message(question),
                    ),
                    "error",
                )
        elif questions:
            questioned.append((name, questions))
    try:
        result = results.get_result(session, student)
        currently_absent = bool(result and result.absent)
        if currently_absent and absent and result.not_screened_reason != reason:
            results.set_absent(
                session,
                student,
                True,
                user=current_user,
                expected_version=version,
                reason=reason,
            )
            version = None
        if currently_absent and not absent:
            results.set_absent(session, student, False, user=current_user, expected_version=version)
            version = None  # checked once; the row is ours from here on
        change = results.record_measurements(
            session, student, raw, user=current_user, expected_version=version
        )
        errors += change.errors
        for name, questions in questioned:
            if name in change.after:
                grid.record_confirmation(
                    session, student, name, raw.get(name), questions, user=current_user
                )
        if absent and not currently_absent:
            errors += results.set_absent(
                session, student, True, user=current_user, expected_version=None, reason=reason
            ).errors
    except ResultConflict:
        db.session.rollback()
        flash(
            _(
                "Someone else changed %(name)s's result in the meantime; nothing was saved. "
                "The page now shows the current values.",
                name=student.name,
            ),
            "error",
        )
        return redirect(back)
    except ScreeningError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(back)
    db.session.commit()
    for error in errors:
        flash(f"{student.name}: {fields.field_error_message(error)}", "error")
    if not errors:
        flash(_("Saved: %(name)s.", name=student.name), "success")
    return redirect(back)
