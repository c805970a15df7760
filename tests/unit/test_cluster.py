"""Any host serves any request: two app hosts behind nginx with TLS (issue 24, point 3).

bench/cluster.py starts the topology of docs/operations.md "Several hosts" on this machine
(PostgreSQL, Redis, two gunicorn hosts with a scheduler each, nginx from the shipped
deploy/nginx/crm.conf); this test drives it through the proxy as a phone would, then takes
host A down piece by piece. Its figures (requests per host, the scheduler's hand-over time,
lost and duplicated visits) are printed and written to test-artifacts/cluster-figures.json.
The load test of bench/load.py then runs through the same proxy, its photos in the S3 bucket
(test-artifacts/cluster-load-figures.json).

PostgreSQL only: it runs in CI's PostgreSQL pass, on a database of its own beside
CRM_TEST_DATABASE_URL's, and with Redis at CRM_TEST_REDIS_URL's server (a database number of
its own). Locally: CRM_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/crm_t
.venv/bin/pytest tests/unit/test_cluster.py -s
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import signal
import socket
import ssl
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import pytest
import redis
from sqlalchemy.engine import make_url

from bench import cluster, load
from bench.load import multipart, photo
from crm.jobs.lease import LEASE_SECONDS
from crm.services.field.photos import key_of
from tests.conftest import ARTIFACTS, WORKER

REP, PASSWORD = "rep@example.com", "demo-pass-2026"  # the demo's (crm/demo)
LOGIN_LIMIT = 6  # sign-in posts an address may make (CRM_LOGIN_RATE_LIMIT), here per hour
SPREAD_REQUESTS = 40
LOAD_SECONDS = 20  # the load through the proxy: shorter than the one-host load test's 30
LOAD_REPS = 20


def _database() -> str:
    base = make_url(os.environ["CRM_TEST_DATABASE_URL"])
    name = f"{base.database}_cluster_{WORKER.lower()}"
    return base.set(database=name).render_as_string(hide_password=False)


def _redis() -> str:
    given = urlsplit(os.environ.get("CRM_TEST_REDIS_URL") or cluster.DEFAULT_REDIS)
    return f"redis://{given.netloc}/{cluster.REDIS_DB}"


def _visit(factory_id: int, note: str) -> tuple[bytes, str]:
    fields = {
        "factory_id": str(factory_id),
        "purpose": "follow_up",
        "summary": note,
        "next": "none",
        "checked_in_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return multipart(fields, [("photos", "photo-1.jpg", photo(len(note)))])


def _visit_headers(client: cluster.Client, key: str, content_type: str) -> dict[str, str]:
    """What the outbox sends (crm/static/js/outbox.js): the session, its CSRF token, the key."""
    return {
        "Content-Type": content_type,
        "X-CSRFToken": client.csrf,
        "Idempotency-Key": key,
        "Accept": "application/json",
    }


@pytest.mark.postgres_only
def test_two_hosts_behind_the_proxy_serve_any_request_and_lose_nothing_when_one_dies():
    started = time.monotonic()
    figures: dict = {}
    topology = cluster.Topology(
        database=_database(),
        redis=_redis(),
        env={"CRM_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour"},
    )
    with topology:
        topology.flask("crm", "seed-demo")
        host_a, host_b = topology.hosts
        served: dict[str, int] = {"a": 0, "b": 0}

        # -- a rep signs in through the proxy: the real form, its CSRF token, over TLS ------------
        rep = topology.client(source="127.0.0.2")
        signed_in = rep.sign_in(REP, PASSWORD)
        assert signed_in.status == 303, signed_in.body[:500]
        assert signed_in.headers["Location"] == "/today"
        # Production behind HTTPS: the cookie is Secure, HSTS is sent once (by the app alone).
        assert rep.set_cookies and all("; Secure" in line for line in rep.set_cookies)
        assert signed_in.headers.get_all("Strict-Transport-Security") == [
            "max-age=63072000; includeSubDomains"
        ]
        # The app sees the client's own address through the proxy, not nginx's 127.0.0.1.
        assert topology.sql("SELECT address FROM user_sessions") == [("127.0.0.2",)]
        # HTTP/2 is offered; plain HTTP is sent to HTTPS.
        figures["alpn"] = _alpn(topology)
        assert figures["alpn"] == "h2"
        plain = rep.request("GET", "/today", base=f"http://127.0.0.1:{topology.http_port}")
        assert plain.status == 301 and plain.headers["Location"].startswith("https://")
        # A request naming another host is closed unanswered (the app builds links from it).
        with pytest.raises(http.client.RemoteDisconnected):
            rep.request("GET", "/login", headers={"Host": "evil.example.com"})

        # -- a visit with a photo lands on host A; host B serves it -------------------------------
        factory_id = topology.sql(
            "SELECT f.id FROM factories f JOIN users u ON u.id = f.owner_id "
            "WHERE u.email = :email ORDER BY f.id LIMIT 1",
            email=REP,
        )[0][0]
        # nginx's round robin alternates: the request after one that B answered goes to A.
        for _ in range(2):
            answer = rep.request("GET", "/today")
            assert answer.status == 200
            served[answer.host] += 1
            if answer.host == "b":
                break
        body, content_type = _visit(factory_id, "Logged through the proxy")
        key = f"cluster-{uuid.uuid4().hex}"
        logged = rep.request("POST", "/api/v1/visits", body, _visit_headers(rep, key, content_type))
        assert logged.status == 201, logged.body[:500]
        assert logged.host == "a"
        served["a"] += 1
        visit = logged.json()["visit"]
        assert visit["photos"] == 1
        on_b = rep.request("GET", f"/api/v1/visits/{visit['id']}", base=host_b.url)
        assert on_b.status == 200 and on_b.host == "b"
        assert on_b.json()["summary"] == "Logged through the proxy"
        photo_id = topology.sql(
            "SELECT id FROM visit_photos WHERE visit_id = :visit", visit=visit["id"]
        )[0][0]
        # The photo is in the S3 store (tests/s3server.py), so B serves the file A stored.
        assert topology.shared_storage
        picture = rep.request("GET", f"/visits/{visit['id']}/photos/{photo_id}", base=host_b.url)
        assert picture.status == 200 and picture.host == "b"
        assert picture.headers["Content-Type"] == "image/jpeg" and picture.body[:2] == b"\xff\xd8"
        through_proxy = {
            rep.request("GET", f"/visits/{visit['id']}/photos/{photo_id}").host for _ in range(2)
        }
        assert through_proxy == {"a", "b"}
        figures["photo_served_by_the_other_host"] = True
        # ... and the same key sent again through the proxy, whichever host takes it, is that visit.
        for _ in range(2):
            again = rep.request(
                "POST", "/api/v1/visits", body, _visit_headers(rep, key, content_type)
            )
            assert again.status == 200 and again.json()["visit"]["id"] == visit["id"]
            served[again.host] += 1

        # -- requests are spread over both hosts ---------------------------------------------
        for _ in range(SPREAD_REQUESTS):
            answer = rep.request("GET", "/today")
            assert answer.status == 200
            served[answer.host] += 1
        figures["requests_per_host"] = dict(served)
        total = sum(served.values())
        assert all(0.4 * total <= count <= 0.6 * total for count in served.values()), served

        # -- rate limits hold across both hosts (counted in Redis, by the client's address) ------
        attacker = topology.client(source="127.0.0.3")
        attacker.request("GET", "/login")
        answered_by, statuses = set(), []
        for attempt in range(LOGIN_LIMIT + 1):
            form = urlencode(
                {"login": f"nobody{attempt}@example.com", "password": "wrong-password-1",
                 "csrf_token": attacker.csrf}
            )  # fmt: skip
            answer = attacker.request(
                "POST", "/login", form.encode(),
                {"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            statuses.append(answer.status)
            answered_by.add(answer.host)
        assert answered_by == {"a", "b"}
        counters = redis.Redis.from_url(topology.redis).scan_iter(f"*{topology.prefix}*")
        assert any(b"login" in name for name in counters)  # one count in Redis for both hosts
        # Refused by the form (422) until the limit, whichever host answered; then 429.
        assert statuses[:LOGIN_LIMIT] == [422] * LOGIN_LIMIT and statuses[-1] == 429, statuses
        # Another address is not held back: the limit is the client's, not the proxy's.
        other = topology.client(source="127.0.0.4")
        other.request("GET", "/login")
        form = urlencode({"login": "x@example.com", "password": "wrong-password-1",
                          "csrf_token": other.csrf})  # fmt: skip
        answer = other.request(
            "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert answer.status == 422
        figures["sign_in_failures_before_429"] = LOGIN_LIMIT

        # -- killing host A's scheduler hands the lead to host B's within the lease ------------
        cluster.wait_for(
            lambda: (
                topology.sql("SELECT count(*) FROM job_runs WHERE outcome = 'running'")[0][0] == 0
            ),
            60,
            "host a's scheduler to finish its first runs",
        )
        assert topology.leader() == host_a.holder
        before = set(topology.sql("SELECT id, job, run_key, started_at FROM job_runs"))
        assert before
        killed_at = time.monotonic()
        cluster.kill(host_a.scheduler, signal.SIGKILL)
        cluster.wait_for(
            lambda: topology.leader() == host_b.holder, LEASE_SECONDS, "host b's scheduler to lead"
        )
        figures["scheduler_hand_over_seconds"] = round(time.monotonic() - killed_at, 2)
        assert figures["scheduler_hand_over_seconds"] < LEASE_SECONDS
        time.sleep(2)  # B's first tick: every period A finished stays finished
        cluster.wait_for(
            lambda: (
                topology.sql("SELECT count(*) FROM job_runs WHERE outcome = 'running'")[0][0] == 0
            ),
            60,
            "host b's first runs",
        )
        after = set(topology.sql("SELECT id, job, run_key, started_at FROM job_runs"))
        assert before <= after  # none of A's runs was run again (its start would move)
        assert (
            topology.sql(
                "SELECT job, run_key FROM job_runs GROUP BY job, run_key HAVING count(*) > 1"
            )
            == []
        )
        assert topology.sql("SELECT count(*) FROM job_runs WHERE outcome <> 'ok'")[0][0] == 0
        figures["job_runs"] = {"before": len(before), "after": len(after)}

        # -- killing host A mid-request loses nothing the phone had queued ---------------------
        body, content_type = _visit(factory_id, "Queued on the phone, sent as host A died")
        key = f"cluster-{uuid.uuid4().hex}"
        headers = _visit_headers(rep, key, content_type)
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in rep.cookies.items())
        in_flight = socket.create_connection(("127.0.0.1", host_a.port), timeout=10)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        in_flight.sendall(
            f"POST /api/v1/visits HTTP/1.1\r\nHost: 127.0.0.1:{host_a.port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        time.sleep(0.5)  # a worker of A reads the body
        cluster.kill(host_a.web, signal.SIGKILL)
        try:
            reply = in_flight.recv(1024)
        except OSError:
            reply = b""
        in_flight.close()
        assert reply == b""  # the phone got no answer: the visit stays in its outbox
        # The outbox sends it again, the same key and body, through the proxy: B takes it.
        sent = rep.request("POST", "/api/v1/visits", body, _visit_headers(rep, key, content_type))
        assert sent.status == 201 and sent.host == "b", sent.body[:500]
        again = rep.request("POST", "/api/v1/visits", body, _visit_headers(rep, key, content_type))
        assert again.status == 200 and again.json()["visit"]["id"] == sent.json()["visit"]["id"]
        keys = [
            row[0]
            for row in topology.sql(
                "SELECT client_key FROM visits WHERE client_key LIKE 'cluster-%'"
            )
        ]
        figures["visits_sent"] = 2
        figures["visits_lost"] = 2 - len(set(keys))
        figures["visits_duplicated"] = len(keys) - len(set(keys))
        assert figures["visits_lost"] == 0 and figures["visits_duplicated"] == 0

    figures["wall_seconds"] = round(time.monotonic() - started, 1)
    print("cluster figures:", json.dumps(figures))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "cluster-figures.json").write_text(json.dumps(figures, indent=2) + "\n")


def _alpn(topology: cluster.Topology) -> str | None:
    """The protocol nginx chooses when a client offers HTTP/2 first."""
    context = ssl.create_default_context(cafile=str(topology.certificate))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", topology.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.selected_alpn_protocol()


@pytest.mark.postgres_only
def test_the_load_test_through_the_proxy_loses_and_doubles_nothing_and_keeps_every_photo():
    """The reps of bench/load.py over HTTPS through nginx, both hosts behind it, the photos in
    the S3 bucket: no visit lost or doubled, no server error (issue 24, "Tests")."""
    started = time.monotonic()
    topology = cluster.Topology(
        database=_database(),
        redis=_redis(),
        # Every rep signs in from 127.0.0.1; the limit itself is the other test's.
        env={"CRM_LOGIN_RATE_LIMIT": "100000 per minute"},
    )
    with topology:
        assert topology.shared_storage
        people = load.make_reps(
            topology.database, str(topology.folder / "reps"), LOAD_REPS, fresh=False
        )
        result = load.load_through(
            topology.url,
            topology.database,
            people,
            LOAD_SECONDS,
            certificate=topology.certificate,
            logs=[host.folder / "gunicorn.log" for host in topology.hosts],
        )
        # The visits the reps stored (acknowledged, when none is lost or stray) and their photos.
        photos = topology.sql(
            "SELECT v.id, p.stored_name FROM visits v LEFT JOIN visit_photos p "
            "ON p.visit_id = v.id WHERE v.client_key LIKE :keys",
            keys=f"{load.KEY_PREFIX}%",
        )
        bucket = topology.s3.client().get_paginator("list_objects_v2")
        kept = {
            item["Key"]
            for page in bucket.paginate(Bucket=topology.s3.bucket, Prefix="photos/")
            for item in page.get("Contents", [])
        }

    samples = result.samples
    ok = [s.seconds * 1000 for s in samples if s.status in (200, 201)]
    per_host = dict(collections.Counter(s.host for s in samples))
    errors = collections.Counter(s.status for s in samples if s.status >= 500 or s.status == 0)
    figures = {
        "reps": LOAD_REPS,
        "load_seconds": round(result.seconds, 1),
        "requests": len(samples),
        "requests_per_host": per_host,
        "visits_acknowledged": result.acknowledged,
        "visits_sent_again": result.retries,
        "p50_ms": round(load.percentile(ok, 0.5)),
        "p95_ms": round(load.percentile(ok, 0.95)),
        "lost": len(result.lost),
        "duplicated": len(result.duplicated),
        "wrong_id": len(result.wrong_id),
        "stray": len(result.stray),
        "server_errors": dict(errors),
        "photos_in_bucket": sum(key_of(name) in kept for _, name in photos),
        "thumbnails_in_bucket": sum(key_of(name, thumbnail=True) in kept for _, name in photos),
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    print("cluster load figures:", json.dumps(figures))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "cluster-load-figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert result.acknowledged > LOAD_SECONDS  # about one visit a second, as on one host
    assert result.lost == [] and result.duplicated == []
    assert result.wrong_id == [] and result.stray == []
    assert result.refused == {} and result.unacknowledged == 0
    assert errors == {}  # no 5xx from the app or the proxy, no dropped connection
    assert result.problems == [], result.report  # nor an exception in either host's log
    # Both hosts took a share: nginx's round robin, every answer naming its host.
    assert set(per_host) == {"a", "b"}, per_host
    assert all(count >= 0.3 * len(samples) for count in per_host.values()), per_host
    # Each acknowledged visit has its photo, and the photo and its thumbnail are in the bucket.
    assert len({visit for visit, _ in photos}) == len(photos) == result.acknowledged
    assert figures["photos_in_bucket"] == figures["thumbnails_in_bucket"] == len(photos)
