"""Server time of the main pages on a large database: roster, session, class grid, flags,
the flags export and a pupil's record, as a school nurse and as an administrator.

    .venv/bin/python bench/pages.py --quick                       # ~20,000 pupils, SQLite
    .venv/bin/python bench/pages.py --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/scratch       # 1.45M pupils and results

The data set is the demo's (schoolhealth/demo.py, ``flask seed-demo --with-results``):
~2,000 pupils a school (725 schools at full scale), one screening session per school
with growth, vision and spine results for every pupil, flagged by the rules core at
realistic rates (~15% overweight or obese, ~50% reduced vision, ~4.7% ATR >= 5°), all
written with bulk inserts (COPY on PostgreSQL). On top of it the bench adds a nurse of
the largest school, two earlier sessions for one of its pupils (so the record page has
a history) and a corrected measurement (so it has audit events to show).

A database that already holds the same data set (same pupils and seed) is reused;
anything else in it is WIPED (PostgreSQL: schema public dropped and recreated; SQLite:
tables dropped). Without ``--database-url`` a new SQLite file in a temporary directory
is used. Each page is requested ``--requests`` times (50; 20 with ``--quick``, which finishes
in well under a minute) after two warm-up requests
through the Flask test client; the script prints p50 / p95 / max milliseconds and the
number of SQL statements per request. Pages whose endpoint is not registered (another
part of the app not written yet) are skipped with a note. ``--explain`` (PostgreSQL)
prints the plan of every statement of the flags and record pages that scans a large
table sequentially.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, url_for  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from schoolhealth import create_app  # noqa: E402
from schoolhealth.demo import seed_demo  # noqa: E402
from schoolhealth.demo_data import generate_measurements  # noqa: E402
from schoolhealth.extensions import db  # noqa: E402
from schoolhealth.models import (  # noqa: E402
    Finding,
    SchoolClass,
    ScreeningResult,
    ScreeningSession,
    SessionStatus,
    Student,
    User,
)
from schoolhealth.roster.services import current_school_year  # noqa: E402

FULL_PUPILS = 1_450_000
QUICK_PUPILS = 20_000
DEFAULT_SEED = 2026
BENCH_NURSE = "bench-nurse"
BENCH_ADMIN = "bench-admin"
LARGE_TABLES = ("students", "screening_results", "findings", "audit_events", "enrolments")


# ----------------------------------------------------------------- the data set


def data_set_present(pupils: int) -> bool:
    """True when the database already holds this bench's data set (reuse it)."""
    try:
        students = db.session.scalar(select(func.count()).select_from(Student))
        results = db.session.scalar(select(func.count()).select_from(ScreeningResult))
        nurse = db.session.scalar(select(User).where(User.username == BENCH_NURSE))
    except Exception:  # noqa: BLE001  (no tables yet)
        db.session.rollback()
        return False
    return students == pupils and results >= pupils and nurse is not None


def wipe() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()


def build(pupils: int, seed: int) -> None:
    """The demo data set plus the bench's nurse, admin and one pupil's history."""
    year = current_school_year()
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or done == total:
            last[0] = now
            print(f"  {done}/{total} schools, {now - started:.0f} s", flush=True)

    summary = seed_demo(
        pupils=pupils, seed=seed, school_year=year, with_results=True, progress=progress
    )
    db.session.commit()
    seconds = time.perf_counter() - started
    print(
        f"generated {summary.pupils:,} pupils, {summary.results:,} results and "
        f"{summary.findings:,} findings in {summary.schools} schools in {seconds:.0f} s "
        f"({summary.results / seconds:,.0f} results/s)"
    )
    add_bench_users_and_history(seed)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def biggest_school_id() -> int:
    return db.session.execute(
        select(Student.school_id, func.count())
        .group_by(Student.school_id)
        .order_by(func.count().desc(), Student.school_id)
        .limit(1)
    ).first()[0]


def add_bench_users_and_history(seed: int) -> None:
    """A nurse of the largest school, an admin, and two earlier screenings of one pupil."""
    from schoolhealth.screening import results, sessions

    school_id = biggest_school_id()
    nurse = User(
        username=BENCH_NURSE,
        role="nurse",
        school_id=school_id,
        password_hash="-",
        display_name="Bench nurse",
        locale="en",
    )
    admin = User(
        username=BENCH_ADMIN,
        role="admin",
        password_hash="-",
        display_name="Bench admin",
        locale="en",
    )
    db.session.add_all([nurse, admin])
    db.session.flush()
    session = current_session(school_id)
    pupil = record_pupil(session)
    school_class = db.session.get(SchoolClass, pupil.class_id)
    rng = random.Random(seed)
    for years_back in (2, 1):
        start = session.start_date.replace(year=session.start_date.year - years_back)
        earlier = sessions.create_session(
            session.school,
            name=f"{start.year} autumn screening",
            start_date=start,
            end_date=start + timedelta(days=4),
            types=session.type_list,
            user=admin,
        )
        values = generate_measurements(
            rng,
            sex=pupil.sex,
            birth_date=pupil.birth_date,
            grade=max(1, school_class.grade - years_back),
            screening_date=start,
        )
        raw = {k: str(v) for k, v in values.items() if v is not None and k != "absent"}
        results.record_measurements(earlier, pupil, raw, user=nurse)
        sessions.change_status(earlier, SessionStatus.CLOSED.value, user=admin)
    # a correction in the current session, so the record shows a change history
    if session.is_closed:
        sessions.change_status(session, SessionStatus.IN_PROGRESS.value, user=admin)
    result = db.session.scalar(
        select(ScreeningResult).where(
            ScreeningResult.session_id == session.id, ScreeningResult.student_id == pupil.id
        )
    )
    if result is not None and result.height_cm is not None:
        results.record_measurements(
            session, pupil, {"height_cm": str(result.height_cm + Decimal("0.5"))}, user=nurse
        )
    db.session.commit()


def current_session(school_id: int) -> ScreeningSession:
    return db.session.scalars(
        select(ScreeningSession)
        .where(ScreeningSession.school_id == school_id)
        .order_by(ScreeningSession.start_date.desc(), ScreeningSession.id.desc())
        .limit(1)
    ).one()


def record_pupil(session: ScreeningSession) -> Student:
    """A pupil of the session with several findings (the busiest record page)."""
    student_id = db.session.execute(
        select(Finding.student_id, func.count())
        .where(Finding.session_id == session.id)
        .group_by(Finding.student_id)
        .order_by(func.count().desc(), Finding.student_id)
        .limit(1)
    ).first()[0]
    return db.session.get(Student, student_id)


# ----------------------------------------------------------------- measuring


@dataclass
class Page:
    role: str
    label: str
    endpoint: str
    values: dict[str, Any]


def pages_to_measure() -> tuple[list[Page], dict[str, str]]:
    nurse = db.session.scalar(select(User).where(User.username == BENCH_NURSE))
    admin = db.session.scalar(select(User).where(User.username == BENCH_ADMIN))
    session = current_session(nurse.school_id)
    pupil = record_pupil(session)
    class_id = pupil.class_id
    # a class with many findings for the class filter
    busy_class = db.session.execute(
        select(Student.class_id, func.count())
        .join(Finding, Finding.student_id == Student.id)
        .where(Finding.session_id == session.id)
        .group_by(Student.class_id)
        .order_by(func.count().desc())
        .limit(1)
    ).first()[0]
    sid = session.id
    pages = [
        Page("nurse", "roster list", "roster.list_students", {}),
        Page("nurse", "session page", "screening.show_session", {"session_id": sid}),
        Page(
            "nurse", "class grid", "screening.class_grid", {"session_id": sid, "class_id": class_id}
        ),
        Page("nurse", "flags list", "screening.list_flags", {"session_id": sid}),
        Page(
            "nurse",
            "flags: severe reduced vision",
            "screening.list_flags",
            {"session_id": sid, "category": "vision:severe"},
        ),
        Page(
            "nurse",
            "flags: one class",
            "screening.list_flags",
            {"session_id": sid, "class_id": busy_class},
        ),
        Page(
            "nurse",
            "flags: spine, by severity, p.2",
            "screening.list_flags",
            {"session_id": sid, "type": "spine", "sort": "severity", "page": 2},
        ),
        Page(
            "nurse",
            "flags: grade 3, page 5",
            "screening.list_flags",
            {"session_id": sid, "grade": 3, "page": 5},
        ),
        Page(
            "nurse",
            "flags export (spine, .xlsx)",
            "screening.export_flags",
            {"session_id": sid, "type": "spine"},
        ),
        Page("nurse", "pupil record", "screening.pupil_record", {"student_id": pupil.id}),
        Page("admin", "roster list, all schools", "roster.list_students", {}),
        Page("admin", "session page", "screening.show_session", {"session_id": sid}),
        Page(
            "admin", "class grid", "screening.class_grid", {"session_id": sid, "class_id": class_id}
        ),
        Page("admin", "flags list", "screening.list_flags", {"session_id": sid}),
        Page(
            "admin",
            "flags: obesity",
            "screening.list_flags",
            {"session_id": sid, "category": "growth:obese"},
        ),
        Page("admin", "pupil record", "screening.pupil_record", {"student_id": pupil.id}),
    ]
    return pages, {"nurse": nurse.get_id(), "admin": admin.get_id()}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(
    app: Flask, pages: list[Page], users: dict[str, str], requests: int, explain: bool
) -> None:
    client = app.test_client()
    statements: list[tuple[str, Any]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    print(f"\n{'user':6} {'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL':>4}")
    try:
        for page in pages:
            if page.endpoint not in app.view_functions:
                print(
                    f"{page.role:6} {page.label:32} skipped: endpoint {page.endpoint} "
                    "is not registered"
                )
                continue
            with app.test_request_context():
                url = url_for(page.endpoint, **page.values)
            with client.session_transaction() as session:
                session["_user_id"] = users[page.role]
                session["_fresh"] = True
            for _ in range(2):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            timings = []
            counts = []
            for _ in range(requests):
                statements.clear()
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                counts.append(len(statements))
                assert response.status_code == 200, (url, response.status_code)
            print(
                f"{page.role:6} {page.label:32} {statistics.median(timings):8.1f} "
                f"{percentile(timings, 0.95):8.1f} {max(timings):8.1f} {max(counts):4d}",
                flush=True,
            )
            if explain and page.endpoint in ("screening.list_flags", "screening.pupil_record"):
                explain_statements(app, page, list(statements))
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def explain_statements(app: Flask, page: Page, statements: list[tuple[str, Any]]) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return
        with db.engine.connect() as conn:
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = "\n".join(
                    row[0]
                    for row in conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    )
                )
                seq = [t for t in LARGE_TABLES if f"Seq Scan on {t}" in plan]
                if seq:
                    print(f"  -- {page.label}: sequential scan of {', '.join(seq)}")
                    print("  " + statement.replace("\n", "\n  "))
                    print("  " + plan.replace("\n", "\n  "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="scratch database (WIPED unless it holds "
        "this data set); default: a new SQLite file in a temporary directory",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_PUPILS:,} pupils instead of {FULL_PUPILS:,}"
    )
    parser.add_argument("--pupils", type=int, help="data-set size (overrides --quick)")
    parser.add_argument(
        "--requests", type=int, help="timed requests per page (default 50; --quick: 20)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if present")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="measure without gc.freeze() after start-up (the full collections then "
        "re-scan pypinyin's dictionaries: ~90 ms pauses on some requests)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL: show sequential scans of large tables"
    )
    args = parser.parse_args()
    pupils = args.pupils or (QUICK_PUPILS if args.quick else FULL_PUPILS)
    requests = args.requests or (20 if args.quick else 50)
    url = args.database_url
    if not url:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-pages-')) / 'bench.sqlite'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {},
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "bench",
            "BABEL_DEFAULT_LOCALE": "en",
        }
    )
    print(f"database: {make_url(url).render_as_string(hide_password=True)}")
    with app.app_context():
        if not args.rebuild and data_set_present(pupils):
            print(f"reusing the data set already there ({pupils:,} pupils)")
        else:
            print(f"building the data set: {pupils:,} pupils (seed {args.seed}) ...", flush=True)
            wipe()
            build(pupils, args.seed)
        results = db.session.scalar(select(func.count()).select_from(ScreeningResult))
        findings = db.session.scalar(select(func.count()).select_from(Finding))
        print(f"{results:,} results, {findings:,} findings in the database")
        pages, users = pages_to_measure()
        db.session.remove()
    if not args.no_gc_freeze:
        # What a production process does once the app is loaded (see wsgi.py): the
        # long-lived objects (pypinyin's phrase dictionary alone holds ~200,000 lists)
        # leave the collector's generations, so a full collection no longer walks them.
        gc.collect()
        gc.freeze()
    print(
        f"machine: {os.cpu_count()} CPUs; {requests} timed requests per page; "
        f"gc.freeze() after start-up: {'no' if args.no_gc_freeze else 'yes'}"
    )
    measure(app, pages, users, requests, args.explain)


if __name__ == "__main__":
    main()
