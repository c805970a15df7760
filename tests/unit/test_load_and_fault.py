"""The load and fault tests of bench/load.py, shortened for CI (30 seconds, 30 reps).

The load test runs gunicorn (as `make serve` does) against a database of its own on the test
PostgreSQL server; the fault test runs on a PostgreSQL cluster of its own (initdb in a
temporary folder, never the shared server), stops it for a few seconds during the load, and
then kills a scheduler process mid-sweep. `python -m bench.load --seconds 120 --reps 200
[--fault]` is the full run (README "Production").
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy.engine import make_url

from bench import load
from tests.conftest import WORKER, on_s3

SECONDS = 30
REPS = 30
SWEEP_FACTORIES = 600  # three batches of stale notifications: the kill falls after two
WORKERS = 3  # gunicorn processes: fewer than a production host, quicker to start on CI


def _no_visit_lost_or_doubled(result: load.LoadResult) -> None:
    assert result.acknowledged > SECONDS  # the reps did submit visits, about one a second
    assert result.lost == [] and result.duplicated == []
    assert result.wrong_id == [] and result.stray == []
    assert result.refused == {}
    assert result.count(500) == 0
    assert result.problems == [], result.report


@pytest.mark.postgres_only
def test_load_visits_and_pages_against_gunicorn_lose_and_double_nothing(request):
    """Under CRM_TEST_STORAGE=s3 the photos go to the S3 server's bucket (issue 24)."""
    base = make_url(os.environ["CRM_TEST_DATABASE_URL"])
    database = base.set(database=f"{base.database}_load_{WORKER.lower()}")
    prefix = f"load-{secrets.token_hex(4)}"
    bucket = request.getfixturevalue("s3_server") if on_s3() else None
    result = load.run_load(
        SECONDS,
        REPS,
        database=database.render_as_string(hide_password=False),
        workers=WORKERS,
        log=print,
        env=bucket.env(prefix) if bucket else None,
    )
    _no_visit_lost_or_doubled(result)
    kinds = {sample.kind for sample in result.samples if sample.status in (200, 201)}
    assert kinds == {"visit", "today", "factories", "factory"}
    assert result.count(503) == 0 and result.count(0) == 0  # no fault, no failure
    if bucket:  # each visit's photo and its thumbnail, in the bucket
        pages = bucket.client().get_paginator("list_objects_v2")
        listed = pages.paginate(Bucket=bucket.bucket, Prefix=f"{prefix}/photos/")
        kept = sum(len(page.get("Contents", [])) for page in listed)
        assert kept >= 2 * result.acknowledged


@pytest.mark.postgres_only
def test_a_postgresql_restart_and_a_killed_scheduler_lose_and_double_nothing():
    with load.Cluster() as cluster:
        result = load.run_load(
            SECONDS, REPS, fault=True, cluster=cluster, workers=WORKERS, log=print
        )
        _no_visit_lost_or_doubled(result)
        outage = (result.outage.down_at, result.outage.up_at)
        assert result.count(503, outage) > 0  # requests during the outage failed cleanly
        assert all(int(s.retry_after) > 0 for s in result.samples if s.status == 503)
        assert result.retries > 0  # ... and the outbox's retries carried them through
        assert result.recovery_seconds is not None
        assert result.recovery_seconds < load.RECOVERY_LIMIT

        sweep = load.scheduler_kill(cluster, factories=SWEEP_FACTORIES, log=print)
    assert sweep.problems == [], sweep.report
    assert sweep.killed_after > 0
    assert sweep.stale_notifications == SWEEP_FACTORIES and sweep.duplicate_keys == 0
    assert sum(sweep.emails.values()) == SWEEP_FACTORIES and set(sweep.emails.values()) == {1}
    assert len(sweep.follow_ups) == SWEEP_FACTORIES and set(sweep.follow_ups.values()) == {1}
