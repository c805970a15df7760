"""SQLite under more than one writer: a write waits for the lock, never answers 503 (issue 19).

Each test runs real concurrent writers against the worker's SQLite file: another connection
that holds the write lock (as a scheduler's batch or an import's check does), the scheduler's
Runner on a thread, or logins through the live server, at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from crm.extensions import db
from crm.jobs.scheduler import Runner
from crm.models import ImportRun, UserSession, WorkRequest
from crm.services.accounts import auth
from crm.services.imports import runs as imports
from crm.services.install import work
from tests import builders
from tests.web.helpers import csrf_token, sign_in

pytestmark = pytest.mark.sqlite_only

IMPORT_ROWS = 5_000


@contextmanager
def another_writer(database_url: str, *, hold: float, pause: float = 0.0) -> Iterator[None]:
    """Another connection takes SQLite's write lock and holds it `hold` seconds: once, or
    (with `pause`) again and again until the block ends, committing a write each time."""
    path = make_url(database_url).database
    taken, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        connection = sqlite3.connect(path, isolation_level=None, timeout=60)
        try:
            while True:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "UPDATE metrics SET name_en = name_en WHERE id = (SELECT min(id) FROM metrics)"
                )
                taken.set()
                time.sleep(hold)
                connection.execute("COMMIT")
                if not pause or stop.is_set():
                    return
                time.sleep(pause)
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)
            taken.set()
        finally:
            connection.close()

    thread = threading.Thread(target=write, name="another-writer", daemon=True)
    thread.start()
    assert taken.wait(10), "the other writer never took the lock"
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert failures == []


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def big_import(by, belt_code: str, rows: int = IMPORT_ROWS) -> ImportRun:
    """A factories file of `rows` rows, uploaded and waiting for the scheduler's check."""
    lines = ["统一社会信用代码,企业名称,产业带"] + [
        f"{builders.credit_code(900_000 + n)},导入工厂{n},{belt_code}" for n in range(rows)
    ]
    data = ("\r\n".join(lines) + "\r\n").encode()
    now = datetime.now(UTC)
    run = imports.upload(by, "factories", "big.csv", data, now)
    imports.check(by, run, now, "en", inline=False)
    db.session.commit()
    return run


def test_a_sign_in_waits_for_another_writer_instead_of_answering_503(app, live_db, database_url):
    rep = builders.user("rep", team_=builders.team())
    live_db.commit()
    client = app.test_client()
    token = csrf_token(client)

    with another_writer(database_url, hold=1.0):
        started = time.monotonic()
        answer = client.post(
            "/login", data={"login": rep.email, "password": builders.PASSWORD, "csrf_token": token}
        )

    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]
    assert time.monotonic() - started >= 0.5  # it waited for the other writer's commit


def test_six_sign_ins_at_once_succeed_while_the_scheduler_catches_up(app, live_server, live_db):
    """`make run`, then the six demo logins at once, ten times: every one signs in."""
    team = builders.team()
    belt = builders.belt(team)
    people = [builders.user("rep", team_=team) for _ in range(6)]
    for n in range(300):
        builders.factory(belt, owner=people[n % 6], name=f"Catch-up factory {n}")
    live_db.commit()
    answers: list[int] = []
    errors: list[BaseException] = []

    def sign_in_over_http(login: str, barrier: threading.Barrier) -> None:
        try:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            page = opener.open(f"{live_server}/login", timeout=30).read().decode()
            token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            form = {"login": login, "password": builders.PASSWORD, "csrf_token": token}
            barrier.wait(timeout=30)
            request = urllib.request.Request(
                f"{live_server}/login", data=urllib.parse.urlencode(form).encode()
            )
            try:
                with opener.open(request, timeout=60) as response:
                    answers.append(response.status)
            except urllib.error.HTTPError as error:
                answers.append(error.code)
        except BaseException as error:  # reported below
            errors.append(error)

    start = datetime.now(UTC)
    for round_ in range(10):
        runner = Runner(app, holder=f"catch-up-{round_}")
        # A new day each round: the daily sweep and the reminders have a period to catch up.
        ticking = threading.Thread(target=runner.tick, args=(start + timedelta(days=round_),))
        barrier = threading.Barrier(len(people))
        threads = [
            threading.Thread(target=sign_in_over_http, args=(person.email, barrier))
            for person in people
        ]
        ticking.start()
        for thread in threads:
            thread.start()
        for thread in [*threads, ticking]:
            thread.join(timeout=120)
        runner.stop()

    assert errors == []
    assert answers == [200] * 60  # each sign-in redirected to its home page, which answered


def test_an_import_check_saves_its_progress_and_outcome_while_another_writer_works(
    app, live_db, database_url
):
    team = builders.team()
    builders.belt(team, code="writers-belt")
    admin = builders.user("admin")
    live_db.commit()
    run = big_import(admin, "writers-belt")
    runner = Runner(app, holder="busy-runner")

    with another_writer(database_url, hold=0.2, pause=0.01):
        assert runner.work_once() == run.work_request_id

    live_db.rollback()
    request = live_db.get(WorkRequest, run.work_request_id)
    assert (request.status, request.error) == ("done", "")
    assert (request.progress_done, request.progress_total) == (IMPORT_ROWS, IMPORT_ROWS)
    assert live_db.get(ImportRun, run.id).status == "checked"


def test_sign_ins_succeed_while_an_import_is_checked(app, live_db):
    team = builders.team()
    builders.belt(team, code="writers-belt")
    admin = builders.user("admin")
    rep = builders.user("rep", team_=team)
    live_db.commit()
    run = big_import(admin, "writers-belt")
    checking = threading.Thread(target=Runner(app, holder="import-runner").work_once)
    answers = []

    checking.start()
    while checking.is_alive() or not answers:
        client = app.test_client()
        answers.append(sign_in(client, rep.email).status_code)
    checking.join()

    assert set(answers) <= {302, 303}, answers
    live_db.rollback()
    assert live_db.get(ImportRun, run.id).status == "checked"


def test_a_work_request_whose_failure_could_not_be_saved_is_failed_by_the_next_poll(
    app, live_db, monkeypatch
):
    """Never "running" with nothing running it: the holder's next poll fails it, and the
    admin's jobs page shows it with its reason."""
    team = builders.team()
    builders.belt(team, code="writers-belt")
    admin = builders.user("admin")
    live_db.commit()
    run = big_import(admin, "writers-belt", rows=10)
    runner = Runner(app, holder="unlucky-runner")

    def database_away(*args, **kwargs):
        raise OperationalError("UPDATE work_requests", {}, sqlite3.OperationalError("disk I/O"))

    with monkeypatch.context() as patched:
        patched.setattr(imports, "dry_run", database_away)
        patched.setattr(work, "fail", database_away)  # nor can the failure be saved
        with pytest.raises(OperationalError):
            runner.work_once()
    live_db.rollback()
    assert live_db.get(WorkRequest, run.work_request_id).status == "running"

    assert runner.work_once() is None  # the next poll, two seconds later

    live_db.rollback()
    request = live_db.get(WorkRequest, run.work_request_id)
    assert request.status == "failed"
    assert "Ask again" in request.error
    assert live_db.get(ImportRun, run.id).status == "uploaded"  # the file can be checked again
    page = signed_in(app, admin).get("/admin/jobs").get_data(as_text=True)
    assert "work-problems" in page and "Checking an import" in page and request.error in page


def test_the_jobs_page_shows_a_work_request_that_is_stuck(app, live_db):
    admin = builders.user("admin")
    live_db.commit()
    stuck = work.request("import_check", {"run_id": 0}, admin.id)
    stuck.status, stuck.claimed_by = "running", "gone-host:1234"
    stuck.claimed_at = datetime.now(UTC) - timedelta(minutes=20)
    live_db.commit()

    page = signed_in(app, admin).get("/admin/jobs").get_data(as_text=True)

    assert "work-problems" in page and "gone-host:1234" in page
    assert "No progress for" in page


def test_a_reading_request_skips_last_seen_while_another_writer_works_and_the_next_saves_it(
    app, live_db, database_url
):
    """ "Last seen" never holds a reader up (issue 25): while the lock is taken the write is
    skipped, and the first request after writes it."""
    rep = builders.user("rep", team_=builders.team())
    live_db.commit()
    client = app.test_client()
    assert sign_in(client, rep.email).status_code in (302, 303)
    live_db.rollback()
    row = live_db.scalars(select(UserSession).where(UserSession.user_id == rep.id)).one()
    row.last_seen_at = datetime.now(UTC) - timedelta(hours=1)
    live_db.commit()

    with another_writer(database_url, hold=1.0):
        started = time.monotonic()
        answer = client.get("/today")
        took = time.monotonic() - started

    assert answer.status_code == 200
    assert took < 0.9  # it did not wait for the other writer's commit
    live_db.rollback()
    assert datetime.now(UTC) - live_db.get(UserSession, row.id).last_seen_at > timedelta(minutes=50)
    assert client.get("/today").status_code == 200
    live_db.rollback()
    assert datetime.now(UTC) - live_db.get(UserSession, row.id).last_seen_at < timedelta(minutes=1)
