"""A letter batch waiting for (or stuck on) a worker can be cancelled from its page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from schoolhealth import jobs
from schoolhealth.extensions import db
from schoolhealth.models import Job, Letter, LetterBatch


@pytest.fixture
def queued_batch(app, client, sign_in, screened, monkeypatch):
    """A class batch queued for the worker (the embedded default, not run inline)."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    world = screened.world
    sign_in(world.nurse)
    response = client.post(
        f"/letters/sessions/{world.session.id}/batches",
        data={"language": "en", "class_id": str(world.school_class.id)},
    )
    batch = db.session.scalars(select(LetterBatch)).one()
    assert db.session.get(Job, batch.job_id).status == "queued"
    return batch.id, response.headers["Location"]


def test_the_starter_cancels_a_queued_batch_and_no_worker_runs_it(app, client, queued_batch):
    batch_id, page_url = queued_batch
    assert 'id="cancel-job"' in client.get(page_url).get_data(as_text=True)
    response = client.post(f"/letters/batches/{batch_id}/cancel", follow_redirects=True)
    assert 'id="batch-cancelled"' in response.get_data(as_text=True)
    assert jobs.run_db_worker(app, burst=True) == 0
    db.session.expire_all()
    batch = db.session.get(LetterBatch, batch_id)
    assert (db.session.get(Job, batch.job_id).status, batch.content) == ("cancelled", None)
    assert db.session.scalars(select(Letter)).all() == []


def test_another_nurse_cannot_cancel_it_but_an_admin_can(
    app, client, sign_in, screened, queued_batch, factories
):
    batch_id, page_url = queued_batch
    colleague = factories.NurseFactory(school=screened.world.nurse.school)
    sign_in(colleague)
    assert 'id="cancel-job"' not in client.get(page_url).get_data(as_text=True)
    assert client.post(f"/letters/batches/{batch_id}/cancel").status_code == 404
    sign_in(factories.AdminFactory())
    assert client.post(f"/letters/batches/{batch_id}/cancel").status_code == 302
    db.session.expire_all()
    job_id = db.session.get(LetterBatch, batch_id).job_id
    assert db.session.get(Job, job_id).status == "cancelled"
