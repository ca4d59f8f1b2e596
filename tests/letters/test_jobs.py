"""Letter batches on a real RQ worker (Redis): the page waits, then offers the file."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from schoolhealth import jobs
from schoolhealth.extensions import db
from schoolhealth.models import Job, LetterBatch

from .conftest import page_texts

pytestmark = pytest.mark.redis


@pytest.fixture
def background(app, redis_url, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "RQ_ASYNC", True)
    monkeypatch.setitem(app.config, "QUEUE_NAME", f"letters-test-{uuid.uuid4().hex}")
    monkeypatch.setattr(jobs, "_worker_app", app)
    connection = Redis.from_url(redis_url)
    queue = Queue(app.config["QUEUE_NAME"], connection=connection)

    def work() -> None:
        SimpleWorker([queue], connection=connection).work(burst=True)
        db.session.expire_all()

    yield queue, work
    connection.close()


def test_class_batch_runs_on_a_worker_with_progress(client, sign_in, screened, background):
    queue, work = background
    world = screened.world
    sign_in(world.nurse)
    response = client.post(
        f"/letters/sessions/{world.session.id}/batches",
        data={"language": "en", "class_id": str(world.school_class.id)},
    )
    assert response.status_code == 302
    assert len(queue) == 1
    waiting = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'content="2"' in waiting  # refreshes itself while queued
    assert "Preparing the letters" in waiting
    work()
    batch = db.session.scalars(select(LetterBatch)).one()
    job = db.session.get(Job, batch.job_id)
    assert job.status == "done"
    assert (job.progress, job.total) == (1, 1)
    assert batch.letters == 2
    ready = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/letters/batches/{batch.id}/download" in ready
    data = client.get(f"/letters/batches/{batch.id}/download").data
    assert len([p for p in page_texts(data) if "Foldalongthemarks" in p]) == 2
