"""`flask crm storage migrate`: a local folder's files copied into the configured bucket.

Resumable: a key already in the bucket with the same size and MD5 (an unsplit object's ETag)
is skipped, so a copy that stopped half-way is run again from the start and copies only what is
missing or differs (a corrupted object is copied again). Verified: after each upload the
bucket's MD5 of the object is compared with the file's; a mismatch is counted as failed and
named, and the command exits non-zero.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.errors import StorageUnavailable
from crm.services.storage.local import LocalStore
from crm.services.storage.s3 import S3Store

CHUNK = 1024 * 1024


@dataclass
class Counts:
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def md5_of_file(source: LocalStore, key: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with source.path(key).open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def md5_in_bucket(target: S3Store, key: str) -> tuple[int, str] | None:
    """The object's size and MD5: its ETag, unless it was uploaded in parts (then read it)."""
    answer = target.head(key)
    if answer is None:
        return None
    etag = str(answer.get("ETag", "")).strip('"')
    if "-" in etag or len(etag) != 32:
        digest = hashlib.md5(usedforsecurity=False)
        with target.open(key).stream as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
        etag = digest.hexdigest()
    return answer["ContentLength"], etag


def migrate(
    source: LocalStore, target: S3Store, said: Callable[[str], None] = lambda line: None
) -> Counts:
    """Copy every file of `source` that `target` lacks or holds otherwise; counts of each."""
    counts = Counts()
    for entry in source.list(""):
        if entry.key.rsplit("/", 1)[-1].startswith("."):
            continue  # a file being written, or the system's
        wanted = (entry.size, md5_of_file(source, entry.key))
        try:
            if md5_in_bucket(target, entry.key) == wanted:
                counts.skipped += 1
                continue
            content_type = mimetypes.guess_type(entry.key)[0] or "application/octet-stream"
            with source.path(entry.key).open("rb") as file:
                target.write(entry.key, file, content_type)
            if md5_in_bucket(target, entry.key) != wanted:
                raise StorageUnavailable("the copy's hash differs from the file's")
        except StorageUnavailable as error:
            counts.failed += 1
            counts.failures.append(entry.key)
            said(f"failed: {entry.key}: {error.reason}")
            continue
        counts.copied += 1
    return counts
