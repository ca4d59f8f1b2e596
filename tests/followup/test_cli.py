"""``flask followup``: expire, sync and import, and the documented file format."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from schoolhealth.extensions import db
from schoolhealth.followup.importing import ALIASES
from schoolhealth.models import FollowupCase
from schoolhealth.tabular import map_headers, read_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_sample_maps_every_column(app):
    table = read_table(ROOT / "docs/formats/followup-outcomes.csv")
    headers = map_headers(table.headers, ALIASES)
    assert headers.unknown == []
    assert set(headers.columns) == set(ALIASES)
    documented = (ROOT / "docs/formats/followup-outcomes.md").read_text(encoding="utf-8")
    for name in ALIASES:
        assert f"`{name}`" in documented


def test_expire_marks_overdue_cases_lost(runner, fu):
    result = runner.invoke(args=["followup", "expire", "--on", "2027-01-09"])
    assert result.exit_code == 0, result.output
    assert "0 cases updated" in result.output  # 89 days after 2026-10-12
    result = runner.invoke(args=["followup", "expire", "--on", "2027-01-11"])
    assert "12 cases updated" in result.output
    db.session.expire_all()
    assert {c.state for c in db.session.scalars(select(FollowupCase))} == {"lost"}


def test_sync_opens_cases_for_results_entered_before_followup(runner, fu):
    db.session.execute(delete(FollowupCase))
    db.session.commit()
    result = runner.invoke(args=["followup", "sync"])
    assert result.exit_code == 0, result.output
    assert db.session.query(FollowupCase).count() == 12
    runner.invoke(args=["followup", "sync", "--session", str(fu.session.id)])
    assert db.session.query(FollowupCase).count() == 12  # idempotent
    assert runner.invoke(args=["followup", "sync", "--session", "999999"]).exit_code != 0


def test_import_is_all_or_nothing_from_the_command_line(runner, fu, tmp_path):
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "学籍号,复查类型,是否确诊,Cobb角,医院,诊断日期\n"
        "F0000,脊柱侧弯,是,15,市儿童医院,2026-11-03\n"
        "F0002,脊柱侧弯,是,,市儿童医院,2026-11-03\n",
        encoding="utf-8",
    )
    user = fu.nurse.username
    result = runner.invoke(args=["followup", "import", str(path), "--user", user])
    assert result.exit_code == 1
    assert "row 3, Cobb角: Enter the Cobb angle" in result.output
    assert db.session.query(FollowupCase).filter(FollowupCase.outcome_at.is_not(None)).count() == 0
    path.write_text(
        "学籍号,复查类型,是否确诊,Cobb角,医院,诊断日期\n"
        "F0000,脊柱侧弯,是,15,市儿童医院,2026-11-03\n"
        "F0002,脊柱侧弯,否,4,市儿童医院,2026-11-03\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["followup", "import", str(path), "--user", user, "--dry-run"])
    assert "2 new" in result.output
    assert db.session.query(FollowupCase).filter(FollowupCase.outcome_at.is_not(None)).count() == 0
    result = runner.invoke(args=["followup", "import", str(path), "--user", user])
    assert result.exit_code == 0, result.output
    assert "saved 2" in result.output
    result = runner.invoke(args=["followup", "import", str(path), "--user", user])
    assert "2 unchanged; saved 0" in result.output
