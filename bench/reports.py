"""District report timings on a city-sized database: every page and export of the reports.

    .venv/bin/python bench/reports.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/scratch \\
        --database-url sqlite:////tmp/bench-reports.sqlite     # 1.45M pupils and results each
    .venv/bin/python bench/reports.py --pupils 20000           # quick, one new SQLite file

The data set is bench/pages.py's (the demo city: 725 schools of ~2,000 pupils, 50 schools
a district, one screening session a school with growth, vision and spine results flagged
by the rules core); a database that already holds it is reused, anything else in it is
WIPED. For each database the script times, through the Flask test client as the district
official (suppression on; 50 schools, ~100,000 results) and as an administrator (every
school, all 1.45M results), the report page grouped by school, grade, sex and age, with
each filter (one session, a school year, a date range, a district, any school year) and
the Excel and CSV exports: ``--requests`` times each after one warm-up, p50 and max in
milliseconds. Beside them it times the raw baseline, the bare SQL ``GROUP BY`` over the
same rows (``count(*)`` of the results per school of the user's scope), and prints the
ratio page ÷ raw.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, inspect, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from schoolhealth import create_app  # noqa: E402
from schoolhealth.extensions import db  # noqa: E402
from schoolhealth.models import (  # noqa: E402
    District,
    School,
    ScreeningResult,
    ScreeningSession,
    User,
)
from schoolhealth.reports.services import school_year_of  # noqa: E402

RAW = """
SELECT s.school_id, count(*) FROM screening_results r
JOIN screening_sessions s ON s.id = r.session_id
{where} GROUP BY s.school_id
"""


def load_pages_bench():
    spec = importlib.util.spec_from_file_location("pages_bench", ROOT / "bench" / "pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ensure_indexes() -> None:
    """Create the models' indexes that a reused database lacks (built before a migration)."""
    inspector = inspect(db.engine)
    created = False
    for table in db.metadata.sorted_tables:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                print(f"creating index {index.name} ...", flush=True)
                index.create(db.engine)
                created = True
    if created:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            postgres = db.engine.dialect.name == "postgresql"
            conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def timed(client, url: str, requests: int) -> tuple[float, float]:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), max(times)


def timed_raw(app, sql: str, requests: int) -> float:
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text(sql)).all()
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            conn.execute(text(sql)).all()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_database(url: str, pupils_module, args: argparse.Namespace) -> None:
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
    pages = pupils_module
    print(f"\ndatabase: {make_url(url).render_as_string(hide_password=True)}")
    with app.app_context():
        if pages.data_set_present(args.pupils):
            print(f"reusing the data set already there ({args.pupils:,} pupils)")
        else:
            print(f"building the data set: {args.pupils:,} pupils ...", flush=True)
            pages.wipe()
            pages.build(args.pupils, args.seed)
        ensure_indexes()
        results = db.session.scalar(select(func.count()).select_from(ScreeningResult))
        district = db.session.scalars(select(District).order_by(District.id)).first()
        official = db.session.scalar(select(User).where(User.role == "official"))
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        school_ids = list(
            db.session.scalars(select(School.id).where(School.district_id == district.id))
        )
        session = db.session.scalars(
            select(ScreeningSession)
            .where(ScreeningSession.school_id.in_(school_ids))
            .order_by(ScreeningSession.id)
        ).first()
        start, session_id = session.start_date, session.id
        year = school_year_of(start)
        user_ids = {"official": official.get_id(), "admin": admin.get_id()}
        district_id, district_name = district.id, district.name
        in_district = ",".join(str(i) for i in school_ids)
        db.session.remove()
    gc.collect()
    print(f"{results:,} results; the official's district is {district_name}")
    pages_list = [
        ("report by school", "by=school"),
        ("report by grade", "by=grade"),
        ("report by sex", "by=sex"),
        ("report by age", "by=age"),
        ("one session, by grade", f"by=grade&session={session_id}"),
        ("school year, by school", f"by=school&school_year={year}"),
        (
            "date range, by sex",
            f"by=sex&school_year=&date_from={start - timedelta(days=30)}"
            f"&date_to={start + timedelta(days=30)}",
        ),
        ("district, by age", f"by=age&district={district_id}"),
        ("any school year, by school", "by=school&school_year="),
        ("Excel export by school", None),
        ("CSV export by grade", None),
    ]
    client = app.test_client()
    raw = {
        "official": timed_raw(
            app, RAW.format(where=f"WHERE s.school_id IN ({in_district})"), args.requests
        ),
        "admin": timed_raw(app, RAW.format(where=""), args.requests),
    }
    print(f"{'page':<48} {'p50 ms':>8} {'max ms':>8} {'÷ raw':>7}")
    for who, user_id in user_ids.items():
        if who not in args.users.split(","):
            continue
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = user_id
            flask_session["_fresh"] = True
        print(f"{who + ': raw GROUP BY (count per school)':<48} {raw[who]:>8.1f}")
        for name, query in pages_list:
            if name.startswith("Excel"):
                url = "/reports/export.xlsx?by=school"
            elif name.startswith("CSV"):
                url = "/reports/export.csv?by=grade"
            else:
                url = f"/reports/?{query}"
            p50, worst = timed(client, url, args.requests)
            print(f"{who + ': ' + name:<48} {p50:>8.0f} {worst:>8.0f} {p50 / raw[who]:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        action="append",
        help="scratch database (WIPED unless it holds the set); repeat for several",
    )
    parser.add_argument("--pupils", type=int, default=1_450_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--users", default="official,admin", help="whose pages to time: official, admin or both"
    )
    args = parser.parse_args()
    pages = load_pages_bench()
    urls = args.database_url or [
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-reports-')) / 'bench.sqlite'}"
    ]
    for url in urls:
        bench_database(url, pages, args)


if __name__ == "__main__":
    main()
