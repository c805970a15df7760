"""One wrk run against a server of bench/load.py, and the CPU time its workers spent on it.

bench/throughput.py loads each page with it. wrk (Debian's package) runs bench/throughput.lua,
which counts the answers that are not 2xx and prints the figures as JSON; the CPU time is read
from /proc: gunicorn's workers (the children of its master), and on PostgreSQL the backends of
the database, before and after the run, once the server has stopped working on the last one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.load import Server

LUA = Path(__file__).with_name("throughput.lua")
REQUEST_TIMEOUT = "10s"  # wrk's default (2 s) would drop the slowest answers from the latency


@dataclass
class Run:
    """One wrk run of one page: its figures and the CPU time the servers spent on it."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    redirected: int
    refused: int
    failed: int
    socket_errors: int
    cpu_seconds: float
    database_cpu_seconds: float | None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def per_request_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None or not self.requests else 1000 * seconds / self.requests


# --- the servers' CPU time, from /proc ----------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return line.rsplit(")", 1)[1].split()  # after the name, which may hold spaces


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system time of each process (fields 14 and 15 of /proc/<pid>/stat)."""
    times = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            times[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return times


def workers_of(master: int) -> list[int]:
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if (fields := _stat(pid)) is not None and int(fields[1]) == master]


class Meter:
    """The CPU time of gunicorn's workers, and of PostgreSQL's backends for the database."""

    def __init__(self, url: str) -> None:
        self.engine = None
        if make_url(url).get_backend_name() == "postgresql":
            self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)

    def _backends(self) -> list[int]:
        if self.engine is None:
            return []
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            )

    def read(self, server: Server) -> tuple[dict[int, float], dict[int, float] | None]:
        backends = cpu_seconds(self._backends()) if self.engine is not None else None
        return cpu_seconds(workers_of(server.process.pid)), backends

    def settle(self, server: Server, timeout: float = 60.0) -> None:
        """Wait until the server's workers (and PostgreSQL) stop working. When wrk stops, the
        requests in flight and the connections waiting in gunicorn's backlog (up to the 32 of the
        run) are still served, to no one: the next run must not pay for them."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            workers, backends = self.read(server)
            busy = sum(workers.values()) + sum((backends or {}).values())
            if last is not None and busy - last < 0.02:
                return
            last = busy
            time.sleep(0.25)

    @staticmethod
    def spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        """The time spent between two readings (a process that began meanwhile counts whole)."""
        if after is None:
            return None
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


# --- the load ----------------------------------------------------------------------------------


def figures(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: int, threads: int
) -> dict:
    """wrk's figures of one run (bench/throughput.lua prints them)."""
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", REQUEST_TIMEOUT, "-s", str(LUA)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if line.startswith("wrk-json "):
            return json.loads(line.removeprefix("wrk-json "))
    raise RuntimeError(f"wrk printed no figures:\n{output}")


def load(
    meter: Meter,
    server: Server,
    path: str,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    threads: int,
) -> Run:
    """Load one path of the server once it is idle, and take the CPU time spent meanwhile."""
    meter.settle(server)
    before = meter.read(server)
    found = figures(server.port, path, headers, connections, seconds, threads)
    after = meter.read(server)
    return Run(
        requests=found["requests"],
        seconds=found["duration_us"] / 1e6,
        p50_ms=found["p50_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        redirected=found["redirected"],
        refused=found["refused"],
        failed=found["failed"],
        socket_errors=sum(found[name] for name in ("connect", "read", "write", "timeout")),
        cpu_seconds=Meter.spent(before[0], after[0]),
        database_cpu_seconds=Meter.spent(before[1], after[1]),
    )
