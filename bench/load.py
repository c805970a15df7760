"""Load and fault tests: simulated reps against gunicorn on PostgreSQL; `python -m bench.load`.

    python -m bench.load --seconds 120 --reps 200            # the load test
    python -m bench.load --seconds 120 --reps 200 --fault    # ... with PostgreSQL restarted once,
                                                             # and the scheduler killed mid-sweep

Everything stays on 127.0.0.1 and ends within the time asked (plus set-up and a drain of at most
DRAIN_SECONDS). By default the test runs a PostgreSQL cluster of its own in a temporary folder
(initdb and pg_ctl as the `postgres` user, through runuser: they refuse to run as root; trust
auth, listening on 127.0.0.1 at a spare port), never a shared server; `--database URL` points
the plain load test at an existing server instead, where it makes (and drops) a database of its
own. It then:

1. makes a fresh database: `flask db upgrade`, `flask crm init`, then the reps (one team, their
   belts, a few factories each, cheap password hashes) and an API token per rep
   (crm.services.accounts.api_tokens.create), in bulk;
2. starts gunicorn as `make serve` does (`gunicorn -c gunicorn.conf.py "crm:create_app()"`,
   CRM_ENV=production) on a spare loopback port;
3. runs each rep in a thread: signed in with a session (the login form) to read Today, My
   factories and a factory page, and submitting visits with a small JPEG over the API (bearer
   token, multipart, an Idempotency-Key made once per visit). Like the phone's outbox, a visit
   is sent again with the SAME key and the same body after an error, a 503 or 429, a timeout or
   a dropped connection, with back-off, until the server acknowledges it (201, or 200 for a key
   it has); after the end a visit in hand is still sent for up to DRAIN_SECONDS;
4. with `--fault`, stops PostgreSQL (fast shutdown) at 40 % of the run, keeps it down for
   --outage seconds and starts it again: requests meanwhile must get 503 with Retry-After (they
   are counted), none a 500, and the app must serve again within RECOVERY_LIMIT seconds of the
   database's return, by itself;
5. reports throughput, latency percentiles and errors per request kind, then checks the
   database: every acknowledged visit is there exactly once (by its key, with the id it was
   acknowledged with), and no key has two visits;
6. with `--fault`, also runs the daily sweep in a scheduler process (the Runner of `flask crm
   scheduler`) over a few thousand factories, SIGKILLs it between two committed batches,
   starts another one, and checks that the sweep finished with nothing done or sent twice:
   one cadence follow-up per factory, one stale notification per factory, and each e-mail
   received once by a real SMTP server on 127.0.0.1 (aiosmtpd, from the test extra).

Exit status 1 on any lost or duplicated visit, any 500, a recovery slower than the limit or a
sweep that did something twice; the tests in tests/unit/test_load_and_fault.py call `run_load`
and `scheduler_kill` with 30 seconds and 30 reps. `load_through` runs the same reps and checks
against a server already running, over HTTPS too: tests/unit/test_cluster.py sends them through
the cluster's nginx to its two app hosts (bench/cluster.py).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import glob
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
SECRET = "load-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "load-pass-2026!"
FACTORIES_PER_REP = 5
REQUEST_TIMEOUT = 30.0
DRAIN_SECONDS = 30.0
RECOVERY_LIMIT = 15.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 4.0
KEY_PREFIX = "load-"
Log = Callable[[str], None]


# --- small helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def pg_bin() -> Path:
    """The PostgreSQL server binaries: PG_BIN, or the newest /usr/lib/postgresql/*/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); set PG_BIN")
    return Path(found[-1]).parent


# --- a PostgreSQL cluster of the test's own --------------------------------------------------


class Cluster:
    """initdb and pg_ctl as `postgres` in a temporary folder: trust auth, 127.0.0.1 only."""

    def __init__(self, log: Log = print) -> None:
        self.log = log
        self.bin = pg_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="crm-load-pg-"))
        self.data = self.folder / "data"
        self.logfile = self.folder / "postgresql.log"
        shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8"
        )

    def _as_postgres(self, program: str, *arguments: str) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.bin / program), *arguments]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}\n{result.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fresh_database(url: str) -> None:
    target = make_url(url)
    if target.get_backend_name() == "sqlite":  # bench/sqlite_load.py: a file of its own
        drop_database(url)
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with contextlib.suppress(Exception), admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def server_env(url: str, storage: str, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        FLASK_APP="crm",
        CRM_ENV="production",
        CRM_SECRET_KEY=SECRET,
        CRM_DATABASE_URL=url,
        CRM_STORAGE_ROOT=storage,
        **extra,
    )


def flask(env: dict[str, str], *arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")


# --- the data: reps, their factories and tokens ----------------------------------------------


@dataclass
class Rep:
    index: int
    login: str
    token: str
    factory_ids: list[int]
    password: str = PASSWORD


def make_reps(
    url: str, storage: str, count: int, log: Log = print, fresh: bool = True
) -> list[Rep]:
    """A fresh database with `count` reps, each owning a few factories, each with a token;
    with `fresh` False, the reps are added to a database already migrated (a cluster's)."""
    started = time.perf_counter()
    if fresh:
        fresh_database(url)
        env = server_env(url, storage)
        flask(env, "db", "upgrade")
        flask(env, "crm", "init")
    from werkzeug.security import generate_password_hash

    from crm import create_app
    from crm.extensions import db
    from crm.models import Factory, User
    from crm.services.accounts import api_tokens
    from tests import builders

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, CRM_STORAGE_ROOT=storage)
    # Cheap scrypt parameters (the verifier reads them from the hash): signing 200 reps in
    # measures the app, not the password hashing.
    password_hash = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    now = datetime.now(UTC)
    reps: list[Rep] = []
    with app.app_context():
        team = builders.team("Load team")
        belts = [builders.belt(team, code=f"load-belt-{n}") for n in range(max(1, count // 25))]
        users = [
            User(
                role="rep",
                name=f"Load rep {n}",
                email=f"load-rep-{n}@example.test",
                password_hash=password_hash,
                team=team,
                active=True,
            )
            for n in range(count)
        ]
        db.session.add_all(users)
        db.session.flush()
        factories: dict[int, list[Factory]] = {}
        serial = 0
        for n, user in enumerate(users):
            factories[n] = []
            for _ in range(FACTORIES_PER_REP):
                serial += 1
                factories[n].append(
                    Factory(
                        name=f"Load factory {serial}",
                        credit_code=builders.credit_code(serial),
                        belt=belts[n % len(belts)],
                        owner=user,
                        status="active",
                        stage="elementary",
                        stage_entered_at=now - timedelta(days=30),
                        last_visit_at=now - timedelta(days=3),
                    )
                )
        db.session.add_all([f for made in factories.values() for f in made])
        db.session.flush()
        for n, user in enumerate(users):
            secret = api_tokens.create(user, "load test", None, now).secret
            reps.append(Rep(n, user.email, secret, [f.id for f in factories[n]]))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    log(
        f"data: {count} reps, {count * FACTORIES_PER_REP} factories in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return reps


# --- gunicorn ---------------------------------------------------------------------------------


class Server:
    """gunicorn as `make serve` runs it, with CRM_ENV=production, on a spare loopback port.

    `app` is gunicorn's app (bench/throughput.py serves its reference apps the same way), and
    `env` adds to the server's environment (CRM_THREADS, say)."""

    def __init__(
        self,
        url: str,
        storage: str,
        workers: int | None,
        logfile: Path,
        app: str = "crm:create_app()",
        **env: str,
    ) -> None:
        self.port = free_port()
        extra = {
            "CRM_BIND": f"127.0.0.1:{self.port}",
            # Every simulated rep signs in from 127.0.0.1: the per-address login limit would
            # refuse all but the first few; the limit itself is tested elsewhere.
            "CRM_LOGIN_RATE_LIMIT": "100000 per minute",
            **env,
        }
        if workers:
            extra["CRM_WORKERS"] = str(workers)
        self.logfile = logfile
        self._log = open(logfile, "w")  # noqa: SIM115 (closed in stop)
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [
                gunicorn,
                "-c",
                "gunicorn.conf.py",
                "--access-logfile",
                "/dev/null",
                app,
            ],
            cwd=ROOT,
            env=server_env(url, storage, **extra),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, 60, "gunicorn to answer /healthz")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {self.logfile.read_text()[-3000:]}")
        status, _headers, _body = request(self.port, "GET", "/healthz", timeout=2)
        return status == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def count_in_log(self, pattern: str) -> int:
        return len(re.findall(pattern, self.logfile.read_text(errors="replace")))


# --- the simulated reps -----------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own (HTTPS with a `context`); status 0 for a refused,
    dropped or timed-out one."""
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=context
        )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        answer = {name.lower(): value for name, value in response.getheaders()}
        answer["set-cookie"] = "\n".join(response.headers.get_all("Set-Cookie") or [])
        return response.status, answer, payload
    except (OSError, http.client.HTTPException):
        return 0, {}, b""
    finally:
        connection.close()


@dataclass
class Sample:
    kind: str
    status: int
    started: float  # monotonic
    seconds: float
    retry_after: str | None = None
    host: str | None = None  # the app host that answered (X-CRM-Host), behind a proxy


@dataclass
class Ledger:
    """What the reps saw: every answer, and each visit's key with the id it was acknowledged as."""

    samples: list[Sample] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)
    unacknowledged: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def photo(seed: int) -> bytes:
    """A small real JPEG, as the phone sends after shrinking (noise, so each one differs)."""
    from PIL import Image

    generator = random.Random(seed)
    image = Image.new("RGB", (160, 120))
    image.putdata([tuple(generator.randrange(256) for _ in range(3)) for _ in range(160 * 120)])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class SimulatedRep:
    """A rep on the server at 127.0.0.1:`port`, over HTTPS when given a `context` (a proxy's)."""

    def __init__(
        self,
        rep: Rep,
        port: int,
        ledger: Ledger,
        photos: list[bytes],
        think: float,
        context: ssl.SSLContext | None = None,
    ):
        self.rep, self.port, self.ledger, self.photos, self.think = rep, port, ledger, photos, think
        self.context = context
        self.random = random.Random(rep.index)
        self.cookies: dict[str, str] = {}
        self.sent = 0

    def _keep_cookies(self, headers: dict[str, str]) -> None:
        for line in filter(None, headers.get("set-cookie", "").split("\n")):
            jar = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return request(self.port, method, path, body, headers, context=self.context)

    def post_login(self) -> tuple[int, dict[str, str], float, float]:
        """The login form, as a person would: fetch it for its CSRF token, then post it.

        Returns the post's status, headers, start and duration; without a form to post, the
        fetch's status and a duration of 0.
        """
        status, headers, body = self._request("GET", "/login")
        self._keep_cookies(headers)
        match = re.search(rb'name="csrf-token" content="([^"]+)"', body)
        if status != 200 or not match:
            return status, headers, time.monotonic(), 0.0
        form = urlencode(
            {
                "login": self.rep.login,
                "password": self.rep.password,
                "csrf_token": match[1].decode(),
            }
        ).encode()
        started = time.monotonic()
        # Over HTTPS the CSRF check wants the page's own origin as the referrer, as a browser sends.
        scheme = "https" if self.context else "http"
        status, headers, _ = self._request(
            "POST",
            "/login",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"{scheme}://127.0.0.1:{self.port}/login",
                **self._cookie_header(),
            },
        )
        self._keep_cookies(headers)
        return status, headers, started, time.monotonic() - started

    def sign_in(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            status, _headers, _started, _took = self.post_login()
            if status in (302, 303):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.rep.login} could not sign in")

    def page(self, kind: str, path: str) -> None:
        started = time.monotonic()
        status, headers, _ = self._request("GET", path, headers=self._cookie_header())
        took = time.monotonic() - started
        self.ledger.add(
            Sample(
                kind, status, started, took, headers.get("retry-after"), headers.get("x-crm-host")
            )
        )

    def visit(self, give_up_at: float) -> None:
        """Send one visit until acknowledged, always with the same key and body (the outbox)."""
        self.sent += 1
        key = f"{KEY_PREFIX}{self.rep.index}-{self.sent}-{uuid.uuid4().hex[:8]}"
        factory_id = self.random.choice(self.rep.factory_ids)
        fields = {
            "factory_id": str(factory_id),
            "purpose": "follow_up",
            "summary": f"Load visit {self.sent} of rep {self.rep.index}",
            "next": "none",
            "checked_in_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        photo_bytes = self.photos[(self.rep.index + self.sent) % len(self.photos)]
        body, content_type = multipart(fields, [("photos", "photo-1.jpg", photo_bytes)])
        headers = {
            "Authorization": f"Bearer {self.rep.token}",
            "Idempotency-Key": key,
            "Accept": "application/json",
            "Content-Type": content_type,
        }
        delay = BACKOFF_FIRST
        attempt = 0
        with self.ledger.lock:
            self.ledger.unacknowledged.add(key)
        while True:
            attempt += 1
            started = time.monotonic()
            status, answer, payload = self._request("POST", "/api/v1/visits", body, headers)
            took = time.monotonic() - started
            self.ledger.add(
                Sample(
                    "visit",
                    status,
                    started,
                    took,
                    answer.get("retry-after"),
                    answer.get("x-crm-host"),
                )
            )
            if status in (200, 201):
                visit_id = json.loads(payload)["visit"]["id"]
                with self.ledger.lock:
                    self.ledger.unacknowledged.discard(key)
                    self.ledger.acknowledged[key] = visit_id
                    self.ledger.retries += attempt - 1
                return
            if status in (400, 401, 403, 404, 409, 413, 422):
                # The outbox keeps such an item for the user to see; the run counts it as refused.
                with self.ledger.lock:
                    self.ledger.refused[key] = status
                return
            if time.monotonic() + delay > give_up_at:
                return  # still in the outbox at the end: never acknowledged, checked below
            time.sleep(delay * (0.5 + self.random.random()))
            delay = min(delay * 2, BACKOFF_MAX)

    def run(self, start_at: float, end_at: float) -> None:
        while time.monotonic() < start_at:
            time.sleep(0.01)
        while time.monotonic() < end_at:
            roll = self.random.random()
            if roll < 0.4:
                self.visit(end_at + DRAIN_SECONDS)
            elif roll < 0.6:
                self.page("today", "/today")
            elif roll < 0.8:
                self.page("factories", "/factories/")
            else:
                self.page("factory", f"/factories/{self.random.choice(self.rep.factory_ids)}")
            time.sleep(self.random.uniform(0, 2 * self.think))


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Outage:
    down_at: float | None = None
    up_at: float | None = None


@dataclass
class LoadResult:
    seconds: float
    reps: int
    samples: list[Sample]
    acknowledged: int
    unacknowledged: int
    refused: dict[str, int]
    retries: int
    lost: list[str]
    duplicated: list[str]
    wrong_id: list[str]
    stray: list[str]
    outage: Outage | None
    recovery_seconds: float | None
    report: str = ""
    problems: list[str] = field(default_factory=list)

    def count(self, status: int, during: tuple[float, float] | None = None) -> int:
        return sum(
            1
            for s in self.samples
            if s.status == status and (during is None or during[0] <= s.started <= during[1])
        )


def check_visits(url: str, ledger: Ledger) -> tuple[list[str], list[str], list[str], list[str]]:
    """Lost (acknowledged, not stored), duplicated (a key stored twice), acknowledged with
    another id than the stored one, and stray (stored, never sent by this run)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT client_key, id FROM visits WHERE client_key LIKE :prefix"),
            {"prefix": f"{KEY_PREFIX}%"},
        ).all()
    engine.dispose()
    stored: dict[str, list[int]] = collections.defaultdict(list)
    for key, visit_id in rows:
        stored[key].append(visit_id)
    lost = [key for key in ledger.acknowledged if key not in stored]
    duplicated = [key for key, ids in stored.items() if len(ids) > 1]
    wrong_id = [
        key
        for key, visit_id in ledger.acknowledged.items()
        if key in stored and stored[key] != [visit_id]
    ]
    sent = set(ledger.acknowledged) | ledger.unacknowledged | set(ledger.refused)
    stray = [key for key in stored if key not in sent]
    return lost, duplicated, wrong_id, stray


def run_load(
    seconds: float,
    reps: int,
    *,
    fault: bool = False,
    outage_seconds: float = 5.0,
    database: str | None = None,
    think: float = 1.0,
    workers: int | None = None,
    cluster: Cluster | None = None,
    log: Log = print,
    env: dict[str, str] | None = None,
) -> LoadResult:
    """The load test (and with `fault`, the restart); a cluster of its own unless `database`.
    `env` adds to the server's settings (an S3 bucket for the uploads, say)."""
    if fault and database:
        raise ValueError("the fault test restarts PostgreSQL: it runs on a cluster of its own")
    own = None
    if database is None and cluster is None:
        own = cluster = Cluster(log)
        cluster.start()
    url = database or cluster.url("crm_load")
    work = Path(tempfile.mkdtemp(prefix="crm-load-"))
    keep = None
    storage = str(work / "storage")
    server = None
    try:
        people = make_reps(url, storage, reps, log)
        server = Server(url, storage, workers, work / "gunicorn.log", **(env or {}))
        outage = Outage() if fault else None

        def restart(start_at: float) -> None:
            restart_at = start_at + seconds * 0.4
            while time.monotonic() < restart_at:
                time.sleep(0.05)
            log(f"PostgreSQL stops (fast shutdown) for {outage_seconds:g} s")
            outage.down_at = time.monotonic()
            cluster.stop("fast")
            time.sleep(outage_seconds)
            cluster.start()
            outage.up_at = time.monotonic()
            log(f"PostgreSQL is back after {outage.up_at - outage.down_at:.1f} s")

        ledger, elapsed = drive(
            people, server.port, seconds, think, log, meanwhile=restart if fault else None
        )
        server.stop()
        result, server_errors = judged(url, ledger, server, reps, elapsed, outage)
        if result.problems:
            keep = work  # the server's log, for whoever reads the verdict
            result.problems.append(f"gunicorn's log: {server.logfile}")
        result.report = report(result, server_errors)
        log(result.report)
        return result
    finally:
        if server is not None:
            server.stop()
        if database:
            drop_database(url)
        if own is not None:
            own.close()
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def drive(
    people: list[Rep],
    port: int,
    seconds: float,
    think: float,
    log: Log,
    context: ssl.SSLContext | None = None,
    meanwhile: Callable[[float], None] | None = None,
) -> tuple[Ledger, float]:
    """The reps sign in, then work for `seconds` (and drain); `meanwhile` runs beside them,
    given the start. Returns what they saw and the time taken."""
    ledger = Ledger()
    photos = [photo(seed) for seed in range(8)]
    simulated = [SimulatedRep(rep, port, ledger, photos, think, context) for rep in people]
    started = time.monotonic()
    threads = [threading.Thread(target=s.sign_in, args=(started + 120,)) for s in simulated]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log(
        f"{len(people)} reps signed in in {time.monotonic() - started:.1f} s; "
        f"load for {seconds:g} s"
    )
    start_at = work(simulated, seconds, meanwhile)
    return ledger, time.monotonic() - start_at


def work(
    simulated: list[SimulatedRep],
    seconds: float,
    meanwhile: Callable[[float], None] | None = None,
) -> float:
    """The signed-in reps work together for `seconds`, then drain; `meanwhile` runs beside
    them, given the start. Returns the start (monotonic)."""
    start_at = time.monotonic() + 0.5
    end_at = start_at + seconds
    threads = [
        threading.Thread(target=s.run, args=(start_at, end_at), daemon=True) for s in simulated
    ]
    for thread in threads:
        thread.start()
    if meanwhile is not None:
        meanwhile(start_at)
    for thread in threads:
        thread.join(timeout=seconds + DRAIN_SECONDS + REQUEST_TIMEOUT * 2)
    return start_at


@dataclass
class ServerLogs:
    """The logs of servers started by someone else (a cluster's hosts), read as Server's is."""

    paths: list[Path]

    def count_in_log(self, pattern: str) -> int:
        return sum(
            len(re.findall(pattern, path.read_text(errors="replace"))) for path in self.paths
        )


def load_through(
    base: str,
    database: str,
    people: list[Rep],
    seconds: float,
    *,
    certificate: Path | None = None,
    logs: list[Path] | None = None,
    think: float = 1.0,
    log: Log = print,
) -> LoadResult:
    """The load test against a server already running at `base` (https://127.0.0.1:PORT, a
    proxy trusted with `certificate`): the `people` (make_reps) must be in `database`, which
    the ledger is checked against; `logs` are the servers' logs, for their exceptions."""
    address = urlsplit(base)
    if address.hostname != "127.0.0.1" or address.scheme not in ("http", "https"):
        raise ValueError(f"the load test stays on 127.0.0.1: {base}")
    context = None
    if address.scheme == "https":
        context = ssl.create_default_context(cafile=str(certificate) if certificate else None)
    ledger, elapsed = drive(people, address.port, seconds, think, log, context)
    result, server_errors = judged(database, ledger, ServerLogs(logs or []), len(people), elapsed)
    result.report = report(result, server_errors, where=f"through {base}")
    log(result.report)
    return result


def recovery(samples: list[Sample], outage: Outage) -> float | None:
    """Seconds from the database's return to the first answered request sent after it."""
    after = [
        s.started + s.seconds
        for s in samples
        if s.status in (200, 201) and s.started >= outage.up_at
    ]
    return min(after) - outage.up_at if after else None


def judged(
    url: str, ledger: Ledger, server, reps: int, elapsed: float, outage: Outage | None = None
) -> tuple[LoadResult, int]:
    """A run's result read back from the database and the server's log, judged; and how many
    exceptions the server logged."""
    lost, duplicated, wrong_id, stray = check_visits(url, ledger)
    server_errors = server.count_in_log(r"Exception on /|Error handling request")
    result = LoadResult(
        seconds=elapsed,
        reps=reps,
        samples=list(ledger.samples),
        acknowledged=len(ledger.acknowledged),
        unacknowledged=len(ledger.unacknowledged),
        refused=dict(ledger.refused),
        retries=ledger.retries,
        lost=lost,
        duplicated=duplicated,
        wrong_id=wrong_id,
        stray=stray,
        outage=outage,
        recovery_seconds=recovery(ledger.samples, outage) if outage else None,
    )
    judge(result, server_errors)
    return result, server_errors


def judge(result: LoadResult, server_errors: int) -> None:
    problems = result.problems
    if result.lost:
        problems.append(f"{len(result.lost)} acknowledged visits lost: {result.lost[:5]}")
    if result.duplicated:
        problems.append(f"{len(result.duplicated)} keys with two visits: {result.duplicated[:5]}")
    if result.wrong_id:
        problems.append(f"{len(result.wrong_id)} visits acknowledged with another id")
    if result.stray:
        problems.append(f"{len(result.stray)} visits stored that no rep sent")
    if result.refused:
        problems.append(f"{len(result.refused)} visits refused: {list(result.refused.items())[:5]}")
    fives = collections.Counter(s.status for s in result.samples if s.status >= 500)
    if fives.get(500) or server_errors:
        problems.append(f"{fives.get(500, 0)} answers were 500 ({server_errors} logged exceptions)")
    if not result.acknowledged:
        problems.append("no visit was acknowledged at all")
    if result.outage is not None:
        window = (result.outage.down_at, result.outage.up_at)
        if not result.count(503, window):
            problems.append("no request got a 503 while the database was down")
        missing_hint = [s for s in result.samples if s.status == 503 and s.retry_after is None]
        if missing_hint:
            problems.append(f"{len(missing_hint)} answers were 503 without Retry-After")
        if result.recovery_seconds is None or result.recovery_seconds > RECOVERY_LIMIT:
            problems.append(
                f"the app did not serve again within {RECOVERY_LIMIT:g} s of the database's "
                f"return (took {result.recovery_seconds})"
            )
    other = {
        status: n
        for status, n in collections.Counter(s.status for s in result.samples).items()
        if status not in (200, 201, 503, 0)
    }
    if result.outage is None and (result.count(503) or result.count(0)):
        problems.append(
            f"without a fault: {result.count(503)} answers 503, {result.count(0)} failed requests"
        )
    if other:
        problems.append(f"unexpected answers: {other}")


def report(
    result: LoadResult, server_errors: int, where: str = "against gunicorn on PostgreSQL"
) -> str:
    lines = [
        f"## Load: {result.reps} reps for {result.seconds:.0f} s {where}",
        "",
        "| request | answers | ok | req/s | p50 ms | p95 ms | p99 ms | max ms | other answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    kinds = ["visit", "today", "factories", "factory"]
    for kind in [*kinds, "all"]:
        samples = [s for s in result.samples if kind == "all" or s.kind == kind]
        ok = [s.seconds * 1000 for s in samples if s.status in (200, 201)]
        others = collections.Counter(s.status for s in samples if s.status not in (200, 201))
        shown = (
            ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(others.items()))
            or "none"
        )
        lines.append(
            f"| {kind} | {len(samples)} | {len(ok)} | {len(ok) / result.seconds:.1f} | "
            f"{percentile(ok, 0.5):.0f} | {percentile(ok, 0.95):.0f} | "
            f"{percentile(ok, 0.99):.0f} | "
            f"{max(ok, default=float('nan')):.0f} | {shown} |"
        )
    lines += [
        "",
        f"- visits acknowledged: {result.acknowledged} (sent again {result.retries} times "
        f"after an error); still in the outbox at the end: {result.unacknowledged}; "
        f"refused: {len(result.refused)}",
        f"- database check: lost {len(result.lost)}, duplicated {len(result.duplicated)}, "
        f"acknowledged with another id {len(result.wrong_id)}, stray {len(result.stray)}",
        f"- 500 answers: {result.count(500)}; exceptions in the server's log: {server_errors}",
    ]
    hosts = collections.Counter(s.host for s in result.samples if s.host)
    if hosts:
        lines.append(
            "- answered by host: " + ", ".join(f"{h} {n}" for h, n in sorted(hosts.items()))
        )
    if result.outage is not None:
        window = (result.outage.down_at, result.outage.up_at + (result.recovery_seconds or 0))
        back = "never" if result.recovery_seconds is None else f"{result.recovery_seconds:.2f} s"
        lines.append(
            f"- PostgreSQL down {result.outage.up_at - result.outage.down_at:.1f} s: "
            f"{result.count(503, window)} answers 503 with Retry-After, "
            f"{result.count(0, window)} requests without an answer; first answered request "
            f"{back} after its return"
        )
    lines.append("- verdict: " + ("; ".join(result.problems) if result.problems else "ok"))
    return "\n".join(lines)


# --- the scheduler killed mid-sweep -----------------------------------------------------------


SWEEP_BATCH = 250
SWEEP_AT = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai, a Monday


def sweep_driver(url: str, holder: str, pause: float, mail_port: int) -> None:
    """One scheduler process (the Runner of `flask crm scheduler`) ticking once at SWEEP_AT.

    It prints a line after each committed batch of the daily sweep and pauses there, so
    that the test can kill it between two batches, with some committed and some not.
    """
    from crm import create_app
    from crm.jobs import JOBS, daily, scheduler

    daily.BATCH = SWEEP_BATCH
    job = JOBS["daily"]
    original = job.run

    def paced(session, now):
        for counts in original(session, now):
            yield counts  # Runner.execute commits the batch before asking for the next
            print(json.dumps({"committed": counts}), flush=True)
            if "stale_notified" in counts:
                time.sleep(pause)  # the kill falls here: mid-way through the notifications

    JOBS["daily"] = dataclasses.replace(job, run=paced)
    app = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_port,
    )
    runner = scheduler.Runner(app, holder=holder)
    deadline = time.monotonic() + 60
    while True:
        # A killed leader's advisory lock goes when PostgreSQL sees its connection close;
        # until then this process stands by, as `flask crm scheduler` would.
        ran = runner.tick(SWEEP_AT)
        if runner.lease is not None and runner.lease.held:
            break
        if time.monotonic() > deadline:
            raise SystemExit("never took the lease")
        time.sleep(0.2)
    print(json.dumps({"ran": [(r.run_key, r.outcome) for r in ran]}), flush=True)
    runner.stop()


@dataclass
class SweepResult:
    factories: int
    killed_after: int
    follow_ups: dict[int, int]
    stale_notifications: int
    duplicate_keys: int
    emails: collections.Counter
    deliveries: dict[str, int]
    runs: list[tuple[str, str, dict]]
    problems: list[str] = field(default_factory=list)
    report: str = ""


def make_sweep_data(url: str, factories: int, reps: int) -> None:
    fresh_database(url)
    env = server_env(url, tempfile.gettempdir())
    flask(env, "db", "upgrade")
    flask(env, "crm", "init")
    from crm import create_app
    from crm.extensions import db
    from crm.models import Factory, User
    from crm.services.factories import list_filters
    from tests import builders

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        # Stale since within the last week: notified once; no open follow-up: one is made.
        days = list_filters.cadences()["elementary"] * 2 + 3
        team = builders.team("Sweep team")
        belt = builders.belt(team, code="sweep-belt")
        users = [
            User(
                role="rep",
                name=f"Sweep rep {n}",
                email=f"sweep-rep-{n}@example.test",
                password_hash="!",
                team=team,
                active=True,
                email_kinds=["follow_up_overdue", "factory_stale"],
            )
            for n in range(reps)
        ]
        db.session.add_all(users)
        db.session.flush()
        rows = []
        for serial in range(1, factories + 1):
            rows.append(
                Factory(
                    name=f"Sweep factory {serial}",
                    credit_code=builders.credit_code(serial),
                    belt=belt,
                    owner=users[serial % reps],
                    status="active",
                    stage="elementary",
                    stage_entered_at=SWEEP_AT - timedelta(days=400),
                    last_visit_at=SWEEP_AT - timedelta(days=days),
                )
            )
        db.session.add_all(rows)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def scheduler_kill(
    cluster: Cluster | None = None,
    database: str | None = None,
    factories: int = 3000,
    log: Log = print,
) -> SweepResult:
    """Kill the scheduler between two committed batches of the daily sweep, start another:
    the sweep ends with every follow-up, notification and e-mail made and sent once."""
    from aiosmtpd.controller import Controller

    own = None
    if database is None and cluster is None:
        own = cluster = Cluster(log)
        cluster.start()
    url = database or cluster.url("crm_sweep")
    received: list = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    smtp = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        make_sweep_data(url, factories, reps=20)
        first = _driver(url, "sweep-a", pause=1.0, mail_port=smtp.port)
        watchdog = threading.Timer(180, first.kill)
        watchdog.start()
        committed = stale_batches = 0
        while stale_batches < 2:
            line = first.stdout.readline()
            if not line:
                break
            committed += '"committed"' in line
            stale_batches += '"stale_notified"' in line
        watchdog.cancel()
        if stale_batches < 2:
            first.kill()
            first.wait()
            raise RuntimeError(f"the first scheduler stopped early:\n{first.stderr.read()[-3000:]}")
        first.send_signal(signal.SIGKILL)  # no goodbye: the lock goes with its connection
        first.wait(timeout=30)
        log(
            f"scheduler killed after {committed} committed batches of the sweep "
            f"({stale_batches} of them stale notifications)"
        )
        mid = _sweep_state(url)
        second = _driver(url, "sweep-b", pause=0.0, mail_port=smtp.port)
        _out, errors = second.communicate(timeout=300)
        if second.returncode != 0:
            raise RuntimeError(f"the second scheduler failed:\n{errors[-3000:]}")
        state = _sweep_state(url)
        emails = collections.Counter(
            (tuple(envelope.rcpt_tos), _subject(envelope.content)) for envelope in received
        )
        result = SweepResult(
            factories=factories,
            killed_after=committed,
            follow_ups=state["follow_ups"],
            stale_notifications=state["stale"],
            duplicate_keys=state["duplicate_keys"],
            emails=emails,
            deliveries=state["deliveries"],
            runs=state["runs"],
        )
        judge_sweep(result, mid)
        result.report = (
            f"## Scheduler killed mid-sweep ({factories} factories, batches of {SWEEP_BATCH})\n\n"
            f"- killed after {committed} committed batches; then: "
            f"{mid['follow_ups_total']} follow-ups, {mid['stale']} stale notifications, "
            f"daily run {mid['daily']}\n"
            f"- after the restart: {sum(state['follow_ups'].values())} open follow-ups over "
            f"{len(state['follow_ups'])} factories, {state['stale']} stale notifications, "
            f"{sum(emails.values())} e-mails received ({len(emails)} distinct), deliveries "
            f"{state['deliveries']}, runs {[(k, o) for k, o, _ in state['runs']]}\n"
            "- verdict: " + ("; ".join(result.problems) if result.problems else "ok")
        )
        log(result.report)
        return result
    finally:
        smtp.stop()
        if own is not None:
            own.close()


def _driver(url: str, holder: str, pause: float, mail_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.load",
            "sweep-driver",
            url,
            holder,
            str(pause),
            str(mail_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _subject(content: bytes) -> str:
    from email import message_from_bytes

    return str(message_from_bytes(content)["Subject"])


def _sweep_state(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as connection:
        follow_ups = dict(
            connection.execute(
                text(
                    "SELECT factory_id, count(*) FROM follow_ups WHERE status = 'open' "
                    "GROUP BY factory_id"
                )
            ).all()
        )
        stale = connection.scalar(
            text("SELECT count(*) FROM notifications WHERE kind = 'factory_stale'")
        )
        duplicate_keys = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT dedupe_key FROM notifications WHERE dedupe_key "
                "IS NOT NULL GROUP BY dedupe_key HAVING count(*) > 1) AS twice"
            )
        )
        deliveries = dict(
            connection.execute(
                text(
                    "SELECT status, count(*) FROM deliveries WHERE channel = 'email' "
                    "GROUP BY status"
                )
            ).all()
        )
        runs = [
            (key, outcome, counts if isinstance(counts, dict) else json.loads(counts or "{}"))
            for key, outcome, counts in connection.execute(
                text("SELECT run_key, outcome, counts FROM job_runs ORDER BY id")
            ).all()
        ]
    engine.dispose()
    daily = [(key, outcome) for key, outcome, _ in runs if key.startswith("daily:")]
    return {
        "follow_ups": follow_ups,
        "follow_ups_total": sum(follow_ups.values()),
        "stale": stale,
        "duplicate_keys": duplicate_keys,
        "deliveries": deliveries,
        "runs": runs,
        "daily": daily,
    }


def judge_sweep(result: SweepResult, mid: dict) -> None:
    problems = result.problems
    if not 0 < mid["stale"] < result.factories:
        problems.append(
            f"the kill did not fall mid-sweep ({mid['stale']} notifications made by then)"
        )
    if mid["daily"] and mid["daily"][0][1] != "running":
        problems.append(f"the killed run was not left running: {mid['daily']}")
    if len(result.follow_ups) != result.factories or set(result.follow_ups.values()) != {1}:
        twice = sum(1 for n in result.follow_ups.values() if n > 1)
        problems.append(
            f"follow-ups: {len(result.follow_ups)} of {result.factories} factories have one, "
            f"{twice} have more"
        )
    if result.stale_notifications != result.factories:
        problems.append(
            f"{result.stale_notifications} stale notifications for {result.factories} factories"
        )
    if result.duplicate_keys:
        problems.append(f"{result.duplicate_keys} notification keys used twice")
    twice = {key: n for key, n in result.emails.items() if n > 1}
    if twice:
        problems.append(f"{len(twice)} e-mails received more than once")
    if sum(result.emails.values()) != result.factories or result.deliveries != {
        "sent": result.factories
    }:
        problems.append(
            f"e-mails: {sum(result.emails.values())} received for {result.factories} "
            f"notifications; deliveries {result.deliveries}"
        )
    daily = [
        (key, outcome, counts) for key, outcome, counts in result.runs if key.startswith("daily:")
    ]
    if len(daily) != 1 or daily[0][1] != "ok" or daily[0][2].get("attempts") != 2:
        problems.append(f"the daily run: {daily} (one run, ok, on its second attempt expected)")
    keys = [key for key, _, _ in result.runs]
    if len(keys) != len(set(keys)):
        problems.append(f"a job period ran twice: {keys}")


# --- the command --------------------------------------------------------------------------------


def write_results(options: argparse.Namespace, reports: list[str], problems: list[str]) -> None:
    """The run's tables in bench/results/, with the machine, the date and the commit."""
    from bench.sweep import RESULTS, commit, machine

    kind = "load-fault" if options.fault else "load"
    lines = [
        f"# {'Load and fault' if options.fault else 'Load'} test: {options.reps} reps, "
        f"{options.seconds:g} s",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit()}",
        f"- machine: {machine()}",
        f"- command: `python -m bench.load {' '.join(sys.argv[1:])}`",
        f"- verdict: {'; '.join(problems) if problems else 'passed'}",
        "",
        *("\n\n".join(reports).splitlines()),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{kind}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(RESULTS.parents[1])}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep-driver"]:
        url, holder, pause, mail_port = argv[1:5]
        sweep_driver(url, holder, float(pause), int(mail_port))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=120, help="how long the load runs")
    parser.add_argument("--reps", type=int, default=200, help="simulated reps")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between requests (s)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (CRM_WORKERS)")
    parser.add_argument(
        "--fault",
        action="store_true",
        help="restart PostgreSQL once during the load, then kill the scheduler mid-sweep",
    )
    parser.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--sweep-factories", type=int, default=3000)
    parser.add_argument(
        "--database",
        help="an existing PostgreSQL server's URL for the plain "
        "load test (a database of that name is made afresh and dropped)",
    )
    options = parser.parse_args(argv)
    if options.seconds <= 0 or options.reps <= 0:
        parser.error("--seconds and --reps must be positive")
    if options.fault and options.database:
        parser.error("--fault runs on a PostgreSQL cluster of its own; leave out --database")
    problems: list[str] = []
    reports: list[str] = []
    if options.database:
        result = run_load(
            options.seconds,
            options.reps,
            database=options.database,
            think=options.think,
            workers=options.workers,
        )
        problems += result.problems
        reports.append(result.report)
    else:
        with Cluster() as cluster:
            result = run_load(
                options.seconds,
                options.reps,
                fault=options.fault,
                outage_seconds=options.outage,
                think=options.think,
                workers=options.workers,
                cluster=cluster,
            )
            problems += result.problems
            reports.append(result.report)
            if options.fault:
                sweep = scheduler_kill(cluster, factories=options.sweep_factories)
                problems += sweep.problems
                reports.append(sweep.report)
    write_results(options, reports, problems)
    print("FAILED: " + "; ".join(problems) if problems else "passed", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
