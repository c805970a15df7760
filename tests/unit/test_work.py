"""Work requests: claimed exactly once, failures recorded for the page, imports through them."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from crm.extensions import db
from crm.models import Factory, ImportRun, WorkRequest
from crm.services.imports import runs as imports
from crm.services.install import work
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@work.handles("test_echo")
def _echo(request: WorkRequest, runner=None) -> dict:
    for done in range(1, 4):
        work.report(request, done, 3, "counting")
    return {"echo": request.arguments.get("say", "")}


FAILED: list[str] = []


def _note_failure(request: WorkRequest, message: str) -> None:
    FAILED.append(message)


@work.handles("test_boom", on_failure=_note_failure)
def _boom(request: WorkRequest, runner=None) -> dict:
    raise RuntimeError("disk on fire")


def test_sqlite_or_postgres_claims_each_request_once_oldest_first(db_session):
    first = work.request("test_echo", {"say": "a"}, None, NOW)
    second = work.request("test_echo", {"say": "b"}, None, NOW + timedelta(seconds=1))
    db_session.commit()

    one = work.claim_next("host-a:1", NOW)
    two = work.claim_next("host-b:2", NOW)
    assert (one.id, two.id) == (first.id, second.id)
    assert (one.status, one.claimed_by, one.claimed_at) == ("running", "host-a:1", NOW)
    assert work.claim_next("host-c:3", NOW) is None
    # The conditional claim: a request already running is not claimed a second time.
    assert work.claim(first.id, "host-c:3", NOW) is None

    done = work.run(one)
    assert (done.status, done.result, done.percent) == ("done", {"echo": "a"}, 100)
    assert (done.progress_done, done.progress_total, done.phase) == (3, 3, "")


def test_a_failing_handler_marks_the_request_failed_with_its_error(db_session):
    FAILED.clear()
    request = work.request("test_boom", {}, None, NOW)
    db_session.commit()
    failed = work.run(work.claim_next("h", NOW))
    assert failed.id == request.id
    assert failed.status == "failed" and failed.finished_at is not None
    assert "RuntimeError" in failed.error and "Ask again" in failed.error
    assert [failed.error] == FAILED


def test_an_unknown_kind_is_refused_when_asked_for(db_session):
    with pytest.raises(LookupError):
        work.request("no-such-work", {}, None, NOW)


def test_a_request_whose_holder_died_is_failed_and_its_import_marked(db_session):
    manager = builders.user("admin")
    run = builders.import_run(manager)
    run.status = "applying"
    request = work.request("import_apply", {"run_id": run.id}, manager.id, NOW)
    run.work_request_id = request.id
    db_session.commit()
    work.claim_next("dead-host:9", NOW)
    fresh = work.request("test_echo", {}, None, NOW)
    db_session.commit()
    work.claim_next("live-host:1", NOW + timedelta(hours=1))

    assert work.recover_abandoned(NOW + timedelta(minutes=10)) == []
    assert work.recover_abandoned(NOW + timedelta(hours=1)) == [request.id]
    db_session.expire_all()
    assert db_session.get(WorkRequest, request.id).status == "failed"
    assert "stopped" in db_session.get(WorkRequest, request.id).error
    assert db_session.get(WorkRequest, fresh.id).status == "running"
    assert (run.status, run.error) == ("failed", db_session.get(WorkRequest, request.id).error)


@pytest.mark.postgres_only
def test_two_concurrent_claimers_take_each_request_exactly_once(app, live_db):
    ids = [work.request("test_echo", {"n": n}, None, NOW).id for n in range(40)]
    live_db.commit()
    barrier = threading.Barrier(2)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                while (request := work.claim_next(name, NOW)) is not None:
                    taken[name].append(request.id)
                db.session.remove()
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not errors, errors
        assert not set(taken["a"]) & set(taken["b"])
        assert sorted(taken["a"] + taken["b"]) == ids
        assert taken["a"] and taken["b"]  # both claimed: SKIP LOCKED let them work side by side
    finally:
        live_db.execute(delete(WorkRequest))
        live_db.commit()


def _sheet(codes: list[str], belt: str = "yongkang-hardware") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Unified social credit code", "Factory name", "Belt"])
    writer.writerows([code, f"Factory {n}", belt] for n, code in enumerate(codes))
    return buffer.getvalue().encode()


def test_a_large_import_is_checked_and_applied_by_work_requests(db_session):
    team = builders.team()
    builders.belt(team, code="yongkang-hardware")
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    codes = [builders.credit_code(61_000 + n) for n in range(30)]
    run = imports.upload(manager, "factories", "big.csv", _sheet(codes), NOW)
    assert len(imports.rows_of(run)) == 30 and run.total_rows == 30

    imports.check(manager, run, NOW, "en", inline=False)
    db_session.commit()
    assert run.status == "checking" and run.work_request.kind == "import_check"
    assert imports.progress_of(run)["waiting"] is True
    with pytest.raises(Exception, match="being checked"):
        imports.set_mapping(manager, run, run.mapping)

    assert work.drain("scheduler") == [run.work_request_id]
    assert (run.status, run.counts) == ("checked", {"created": 30, "updated": 0, "unchanged": 0})
    assert run.work_request.status == "done" and run.work_request.progress_done == 30
    assert imports.progress_of(run)["done"] is True

    request = imports.confirm(manager, run, NOW, "en")
    db_session.commit()
    assert db_session.scalar(select(func.count()).where(Factory.credit_code.in_(codes))) == 0
    assert imports.progress_of(run)["waiting"] is True
    claimed = work.claim_next("scheduler", NOW)
    assert claimed.id == request.id
    work.run(claimed)
    assert run.status == "done" and claimed.status == "done"
    assert claimed.result == {"run_id": run.id, "status": "done", **run.counts}
    assert db_session.scalar(select(func.count()).where(Factory.credit_code.in_(codes))) == 30


def test_problems_are_kept_on_the_staged_rows_and_read_back_in_line_order(db_session):
    team = builders.team()
    builders.belt(team, code="yongkang-hardware")
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    codes = [builders.credit_code(62_000 + n) for n in range(3)]
    data = _sheet(codes[:1]) + _sheet(codes[1:], belt="nowhere").split(b"\r\n", 1)[1]
    run = imports.upload(manager, "factories", "bad.csv", data, NOW)
    imports.check(manager, run, NOW, "en", inline=False)
    db_session.commit()
    work.drain("scheduler")
    assert run.status == "refused" and run.problem_count == 2
    assert [(p["line"], p["column"]) for p in imports.report(run)] == [(3, "Belt"), (4, "Belt")]
    assert imports.report(run, limit=1) == imports.report(run)[:1]


def test_an_apply_that_fails_marks_the_run_failed_and_imports_nothing(db_session, monkeypatch):
    team = builders.team()
    builders.belt(team, code="yongkang-hardware")
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    codes = [builders.credit_code(63_000 + n) for n in range(2)]
    run = imports.upload(manager, "factories", "f.csv", _sheet(codes), NOW)
    run = imports.dry_run(manager, run, NOW)
    imports.confirm(manager, run, NOW, "en")
    db_session.commit()

    def broken(actor, result, now):
        db.session.add(Factory(name="half", belt_id=None))
        raise RuntimeError("lost the connection")

    monkeypatch.setitem(imports.WRITERS, "factories", broken)
    (request_id,) = work.drain("scheduler")
    db_session.expire_all()
    run = db_session.get(ImportRun, run.id)
    assert run.status == "failed" and "RuntimeError" in run.error
    assert db_session.get(WorkRequest, request_id).error == run.error
    assert db_session.scalar(select(func.count()).where(Factory.credit_code.in_(codes))) == 0
