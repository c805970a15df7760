"""The runner: due periods run once under the lease, failures are retried without sending twice,
a standby waits, "run now" is a work request, and e-mails leave at most once (a real SMTP
server receives them)."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.jobs import JOBS, Job, lease, reminders, scheduler
from crm.models import Delivery, JobRun, Notification, SchedulerLease, WorkRequest
from crm.services.notices import mail
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai


@pytest.fixture
def runners(app):
    made: list[scheduler.Runner] = []

    def make(holder: str) -> scheduler.Runner:
        made.append(scheduler.Runner(app, holder=holder))
        return made[-1]

    yield make
    for runner in made:
        runner.stop()


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, name="Hengda Hardware")
    builders.user("manager", leads=[team])
    db_session.commit()
    return {"rep": rep, "factory": factory}


def runs() -> list[tuple[str, str, str]]:
    return [
        (run.job, run.run_key, run.outcome)
        for run in db.session.scalars(select(JobRun).order_by(JobRun.id))
    ]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- ticks -------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_tick_runs_each_due_period_once_and_the_next_quarter_runs_the_quarterly_ones_alone(
    world, runners
):
    runner = runners("a")
    assert {run.run_key for run in runner.tick(NOW)} == {
        "reminders:2026-11-25T10:00",
        "daily:2026-11-25",
        "eligible_summary:2026-11-25",
        "digest:2026-W48",
        "retention:2026-11-25",
        "reports:2026-11-25T10:00",
    }
    assert runner.tick(NOW + timedelta(minutes=14)) == []
    assert [run.run_key for run in runner.tick(NOW + timedelta(minutes=15))] == [
        "reminders:2026-11-25T10:15",
        "reports:2026-11-25T10:15",
    ]
    assert all(outcome == "ok" for _, _, outcome in runs())


@time_machine.travel(NOW, tick=False)
def test_a_run_missed_while_down_is_caught_up_once_at_the_next_tick(world, runners):
    runner = runners("a")
    runner.tick(NOW - timedelta(days=2))
    # Down for two days: the next tick runs the latest period of each job, not every one missed.
    keys = [run.run_key for run in runner.tick(NOW + timedelta(minutes=20))]
    assert keys == [
        "reminders:2026-11-25T10:15",
        "daily:2026-11-25",
        "eligible_summary:2026-11-25",
        "retention:2026-11-25",
        "reports:2026-11-25T10:15",
    ]


@time_machine.travel(NOW, tick=False)
def test_a_failed_run_is_retried_at_the_next_tick_without_sending_anything_twice(
    world, runners, monkeypatch
):
    builders.follow_up(world["factory"], world["rep"], NOW + timedelta(minutes=30))
    builders.follow_up(world["factory"], world["rep"], NOW + timedelta(minutes=45))
    db.session.commit()
    monkeypatch.setattr(reminders, "BATCH", 1)
    attempts = []

    def flaky(session, now):
        attempts.append(now)
        for counts in reminders.run(session, now):
            yield counts
            if len(attempts) == 1:
                raise ConnectionError("the database went away")

    job = JOBS["reminders"]
    monkeypatch.setitem(JOBS, "reminders", Job(job.name, job.title, job.schedule, flaky))
    runner = runners("a")

    runner.tick(NOW)
    assert ("reminders", "reminders:2026-11-25T10:00", "failed") in runs()
    assert count(Notification, Notification.kind == "follow_up_due_soon") == 1
    runner.tick(NOW + timedelta(minutes=1))

    run = db.session.scalar(select(JobRun).where(JobRun.job == "reminders"))
    assert run.outcome == "ok" and run.counts["attempts"] == 2 and run.error == ""
    assert run.counts["follow_up_due_soon"] == 2
    assert count(Notification, Notification.kind == "follow_up_due_soon") == 2


@time_machine.travel(NOW, tick=False)
def test_a_run_left_running_by_a_previous_leader_is_run_again(world, runners):
    db.session.add(
        JobRun(
            job="reminders",
            run_key="reminders:2026-11-25T10:00",
            started_at=NOW - timedelta(minutes=2),
            outcome="running",
            counts={},
        )
    )
    db.session.commit()
    runners("a").tick(NOW)
    assert ("reminders", "reminders:2026-11-25T10:00", "ok") in runs()


# --- the lease ---------------------------------------------------------------------------------


def test_the_lease_row_is_held_by_one_and_taken_over_once_it_lapses(db_session):
    first, second = lease.RowLease("first"), lease.RowLease("second")
    assert first.hold(NOW) and not second.hold(NOW + timedelta(seconds=5))
    assert first.hold(NOW + timedelta(seconds=30))  # renewed: good for 45 s more
    assert not second.hold(NOW + timedelta(seconds=60))
    assert second.hold(NOW + timedelta(seconds=76))
    assert not first.hold(NOW + timedelta(seconds=77)) and not first.held
    second.release()
    assert first.hold(NOW + timedelta(seconds=78))
    assert db_session.get(SchedulerLease, "scheduler").holder == "first"


@time_machine.travel(NOW, tick=False)
def test_a_second_runner_stands_by_while_the_first_leads(world, runners):
    leader, standby = runners("leader"), runners("standby")
    assert leader.tick(NOW)
    builders.follow_up(world["factory"], world["rep"], NOW + timedelta(minutes=40))
    db.session.commit()
    assert standby.tick(NOW + timedelta(minutes=15)) == []
    assert [run.run_key for run in leader.tick(NOW + timedelta(minutes=15))] == [
        "reminders:2026-11-25T10:15",
        "reports:2026-11-25T10:15",
    ]
    health = scheduler.health(NOW)
    assert health.alive and health.holder == "leader"


# --- run now ---------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_run_now_is_a_work_request_that_the_leader_alone_picks_up(world, runners):
    leader, standby = runners("leader"), runners("standby")
    leader.tick(NOW)
    standby.tick(NOW)
    request = scheduler.request_run(None, "daily", NOW)
    db.session.commit()

    assert standby.work_once() is None  # a standby may do other work, never a job
    leader.work_once()

    db.session.expire_all()
    request = db.session.get(WorkRequest, request.id)
    assert request.status == "done" and request.percent == 100
    assert request.result["outcome"] == "ok"
    assert request.result["run_key"] == f"daily:now-{request.id}"
    assert ("daily", f"daily:now-{request.id}", "ok") in runs()


def test_work_of_an_unknown_kind_fails_with_a_reason(db_session, runners):
    db.session.add(WorkRequest(kind="no-such-work", arguments={}))
    db.session.commit()
    request = db.session.get(WorkRequest, runners("a").work_once())
    assert request.status == "failed" and "no handler" in request.error


# --- e-mail ------------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd's handler: keeps what the server accepted."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 (aiosmtpd), and the app pointed at it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "CRM_BASE_URL", "https://crm.example.test")
    yield mailbox
    controller.stop()
    asyncio.set_event_loop(None)


def overdue_reminder(world) -> Notification:
    builders.follow_up(world["factory"], world["rep"], NOW - timedelta(minutes=5), "Bring slides")
    for _counts in reminders.run(db.session, NOW):
        pass
    db.session.commit()
    return db.session.scalar(select(Notification))


def test_an_email_is_marked_committed_sent_and_never_sent_again(world, smtp):
    item = overdue_reminder(world)
    counts = mail.send_pending(NOW)
    assert counts["sent"] == 1
    (envelope,) = smtp.messages
    assert envelope.rcpt_tos == [world["rep"].email]
    text = envelope.content.decode()
    assert "Subject: Overdue follow-up: Hengda Hardware (due 2026-11-25 09:55)" in text
    assert "Bring slides" in text
    assert f"https://crm.example.test/factories/{item.factory_id}" in text
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, NOW)
    assert mail.send_pending(NOW)["sent"] == 0
    assert len(smtp.messages) == 1


def test_an_email_found_half_sent_after_a_stop_is_flagged_not_resent(world, smtp):
    overdue_reminder(world)
    delivery = db.session.scalar(select(Delivery))
    delivery.status = "sending"  # marked and committed, then the process died
    db.session.commit()
    counts = mail.send_pending(NOW)
    assert counts == {"flagged": 1, "sent": 0, "failed": 0, "skipped": 0}
    assert smtp.messages == []
    assert db.session.get(Delivery, delivery.id).status == "flagged"


def test_emails_wait_while_the_mail_server_is_out_of_reach(world, app, monkeypatch):
    overdue_reminder(world)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    assert mail.send_pending(NOW)["sent"] == 0
    assert db.session.scalar(select(Delivery.status)) == "pending"


def test_without_a_mail_server_development_writes_mails_to_the_log(world, app, caplog):
    assert app.config["MAIL_SERVER"] is None
    overdue_reminder(world)
    with caplog.at_level(logging.INFO, logger="crm.services.notices.mail"):
        assert mail.send_pending(NOW)["sent"] == 1
    assert "Overdue follow-up: Hengda Hardware" in caplog.text


def test_a_user_chooses_which_reminders_come_by_email(world):
    rep = world["rep"]
    assert mail.email_kinds(rep) == ("follow_up_overdue", "factory_eligible", "digest")
    mail.set_email_kinds(rep, rep, ["follow_up_due_soon"])
    assert mail.email_kinds(rep) == ("follow_up_due_soon",)
    overdue_reminder(world)
    assert count(Delivery) == 0
    with pytest.raises(Invalid):
        mail.set_email_kinds(rep, rep, ["digest"])  # a rep gets no digest to choose


# --- operators ---------------------------------------------------------------------------------


def test_run_job_runs_one_period_once_from_the_command_line(app, world):
    cli = app.test_cli_runner()
    first = cli.invoke(args=["crm", "run-job", "reminders", "--at", "2026-11-25T10:05"])
    assert first.exit_code == 0, first.output
    assert "reminders:2026-11-25T10:00: ok" in first.output
    again = cli.invoke(args=["crm", "run-job", "reminders", "--at", "2026-11-25T10:14"])
    assert again.exit_code == 0 and "finished already" in again.output
    assert cli.invoke(args=["crm", "run-job", "nightly"]).exit_code == 2
    assert cli.invoke(args=["crm", "run-job", "daily", "--at", "tomorrow"]).exit_code == 2


@time_machine.travel(NOW, tick=False)
def test_run_job_leaves_the_jobs_to_a_running_scheduler(app, world, runners):
    runners("scheduler").tick(NOW)
    result = app.test_cli_runner().invoke(args=["crm", "run-job", "daily"])
    assert result.exit_code == 1 and "scheduler process is running" in result.output


def test_web_workers_never_start_the_scheduler(app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_SCHEDULER_IN_DEV_SERVER", True)
    assert not scheduler.start_in_dev_server(app, {"SERVER_SOFTWARE": "gunicorn/23.0.0"})
    assert not scheduler.start_in_dev_server(app, {})  # the test client
    monkeypatch.setitem(app.config, "CRM_SCHEDULER_IN_DEV_SERVER", False)
    assert not scheduler.start_in_dev_server(app, {"SERVER_SOFTWARE": "Werkzeug/3.1"})
    assert "crm_scheduler" not in app.extensions
