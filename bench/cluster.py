"""Several app hosts on this machine behind a TLS proxy: `make cluster`, tests/unit/test_cluster.py.

    python -m bench.cluster            # start it, seed the demo, print the https URL; Ctrl-C stops

The topology of docs/operations.md "Several hosts", on 127.0.0.1 and spare ports:

- PostgreSQL: a fresh database on the server of `--database` (default: the local server on
  127.0.0.1:5432, user postgres), migrated with `flask db upgrade` once, as an upgrade does;
- Redis: a database number of its own (REDIS_DB) and a key prefix of this run's own, shared
  by every worker of both hosts (the rate limits);
- the uploads: the S3 server of tests/s3server.py (SeaweedFS) when that module is there, shared
  by both hosts through CRM_STORAGE_URL; without it each host keeps its own folder;
- two app hosts, each gunicorn as deploy/systemd/crm-web.service runs it (`gunicorn -c
  gunicorn.conf.py "crm:create_app()"`, CRM_ENV=production, CRM_TRUST_PROXY=1) with its own
  instance folder (CRM_INSTANCE_PATH) and name (CRM_HOST_NAME, the X-CRM-Host header), and
  its own scheduler (`flask crm scheduler`): the first leads, the other stands by;
- nginx in front, run as this user with a prefix, pid and logs in a temporary folder, from
  the SHIPPED site file deploy/nginx/crm.conf with only its names, ports and certificate paths
  substituted (`site_config`), and a self-signed certificate made at start (openssl).

Everything is stopped by `stop` (also on a failed start), process group by process group.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from bench.load import drop_database, free_port, fresh_database, wait_for

ROOT = Path(__file__).resolve().parents[1]
SITE_FILE = ROOT / "deploy" / "nginx" / "crm.conf"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
SECRET = "cluster-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
REDIS_DB = 7  # a database number of the cluster's own; CI's tests use 0
HOST_NAMES = ("a", "b")
Log = Callable[[str], None]


# --- the proxy's configuration from the shipped site file --------------------------------------


def site_config(
    site: str, upstreams: list[int], https_port: int, http_port: int, certificate: Path, key: Path
) -> str:
    """deploy/nginx/crm.conf with this machine's ports, names and certificate; nothing else.

    Each substitution must find what it replaces, the number of times expected: a shipped file
    that changed shape fails here rather than leaving a part of it untested.
    """

    def swap(pattern: str, replacement: Callable[[re.Match], str] | str, count: int) -> None:
        nonlocal site
        site, made = re.subn(pattern, replacement, site, flags=re.MULTILINE)
        if made != count:
            raise RuntimeError(f"{SITE_FILE.name}: {pattern!r} found {made} times, not {count}")

    # The app hosts: the shipped file names two; each line's options are kept.
    options = re.findall(r"^\s*server 10\.0\.0\.\d+:8000( [^;]*)?;", site, flags=re.MULTILINE)
    servers = "".join(f"    server 127.0.0.1:{port}{options[0]};\n" for port in upstreams)
    swap(r"(^\s*server 10\.0\.0\.\d+:8000[^;]*;\n)+", servers, 1)
    swap(r"^\s*listen \[::\]:\d+.*;\n", "", 2)  # loopback only
    swap(r"^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{http_port};", 1)
    swap(r"^(\s*)listen 443 ssl http2;", rf"\g<1>listen 127.0.0.1:{https_port} ssl http2;", 1)
    swap(r"server_name crm\.example\.com;", "server_name 127.0.0.1;", 2)
    swap(r'\$host != "crm\.example\.com"', '$host != "127.0.0.1"', 1)
    swap(r"ssl_certificate /etc/ssl/crm/fullchain\.pem;", f"ssl_certificate {certificate};", 1)
    swap(r"ssl_certificate_key /etc/ssl/crm/privkey\.pem;", f"ssl_certificate_key {key};", 1)
    return site


def nginx_config(folder: Path, site: Path) -> str:
    """The main file around the site: this run's pid, logs and temporary paths."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers as this user, not nobody
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"    access_log {folder / 'access.log'};\n"
        "    default_type application/octet-stream;\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day; it is its own authority."""
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(certificate),
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


# --- the processes -------------------------------------------------------------------------


def _start(command: list[str], env: dict[str, str], logfile: Path) -> subprocess.Popen:
    with open(logfile, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: killpg ends gunicorn's workers with it
        )


def kill(process: subprocess.Popen | None, sig: int = signal.SIGTERM, wait: float = 20) -> None:
    """Signal a process's group and reap it (SIGKILL if it outlives `wait`)."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Host:
    """One app host: its gunicorn and its scheduler, its own folder, port and name."""

    name: str
    folder: Path
    port: int
    env: dict[str, str]
    web: subprocess.Popen | None = None
    scheduler: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def holder(self) -> str:
        """The scheduler's name in the lease (crm.jobs.scheduler.default_holder)."""
        return f"{socket.gethostname()}:{self.scheduler.pid}" if self.scheduler else ""

    def start_web(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-c", "gunicorn.conf.py", "crm:create_app()"]
        self.web = _start(command, self.env, self.folder / "gunicorn.log")

    def start_scheduler(self) -> None:
        command = [sys.executable, "-m", "flask", "crm", "scheduler"]
        self.scheduler = _start(command, self.env, self.folder / "scheduler.log")

    def answers(self) -> bool:
        if self.web is None or self.web.poll() is not None:
            raise RuntimeError(f"host {self.name}'s gunicorn exited: {self.log('gunicorn')}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def log(self, which: str) -> str:
        path = self.folder / f"{which}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Topology:
    """PostgreSQL, Redis, the uploads' store, two app hosts and nginx; see the module's doc."""

    database: str = DEFAULT_DATABASE
    redis: str = f"{DEFAULT_REDIS}/{REDIS_DB}"
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)  # more settings for both hosts
    log: Log = print
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="crm-cluster-")))
    hosts: list[Host] = field(default_factory=list)
    https_port: int = 0
    http_port: int = 0
    certificate: Path | None = None
    nginx: subprocess.Popen | None = None
    s3: object | None = None  # tests.s3server.S3Server when the S3 store is there
    prefix: str = field(default_factory=lambda: f"crm-cluster-{secrets.token_hex(4)}")

    # -- start and stop --

    def prepare(self) -> None:
        """A fresh database, migrated once and initialised (an upgrade: docs/operations.md)."""
        started = time.monotonic()
        fresh_database(self.database)
        self._start_storage()
        for step in (("db", "upgrade"), ("crm", "init")):
            self.flask(*step)
        self.log(f"database {self.database} ready in {time.monotonic() - started:.1f} s")

    def start(self) -> None:
        """The hosts (the first one's scheduler leading before the second starts) and nginx."""
        started = time.monotonic()
        if not self.hosts:
            self.hosts = [self._host(name) for name in HOST_NAMES]
        for host in self.hosts:
            host.start_web()
        for host in self.hosts:
            wait_for(host.answers, 60, f"host {host.name} to answer /healthz")
        self.hosts[0].start_scheduler()
        wait_for(lambda: self.leader() == self.hosts[0].holder, 60, "host a's scheduler to lead")
        for host in self.hosts[1:]:
            host.start_scheduler()
        self._start_nginx()
        self.log(
            f"cluster up in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"host {host.name} on {host.url}" for host in self.hosts)
            + f", nginx on {self.url}"
        )

    def stop(self) -> None:
        kill(self.nginx, signal.SIGQUIT)
        for host in self.hosts:
            kill(host.scheduler)
            kill(host.web)
        if self.s3 is not None:
            with contextlib.suppress(Exception):
                self.s3.stop()
        with contextlib.suppress(Exception):
            self._forget_limits()
        drop_database(self.database)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Topology:
        try:
            self.prepare()
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the parts --

    def base_env(self) -> dict[str, str]:
        """What every process of the install is given: no CRM_* of the caller's leaks in."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("CRM_")}
        env.update(
            FLASK_APP="crm",
            PYTHONPATH=str(ROOT),
            CRM_ENV="production",
            CRM_SECRET_KEY=SECRET,
            CRM_DATABASE_URL=self.database,
            CRM_REDIS_URL=self.redis,
            CRM_RATELIMIT_PREFIX=self.prefix,
            CRM_TRUST_PROXY="1",
            CRM_FORWARDED_ALLOW_IPS="127.0.0.1",
            CRM_WORKERS=str(self.workers),
            CRM_THREADS="2",
            CRM_DB_POOL_SIZE="2",
            CRM_DB_MAX_OVERFLOW="3",
        )
        if self.s3 is not None:
            env.update(self.s3.env())
        env.update(self.env)
        return env

    def _host(self, name: str) -> Host:
        folder = self.folder / f"host-{name}"
        (folder / "instance").mkdir(parents=True)
        port = free_port()
        env = self.base_env()
        env.update(
            CRM_HOST_NAME=name,
            CRM_BIND=f"127.0.0.1:{port}",
            CRM_INSTANCE_PATH=str(folder / "instance"),
        )
        return Host(name, folder, port, env)

    def _start_storage(self) -> None:
        """The S3 server shared by both hosts, when the S3 store exists (tests/s3server.py)."""
        try:
            s3server = importlib.import_module("tests.s3server")
        except ModuleNotFoundError as error:
            if error.name != "tests.s3server":
                raise  # it is there but broken: never fall back quietly
            self.log("no tests/s3server.py: each host keeps its uploads in its own folder")
            return
        self.s3 = s3server.start(self.folder / "s3")
        self.log(f"S3 server on {self.s3.endpoint}, bucket {self.s3.bucket}")

    @property
    def shared_storage(self) -> bool:
        return self.s3 is not None

    def _start_nginx(self) -> None:
        folder = self.folder / "nginx"
        folder.mkdir()
        self.certificate, key = self_signed(folder)
        self.https_port, self.http_port = self.https_port or free_port(), free_port()
        site = folder / "crm.conf"
        site.write_text(
            site_config(
                SITE_FILE.read_text(),
                [host.port for host in self.hosts],
                self.https_port,
                self.http_port,
                self.certificate,
                key,
            )
        )
        main = folder / "nginx.conf"
        main.write_text(nginx_config(folder, site))
        command = [NGINX, "-p", str(folder), "-c", str(main), "-e", str(folder / "error.log")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the site file:\n{check.stderr}")
        self.nginx = _start(command, dict(os.environ), folder / "stdout.log")

        def listening() -> bool:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited: {(folder / 'error.log').read_text()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.https_port)) == 0

        wait_for(listening, 20, "nginx to listen")

    def _forget_limits(self) -> None:
        """This run's rate-limit counters leave Redis with it."""
        import redis

        client = redis.Redis.from_url(self.redis)
        keys = list(client.scan_iter(f"*{self.prefix}*", count=500))
        if keys:
            client.delete(*keys)

    # -- for a person and for the test --

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def flask(self, *arguments: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *arguments],
            cwd=ROOT,
            env=self.base_env(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def sql(self, statement: str, **parameters) -> list[tuple]:
        engine = create_engine(self.database)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(statement), parameters)]
        finally:
            engine.dispose()

    def leader(self) -> str | None:
        """The scheduler that leads, by the beacon row it writes at each heartbeat."""
        rows = self.sql(
            "SELECT holder FROM scheduler_leases WHERE name = 'scheduler' AND expires_at > now()"
        )
        return rows[0][0] if rows else None

    def client(self, source: str = "127.0.0.1") -> Client:
        return Client(self.url, self.certificate, source)


# --- a browser-like client over TLS ----------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def host(self) -> str | None:
        """Which app host answered (X-CRM-Host)."""
        return self.headers.get("X-CRM-Host")

    def json(self) -> dict:
        return json.loads(self.body)


class Client:
    """Cookies, CSRF and Referer as a browser keeps them; from a loopback address of its own
    (127.0.0.2 ...), so that the app's view of the client's address can be told from nginx's."""

    def __init__(self, base: str, certificate: Path | None, source: str = "127.0.0.1") -> None:
        self.base = base
        self.source = source
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.csrf = ""
        self.context = ssl.create_default_context(cafile=str(certificate)) if certificate else None

    def connection(
        self, base: str | None = None, timeout: float = 30
    ) -> http.client.HTTPConnection:
        base = base or self.base
        scheme, _, address = base.partition("://")
        hostname, _, port = address.partition(":")
        if scheme == "https":
            return http.client.HTTPSConnection(
                hostname, int(port), timeout=timeout, context=self.context,
                source_address=(self.source, 0),
            )  # fmt: skip
        return http.client.HTTPConnection(
            hostname, int(port), timeout=timeout, source_address=(self.source, 0)
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ) -> Answer:
        """One request to the proxy (or to `base`, a host directly), with the cookies kept."""
        sent = {"Referer": f"{self.base}/", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection = self.connection(base)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for line in answer.headers.get_all("Set-Cookie") or []:
            self.set_cookies.append(line)
            jar = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        token = re.search(rb'name="csrf-token" content="([^"]+)"', answer.body)
        if token:
            self.csrf = token[1].decode()
        return answer

    def sign_in(self, login: str, password: str) -> Answer:
        """The real login form: its page for the CSRF token, then the post."""
        self.request("GET", "/login")
        form = urlencode({"login": login, "password": password, "csrf_token": self.csrf})
        return self.request(
            "POST",
            "/login",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{self.base}/login"},
        )


# --- make cluster ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="dropped and made anew")
    parser.add_argument("--redis", default=f"{DEFAULT_REDIS}/{REDIS_DB}")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes per host")
    parser.add_argument("--port", type=int, default=0, help="nginx's HTTPS port (0: a spare one)")
    arguments = parser.parse_args(argv)
    topology = Topology(arguments.database, arguments.redis, arguments.workers)
    topology.https_port = arguments.port
    with topology:
        print(topology.flask("crm", "seed-demo"))
        print(f"The CRM on two hosts behind nginx: {topology.url}/")
        print(f"  its certificate is self-signed (made for this run): {topology.certificate}")
        for host in topology.hosts:
            print(f"  host {host.name}: {host.url} (logs in {host.folder})")
        print("Every answer names its host in the X-CRM-Host header. Ctrl-C stops everything.")
        with contextlib.suppress(KeyboardInterrupt):
            while all(host.web.poll() is None for host in topology.hosts):
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
