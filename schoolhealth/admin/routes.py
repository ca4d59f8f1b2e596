"""Views of the admin blueprint: districts, schools, institutions, users, the audit trail.

Administrators only: every view is ``roles_required(Role.ADMIN)``, and everyone else
gets 403. The audit viewer is admin-only too, on purpose: the trail names pupils and
staff of every school, and a school-scoped reading for nurses would be a new feature
with its own scoping rules in access.py, not a filter here.

Views are thin: they parse a form, call one service of admin/services.py, commit, and
flash. A service's :class:`AdminError` rolls the transaction back and is shown beside
the field it names.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from ..access import id_arg, is_valid_id, page_arg, roles_required
from ..extensions import db
from ..models import AuditEvent, District, Institution, Role, School, User, utcnow
from . import bp, services
from .forms import (
    GROWTH_REFERENCE_LABELS,
    ROLE_LABELS,
    AuditFilterForm,
    DistrictForm,
    InstitutionForm,
    PasswordForm,
    SchoolForm,
    SearchForm,
    UserForm,
)
from .services import AdminError


def _get_or_404(model: type, object_id: int) -> Any:
    obj = db.session.get(model, object_id) if is_valid_id(object_id) else None
    if obj is None:
        abort(404)
    return obj


def _page() -> int:
    return request.args.get("page", 1, type=page_arg)


def _refused(form: FlaskForm, error: AdminError) -> None:
    """Undo the failed change and show why, beside the field when there is one."""
    db.session.rollback()
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def _search_text(search: SearchForm) -> str:
    return (search.q.data or "") if search.validate() else ""


def _search_args(**extra: Any) -> dict[str, Any]:
    """The list page's filters, to keep them in the paging links."""
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    args.update({k: v for k, v in extra.items() if v})
    return args


def _list_by_id(model: type, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {o.id: o for o in db.session.scalars(select(model).where(model.id.in_(ids)))}


@bp.route("/")
@roles_required(Role.ADMIN)
def index():
    """The administration start page: what there is, and who is locked out."""
    counts = {
        "districts": db.session.scalar(select(func.count(District.id))),
        "schools": db.session.scalar(select(func.count(School.id))),
        "institutions": db.session.scalar(select(func.count(Institution.id))),
        "users": db.session.scalar(select(func.count(User.id)).where(User.active)),
    }
    locked = db.session.scalars(
        select(User).where(User.locked_until > utcnow()).order_by(User.username)
    ).all()
    recent = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(10)
    ).all()
    return render_template("admin/index.html", counts=counts, locked=locked, recent=recent)


# --- districts -------------------------------------------------------------------------


@bp.route("/districts")
@roles_required(Role.ADMIN)
def list_districts():
    search = SearchForm(formdata=request.args)
    q = _search_text(search)
    pagination = services.paginate(services.district_query(q), _page())
    school_counts = dict(
        db.session.execute(
            select(School.district_id, func.count(School.id))
            .where(School.district_id.in_([d.id for d in pagination.items]))
            .group_by(School.district_id)
        ).all()
    )
    return render_template(
        "admin/district_list.html",
        search=search,
        pagination=pagination,
        school_counts=school_counts,
        labels=GROWTH_REFERENCE_LABELS,
        args=_search_args(),
    )


@bp.route("/districts/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_district():
    form = DistrictForm()
    if form.validate_on_submit():
        try:
            district = services.create_district(
                form.name.data, code=form.code.data, growth_reference=form.growth_reference.data
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("District %(name)s created.", name=district.name), "success")
            return redirect(url_for("admin.list_districts"))
    return render_template("admin/district_form.html", form=form, district=None)


@bp.route("/districts/<int:district_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_district(district_id: int):
    district = _get_or_404(District, district_id)
    form = DistrictForm(obj=district)
    if form.validate_on_submit():
        try:
            services.update_district(
                district,
                name=form.name.data,
                code=form.code.data,
                growth_reference=form.growth_reference.data,
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("District %(name)s saved.", name=district.name), "success")
            return redirect(url_for("admin.list_districts"))
    return render_template("admin/district_form.html", form=form, district=district)


@bp.route("/districts/<int:district_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete_district(district_id: int):
    district = _get_or_404(District, district_id)
    name = district.name
    try:
        services.delete_district(district)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.edit_district", district_id=district_id))
    db.session.commit()
    flash(_("District %(name)s deleted.", name=name), "success")
    return redirect(url_for("admin.list_districts"))


# --- schools ---------------------------------------------------------------------------


@bp.route("/schools")
@roles_required(Role.ADMIN)
def list_schools():
    search = SearchForm(formdata=request.args)
    q = _search_text(search)
    district_id = request.args.get("district_id", type=id_arg)
    pagination = services.paginate(services.school_query(q, district_id=district_id), _page())
    return render_template(
        "admin/school_list.html",
        search=search,
        pagination=pagination,
        district=db.session.get(District, district_id) if district_id else None,
        args=_search_args(),
    )


@bp.route("/schools/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_school():
    form = SchoolForm(district=request.args.get("district_id", type=id_arg))
    if form.validate_on_submit():
        try:
            change = services.create_school(
                form.code.data,
                form.name.data,
                district=db.session.get(District, form.district.data)
                if form.district.data
                else None,
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("School %(code)s created.", code=change.school.code), "success")
            return redirect(url_for("admin.list_schools"))
    return render_template("admin/school_form.html", form=form, school=None)


@bp.route("/schools/<int:school_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_school(school_id: int):
    school = _get_or_404(School, school_id)
    form = SchoolForm(
        data={"code": school.code, "name": school.name, "district": school.district_id}
    )
    if form.validate_on_submit():
        try:
            services.update_school(
                school,
                code=form.code.data,
                name=form.name.data,
                district=db.session.get(District, form.district.data)
                if form.district.data
                else None,
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("School %(code)s saved.", code=school.code), "success")
            return redirect(url_for("admin.list_schools"))
    return render_template("admin/school_form.html", form=form, school=school)


@bp.route("/schools/<int:school_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete_school(school_id: int):
    school = _get_or_404(School, school_id)
    code = school.code
    try:
        services.delete_school(school)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.edit_school", school_id=school_id))
    db.session.commit()
    flash(_("School %(code)s deleted.", code=code), "success")
    return redirect(url_for("admin.list_schools"))


# --- institutions ----------------------------------------------------------------------


@bp.route("/institutions")
@roles_required(Role.ADMIN)
def list_institutions():
    search = SearchForm(formdata=request.args)
    q = _search_text(search)
    pagination = services.paginate(services.institution_query(q), _page())
    return render_template(
        "admin/institution_list.html", search=search, pagination=pagination, args=_search_args()
    )


@bp.route("/institutions/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_institution():
    form = InstitutionForm()
    if form.validate_on_submit():
        try:
            institution = services.create_institution(form.name.data, code=form.code.data)
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Institution %(name)s created.", name=institution.name), "success")
            return redirect(url_for("admin.list_institutions"))
    return render_template("admin/institution_form.html", form=form, institution=None)


@bp.route("/institutions/<int:institution_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_institution(institution_id: int):
    institution = _get_or_404(Institution, institution_id)
    form = InstitutionForm(obj=institution)
    if form.validate_on_submit():
        try:
            services.update_institution(institution, name=form.name.data, code=form.code.data)
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("Institution %(name)s saved.", name=institution.name), "success")
            return redirect(url_for("admin.list_institutions"))
    return render_template("admin/institution_form.html", form=form, institution=institution)


@bp.route("/institutions/<int:institution_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete_institution(institution_id: int):
    institution = _get_or_404(Institution, institution_id)
    name = institution.name
    try:
        services.delete_institution(institution)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.edit_institution", institution_id=institution_id))
    db.session.commit()
    flash(_("Institution %(name)s deleted.", name=name), "success")
    return redirect(url_for("admin.list_institutions"))


# --- users -----------------------------------------------------------------------------


@bp.route("/users")
@roles_required(Role.ADMIN)
def list_users():
    search = SearchForm(formdata=request.args)
    q = _search_text(search)
    role = request.args.get("role") or None
    if role not in ROLE_LABELS:
        role = None
    status = request.args.get("status") or ""
    active = {"active": True, "inactive": False}.get(status)
    pagination = services.paginate(services.user_query(q, role=role, active=active), _page())
    users = pagination.items
    scopes = {
        "school": _list_by_id(School, {u.school_id for u in users if u.school_id}),
        "institution": _list_by_id(
            Institution, {u.institution_id for u in users if u.institution_id}
        ),
        "district": _list_by_id(District, {u.district_id for u in users if u.district_id}),
    }
    return render_template(
        "admin/user_list.html",
        search=search,
        pagination=pagination,
        role=role,
        status=status,
        role_labels=ROLE_LABELS,
        scopes=scopes,
        now=utcnow(),
        args=_search_args(),
    )


def _user_data(user: User) -> dict[str, Any]:
    """The form's starting values (the scope fields hold ids, the model has objects)."""
    return {
        "display_name": user.display_name,
        "role": user.role,
        "school": user.school_id,
        "institution": user.institution_id,
        "district": user.district_id,
        "locale": user.locale or "",
        "active": user.active,
    }


def _scope_objects(form: UserForm) -> dict[str, Any]:
    return {
        "school": db.session.get(School, form.school.data) if form.school.data else None,
        "institution": db.session.get(Institution, form.institution.data)
        if form.institution.data
        else None,
        "district": db.session.get(District, form.district.data) if form.district.data else None,
    }


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.username.data,
                role=form.role.data,
                password=form.password.data,
                display_name=form.display_name.data or "",
                locale=form.locale.data or None,
                active=form.active.data,
                **_scope_objects(form),
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("User %(username)s created.", username=user.username), "success")
            return redirect(url_for("admin.list_users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = _get_or_404(User, user_id)
    form = UserForm(user=user, data=_user_data(user))
    if form.validate_on_submit():
        try:
            services.update_user(
                user,
                actor=current_user,
                display_name=form.display_name.data or "",
                role=form.role.data,
                locale=form.locale.data or None,
                active=form.active.data,
                **_scope_objects(form),
            )
        except AdminError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("User %(username)s saved.", username=user.username), "success")
            return redirect(url_for("admin.list_users"))
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        password_form=PasswordForm(formdata=None),
        locked=services.is_locked(user),
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required(Role.ADMIN)
def set_user_password(user_id: int):
    user = _get_or_404(User, user_id)
    password_form = PasswordForm()
    if password_form.validate_on_submit():
        try:
            services.set_password(user, password_form.password.data)
        except AdminError as error:
            _refused(password_form, error)
        else:
            db.session.commit()
            flash(_("The password of %(username)s is set.", username=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    form = UserForm(formdata=None, user=user, data=_user_data(user))
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        password_form=password_form,
        locked=services.is_locked(user),
    ), 400


def _set_active(user_id: int, active: bool):
    user = _get_or_404(User, user_id)
    try:
        services.set_active(user, active, actor=current_user)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        if active:
            flash(_("User %(username)s can sign in again.", username=user.username), "success")
        else:
            flash(_("User %(username)s is deactivated.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/activate", methods=["POST"])
@roles_required(Role.ADMIN)
def activate_user(user_id: int):
    return _set_active(user_id, True)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@roles_required(Role.ADMIN)
def unlock_user(user_id: int):
    user = _get_or_404(User, user_id)
    if services.unlock_user(user):
        db.session.commit()
        flash(_("User %(username)s is unlocked.", username=user.username), "success")
    else:
        flash(_("User %(username)s was not locked.", username=user.username), "info")
    if request.form.get("back") == "list":
        return redirect(url_for("admin.list_users"))
    return redirect(url_for("admin.edit_user", user_id=user.id))


# --- audit trail -----------------------------------------------------------------------


@bp.route("/audit")
@roles_required(Role.ADMIN)
def list_audit_events():
    """The audit trail, newest first, with each event's values before and after."""
    actions, entities = services.audit_choices()
    form = AuditFilterForm(formdata=request.args, actions=actions, entities=entities)
    filters = services.AuditFilter()
    if request.args and form.validate():
        filters = services.AuditFilter(
            user=services.find_user(form.user.data) if form.user.data else None,
            action=form.action.data or None,
            entity=form.entity.data or None,
            school_id=form.school.data,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    elif request.args:
        # A filter the form refused shows the error and no events, never the whole trail.
        return render_template(
            "admin/audit_list.html", form=form, pagination=None, diffs={}, args={}, users={}
        ), 400
    pagination = services.paginate(services.audit_query(filters), _page())
    events = pagination.items
    return render_template(
        "admin/audit_list.html",
        form=form,
        pagination=pagination,
        diffs={e.id: services.audit_diff(e) for e in events},
        users=_list_by_id(User, {e.user_id for e in events if e.user_id}),
        args=_search_args(),
    )


@bp.route("/audit/<int:event_id>")
@roles_required(Role.ADMIN)
def show_audit_event(event_id: int):
    event = _get_or_404(AuditEvent, event_id)
    return render_template(
        "admin/audit_show.html",
        event=event,
        diff=services.audit_diff(event),
        school=db.session.get(School, event.school_id) if event.school_id else None,
    )
