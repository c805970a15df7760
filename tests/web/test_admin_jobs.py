"""The admin's jobs page: each job's last runs and next run, the scheduler's health, and
"run now" as a work request that the page follows until the scheduler has done it."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.jobs import JOBS, scheduler
from crm.models import (
    AuditEntry,
    Delivery,
    JobRun,
    LoginAttempt,
    Notification,
    SchedulerLease,
    WorkRequest,
)
from crm.services.notices import mail
from tests import builders
from tests.unit.test_scheduler import smtp  # noqa: F401  (the real local SMTP server fixture)
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
    assert page.count("Not run yet.") == 6


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


def test_the_retention_run_counts_each_kind_it_deleted_on_the_page(app, client, admin):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    long_ago = NOW - timedelta(days=400)
    builders.visit(factory, rep, checked_in_at=long_ago, lat=29.1234, lng=120.5678)
    db.session.add_all(
        [
            LoginAttempt(login="rep@example.com", address="10.0.0.1", at=long_ago),
            LoginAttempt(login="rep@example.com", address="10.0.0.2", at=long_ago),
        ]
    )
    db.session.commit()
    runner = scheduler.Runner(app, holder="test-runner")
    try:
        run = runner.execute(JOBS["retention"], JOBS["retention"].key(NOW), NOW)
    finally:
        runner.lease.release()
    assert run.outcome == "ok"
    sign_in(client, admin.email)
    page = text_of(client.get("/admin/jobs"))
    section = page[page.index('id="job-retention"') :]
    section = section[: section.index("</section>")]
    assert "Retention: old positions coarsened, old records deleted" in section
    assert "Every day at 03:00" in section
    for shown in (
        "Check-in positions coarsened: 1",
        "Failed sign-ins deleted: 2",
        "Visit photos deleted: 0",
        "Voice notes deleted: 0",
        "Sign-in sessions deleted: 0",
        "E-mail deliveries deleted: 0",
        "Team group messages deleted: 0",
        "Audit entries deleted: 0",
    ):
        assert shown in section


def test_the_admin_home_links_to_the_jobs(client, admin):
    sign_in(client, admin.email)
    assert 'href="/admin/jobs"' in text_of(client.get("/admin/"))


# --- e-mails that failed ---------------------------------------------------------------------


def failed_email(reader, target: str) -> Delivery:
    """An e-mail queued for an address stored before input was checked, failed by a pass."""
    item = Notification(
        user_id=reader.id, kind="follow_up_overdue", title="Overdue follow-up: Hengda"
    )
    db.session.add(item)
    db.session.flush()
    delivery = Delivery(notification_id=item.id, channel="email", target=target, status="pending")
    db.session.add(delivery)
    db.session.commit()
    assert mail.send_pending(NOW)["failed"] == 1
    return delivery


def test_a_failed_email_shows_its_reason_and_goes_out_again(
    client,
    admin,
    smtp,  # noqa: F811
):
    rep = builders.user("rep", team_=builders.team(), email="rep.wang@example.test")
    delivery = failed_email(rep, "rep.wang@example.test\r\nBcc: thief@example.test")
    sign_in(client, admin.email)
    page = text_of(client.get("/admin/jobs"))
    assert "E-mails that failed" in page and "failed: 1" in page
    assert rep.name in page and "Overdue follow-up: Hengda" in page
    assert "is not one e-mail address" in page and "Send again" in page
    response = client.post(
        "/admin/jobs/mail/send-again",
        data={"csrf_token": csrf_token(client, "/admin/jobs"), "delivery_id": delivery.id},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/jobs#mail"
    db.session.refresh(delivery)
    assert (delivery.status, delivery.target) == ("pending", "rep.wang@example.test")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.record_type == "delivery"))
    assert (entry.actor_id, entry.action) == (admin.id, "send_again")
    assert entry.changes["status"] == ["failed", "pending"] and entry.personal_fields == ["target"]
    assert mail.send_pending(NOW)["sent"] == 1
    assert [envelope.rcpt_tos for envelope in smtp.messages] == [["rep.wang@example.test"]]
    page = text_of(client.get("/admin/jobs"))
    assert "The e-mail will be sent again within seconds." in page
    assert "No failed e-mails." in page


def test_send_again_refuses_an_email_that_did_not_fail_or_no_longer_has_a_reader(
    client,
    admin,
    smtp,  # noqa: F811
):
    rep = builders.user("rep", team_=builders.team())
    delivery = failed_email(rep, "not an address")
    sign_in(client, admin.email)

    def send_again(delivery_id):
        token = csrf_token(client, "/admin/jobs")
        data = {"csrf_token": token, "delivery_id": delivery_id}
        return client.post("/admin/jobs/mail/send-again", data=data)

    rep.active = False
    db.session.commit()
    response = send_again(delivery.id)
    assert response.status_code == 422 and "no longer gets e-mail" in text_of(response)
    rep.active = True
    delivery.status = "sent"
    db.session.commit()
    response = send_again(delivery.id)
    assert response.status_code == 422
    assert "Only a failed delivery can be sent again." in text_of(response)
    assert send_again("abc").status_code == 422
    assert send_again(delivery.id + 1000).status_code == 404
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.record_type == "delivery")) is None


def test_only_admins_send_an_email_again(client, db_session):
    team = builders.team()
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    sign_in(client, manager.email)
    token = csrf_token(client, "/today")
    response = client.post(
        "/admin/jobs/mail/send-again", data={"csrf_token": token, "delivery_id": "1"}
    )
    assert response.status_code == 403
