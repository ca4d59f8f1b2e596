"""District report timings on a city-sized database: the official's page and the exports.

    .venv/bin/python bench/reports.py --database-url \\
        postgresql+psycopg://postgres@127.0.0.1:5432/scratch     # 1.45M pupils and results
    .venv/bin/python bench/reports.py --pupils 20000             # quick, SQLite

The data set is bench/pages.py's (the demo city: ~2,000 pupils a school, one screening
session a school with growth, vision and spine results flagged by the rules core); a
database that already holds it is reused, anything else in it is WIPED. The script
times, through the Flask test client as the district official (suppression on) and as
an administrator (every school), the report page grouped by school, grade, sex and age,
and the Excel export, ``--requests`` times each after one warm-up, and prints p50 and
max in milliseconds with the number of results summed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from schoolhealth import create_app  # noqa: E402
from schoolhealth.extensions import db  # noqa: E402
from schoolhealth.models import District, ScreeningResult, User  # noqa: E402


def load_pages_bench():
    spec = importlib.util.spec_from_file_location("pages_bench", ROOT / "bench" / "pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(client, url: str, requests: int) -> tuple[float, float, int]:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), max(times), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="scratch database (WIPED unless it holds the set)")
    parser.add_argument("--pupils", type=int, default=1_450_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    pages = load_pages_bench()
    url = args.database_url or (
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-reports-')) / 'bench.sqlite'}"
    )
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
        if pages.data_set_present(args.pupils):
            print(f"reusing the data set already there ({args.pupils:,} pupils)")
        else:
            print(f"building the data set: {args.pupils:,} pupils ...", flush=True)
            pages.wipe()
            pages.build(args.pupils, args.seed)
        results = db.session.scalar(select(func.count()).select_from(ScreeningResult))
        district = db.session.scalars(select(District).order_by(District.id)).first()
        official = db.session.scalar(select(User).where(User.role == "official"))
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        official_id, admin_id = official.get_id(), admin.get_id()
        district_name = district.name
        db.session.remove()
    gc.collect()
    gc.freeze()
    print(f"{results:,} results in the database; the official's district is {district_name}")
    client = app.test_client()
    print(f"{'page':<46} {'p50 ms':>8} {'max ms':>8}")
    for who, user_id in (("official", official_id), ("admin", admin_id)):
        with client.session_transaction() as session:
            session["_user_id"] = user_id
            session["_fresh"] = True
        for query in ("by=school", "by=grade", "by=sex", "by=age"):
            p50, worst, _size = timed(client, f"/reports/?{query}", args.requests)
            print(f"{who + ': report ' + query:<46} {p50:>8.0f} {worst:>8.0f}")
        p50, worst, _size = timed(client, "/reports/export.xlsx?by=school", args.requests)
        print(f"{who + ': Excel export by school':<46} {p50:>8.0f} {worst:>8.0f}")


if __name__ == "__main__":
    main()
