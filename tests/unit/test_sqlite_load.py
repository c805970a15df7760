"""The SQLite load test of bench/sqlite_load.py, shortened for CI (20 seconds, 20 reps).

gunicorn's workers and the scheduler process on one SQLite file: reps sign in and log visits
while the scheduler catches up its jobs and checks and applies a 5,000-row import.
`python -m bench.sqlite_load --seconds 60 --reps 50` is the full run (README "SQLite").
"""

from __future__ import annotations

import pytest

from bench import sqlite_load

SECONDS = 20
REPS = 20


@pytest.mark.sqlite_only
def test_sqlite_carries_reps_the_scheduler_and_an_import_without_a_503_or_a_lost_visit():
    verdict = sqlite_load.run_sqlite_load(SECONDS, REPS, log=print)

    result = verdict.load
    assert result.count(503) == 0 and result.count(500) == 0 and result.count(0) == 0
    assert result.acknowledged > SECONDS  # the reps did log visits, about one a second
    assert result.lost == [] and result.duplicated == [] and result.wrong_id == []
    assert verdict.logins and set(verdict.logins) == {200}
    assert verdict.import_status == "done"
    assert verdict.import_counts["created"] == sqlite_load.IMPORT_ROWS
    assert verdict.job_outcomes.get("failed", 0) == 0 and verdict.job_outcomes.get("ok", 0) >= 3
    assert verdict.problems == [], verdict.report
