"""Where uploads are kept: one interface, a local folder (the default) or an S3-compatible bucket.

Keys are relative paths with forward slashes, the same under both back ends: a photo is
`photos/2026-12-05/<random>.jpg`, its thumbnail `...-thumb.jpg`, a voice note
`voice/<day>/<random>.webm`, a data export `takeouts/<random>.zip`. A folder install keeps
them as files under CRM_STORAGE_ROOT, where they have always been; `CRM_STORAGE_URL=
s3://bucket/prefix` keeps them as objects under the prefix. A store that cannot be reached
raises crm.errors.StorageUnavailable (a 503 with Retry-After, in one handler); a key that is not
there raises crm.errors.NotFound (a 404 through the route that asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol

from flask import current_app

EXTENSION = "crm_storage"


@dataclass(frozen=True)
class Entry:
    """A kept file as a listing shows it."""

    key: str
    size: int
    modified: datetime  # timezone-aware


@dataclass
class Opened:
    """A kept file opened for reading: a seekable stream and what the answer's headers need."""

    stream: IO[bytes]
    size: int
    modified: datetime
    etag: str


class Store(Protocol):
    """What every back end does; `data` is bytes or a binary file object read to its end."""

    description: str

    def write(self, key: str, data: bytes | IO[bytes], content_type: str) -> None: ...

    def open(self, key: str) -> Opened: ...

    def read(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, end: int) -> bytes: ...

    def size(self, key: str) -> int | None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> Iterator[Entry]: ...

    def probe(self) -> str | None: ...


def settings(config) -> tuple:
    """The settings that choose and reach a back end (a change of any makes a new one)."""
    return (
        config.get("CRM_STORAGE_URL") or "",
        config.get("CRM_STORAGE_ROOT") or "",
        config.get("CRM_S3_ENDPOINT_URL") or "",
        config.get("AWS_ACCESS_KEY_ID") or "",
        config.get("AWS_SECRET_ACCESS_KEY") or "",
        config.get("AWS_REGION") or "us-east-1",
    )


def build(chosen: tuple) -> Store:
    url, root, endpoint, access_key, secret_key, region = chosen
    if url.startswith("s3://"):
        from crm.services.storage.s3 import S3Store

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix.strip("/"), endpoint, access_key, secret_key, region)
    from crm.services.storage.local import LocalStore

    if url.startswith("file://"):
        root = url.removeprefix("file://") or root
    elif url:
        raise ValueError(f"CRM_STORAGE_URL must start with file:// or s3://, not {url!r}")
    return LocalStore(root)


def store() -> Store:
    """The app's store, made when first asked for (so an app starts whatever the store's state),
    and again when its settings change (a test that points the app at another folder)."""
    chosen = settings(current_app.config)
    kept = current_app.extensions.get(EXTENSION)
    if kept is None or kept[0] != chosen:
        kept = (chosen, build(chosen))
        current_app.extensions[EXTENSION] = kept
    return kept[1]
