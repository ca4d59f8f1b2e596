"""Roster services against the database: pupils, classes, promotion and their audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, Enrolment, SchoolClass, Student, mask_id_number
from schoolhealth.roster import services
from schoolhealth.roster.services import StudentData
from tests import factories

from .helpers import birth_date_aged, make_id_number


def _data(school_class, **overrides) -> StudentData:
    values = {
        "student_number": "G110101201001011234",
        "name": "张小明",
        "sex": "M",
        "birth_date": birth_date_aged(9),
        "class_id": school_class.id,
        "id_number": None,
        "guardian_phone": "13800138000",
        "guardian_language": "zh",
    }
    values.update(overrides)
    return StudentData(**values)


def _events(action: str, entity: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity == entity)
            .order_by(AuditEvent.id)
        )
    )


def test_create_student_sets_initials_enrolment_and_audit(school_a):
    number = make_id_number(birth_date_aged(9), "M")
    student = services.create_student(
        school_a.school, _data(school_a.school_class, id_number=number)
    )
    db.session.commit()
    assert student.name_initials == "zxm"
    enrolment = db.session.scalars(
        select(Enrolment).where(Enrolment.student_id == student.id)
    ).one()
    assert (enrolment.school_year, enrolment.class_id) == (
        school_a.school_class.school_year,
        school_a.school_class.id,
    )
    (event,) = _events("create", "student")
    assert event.before is None
    assert event.after["name"] == "张小明"
    assert event.after["id_number"] == student.masked_id_number  # never the full number
    assert number not in str(event.after)
    assert event.school_id == school_a.school.id


def test_create_student_refuses_a_class_of_another_school(school_a, school_b):
    with pytest.raises(services.RosterError):
        services.create_student(school_a.school, _data(school_b.school_class))


def test_update_student_audits_only_changed_fields(school_a):
    student = school_a.student
    services.update_student(
        student,
        _data(
            school_a.school_class,
            student_number=student.student_number,
            name="李四",
            sex=student.sex,
            birth_date=student.birth_date,
            guardian_phone=None,
            guardian_language="zh",
        ),
    )
    db.session.commit()
    (event,) = _events("update", "student")
    assert event.before == {"name": "A学生"}
    assert event.after == {"name": "李四"}
    assert student.name_initials == "ls"


def test_update_student_without_changes_writes_nothing(school_a):
    s = school_a.student
    data = StudentData(s.student_number, s.name, s.sex, s.birth_date, s.class_id, None, None, "zh")
    s.name_initials = "x"
    assert services.update_student(s, data) is False
    assert _events("update", "student") == []


def test_update_student_class_change_records_enrolment(school_a):
    new_class = factories.SchoolClassFactory(
        school=school_a.school, school_year=school_a.school_class.school_year, grade=3, name="2"
    )
    s = school_a.student
    services.update_student(
        s,
        StudentData(s.student_number, s.name, s.sex, s.birth_date, new_class.id, None, None, "zh"),
    )
    db.session.commit()
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.student_id == s.id)).all()
    assert [(e.school_year, e.class_id) for e in enrolments] == [
        (new_class.school_year, new_class.id)
    ]
    (event,) = _events("update", "student")
    assert event.before == {"class_id": school_a.school_class.id}
    assert event.after == {"class_id": new_class.id}


def test_update_student_id_change_with_same_mask_is_audited(school_a):
    """Two numbers that differ only in the masked middle still make an audited change."""
    s = school_a.student
    first = make_id_number(s.birth_date, "M", area="110101")
    second = next(
        number
        for area in (f"1101{n:02d}" for n in range(2, 100))
        if (number := make_id_number(s.birth_date, "M", area=area))[-4:] == first[-4:]
    )
    assert mask_id_number(first) == mask_id_number(second)
    s.id_number = first
    db.session.commit()
    data = StudentData(
        s.student_number, s.name, s.sex, s.birth_date, s.class_id, second, None, "zh"
    )
    assert services.update_student(s, data) is True
    db.session.commit()
    (event,) = _events("update", "student")
    assert event.before == {"id_number": mask_id_number(first)}
    assert event.after == {"id_number": mask_id_number(second)}
    assert db.session.get(Student, s.id).id_number == second


def test_deactivate_and_reactivate_are_audited(school_a):
    s = school_a.student
    assert services.set_student_active(s, False, reason="moved away") is True
    assert services.set_student_active(s, False) is False  # already left: no second event
    assert services.set_student_active(s, True) is True
    db.session.commit()
    (left,) = _events("deactivate", "student")
    (back,) = _events("reactivate", "student")
    assert (left.before, left.after) == ({"active": True}, {"active": False})
    assert "moved away" in left.summary
    assert (back.before, back.after) == ({"active": False}, {"active": True})


# --- classes --------------------------------------------------------------------------


def test_create_rename_delete_class(school_a):
    year = school_a.school_class.school_year
    school_class = services.create_class(school_a.school, school_year=year, grade=5, name="(2)班")
    assert school_class.name == "2"
    with pytest.raises(services.DuplicateClass):
        services.create_class(school_a.school, school_year=year, grade=5, name="二班")
    assert services.rename_class(school_class, "三班") is True
    assert school_class.name == "3"
    assert services.rename_class(school_class, "3") is False
    services.delete_class(school_class)
    db.session.commit()
    assert db.session.get(SchoolClass, school_class.id) is None
    (created,) = _events("create", "class")
    (renamed,) = _events("update", "class")
    (deleted,) = _events("delete", "class")
    assert created.after == {"school_year": year, "grade": 5, "name": "2"}
    assert (renamed.before, renamed.after) == ({"name": "2"}, {"name": "3"})
    assert deleted.before == {"school_year": year, "grade": 5, "name": "3"}


def test_rename_class_refuses_a_name_taken_in_the_grade(school_a):
    other = factories.SchoolClassFactory(
        school=school_a.school, school_year=school_a.school_class.school_year, grade=3, name="2"
    )
    with pytest.raises(services.DuplicateClass):
        services.rename_class(other, "1")


def test_delete_class_refuses_a_class_with_pupils_or_history(school_a):
    with pytest.raises(services.ClassNotEmpty):
        services.delete_class(school_a.school_class)
    # Only history left: the pupil moved on, but was enrolled in it.
    old = factories.SchoolClassFactory(school=school_a.school, school_year=2020, grade=1, name="1")
    db.session.add(Enrolment(student_id=school_a.student.id, school_year=2020, class_id=old.id))
    db.session.commit()
    with pytest.raises(services.ClassNotEmpty):
        services.delete_class(old)


def test_class_overview_counts_active_pupils_and_enrolments(school_a):
    rows = {
        r.school_class.id: r
        for r in services.class_overview(school_a.school, school_a.school_class.school_year)
    }
    assert rows[school_a.school_class.id].active_pupils == 1  # the inactive one is not counted
    assert rows[school_a.empty_class.id].active_pupils == 0
    assert [r.school_class.grade for r in rows.values()] == [3, 4]


def test_school_classes_sort_class_2_before_10(school_a):
    year = school_a.school_class.school_year
    ten = factories.SchoolClassFactory(school=school_a.school, school_year=year, grade=3, name="10")
    two = factories.SchoolClassFactory(school=school_a.school, school_year=year, grade=3, name="2")
    names = [c.id for c in services.school_classes(school_a.school, year) if c.grade == 3]
    assert names == [school_a.school_class.id, two.id, ten.id]


# --- promotion ------------------------------------------------------------------------


@pytest.fixture
def primary_school(app):
    """A primary school in 2025: grade 1 class 1 (3 pupils, one inactive), grade 6 class 2
    (2 pupils); grade 2 class 1 of 2026 already exists (made ahead by the nurse)."""
    school = factories.SchoolFactory()
    g1 = factories.SchoolClassFactory(school=school, school_year=2025, grade=1, name="1")
    g6 = factories.SchoolClassFactory(school=school, school_year=2025, grade=6, name="2")
    ahead = factories.SchoolClassFactory(school=school, school_year=2026, grade=2, name="1")
    first = [factories.StudentFactory(school_class=g1) for _ in range(2)]
    left = factories.StudentFactory(school_class=g1, active=False)
    sixth = [factories.StudentFactory(school_class=g6) for _ in range(2)]
    return {
        "school": school,
        "g1": g1,
        "g6": g6,
        "ahead": ahead,
        "first": first,
        "left": left,
        "sixth": sixth,
    }


def test_plan_promotion_describes_without_changing(primary_school):
    plan = services.plan_promotion(primary_school["school"], 2025, graduating_grades=[6])
    assert plan.to_year == 2026
    assert [(s.source.grade, s.pupils, s.graduates, s.target_grade) for s in plan.steps] == [
        (1, 2, False, 2),
        (6, 2, True, None),
    ]
    assert plan.steps[0].target.id == primary_school["ahead"].id
    assert (plan.promoted, plan.graduated, plan.classes_to_create) == (2, 2, 0)
    assert db.session.scalar(select(db.func.count()).select_from(Enrolment)) == 0


def test_promotion_moves_pupils_and_graduates_chosen_grades(primary_school):
    p = primary_school
    result = services.promote_school(p["school"], 2025, graduating_grades=[6])
    db.session.commit()
    assert (result.promoted, result.graduated, result.classes_created) == (2, 2, 0)
    for pupil in p["first"]:
        db.session.refresh(pupil)
        assert pupil.class_id == p["ahead"].id
        assert pupil.active
        years = {e.school_year: e.class_id for e in pupil.enrolments}
        assert years == {2025: p["g1"].id, 2026: p["ahead"].id}
    for pupil in p["sixth"]:
        db.session.refresh(pupil)
        assert not pupil.active
        assert pupil.class_id == p["g6"].id  # the class they graduated from
    db.session.refresh(p["left"])
    assert p["left"].class_id == p["g1"].id  # inactive pupils are not moved
    (event,) = _events("promote", "school")
    assert event.before == {"school_year": 2025}
    assert event.after == {
        "school_year": 2026,
        "promoted": 2,
        "graduated": 2,
        "classes_created": 0,
        "graduating_grades": [6, 12],
    }


def test_promotion_without_graduating_grade_6_creates_grade_7(primary_school):
    result = services.promote_school(primary_school["school"], 2025)
    db.session.commit()
    assert (result.promoted, result.graduated, result.classes_created) == (4, 0, 1)
    seventh = db.session.scalars(
        select(SchoolClass).where(SchoolClass.school_year == 2026, SchoolClass.grade == 7)
    ).one()
    assert seventh.name == "2"


def test_grade_12_always_graduates(app):
    school = factories.SchoolFactory()
    g12 = factories.SchoolClassFactory(school=school, school_year=2025, grade=12, name="1")
    pupil = factories.StudentFactory(school_class=g12)
    result = services.promote_school(school, 2025)
    db.session.commit()
    db.session.refresh(pupil)
    assert (result.promoted, result.graduated) == (0, 1)
    assert not pupil.active


def test_promotion_twice_for_the_same_year_is_refused(primary_school):
    services.promote_school(primary_school["school"], 2025, graduating_grades=[6])
    db.session.commit()
    # A pupil added to last year's class afterwards must not trigger a second promotion.
    factories.StudentFactory(school_class=primary_school["g1"])
    with pytest.raises(services.PromotionRefused, match="already_promoted"):
        services.promote_school(primary_school["school"], 2025, graduating_grades=[6])
    db.session.rollback()
    assert len(_events("promote", "school")) == 1


def test_promotion_over_two_years(primary_school):
    p = primary_school
    services.promote_school(p["school"], 2025, graduating_grades=[6])
    db.session.commit()
    services.promote_school(p["school"], 2026)
    db.session.commit()
    pupil = p["first"][0]
    db.session.refresh(pupil)
    assert pupil.school_class.school_year == 2027
    assert pupil.school_class.grade == 3
    assert [e.school_year for e in pupil.enrolments] == [2025, 2026, 2027]


def test_promotion_of_an_empty_year_is_refused(app):
    school = factories.SchoolFactory()
    factories.SchoolClassFactory(school=school, school_year=2025, grade=2, name="1")
    with pytest.raises(services.PromotionRefused, match="nothing_to_promote"):
        services.promote_school(school, 2025)


def test_new_pupils_of_next_year_do_not_block_promotion(primary_school):
    """First-graders added to next year's classes in August are not "already promoted"."""
    p = primary_school
    newcomer = services.create_student(
        p["school"],
        StudentData("NEW0000001", "新生", "F", birth_date_aged(6), p["ahead"].id, None, None, "zh"),
    )
    db.session.commit()
    result = services.promote_school(p["school"], 2025, graduating_grades=[6])
    assert result.promoted == 2
    assert db.session.get(Student, newcomer.id).class_id == p["ahead"].id
