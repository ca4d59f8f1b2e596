"""Roster list and search pages on a large PostgreSQL roster: timings and query plans.

    .venv/bin/python bench/roster_pages.py postgresql+psycopg://postgres@127.0.0.1:5432/scratch
    .venv/bin/python bench/roster_pages.py URL --students 1450000 --explain

THE DATABASE IS WIPED (schema public dropped and recreated): point it at a scratch
database only. It inserts ``--students`` pupils (default 300,000) in schools of about a
thousand (grades 1-6, four classes each) with executemany, runs ANALYZE, then requests
each roster page through the Flask test client as a nurse and as an admin, several times,
and prints the median time of each page and whether the plan of its pupil query used an
index (``--explain`` prints the plans themselves).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, event, func, insert, select, text  # noqa: E402

from schoolhealth import create_app  # noqa: E402
from schoolhealth.extensions import db  # noqa: E402
from schoolhealth.models import (  # noqa: E402
    District,
    School,
    SchoolClass,
    Student,
    User,
)
from schoolhealth.roster.services import current_school_year, name_initials  # noqa: E402

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋"
    + "唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文晓梓涵浩宇欣怡子轩一诺雨"
PUPILS_PER_SCHOOL = 1000
CLASSES_PER_GRADE = 4


def populate(total: int, seed: int) -> tuple[int, int]:
    """Insert ``total`` pupils; returns (schools, seconds spent inserting pupils)."""
    rng = random.Random(seed)
    year = current_school_year()
    initials = lru_cache(maxsize=None)(name_initials)
    district = District(name="Bench district", code="BENCH")
    db.session.add(district)
    db.session.flush()
    n_schools = max(1, total // PUPILS_PER_SCHOOL)
    db.session.execute(
        insert(School),
        [
            {"code": f"B{s:05d}", "name": f"Bench school {s}", "district_id": district.id}
            for s in range(n_schools)
        ],
    )
    school_ids = list(db.session.scalars(select(School.id).order_by(School.id)))
    db.session.execute(
        insert(SchoolClass),
        [
            {"school_id": sid, "school_year": year, "grade": g, "name": str(c)}
            for sid in school_ids
            for g in range(1, 7)
            for c in range(1, CLASSES_PER_GRADE + 1)
        ],
    )
    classes: dict[int, list[tuple[int, int]]] = {}
    for cid, sid, grade in db.session.execute(
        select(SchoolClass.id, SchoolClass.school_id, SchoolClass.grade)
    ):
        classes.setdefault(sid, []).append((cid, grade))
    started = time.perf_counter()
    chunk: list[dict] = []
    for n in range(total):
        sid = school_ids[n % n_schools]
        cid, grade = rng.choice(classes[sid])
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        chunk.append(
            {
                "school_id": sid,
                "student_number": f"G{sid:05d}{n:09d}",
                "name": name,
                "name_initials": initials(name),
                "sex": rng.choice("MF"),
                "birth_date": date(year - 5 - grade, rng.randint(1, 12), rng.randint(1, 28)),
                "class_id": cid,
                "active": rng.random() > 0.02,
                "guardian_language": "zh",
            }
        )
        if len(chunk) == 10_000:
            db.session.execute(insert(Student), chunk)
            chunk = []
    if chunk:
        db.session.execute(insert(Student), chunk)
    db.session.commit()
    return n_schools, time.perf_counter() - started


def capture_students_queries(engine) -> list[tuple[str, object]]:
    captured: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        if "FROM students" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
            captured.append((statement, parameters))

    return captured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", help="a scratch PostgreSQL database (it is wiped)")
    parser.add_argument("--students", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--explain", action="store_true", help="print every plan")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the pupils of an earlier run (no wipe)"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the page plans only matter on PostgreSQL")

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "bench",
            "BABEL_DEFAULT_LOCALE": "en",
        }
    )
    with app.app_context():
        if args.reuse:
            db.session.execute(delete(User).where(User.username.like("bench-%")))
            db.session.commit()
            n_schools = db.session.scalar(select(func.count()).select_from(School))
        else:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            db.create_all()
            n_schools, seconds = populate(args.students, args.seed)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
            print(
                f"inserted {args.students:,} pupils in {n_schools} schools in {seconds:.1f} s "
                f"({args.students / seconds:,.0f} rows/s)"
            )
        total = db.session.scalar(select(func.count()).select_from(Student))
        print(f"{total:,} pupils in {n_schools} schools")
        middle = select(School).order_by(School.id).offset(n_schools // 2)
        school = db.session.scalars(middle).first()
        nurse = User(username="bench-nurse", role="nurse", school_id=school.id, password_hash="x")
        admin = User(username="bench-admin", role="admin", password_hash="x")
        db.session.add_all([nurse, admin])
        db.session.commit()
        some = db.session.scalars(
            select(Student).where(Student.school_id == school.id).limit(1)
        ).one()
        a_class = some.class_id
        number_prefix = some.student_number[:9]
        initials = some.name_initials[:2]
        name_part = some.name[1:]
        ids = {"nurse": nurse.get_id(), "admin": admin.get_id()}

    pages = [
        ("nurse", "school, page 1", "/roster/"),
        ("nurse", "school, page 15", "/roster/?page=15"),
        ("nurse", "one class", f"/roster/?class_id={a_class}"),
        ("nurse", f"initials {initials!r}", f"/roster/?q={initials}"),
        ("nurse", f"name part {name_part!r}", f"/roster/?q={name_part}"),
        ("nurse", "student number prefix", f"/roster/?q={number_prefix}"),
        ("nurse", "pupils who left", "/roster/?show=inactive"),
        ("admin", "all schools, page 1", "/roster/"),
        ("admin", "all schools, page 200", "/roster/?page=200"),
        ("admin", "all schools, number prefix", f"/roster/?q={number_prefix}"),
        ("admin", "one school, initials", f"/roster/?school_id={school.id}&q={initials}"),
        ("admin", "classes of the school", f"/roster/schools/{school.id}/classes"),
    ]
    client = app.test_client()
    with app.app_context():
        captured = capture_students_queries(db.engine)
    print(f"\n{'user':6} {'page':34} {'median ms':>10}  index use of the pupil queries")
    for role, label, url in pages:
        with client.session_transaction() as session:
            session["_user_id"] = ids[role]
            session["_fresh"] = True
        timings = []
        for _ in range(args.repeat):
            captured.clear()
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        statements = list(captured)
        verdicts = []
        with app.app_context(), db.engine.connect() as conn:
            for statement, parameters in statements:
                plan = "\n".join(
                    row[0]
                    for row in conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    )
                )
                seq = "Seq Scan on students" in plan
                verdicts.append("SEQ SCAN" if seq else "index")
                if args.explain or seq:
                    shown = statement % {k: repr(v) for k, v in parameters.items()}
                    print(f"\n-- {label}\n{shown}\n{plan}")
        print(f"{role:6} {label:34} {statistics.median(timings):10.1f}  {', '.join(verdicts)}")


if __name__ == "__main__":
    main()
