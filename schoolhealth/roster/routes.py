"""Views of the roster: pupils, classes and promotion to the next school year.

Thin views: load through ``access`` (out of scope is 404), call one service, commit
once, then flash and redirect. Nurses and admins keep rosters; institution users read
the rosters of the schools they screen; officials never see names (403).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from ..access import (
    can_access_school,
    get_school_or_404,
    get_student_or_404,
    id_arg,
    is_valid_id,
    page_arg,
    roles_required,
    scoped_schools,
    scoped_students,
)
from ..audit import record_view
from ..extensions import db
from ..models import Enrolment, Role, School, SchoolClass, Student
from ..rules import numbers
from . import bp, services
from .forms import (
    ClassForm,
    ConfirmForm,
    DeactivateForm,
    PromoteForm,
    RenameClassForm,
    StudentForm,
    StudentSearchForm,
    class_label,
)

READ_ROLES = (Role.ADMIN, Role.NURSE, Role.INSTITUTION)
WRITE_ROLES = (Role.ADMIN, Role.NURSE)
SHOW_CHOICES = ("active", "inactive", "all")


def _refusal(key: str, **params: Any) -> str:
    """The user-facing words for a service's refusal (a RosterError's key)."""
    if key == "nothing_to_promote":
        return _(
            "The classes of %(year)s have no active pupils: there is nothing to promote.",
            **params,
        )
    if key == "class_not_empty":
        return _(
            "This class still has pupils, now or in its history; move them first. "
            "Nothing was deleted."
        )
    if key == "class_not_in_school":
        return _("Choose one of the school's classes.")
    return _("The school already has this class in that school year.")


def year_arg(value: str) -> int:
    """``type=`` for a school year in a URL: 2000-2100, as the forms take (else the default)."""
    year = numbers.parse_int(value)
    if year is None or not 2000 <= year <= 2100:
        raise ValueError(f"not a school year: {value!r}")
    return year


def _can_edit() -> bool:
    return current_user.role in WRITE_ROLES


def _page_school(school_id: int | None) -> School | None:
    """The school a list is about: a nurse's own; for others the one chosen, or the
    only school in their scope, or None (all schools in scope)."""
    user = current_user
    if user.role == Role.NURSE:
        if user.school_id is None or (school_id is not None and school_id != user.school_id):
            abort(404)
        return get_school_or_404(user.school_id)
    if school_id is not None:
        return get_school_or_404(school_id)
    schools = db.session.scalars(scoped_schools(user).limit(2)).all()
    return schools[0] if len(schools) == 1 else None


def _get_class_or_404(class_id: int) -> SchoolClass:
    """A class of a school the user may see; 404 otherwise (as for pupils)."""
    school_class = db.session.get(SchoolClass, class_id) if is_valid_id(class_id) else None
    if school_class is None or not can_access_school(current_user, school_class.school_id):
        abort(404)
    return school_class


# --- pupils ---------------------------------------------------------------------------


@bp.route("/")
@roles_required(*READ_ROLES)
def list_students():
    """The roster: one school's pupils (or every school in scope, for admins), filtered
    by class and searched by name, pinyin initials or student-number prefix.

    Paged with LIMIT n+1 (a "next" link without counting); the total is counted only
    within one school, where the (school_id, ...) indexes keep it cheap.
    """
    args = request.args
    school = _page_school(args.get("school_id", type=id_arg))
    school_class = None
    class_id = args.get("class_id", type=id_arg)
    if class_id is not None:
        school_class = _get_class_or_404(class_id)
        if school is None:
            school = school_class.school
        elif school_class.school_id != school.id:
            school_class = None  # the school was changed in the filter bar: all its classes
    show = args.get("show", "active")
    if show not in SHOW_CHOICES:
        show = "active"
    q = args.get("q", "").strip()[:100]
    page = args.get("page", 1, type=page_arg)
    size = current_app.config["PAGE_SIZE"]
    school_year = services.current_school_year()

    query = scoped_students(current_user)
    if school is not None:
        query = query.where(Student.school_id == school.id)
    if school_class is not None:
        query = query.where(Student.class_id == school_class.id)
    if show != "all":
        query = query.where(Student.active.is_(show == "active"))

    # Across all schools only the indexed student-number prefix is searched; a name
    # search over 1.45M pupils would scan the table, so it asks for a school first.
    needs_school = bool(q) and school is None and not services.is_student_number_search(q)
    results = None
    if not needs_school:
        query = services.search_filter(query, q)
        total = None
        if school is not None:
            total = db.session.scalar(query.with_only_columns(func.count(Student.id)))
        if school_class is not None:
            query = query.order_by(Student.name, Student.id)
        elif school is not None:
            query = (
                # The school_id term lets the join read only this school's classes.
                query.outerjoin(
                    SchoolClass,
                    (SchoolClass.id == Student.class_id) & (SchoolClass.school_id == school.id),
                )
                .options(contains_eager(Student.school_class))
                .order_by(
                    SchoolClass.school_year.desc(),
                    SchoolClass.grade,
                    func.length(SchoolClass.name),
                    SchoolClass.name,
                    Student.name,
                    Student.id,
                )
            )
        else:
            query = query.options(
                selectinload(Student.school_class), selectinload(Student.school)
            ).order_by(Student.school_id, Student.class_id, Student.name, Student.id)
        results = services.fetch_page(query, page=page, size=size, total=total)

    classes = services.school_classes(school, school_year) if school is not None else []
    if school_class is not None and school_class not in classes:
        classes.insert(0, school_class)
    schools = None  # a nurse's school is fixed: no school choice
    if current_user.role != Role.NURSE:
        schools = db.session.execute(
            scoped_schools(current_user).with_only_columns(School.id, School.code, School.name)
        ).all()
    form = StudentSearchForm(
        request.args, schools=schools, classes=[(c.id, class_label(c)) for c in classes]
    )
    if "school_id" in form:
        form.school_id.data = school.id if school is not None else None
    form.class_id.data = school_class.id if school_class is not None else None
    form.show.data = show
    link_args = {
        key: value
        for key, value in {
            "school_id": school.id if school is not None else None,
            "class_id": school_class.id if school_class is not None else None,
            "q": q or None,
            "show": show if show != "active" else None,
        }.items()
        if value is not None
    }
    class_labels: dict[int, str] = {}
    if results is not None:
        for student in results.items:
            if student.school_class is not None and student.class_id not in class_labels:
                class_labels[student.class_id] = class_label(student.school_class)
    return render_template(
        "roster/student_list.html",
        class_labels=class_labels,
        form=form,
        school=school,
        school_class=school_class,
        results=results,
        needs_school=needs_school,
        q=q,
        show=show,
        link_args=link_args,
        can_edit=_can_edit(),
    )


@bp.route("/students/<int:student_id>")
@roles_required(*READ_ROLES)
def show_student(student_id: int):
    student = get_student_or_404(student_id)
    enrolments = db.session.scalars(
        select(Enrolment)
        .where(Enrolment.student_id == student.id)
        .options(selectinload(Enrolment.school_class))
        .order_by(Enrolment.school_year.desc())
    ).all()
    page = render_template(
        "roster/student_detail.html",
        student=student,
        enrolments=enrolments,
        can_edit=_can_edit(),
    )
    record_view(
        "student",
        student.id,
        school_id=student.school_id,
        summary=f"roster page of pupil {student.id} viewed",
        pupil_ids=[student.id],
        details={"page": "roster"},
    )
    db.session.commit()
    return page


@bp.route("/schools/<int:school_id>/students/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def new_student(school_id: int):
    school = get_school_or_404(school_id)
    form = StudentForm(school=school)
    if request.method == "GET":
        preset = request.args.get("class_id", type=id_arg)
        if preset in {c.id for c in form.classes}:
            form.class_id.data = preset
    if form.validate_on_submit():
        try:
            student = services.create_student(school, form.to_data())
        except IntegrityError:
            db.session.rollback()
            form.form_errors.append(
                _("Someone saved a pupil with this student number or ID number just now.")
            )
        else:
            db.session.commit()
            flash(
                _(
                    "Added %(name)s (%(number)s).",
                    name=student.name,
                    number=student.masked_student_number,
                ),
                "success",
            )
            if "add_another" in request.form:
                return redirect(
                    url_for("roster.new_student", school_id=school.id, class_id=student.class_id)
                )
            return redirect(
                url_for("roster.list_students", school_id=school.id, class_id=student.class_id)
            )
    return render_template("roster/student_form.html", form=form, school=school, student=None)


@bp.route("/students/<int:student_id>/edit", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def edit_student(student_id: int):
    student = get_student_or_404(student_id)
    form = StudentForm(school=student.school, student=student)
    if form.validate_on_submit():
        try:
            changed = services.update_student(student, form.to_data())
        except IntegrityError:
            db.session.rollback()
            form.form_errors.append(
                _("Someone saved a pupil with this student number or ID number just now.")
            )
        else:
            db.session.commit()
            if changed:
                flash(_("Saved %(name)s.", name=student.name), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("roster.show_student", student_id=student.id))
    return render_template(
        "roster/student_form.html", form=form, school=student.school, student=student
    )


@bp.route("/students/<int:student_id>/deactivate", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def deactivate_student(student_id: int):
    """Mark a pupil as left: hidden from the roster, kept with every result."""
    student = get_student_or_404(student_id)
    form = DeactivateForm()
    if not student.active:
        flash(_("%(name)s is already marked as left.", name=student.name), "info")
        return redirect(url_for("roster.show_student", student_id=student.id))
    if form.validate_on_submit():
        services.set_student_active(student, False, reason=form.reason.data or "")
        db.session.commit()
        flash(_("%(name)s is marked as left.", name=student.name), "success")
        return redirect(url_for("roster.list_students", school_id=student.school_id))
    return render_template(
        "roster/student_confirm.html", form=form, student=student, activate=False
    )


@bp.route("/students/<int:student_id>/reactivate", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def reactivate_student(student_id: int):
    student = get_student_or_404(student_id)
    form = ConfirmForm()
    if student.active:
        flash(_("%(name)s is already on the roster.", name=student.name), "info")
        return redirect(url_for("roster.show_student", student_id=student.id))
    if form.validate_on_submit():
        services.set_student_active(student, True)
        db.session.commit()
        flash(_("%(name)s is back on the roster.", name=student.name), "success")
        return redirect(url_for("roster.show_student", student_id=student.id))
    return render_template("roster/student_confirm.html", form=form, student=student, activate=True)


# --- classes --------------------------------------------------------------------------


@bp.route("/schools/<int:school_id>/classes")
@roles_required(*READ_ROLES)
def list_classes(school_id: int):
    school = get_school_or_404(school_id)
    current = services.current_school_year()
    year = request.args.get("year", current, type=year_arg)
    years = sorted(set(services.school_years(school)) | {current, year}, reverse=True)
    return render_template(
        "roster/class_list.html",
        school=school,
        year=year,
        years=years,
        rows=services.class_overview(school, year),
        can_edit=_can_edit(),
    )


@bp.route("/schools/<int:school_id>/classes/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def new_class(school_id: int):
    school = get_school_or_404(school_id)
    form = ClassForm(school=school)
    if request.method == "GET":
        year = request.args.get("year", type=year_arg)
        form.school_year.data = year if year in form.years else services.current_school_year()
    if form.validate_on_submit():
        try:
            school_class = services.create_class(
                school,
                school_year=form.school_year.data,
                grade=form.grade_value,
                name=form.name_value,
            )
        except (services.DuplicateClass, IntegrityError) as exc:
            db.session.rollback()
            form.name.errors.append(_refusal("duplicate_class"))
            current_app.logger.info("class not created: %s", exc)
        else:
            db.session.commit()
            flash(_("Added %(label)s.", label=class_label(school_class)), "success")
            if "add_another" in request.form:
                return redirect(
                    url_for("roster.new_class", school_id=school.id, year=school_class.school_year)
                )
            return redirect(
                url_for("roster.list_classes", school_id=school.id, year=school_class.school_year)
            )
    return render_template("roster/class_form.html", form=form, school=school, school_class=None)


@bp.route("/classes/<int:class_id>/rename", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def rename_class(class_id: int):
    school_class = _get_class_or_404(class_id)
    form = RenameClassForm(school_class=school_class)
    if request.method == "GET":
        form.name.data = school_class.name
    if form.validate_on_submit():
        try:
            changed = services.rename_class(school_class, form.name_value)
        except (services.DuplicateClass, IntegrityError):
            db.session.rollback()
            form.name.errors.append(_refusal("duplicate_class"))
        else:
            db.session.commit()
            if changed:
                flash(_("Renamed to %(label)s.", label=class_label(school_class)), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(
                url_for(
                    "roster.list_classes",
                    school_id=school_class.school_id,
                    year=school_class.school_year,
                )
            )
    return render_template(
        "roster/class_form.html", form=form, school=school_class.school, school_class=school_class
    )


@bp.route("/classes/<int:class_id>/delete", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def delete_class(class_id: int):
    """Delete a class created by mistake; only an empty one (pupils' history stays)."""
    school_class = _get_class_or_404(class_id)
    back = url_for(
        "roster.list_classes", school_id=school_class.school_id, year=school_class.school_year
    )
    form = ConfirmForm()
    if form.validate_on_submit():
        label = class_label(school_class)
        try:
            services.delete_class(school_class)
        except services.ClassNotEmpty:
            db.session.rollback()
            flash(_refusal("class_not_empty"), "error")
            return redirect(back)
        db.session.commit()
        flash(_("Deleted %(label)s.", label=label), "success")
        return redirect(back)
    return render_template(
        "roster/class_delete.html",
        form=form,
        school_class=school_class,
        empty=services.class_is_empty(school_class),
        back=back,
    )


# --- promotion ------------------------------------------------------------------------


@bp.route("/schools/<int:school_id>/promote", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def promote_school(school_id: int):
    """Move the school up one school year, after a page that shows what will happen.

    POST with ``action=preview`` only recomputes the plan (e.g. after ticking a
    graduating grade); ``action=promote`` does it, all or nothing.
    """
    school = get_school_or_404(school_id)
    current = services.current_school_year()
    # Promoting into a year after next would move pupils twice in one summer.
    years = [y for y in services.school_years(school) if y <= current]
    source = request.form if request.method == "POST" else request.args
    from_year = source.get("from_year", type=year_arg)
    if from_year not in years:
        from_year = current - 1 if current - 1 in years else (years[0] if years else None)
    grades = sorted({c.grade for c in services.school_classes(school, from_year)}) if years else []
    defaults: dict[str, Any] = {"from_year": from_year}
    if request.method == "GET":
        # The top grade of a primary (6) or junior middle school (9) usually leaves.
        defaults["graduating_grades"] = [grades[-1]] if grades and grades[-1] in (6, 9) else []
    form = PromoteForm(
        formdata=request.form if request.method == "POST" else None,
        data=defaults,
        years=years,
        grades=grades,
    )
    if request.method == "POST" and request.form.get("action") == "promote":
        if form.validate_on_submit():
            try:
                result = services.promote_school(
                    school, form.from_year.data, graduating_grades=form.graduating_grades.data
                )
            except (services.PromotionRefused, IntegrityError) as exc:
                # IntegrityError: someone promoted the same school at the same moment.
                db.session.rollback()
                key = str(exc) if isinstance(exc, services.PromotionRefused) else "already_promoted"
                if key != "already_promoted":  # that one the page itself states
                    flash(_refusal(key, year=form.from_year.data), "error")
            else:
                db.session.commit()
                flash(
                    _(
                        "School year %(year)s: %(promoted)s pupils moved up, %(graduated)s "
                        "graduated, %(created)s classes created.",
                        year=result.to_year,
                        promoted=result.promoted,
                        graduated=result.graduated,
                        created=result.classes_created,
                    ),
                    "success",
                )
                return redirect(
                    url_for("roster.list_classes", school_id=school.id, year=result.to_year)
                )
    elif request.method == "POST":
        form.validate()
    plan = None
    if from_year is not None and not form.from_year.errors:
        plan = services.plan_promotion(
            school, form.from_year.data, graduating_grades=form.graduating_grades.data or []
        )
    return render_template("roster/school_promote.html", form=form, school=school, plan=plan)
