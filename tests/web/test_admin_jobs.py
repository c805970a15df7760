"""The admin's jobs page: each job's last runs and next run, the scheduler's health, and
"run now" as a work request that the page follows until the scheduler has done it."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import JobRun, SchedulerLease, WorkRequest
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(db_session):
    user = builders.user("admin")
    db_session.commit()
    return user


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_page_shows_each_jobs_last_runs_and_next_run(client, admin):
    db.session.add_all(
        [
            JobRun(
                job="daily",
                run_key="daily:2026-11-25",
                started_at=NOW - timedelta(hours=5),
                finished_at=NOW - timedelta(hours=5) + timedelta(seconds=12.5),
                outcome="ok",
                counts={"follow_ups_created": 42, "stale_notified": 3, "attempts": 1},
            ),
            JobRun(
                job="reminders",
                run_key="reminders:2026-11-25T10:00",
                started_at=NOW,
                finished_at=NOW,
                outcome="failed",
                counts={"attempts": 1},
                error="Traceback ...\nOperationalError: database is locked",
            ),
            SchedulerLease(
                name="scheduler", holder="host-a:4242", expires_at=NOW + timedelta(seconds=20)
            ),
        ]
    )
    db.session.commit()
    sign_in(client, admin.email)
    page = text_of(client.get("/admin/jobs"))
    assert "Follow-up reminders" in page and "Every 15 minutes" in page
    assert "Cadence, stale and eligibility sweep" in page and "Every day at 05:00" in page
    assert "Weekly digest for managers" in page and "Mondays at 07:00" in page
    assert "next run Nov 25, 2026 10:15" in page and "next run Nov 30, 2026 07:00" in page
    assert "2026-11-25" in page and "took 12.5 s" in page and "2026-11-25 10:00" in page
    assert "Follow-ups created: 42" in page and "Stale factories notified: 3" in page
    assert "OperationalError: database is locked" in page and "Failed" in page
    assert "Running" in page and "host-a:4242" in page


def test_the_page_says_when_no_scheduler_process_runs(client, admin):
    sign_in(client, admin.email)
    page = text_of(client.get("/admin/jobs"))
    assert "Never started" in page and "flask crm scheduler" in page
    assert page.count("Not run yet.") == 3


def test_run_now_queues_work_that_the_page_follows(client, admin):
    sign_in(client, admin.email)
    response = client.post(
        "/admin/jobs/run", data={"csrf_token": csrf_token(client, "/admin/jobs"), "job": "daily"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/jobs"
    request = db.session.scalar(select(WorkRequest))
    assert (request.kind, request.arguments, request.status) == (
        "run_job",
        {"job": "daily"},
        "pending",
    )
    assert request.requested_by_id == admin.id
    page = text_of(client.get("/admin/jobs"))
    assert "will run within seconds" in page
    assert "waiting for the scheduler process" in page
    assert 'hx-get="/admin/jobs" hx-trigger="every 3s"' in page


def test_run_now_of_an_unknown_job_is_refused(client, admin):
    sign_in(client, admin.email)
    response = client.post(
        "/admin/jobs/run", data={"csrf_token": csrf_token(client, "/admin/jobs"), "job": "nope"}
    )
    assert response.status_code == 422
    assert db.session.scalar(select(WorkRequest)) is None


def test_only_admins_see_the_jobs(client, db_session):
    team = builders.team()
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    sign_in(client, manager.email)
    assert client.get("/admin/jobs").status_code == 403


def test_the_admin_home_links_to_the_jobs(client, admin):
    sign_in(client, admin.email)
    assert 'href="/admin/jobs"' in text_of(client.get("/admin/"))
