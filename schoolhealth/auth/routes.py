"""Sign-in, sign-out, language switch and the start page of each role."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..access import district_school_ids, scoped_schools, scoped_sessions
from ..audit import record_event
from ..extensions import db, limiter
from ..followup import services as followup_services
from ..i18n import normalize_locale
from ..models import Role, School, ScreeningSession, Student
from . import bp
from .forms import ChangePasswordForm, LoginForm
from .services import authenticate, change_own_password
from .sessions import end_idle_session, end_session, has_remember_cookie, start_session


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so the sign-in page cannot redirect elsewhere.

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example``
    and ``/<TAB>/evil.example`` would leave the site: any backslash or control character
    disqualifies the target.
    """
    if not target:
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.before_app_request
def refuse_nul_characters() -> None:
    """Answer 400 to a request whose URL parameters or form fields hold a NUL character.

    No field of the site may hold one, and PostgreSQL refuses text with NUL outright, to
    store or to compare: a search for "a\\x00b" would end in a 500. Refused here once,
    for every page and form (uploaded files are not form fields and are not looked at).
    """
    for values in (request.args, request.form):
        for _key, value in values.items(multi=True):
            if "\x00" in value:
                abort(400)


bp.before_app_request(end_idle_session)


def _typed_account() -> str:
    """The per-account throttle's key: the name as typed (normalised as sign-in reads it)
    from this client address.

    Unknown names are counted exactly like existing ones, so a 429 tells nothing about
    which accounts exist. The address is part of the key so that someone guessing at a
    nurse's account throttles only themselves: the nurse, at her own computer, still
    signs in (the account-wide lockout this replaces let anyone shut anyone out).
    """
    name = (request.form.get("username") or "").strip().lower()[:64]
    return f"account:{name}@{get_remote_address()}"


def _failed(response: Response) -> bool:
    """Only failed attempts count: a school of nurses behind one address signs in freely."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_typed_account,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
def login():
    """Sign in. Failures are throttled per client address and per typed name (429)."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            db.session.rollback()
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 200
        db.session.commit()
        start_session(user, remember=bool(form.remember.data))
        return redirect(_safe_next(form.next.data) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out everywhere: the session generation moves on, so a copy of this browser's
    cookies (or the account's sign-in on another computer) stops working too."""
    if current_user.is_authenticated:
        current_user.end_sessions()
        record_event(
            "logout", "user", current_user.id, summary=f"{current_user.username} signed out"
        )
        db.session.commit()
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Every signed-in user may change their own password; other sign-ins then end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        from ..admin.services import AdminError

        user = current_user._get_current_object()
        try:
            change_own_password(user, form.current_password.data, form.password.data)
        except AdminError as error:
            db.session.rollback()
            field = form._fields.get(error.field or "")
            if field is not None:
                field.errors = [*field.errors, str(error)]
            else:
                form.form_errors.append(str(error))
        else:
            db.session.commit()
            # The new generation voided this browser's session too: sign it in again.
            start_session(user, remember=has_remember_cookie())
            flash(
                _("Your password is changed. Other sign-ins of your account have ended."), "success"
            )
            return redirect(url_for("auth.home"))
    return render_template("auth/password_form.html", form=form), 400 if form.errors else 200


@bp.route("/language", methods=["POST"])
def set_language():
    locale = normalize_locale(request.form.get("lang"))
    if locale is None:
        abort(400)
    session["lang"] = locale
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.home"))


@bp.route("/")
@login_required
def home():
    """Each role lands on what it works with: its school, its sessions, its district."""
    user = current_user
    sessions = db.session.scalars(
        scoped_sessions(user).order_by(ScreeningSession.start_date.desc()).limit(10)
    ).all()
    if user.role == Role.OFFICIAL:
        ids = district_school_ids(user)
        rows = db.session.execute(
            select(School, func.count(Student.id))
            .outerjoin(Student, (Student.school_id == School.id) & Student.active)
            .where(School.id.in_(ids))
            .group_by(School.id)
            .order_by(School.code)
            .options(lazyload(School.district))
        ).all()
        completion_rows, completion_total = _followup_completion(tuple(db.session.scalars(ids)))
        return render_template(
            "auth/home_official.html",
            rows=rows,
            completion_rows=completion_rows,
            completion_total=completion_total,
            export_query={},
            lost_days=followup_services.lost_after().days,
        )
    schools = db.session.execute(
        select(School, func.count(Student.id))
        .outerjoin(Student, (Student.school_id == School.id) & Student.active)
        .where(School.id.in_(scoped_schools(user).with_only_columns(School.id)))
        .group_by(School.id)
        .order_by(School.code)
        .limit(50)
        # School.district is joined-eager by default; joined into a GROUP BY it is an
        # error on PostgreSQL ("must appear in the GROUP BY clause").
        .options(lazyload(School.district))
    ).all()
    completion = (
        followup_services.school_completion(user.school_id)
        if user.role == Role.NURSE and user.school_id is not None
        else None
    )
    return render_template(
        "auth/home.html", schools=schools, sessions=sessions, completion=completion
    )


def _followup_completion(school_ids: tuple[int, ...]) -> tuple[list, object]:
    """The district's follow-up completion per school over all years, suppressed as in
    every figure an official reads."""
    from ..reports.services import ReportScope

    return followup_services.completion_by_school(ReportScope(school_ids=school_ids), suppress=True)
