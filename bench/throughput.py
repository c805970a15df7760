"""Throughput of the key pages served as in production, beside a bare Flask app; `make bench-load`.

    python -m bench.throughput                      # SQLite, 100,000 factories
    python -m bench.throughput --database postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench

On the scale data set of bench/requests.py (`prepare`: seeded once and kept), the CRM runs
under gunicorn as `make serve` runs it (gunicorn.conf.py, CRM_ENV=production), with sync
workers (one thread each; by default two per core), on a spare loopback port. Beside it, in
the same run and served the same way: a bare Flask hello and a hand-written Jinja page of 50
factories from one query (bench/hello.py). A rep, the 5,000-factory belt's manager and a
factory user sign in through the login form (bench/load.py's SimulatedRep.post_login); the
rep makes an API token on the account page. Every page must answer 200 with those
credentials before it is loaded (a redirect to /login is a failed sign-in).

Then wrk (Debian's package; bench/wrk.py) loads each page with 32 and with 4 connections, in
interleaved rounds (every page once a round, so that a busy spell of the shared host falls on
all of them), and the report gives the medians: requests per second and their ratio to the
bare hello's (in the same round), p50 and p99 latency, the gunicorn workers' CPU time per
request (and PostgreSQL's, read from /proc), the answers that were not 2xx, and the body's
size. Absolute figures vary by host; the ratios are the targets (TARGETS below, from the
"Performance" issue). The Markdown table goes to bench/results/ with the machine, its load
average and the commit; the command exits 1 when a target is missed, after printing the whole table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy.engine import make_url

from bench import load, wrk
from bench.requests import cases, csrf_of, data_set_url, prepare
from bench.sweep import DATA, RESULTS, ROOT, commit, database_version
from bench.sweep import machine as machine_line

HELLO = "bare Flask hello"
JINJA = "hand-written Jinja, 50 rows"
# The servers of one run: gunicorn's app for each.
APPS = {
    "crm": "crm:create_app()",
    "hello": "bench.hello:hello()",
    "jinja": "bench.hello:factories()",
}
# The rep of the profile: a rep of the demo's Jinhua team, whose scope holds the team's
# unowned prospects too (3,352 factories over 100,000), so that a search for 永康 (Yongkang, one of
# its belts) finds some. The tiny data set of the test has only the demo's own reps.
REP = "field-rep-0001@example.com"


@dataclass(frozen=True)
class Target:
    """What a page must reach, at 32 connections (None: not judged)."""

    ratio: float | None = None  # requests/s at least this share of the bare hello's
    p99_ms: float | None = None  # p99 under this
    cpu_ms: float | None = None  # the workers' CPU time per request at most this
    body_kb: float | None = None  # the body at most this many KB (before compression)


# The "Performance" issue's targets; every page must also answer nothing but 2xx.
REP_PAGE = Target(ratio=0.05, p99_ms=300, cpu_ms=10)
TARGETS = {
    "Today": replace(REP_PAGE, body_kb=40),
    "My factories": REP_PAGE,
    "search ?q=永康": REP_PAGE,
    "factory page": REP_PAGE,
    "board, 5,000-factory belt": Target(ratio=0.02),
    "portal": Target(ratio=0.08),
    "API factory list": Target(ratio=0.08),
}
# Each page of the CRM: the case of bench/requests.py that picks its user and record, and the
# path when it is not that case's.
PAGES = {
    "Today": ("rep: today", None),
    "My factories": ("rep: my factories, page 1", None),
    "search ?q=永康": ("rep: my factories, page 1", "/factories/?" + urlencode({"q": "永康"})),
    "factory page": ("rep: factory page", None),
    "board, 5,000-factory belt": ("manager: board, 5,000-factory belt", None),
    "portal": ("factory: portal", None),
    "API factory list": ("rep: API factory list", None),
}


@dataclass
class Settings:
    seconds: int = 5  # wrk takes whole seconds
    rounds: int = 3
    connections: tuple[int, ...] = (32, 4)
    workers: int = 2 * (os.cpu_count() or 1)
    warmup: int = 1
    wrk_threads: int = 2
    pages: tuple[str, ...] = tuple(PAGES)  # the CRM's pages to load (the references always run)
    rep: str = REP


@dataclass
class Page:
    name: str
    server: str
    path: str
    headers: dict[str, str]
    body_bytes: int = 0


@dataclass
class Result:
    page: Page
    connections: int
    runs: list[wrk.Run] = field(default_factory=list)

    def median(self, figure: Callable[[wrk.Run], float | None]) -> float | None:
        values = [value for value in map(figure, self.runs) if value is not None]
        return statistics.median(values) if values else None

    @property
    def rate(self) -> float:
        return self.median(lambda run: run.rate)

    def ratio(self, hello: Result) -> float:
        """The median of each round's ratio to the hello's rate in the same round: the other
        work of a shared host comes and goes, and a round's pages share its spell."""
        return statistics.median(
            run.rate / reference.rate for run, reference in zip(self.runs, hello.runs, strict=True)
        )

    @property
    def non_2xx(self) -> int:
        return sum(run.redirected + run.refused + run.failed for run in self.runs)


def hellos(results: list[Result]) -> dict[int, Result]:
    """The bare hello's result at each connection count."""
    return {result.connections: result for result in results if result.page.name == HELLO}


# --- signing in ---------------------------------------------------------------------------------


def signed_in(port: int, login: str) -> load.SimulatedRep:
    """A person signed in through the login form, holding the session's cookies."""
    from crm.demo.seed import DEMO_PASSWORD

    person = load.Rep(0, login, "", [], password=DEMO_PASSWORD)
    visitor = load.SimulatedRep(person, port, load.Ledger(), [], 0.0)
    status, _headers, _started, _took = visitor.post_login()
    if status not in (302, 303):
        raise RuntimeError(f"{login} could not sign in through the login form ({status})")
    return visitor


def api_token(visitor: load.SimulatedRep) -> str:
    """A token made on the account page, as a person would (it expires in two days)."""
    status, headers, body = load.request(
        visitor.port, "GET", "/account/tokens/", headers=visitor._cookie_header()
    )
    visitor._keep_cookies(headers)
    form = {
        "name": f"throughput bench {datetime.now(UTC):%Y-%m-%d %H:%M:%S}",
        "expires_on": (date.today() + timedelta(days=2)).isoformat(),
        "csrf_token": csrf_of(body.decode()),
    }
    status, _headers, body = load.request(
        visitor.port,
        "POST",
        "/account/tokens/",
        urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", **visitor._cookie_header()},
    )
    secret = body.decode().partition('id="token-secret"')[2].partition('value="')[2]
    if status != 201 or not secret:
        raise RuntimeError(f"the account page made no API token ({status})")
    return secret.partition('"')[0]


def pages_of(url: str, port: int, settings: Settings) -> list[Page]:
    """The references and the CRM's pages, each with the credentials of the user it is for."""
    from crm import create_app

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    by_name = {case.name: case for case in cases(app, settings.rep)}
    visitors: dict[str, load.SimulatedRep] = {}
    pages = [
        Page(HELLO, "hello", "/", {}),
        Page(JINJA, "jinja", "/?" + urlencode({"rep": settings.rep}), {}),
    ]
    for name in settings.pages:
        case_name, path = PAGES[name]
        case = by_name[case_name]
        if case.login not in visitors:
            visitors[case.login] = signed_in(port, case.login)
        visitor = visitors[case.login]
        if case.path.startswith("/api/"):
            headers = {
                "Authorization": f"Bearer {api_token(visitor)}",
                "Accept": "application/json",
            }
        else:
            headers = visitor._cookie_header()
        pages.append(Page(name, "crm", path or case.path, headers))
    return pages


# --- the run --------------------------------------------------------------------------------------


def measure(url: str, settings: Settings, log: load.Log = print) -> list[Result]:
    """Every page with every connection count, `settings.rounds` times, interleaved."""
    folder = Path(tempfile.mkdtemp(prefix="crm-throughput-"))
    servers: dict[str, load.Server] = {}
    meter: wrk.Meter | None = None
    keep = True

    def start(name: str) -> None:
        # CRM_THREADS=1: gunicorn's sync worker, one request at a time per process. The API's
        # limit a token (the admin's setting) would refuse the load after a minute's worth:
        # the limit is tested elsewhere, and its cost is the same when it is not hit.
        servers[name] = load.Server(
            url,
            str(DATA / "storage"),
            settings.workers,
            folder / f"{name}.log",
            APPS[name],
            CRM_THREADS="1",
            CRM_API_RATE_LIMIT="1000000 per minute",
        )

    try:
        with ThreadPoolExecutor(len(APPS)) as pool:  # the three start side by side
            for started in [pool.submit(start, name) for name in APPS]:
                started.result()
        pages = pages_of(url, servers["crm"].port, settings)
        for page in pages:
            status, _headers, body = load.request(
                servers[page.server].port, "GET", page.path, headers=page.headers
            )
            if status != 200:
                raise RuntimeError(f"{page.name} answered {status} before the load, not 200")
            page.body_bytes = len(body)
        meter = wrk.Meter(url)
        results = [
            Result(page, connections) for page in pages for connections in settings.connections
        ]
        if settings.warmup:
            log(f"warming up: each page for {settings.warmup:g} s")
            for page in pages:
                wrk.load(
                    meter,
                    servers[page.server],
                    page.path,
                    page.headers,
                    4,
                    settings.warmup,
                    settings.wrk_threads,
                )
        for number in range(1, settings.rounds + 1):
            for result in results:
                server = servers[result.page.server]
                run = wrk.load(
                    meter,
                    server,
                    result.page.path,
                    result.page.headers,
                    result.connections,
                    settings.seconds,
                    settings.wrk_threads,
                )
                result.runs.append(run)
                log(
                    f"  round {number}: {result.page.name}, {result.connections} connections: "
                    f"{run.rate:,.1f} requests/s, p99 {run.p99_ms:,.0f} ms"
                    + (
                        f", {run.redirected + run.refused + run.failed} not 2xx"
                        if run.redirected + run.refused + run.failed
                        else ""
                    )
                )
        keep = False
        return results
    finally:
        if meter is not None:
            meter.close()
        for server in servers.values():
            server.stop()
        if keep:
            log(f"the servers' logs are kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


# --- the verdict and the report -----------------------------------------------------------------


def misses(results: list[Result]) -> list[str]:
    """Each target missed, in words; every page (the references too) must answer only 2xx."""
    hello = hellos(results)
    found = []
    for result in results:
        name, runs = result.page.name, result.runs
        if result.non_2xx or any(run.socket_errors for run in runs):
            found.append(
                f"{name}, {result.connections} connections: {result.non_2xx} answers not 2xx, "
                f"{sum(run.socket_errors for run in runs)} socket errors"
            )
        target = TARGETS.get(name)
        if target is None or result.connections != 32:
            continue
        ratio = result.ratio(hello[32])
        if target.ratio is not None and ratio < target.ratio:
            found.append(f"{name}: {ratio:.3f} × hello, target at least {target.ratio}")
        p99 = result.median(lambda run: run.p99_ms)
        if target.p99_ms is not None and p99 >= target.p99_ms:
            found.append(
                f"{name}: p99 {p99:,.0f} ms at 32 connections, target under {target.p99_ms}"
            )
        cpu = result.median(lambda run: run.per_request_ms(run.cpu_seconds))
        if target.cpu_ms is not None and cpu > target.cpu_ms:
            found.append(f"{name}: {cpu:.1f} ms of CPU a request, target at most {target.cpu_ms}")
        kb = result.page.body_bytes / 1024
        if target.body_kb is not None and kb > target.body_kb:
            found.append(f"{name}: {kb:.0f} KB of HTML, target at most {target.body_kb:g}")
    return found


def target_text(target: Target | None) -> str:
    if target is None:
        return "reference"
    parts = [f"≥ {target.ratio}×"] if target.ratio is not None else []
    if target.p99_ms is not None:
        parts.append(f"p99 < {target.p99_ms} ms")
    if target.cpu_ms is not None:
        parts.append(f"CPU ≤ {target.cpu_ms} ms")
    if target.body_kb is not None:
        parts.append(f"≤ {target.body_kb:g} KB")
    return ", ".join(parts)


def size(count: int) -> str:
    return f"{count / 1024:,.1f} KB" if count >= 1024 else f"{count} B"


def report(
    url: str, factories: int, settings: Settings, results: list[Result], load_before: float
) -> str:
    on_postgres = make_url(url).get_backend_name() == "postgresql"
    hello = hellos(results)
    missed = misses(results)
    lines = [
        f"# Throughput over {factories:,} factories ({database_version(url)})",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit()}",
        f"- machine: {machine_line()}",
        f"- load average: {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after",
        f"- served: gunicorn (gunicorn.conf.py, CRM_ENV=production), {settings.workers} sync "
        "workers (one thread each) for the CRM and each reference, on 127.0.0.1; the API's "
        "and the login's rate limits raised out of the load's way",
        f"- load: wrk, {settings.wrk_threads} threads, "
        f"{' and '.join(map(str, settings.connections))} connections, "
        f"{settings.rounds} interleaved rounds of {settings.seconds:g} s a page; "
        "medians of the rounds (× hello: of each round's ratio; the not-2xx answers and socket "
        "errors: their sum); each run starts when the servers are idle again",
        f"- signed in through the login form: the rep {settings.rep} (Today, My factories, the "
        "search, their first active factory's page; an API token made on the account page for "
        "the API list), the "
        "5,000-factory belt's manager (the board), the demo factory's owner (the portal)",
        "- CPU a request: the gunicorn workers' user and system time over the requests answered"
        + ("; PostgreSQL's: its backends' for the database" if on_postgres else ""),
        "",
        "| page | connections | requests/s | each round | × hello | p50 ms | p99 ms "
        "| CPU ms a request "
        + ("| PostgreSQL CPU ms a request " if on_postgres else "")
        + "| not 2xx | socket errors | body | target (32 connections) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        + ("| ---: " if on_postgres else "")
        + "| ---: | ---: | ---: | --- |",
    ]

    def number(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    for result in results:
        name = result.page.name
        ratio = result.ratio(hello[result.connections])
        cells = [
            name,
            str(result.connections),
            number(result.rate, 1),
            " / ".join(f"{run.rate:,.1f}" for run in result.runs),
            f"{ratio:.3f}",
            number(result.median(lambda run: run.p50_ms), 1),
            number(result.median(lambda run: run.p99_ms), 0),
            number(result.median(lambda run: run.per_request_ms(run.cpu_seconds)), 2),
        ]
        if on_postgres:
            cells.append(
                number(result.median(lambda run: run.per_request_ms(run.database_cpu_seconds)), 2)
            )
        cells += [
            str(result.non_2xx),
            str(sum(run.socket_errors for run in result.runs)),
            size(result.page.body_bytes),
            target_text(TARGETS.get(name)) if result.connections == 32 else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Targets missed: {len(missed)}" if missed else "Every target met."]
    lines += [f"- {miss}" for miss in missed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factories", type=int, default=100_000)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--seconds", type=int, default=Settings.seconds, help="of each wrk run")
    parser.add_argument("--rounds", type=int, default=Settings.rounds)
    parser.add_argument("--connections", default="32,4", help="wrk's connections, one run each")
    parser.add_argument(
        "--workers", type=int, default=Settings.workers, help="gunicorn's (default: 2 a core)"
    )
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="seconds a page")
    parser.add_argument("--wrk-threads", type=int, default=Settings.wrk_threads)
    parser.add_argument("--rep", default=REP, help="the rep whose pages are loaded")
    parser.add_argument("--only", default=None, help="load only the pages whose name has this")
    arguments = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    settings = Settings(
        seconds=arguments.seconds,
        rounds=arguments.rounds,
        connections=tuple(int(count) for count in arguments.connections.split(",")),
        workers=arguments.workers,
        warmup=arguments.warmup,
        wrk_threads=arguments.wrk_threads,
        rep=arguments.rep,
        pages=tuple(name for name in PAGES if arguments.only in name)
        if arguments.only
        else tuple(PAGES),
    )
    if 32 not in settings.connections:
        parser.error("the targets are judged at 32 connections: --connections must include 32")
    url = data_set_url(arguments.database, arguments.factories)
    prepare(url, arguments.factories)
    backend = make_url(url).get_backend_name()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    print(f"loading the pages on {backend} ({settings.workers} gunicorn workers)...", flush=True)
    results = measure(url, settings)
    text_ = report(url, arguments.factories, settings, results, load_before)
    print(f"\n{text_}")
    if not arguments.only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"throughput-{backend}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
        path.write_text(text_, encoding="utf-8")
        print(f"written to {path.relative_to(ROOT)} after {time.monotonic() - started:.0f} s")
    return 1 if misses(results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
