"""Sign-in, sign-out, language switch and the start page of each role."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..access import district_school_ids, scoped_schools, scoped_sessions
from ..audit import record_event
from ..extensions import db
from ..followup import services as followup_services
from ..i18n import normalize_locale
from ..models import Role, School, ScreeningSession, Student
from . import bp
from .forms import LoginForm
from .services import authenticate


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data)
        db.session.commit()
        if result.locked:
            flash(_("Too many failed attempts. The account is locked for a few minutes."), "error")
            return render_template("auth/login.html", form=form), 429
        if result.user is None:
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 200
        login_user(result.user, remember=form.remember.data)
        session.pop("lang", None)
        return redirect(_safe_next(form.next.data) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        record_event(
            "logout", "user", current_user.id, summary=f"{current_user.username} signed out"
        )
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


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
