"""Reports by age when a result has no age band (no birth or screening date)."""

from __future__ import annotations

from decimal import Decimal

from schoolhealth.extensions import db
from schoolhealth.reports import services
from schoolhealth.reports.services import ReportScope


def test_results_without_an_age_band_are_counted_under_an_unknown_age(factories):
    """SQLite's floor() is Python's math.floor, which raised on NULL: the page was a 500."""
    session = factories.ScreeningSessionFactory()
    factories.ScreeningResultFactory(session=session, age_band=None, weight_status="obese")
    factories.ScreeningResultFactory(session=session, age_band=Decimal("7.5"))
    db.session.commit()
    report = services.build_report(ReportScope(session_id=session.id), "age")
    assert [(row.key, row.label, row.screened) for row in report.rows] == [
        (7, "7 years", 1),
        (None, "?", 1),
    ]
    assert report.rows[1].cells["obesity"].proportion.count == 1
