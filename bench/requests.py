"""Times the key requests (server side) over the scale data set; `make bench`.

The data set is the one bench/sweep.py keeps (`flask crm seed-demo --factories N`, made once).
On it the bench adds, once, what a ground force of that size has and the demo lacks: a team of
50 reps (about 100 factories each, as DESIGN.md "Scale" has it) over one belt of 5,000
factories, led by a manager of its own. The rep's pages are timed for one of those reps, the
belt's board for that manager, the org-wide board for the demo admin.

Each request goes through the whole WSGI app in this process, under the production settings
(secure cookies: the client speaks https to it); the time is taken from the WSGI call to the
end of the response body (streamed exports included), and every SQL statement on the engine
during it is counted. A bare Flask app answering "ok" is timed the same way in the same run;
each request's throughput is also shown as a ratio to it. The Markdown table goes to
bench/results/ with the machine, the date and the commit.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import event, func, select, update
from sqlalchemy.engine import make_url

from bench.sweep import DATA, RESULTS, ROOT, analyse, commit, database_version, ensure_data_set
from bench.sweep import machine as machine_line

BENCH_TEAM = "Bench team"
BENCH_MANAGER = "bench-manager@example.com"
BENCH_REPS = 50
BENCH_BELT_FACTORIES = 5_000
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
EXPORT_ROWS = 10_000
# Figures in the batch's request: as many as one request takes.
BATCH_ITEMS = 1_000
# The day's route: this many stops of the bench belt, planned from its first factory's place.
ROUTE_STOPS = 200
# The small data set whose statement counts are set beside the big one's (--small).
SMALL_FACTORIES = 2_000


@dataclass
class Case:
    """One key request: who asks, what, and the p95 it must stay under (None: reported only)."""

    name: str
    login: str
    path: str | Callable[[], str]
    target_ms: float | None
    method: str = "GET"
    data: Callable[[], dict] | None = None
    json: Callable[[], dict] | None = None
    headers: Callable[[], dict] | None = None
    runs: int = 30
    expect: tuple[int, ...] = (200,)
    # A page reads a bounded set of rows, so its statements stay the same at any data size;
    # an export reads its rows in batches, so its count grows with them.
    paged: bool = True


@dataclass
class Measure:
    case: Case
    times_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    # The statements of the same request over the small data set (--small), if it ran.
    small_statements: list[int] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def met(self) -> bool | None:
        if self.case.target_ms is None:
            return None
        return self.percentile(0.95) < self.case.target_ms

    @property
    def failed(self) -> bool:
        return not self.statuses <= set(self.case.expect)

    @property
    def constant(self) -> bool | None:
        """The same statements at both sizes. Where a count depends on the record (a visit
        that completes a follow-up writes one more row) the two ranges must overlap."""
        if not self.small_statements or not self.case.paged:
            return None
        return max(self.small_statements) >= min(self.statements) and max(self.statements) >= min(
            self.small_statements
        )


def span(counts: list[int]) -> str:
    ordered = sorted(set(counts))
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


# --- the data set -------------------------------------------------------------------------------


def flask(url: str, *arguments: str) -> None:
    env = dict(os.environ, CRM_DATABASE_URL=url, FLASK_APP="crm", CRM_ENV="development")
    subprocess.run([sys.executable, "-m", "flask", *arguments], check=True, env=env, cwd=ROOT)


def prepare(url: str, factories: int) -> None:
    """The kept data set at the current schema, with the bench team added once."""
    ensure_data_set(url, factories)
    flask(url, "db", "upgrade")
    from crm import create_app
    from crm.demo.seed import demo_password_hash
    from crm.extensions import db
    from crm.models import Belt, Factory, FollowUp, Task, Team, User

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        if db.session.scalar(select(User.id).where(User.email == BENCH_MANAGER)):
            return
        print("adding the bench team (once)...", flush=True)
        used = select(Factory.belt_id).distinct()
        belt = db.session.scalars(
            select(Belt).where(Belt.team_id.is_(None), Belt.id.not_in(used)).order_by(Belt.id)
        ).first()
        team = Team(name=BENCH_TEAM)
        belt.team = team
        password = demo_password_hash()
        manager = User(name="Bench manager", email=BENCH_MANAGER, role="manager")
        manager.password_hash = password
        team.managers.append(manager)
        reps = []
        for number in range(1, BENCH_REPS + 1):
            rep = User(name=f"Bench rep {number:02}", email=rep_login(number), role="rep")
            rep.password_hash = password
            rep.team = team
            reps.append(rep)
        db.session.add_all([team, manager, *reps])
        db.session.flush()
        # The most recent factories of the demo's second team move to the bench belt.
        second_team_belts = select(Belt.id).where(Belt.team_id.is_not(None), Belt.id != belt.id)
        ids = list(
            db.session.scalars(
                select(Factory.id)
                .where(Factory.belt_id.in_(second_team_belts))
                .order_by(Factory.id.desc())
                .limit(BENCH_BELT_FACTORIES)
            )
        )
        for index, rep in enumerate(reps):
            chunk = ids[index::BENCH_REPS]
            for table, column, extra in (
                (Factory, Factory.owner_id, {"belt_id": belt.id}),
                (FollowUp, FollowUp.assignee_id, {}),
                (Task, Task.owner_id, {}),
            ):
                key = table.id if table is Factory else table.factory_id
                statement = update(table).where(key.in_(chunk))
                if table is FollowUp:
                    statement = statement.where(FollowUp.status == "open")
                if table is Task:
                    statement = statement.where(Task.status.in_(("open", "submitted")))
                db.session.execute(
                    statement.values({column.key: rep.id, **extra}).execution_options(
                        synchronize_session=False
                    )
                )
        db.session.commit()
        moved = db.session.scalar(select(func.count()).where(Factory.belt_id == belt.id))
        print(f"  {moved} factories on {belt.name_en}, {BENCH_REPS} reps", flush=True)
        # For an export of EXPORT_ROWS cards: that many of the first team's factories on the
        # board (the most recent) move to a belt of their own in the same team.
        first_team = db.session.scalar(select(User.team_id).where(User.email == "rep@example.com"))
        export_belt = db.session.scalars(
            select(Belt).where(Belt.team_id.is_(None), Belt.id.not_in(used)).order_by(Belt.id)
        ).first()
        export_belt.team_id = first_team
        ids = list(
            db.session.scalars(
                select(Factory.id)
                .join(Belt, Factory.belt_id == Belt.id)
                .where(Belt.team_id == first_team, Factory.status != "churned")
                .order_by(Factory.id.desc())
                .limit(EXPORT_ROWS)
            )
        )
        for start in range(0, len(ids), 1000):
            db.session.execute(
                update(Factory)
                .where(Factory.id.in_(ids[start : start + 1000]))
                .values(belt_id=export_belt.id)
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        print(f"  {len(ids)} factories on {export_belt.name_en}, for the export", flush=True)
        db.session.remove()
        db.engine.dispose()
    analyse(url)


def rep_login(number: int) -> str:
    return f"bench-rep-{number:02}@example.com"


# --- the measurement ------------------------------------------------------------------------------


class Timed:
    """WSGI middleware: the time from the call to the end of the body, and the statements."""

    def __init__(self, wsgi_app, engine=None):
        self.wsgi_app = wsgi_app
        self.last_ms = 0.0
        self.last_statements = 0
        self._count = 0
        # With --show-statements: the statements of the last request, for reading.
        self.shown: list[str] | None = None
        if engine is not None:
            event.listen(engine, "before_cursor_execute", self._counted)

    def _counted(self, connection, cursor, statement, *arguments) -> None:
        self._count += 1
        if self.shown is not None:
            self.shown.append(" ".join(statement.split())[:160])

    def __call__(self, environ, start_response):
        self._count = 0
        if self.shown is not None:
            self.shown.clear()
        started = time.perf_counter()
        body = self.wsgi_app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
            self.last_ms = (time.perf_counter() - started) * 1000
            self.last_statements = self._count


def bare_measure(runs: int) -> Measure:
    from flask import Flask

    bare = Flask("bare")
    bare.add_url_rule("/", "ok", lambda: "ok")
    timed = Timed(bare.wsgi_app)
    bare.wsgi_app = timed
    client = bare.test_client()
    measure = Measure(Case("bare Flask request (reference)", "", "/", None, runs=runs))
    for number in range(runs + 5):
        response = client.get("/")
        response.close()
        if number >= 5:
            measure.times_ms.append(timed.last_ms)
            measure.statements.append(0)
            measure.statuses.add(response.status_code)
    return measure


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def sign_in(app, login: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    # Over https, Flask-WTF also checks that a form came from this host (the Referer).
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    page = client.get("/login", base_url="https://localhost")
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"login": login, "password": "demo-pass-2026", "csrf_token": csrf_of(page.text)},
    )
    if response.status_code not in (302, 303):
        raise RuntimeError(f"{login} could not sign in ({response.status_code})")
    return client


def unseen_period() -> Callable[[], str]:
    """The reports' path for another twelve months each time (ending on another recent day):
    a period whose reports nobody has looked at, so they are counted live."""
    from datetime import timedelta

    numbers = iter(range(1, 10_000))

    def path() -> str:
        end = datetime.now(UTC).date() - timedelta(days=next(numbers))
        start = end.replace(year=end.year - 1) + timedelta(days=1)
        return f"/pipeline/reports?from={start.isoformat()}&to={end.isoformat()}&granularity=month"

    return path


def cases(app, rep_email: str | None = None) -> list[Case]:
    """The key requests of issue 9 that exist in this build, with their records picked once;
    the rep's are for the bench team's first rep unless `rep_email` names another."""
    rep_email = rep_email or rep_login(1)
    from crm.extensions import db
    from crm.models import Belt, Factory, Team, User

    with app.app_context():
        rep = db.session.scalar(select(User).where(User.email == rep_email))
        # An active factory, whose page shows every part (a prospect's has no checklist), so
        # that its statements compare across data sizes.
        factory_id = db.session.scalar(
            select(Factory.id)
            .where(Factory.owner_id == rep.id, Factory.status == "active")
            .order_by(Factory.id)
        )
        name = db.session.scalar(select(Factory.name).where(Factory.id == factory_id))
        # A month's figure for a thousand factories of the manager's 5,000-factory belt.
        bench_belts = select(Belt.id).join(Team, Belt.team_id == Team.id)
        belt_factories = list(
            db.session.scalars(
                select(Factory.id)
                .where(Factory.belt_id.in_(bench_belts.where(Team.name == BENCH_TEAM)))
                .order_by(Factory.id)
                .limit(BATCH_ITEMS)
            )
        )
        # The admin's export of the belt nearest to EXPORT_ROWS cards (prepare made it).
        export_belt, export_rows = min(
            db.session.execute(
                select(Factory.belt_id, func.count())
                .where(Factory.belt_id.is_not(None), Factory.status != "churned")
                .group_by(Factory.belt_id)
            ),
            key=lambda row: abs(row[1] - EXPORT_ROWS),
        )
        bench_belt = db.session.scalar(
            bench_belts.where(Team.name == BENCH_TEAM).order_by(Belt.id).limit(1)
        )
        # The day's route through 200 located factories of the bench belt (the manager's scope).
        route_stops = list(
            db.session.execute(
                select(Factory.id, Factory.lat, Factory.lng)
                .where(
                    Factory.belt_id.in_(bench_belts.where(Team.name == BENCH_TEAM)),
                    Factory.lat.is_not(None),
                )
                .order_by(Factory.id)
                .limit(ROUTE_STOPS)
            )
        )
    search = name[:2]
    # The header's search box, org-wide: the full pinyin of three characters of a name.
    from crm.services.factories import search_keys

    spoken = search_keys.spellings(search_keys.readings(name[2:5]))[0]
    manager, admin, portal = BENCH_MANAGER, "admin@example.com", "factory@example.com"

    def visit_form(photo: bool = False, voice: bool = False) -> Callable[[], dict]:
        def data() -> dict:
            now = datetime.now(UTC)
            form = {
                "factory_id": str(factory_id),
                "client_key": str(uuid.uuid4()),
                "purpose": "follow_up",
                "checked_in_at": now.isoformat(timespec="seconds"),
                "notes": "bench visit",
            }
            if photo:
                form["photos"] = (io.BytesIO(photo_bytes()), "bench.jpg", "image/jpeg")
            if voice:
                form["voice_note"] = (io.BytesIO(voice_bytes()), "note.webm", "audio/webm")
            return form

        return data

    def figures() -> dict:
        month = datetime.now(UTC).date().replace(day=1).isoformat()
        value = f"{time.time_ns() % 10_000 / 100:.2f}"  # a new value each run: every row changes
        return {
            "items": [
                {
                    "factory_id": factory_id,
                    "metric": "response_3min_rate",
                    "month": month,
                    "value": value,
                }
                for factory_id in belt_factories
            ]
        }

    def route_plan() -> dict:
        return {
            "factory": [str(row.id) for row in route_stops],
            "lat": str(route_stops[0].lat),
            "lng": str(route_stops[0].lng),
        }

    def submit(what: str, data: Callable[[], dict], runs: int = 30) -> Case:
        return Case(
            f"rep: visit submit (API, {what})",
            rep_email,
            "/api/v1/visits",
            50,
            method="POST",
            data=data,
            expect=(201,),
            runs=runs,
        )

    return [
        Case("rep: today", rep_email, "/today", 50),
        # Nine weeks of the rep's figures beside the 49 other reps' of the bench team.
        Case("rep: my week", rep_email, "/my-week", 50),
        Case("rep: my factories, page 1", rep_email, "/factories/", 50),
        Case("rep: my factories, a search", rep_email, f"/factories/?q={search}", 50),
        Case("rep: factory page", rep_email, f"/factories/{factory_id}", 80),
        # The phone's offline pages: the sync centre, the page for what is not kept, and the
        # visit form's list of factories that the working set keeps at sign-in.
        Case("rep: sync centre", rep_email, "/sync", 50),
        Case("rep: not available offline", rep_email, "/offline", 50),
        Case("rep: the visit form's factories (JSON)", rep_email, "/visit/factories.json", None),
        submit("no photo", visit_form()),
        submit("one photo", visit_form(photo=True), runs=15),
        submit("a 30 s voice note", visit_form(voice=True), runs=15),
        Case(
            f"manager: plan the day's route, {len(route_stops)} stops",
            manager,
            "/today/route",
            50,
            method="POST",
            data=route_plan,
            expect=(303,),
        ),
        Case(f"manager: the day's route, {len(route_stops)} stops", manager, "/today/route", 50),
        # The map of the 5,000-factory belt around a point in it: the nearest of the belt's
        # factories, read by the position's index and drawn grouped where they would overlap.
        Case(
            "manager: the map near a point, 5,000-factory belt",
            manager,
            f"/today/near?lat={route_stops[0].lat}&lng={route_stops[0].lng}",
            50,
        ),
        Case("manager: board, 5,000-factory belt", manager, "/pipeline/board", 150),
        Case("admin: board, org-wide", admin, "/pipeline/board", 400),
        Case("manager: stuck factories", manager, "/pipeline/stuck", None),
        # One factory, one row (the "Trust in the record" issue): a factory's merge page with its
        # likely duplicates, and the whole 5,000-factory belt's likely duplicate pairs.
        Case("manager: merge page of a factory", manager, f"/factories/{factory_id}/merge", None),
        Case(
            "manager: likely duplicates, 5,000-factory belt",
            manager,
            f"/factories/duplicates?belt={bench_belt}",
            None,
            runs=5,
        ),
        # The manager's desk (the "Manager's desk" issue): 150 ms for a 5,000-factory belt's
        # manager, 400 ms for the admin's whole install.
        Case("manager: promotions queue", manager, "/pipeline/requests", 150),
        Case("admin: promotions queue, org-wide", admin, "/pipeline/requests", 400),
        # The review of flagged visits (the "Trust in the record" issue): the belt's off-site
        # visits and repeated photos, read by the partial index of flagged visits.
        Case("manager: flagged visits", manager, "/pipeline/flagged", 150),
        Case("admin: flagged visits, org-wide", admin, "/pipeline/flagged", 400),
        Case("manager: team", manager, "/pipeline/team", 150),
        Case("admin: team, org-wide", admin, "/pipeline/team", 400, runs=10),
        Case("manager: reports", manager, "/pipeline/reports", 150, runs=10),
        Case("admin: reports, org-wide", admin, "/pipeline/reports", 400, runs=10),
        # The same reports counted live, as the first look in half an hour (or "Count again")
        # has them: each run asks for a period nobody has looked at, so nothing kept answers.
        Case(
            "manager: reports counted live",
            manager,
            unseen_period(),
            None,
            runs=5,
        ),
        Case(
            "admin: reports counted live, org-wide",
            admin,
            unseen_period(),
            None,
            runs=5,
        ),
        Case(
            "manager: board export (CSV, whole belt)",
            manager,
            "/pipeline/board/export?format=csv",
            None,
            runs=5,
            paged=False,
        ),
        Case(
            f"admin: board export (CSV, {export_rows:,} rows)",
            admin,
            f"/pipeline/board/export?belt={export_belt}&format=csv",
            None,
            runs=5,
            paged=False,
        ),
        Case("factory: portal", portal, "/portal/", 50),
        Case("rep: privacy notice", rep_email, "/privacy/", 50),
        # Counts every kind of personal data the install holds: a count of each table.
        Case("admin: record of processing", admin, "/admin/privacy", 1000, runs=5),
        Case("rep: API factory list", rep_email, "/api/v1/factories", None),
        Case("admin: API factory list, org-wide", admin, "/api/v1/factories?stage=junior", None),
        Case(f"admin: search box, org-wide ({spoken})", admin, f"/search/box?q={spoken}", 50),
        Case(
            f"manager: API batch of {len(belt_factories):,} figures (snapshots:batch)",
            manager,
            "/api/v1/snapshots:batch",
            None,
            method="POST",
            json=figures,
            runs=10,
            expect=(200, 201),
        ),
    ]


_PHOTO: bytes | None = None
_VOICE: bytes | None = None


def voice_bytes() -> bytes:
    """A 30-second Opus recording in WebM, as the phone's MediaRecorder sends one."""
    global _VOICE
    if _VOICE is None:
        from tests.builders import audio_bytes

        _VOICE = audio_bytes(seconds=30)
    return _VOICE


def photo_bytes() -> bytes:
    global _PHOTO
    if _PHOTO is None:
        from PIL import Image, ImageFilter

        # What the phone sends: a 1600 px JPEG at quality 0.85 with the detail of a photo (about
        # 470 kB), not a flat colour, which decodes and encodes several times faster.
        grain = Image.effect_noise((400, 300), 60).convert("RGB").resize((1600, 1200))
        light = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
        photo = Image.blend(grain, light, 0.4).filter(ImageFilter.DETAIL)
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=85)
        _PHOTO = buffer.getvalue()
    return _PHOTO


def run(
    url: str, only: str | None, runs: int | None = None, show_statements: bool = False
) -> list[Measure]:
    """Each case `runs` times (its own count if None) after three warm-up requests."""
    from crm import create_app
    from crm.extensions import db

    os.environ.setdefault("CRM_SECRET_KEY", SECRET)
    storage = DATA / "storage"
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=SECRET,
        CRM_STORAGE_ROOT=str(storage),
        RATELIMIT_ENABLED=False,
    )
    with app.app_context():
        engine = db.engine
    # As gunicorn.conf.py does in each worker: what the app made at start-up is kept out of
    # the collector's way, so that a request pays for its own garbage only.
    gc.freeze()
    timed = Timed(app.wsgi_app, engine)
    timed.shown = [] if show_statements else None
    app.wsgi_app = timed
    measures = [bare_measure(200)]
    clients: dict[str, object] = {}
    for case in cases(app):
        if only and only not in case.name:
            continue
        client = clients.get(case.login) or sign_in(app, case.login)
        clients[case.login] = client
        csrf = client.get("/api/v1/session", base_url="https://localhost").json["csrf_token"]
        measure = Measure(case)
        for number in range((runs or case.runs) + 3):
            path = case.path() if callable(case.path) else case.path
            headers = {"X-CSRFToken": csrf, **(case.headers() if case.headers else {})}
            response = client.open(
                path,
                method=case.method,
                base_url="https://localhost",
                data=case.data() if case.data else None,
                json=case.json() if case.json else None,
                headers=headers,
            )
            response.get_data()
            response.close()
            if number >= 3:  # the first requests warm the caches
                measure.times_ms.append(timed.last_ms)
                measure.statements.append(timed.last_statements)
                measure.statuses.add(response.status_code)
        measures.append(measure)
        print(
            f"  {case.name}: p50 {measure.percentile(0.5):.1f} ms, "
            f"p95 {measure.percentile(0.95):.1f} ms, {max(measure.statements)} statements, "
            f"status {sorted(measure.statuses)}",
            flush=True,
        )
        for statement in timed.shown or []:
            print(f"    {statement}", flush=True)
    return measures


# --- the report -------------------------------------------------------------------------------


def report(url: str, factories: int, measures: list[Measure], small: int) -> str:
    bare = measures[0]
    bare_rate = 1000 / statistics.mean(bare.times_ms)
    lines = [
        f"# Key requests over {factories:,} factories",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit()}",
        f"- machine: {machine_line()}",
        f"- database: {database_version(url)}",
        "- server side: the WSGI call to the end of the body, in process, production settings;",
        f"  the belt's manager leads {BENCH_BELT_FACTORIES:,} factories, the rep owns about "
        f"{BENCH_BELT_FACTORIES // BENCH_REPS}",
        f"- a bare Flask request here: p50 {bare.percentile(0.5):.2f} ms "
        f"({bare_rate:,.0f} requests/s in one thread)",
        "",
        f"- SQL statements: counted on every run; the same requests over {small:,} factories"
        " (3 runs each) give the next column, and a page's count must not change with the"
        " data size (an export reads in batches, so its count does)"
        if small
        else "- SQL statements: counted on every run",
        "",
        "| request | runs | p50 ms | p95 ms | target p95 ms | met | SQL statements "
        f"| at {small:,} factories | constant | throughput vs bare Flask |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for measure in measures[1:]:
        target = measure.case.target_ms
        met = {None: "reported", True: "yes", False: "NO"}[measure.met]
        if measure.failed:
            met = f"FAILED (status {sorted(measure.statuses)})"
        small_counted = span(measure.small_statements) if measure.small_statements else "-"
        constant = {None: "-", True: "yes", False: "NO"}[measure.constant]
        if measure.small_statements and not measure.case.paged:
            constant = "grows (batches)"
        rate = 1000 / statistics.mean(measure.times_ms)
        lines.append(
            f"| {measure.case.name} | {len(measure.times_ms)} | {measure.percentile(0.5):.1f} "
            f"| {measure.percentile(0.95):.1f} | {f'{target:.0f}' if target else '-'} | {met} "
            f"| {span(measure.statements)} | {small_counted} | {constant} "
            f"| 1 : {bare_rate / rate:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factories", type=int, default=100_000)
    parser.add_argument(
        "--small",
        type=int,
        default=SMALL_FACTORIES,
        help="also count each request's statements over this many factories (0: not)",
    )
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--only", default=None, help="time only the requests whose name has this")
    parser.add_argument(
        "--show-statements",
        action="store_true",
        help="print the SQL statements of each request's last run",
    )
    arguments = parser.parse_args(argv)
    url = data_set_url(arguments.database, arguments.factories)
    prepare(url, arguments.factories)
    backend = make_url(url).get_backend_name()
    print(f"timing the key requests on {backend}...", flush=True)
    measures = run(url, arguments.only, show_statements=arguments.show_statements)
    if arguments.small:
        small_url = data_set_url(arguments.database, arguments.small)
        prepare(small_url, arguments.small)
        print(f"counting their statements over {arguments.small:,} factories...", flush=True)
        counted = run(small_url, arguments.only, 3, arguments.show_statements)
        for measure, small in zip(measures, counted, strict=True):
            measure.small_statements = small.statements
    text_ = report(url, arguments.factories, measures, arguments.small)
    if not arguments.only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"requests-{backend}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
        path.write_text(text_, encoding="utf-8")
        print(f"\n{text_}\nwritten to {path.relative_to(ROOT)}")
    else:
        print(f"\n{text_}")
    failed = [m for m in measures[1:] if m.failed or m.met is False or m.constant is False]
    return 1 if failed else 0


def data_set_url(database: str | None, factories: int) -> str:
    """The kept SQLite file of that size, or the PostgreSQL database (its name suffixed with
    the size when it is not the default 100,000)."""
    if not database:
        DATA.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DATA / f'demo-{factories}.sqlite3'}"
    if factories == 100_000:
        return database
    parsed = make_url(database)
    return parsed.set(database=f"{parsed.database}_{factories}").render_as_string(
        hide_password=False
    )


if __name__ == "__main__":
    raise SystemExit(main())
