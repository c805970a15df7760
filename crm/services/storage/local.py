"""The local back end: each key a file under CRM_STORAGE_ROOT (the embedded default)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from zlib import adler32

from crm.errors import NotFound, StorageUnavailable
from crm.services.storage import Entry, Opened


class LocalStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.description = f"folder {self.root}"

    def path(self, key: str) -> Path:
        """The file of a key; a key that would leave the root is refused."""
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise NotFound()
        return self.root.joinpath(*parts)

    def write(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as file:
                if isinstance(data, bytes | bytearray):
                    file.write(data)
                else:
                    shutil.copyfileobj(data, file)
        except OSError as error:  # a full disk, a folder the app may not write
            raise StorageUnavailable(f"{self.description}: {error}") from error

    def open(self, key: str) -> Opened:
        path = self.path(key)
        try:
            stream = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound() from None
        stat = os.fstat(stream.fileno())
        # The ETag that Werkzeug's send_file gives a path: the answers stay what they were.
        check = adler32(str(path.resolve()).encode()) & 0xFFFFFFFF
        return Opened(
            stream=stream,
            size=stat.st_size,
            modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            etag=f"{stat.st_mtime}-{stat.st_size}-{check}",
        )

    def read(self, key: str) -> bytes:
        with self.open(key).stream as stream:
            return stream.read()

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start to end, both included (as an HTTP range names them)."""
        with self.open(key).stream as stream:
            stream.seek(start)
            return stream.read(max(0, end - start + 1))

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError, NotFound):
            return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[Entry]:
        """The files whose keys start with `prefix` (a folder, e.g. `photos/2026-12-05/`)."""
        top = self.root.joinpath(*[part for part in prefix.split("/") if part])
        if not top.is_dir():
            return
        for folder, _, names in os.walk(top):
            for name in sorted(names):
                path = Path(folder) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted while listed
                key = path.relative_to(self.root).as_posix()
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield Entry(key=key, size=stat.st_size, modified=modified)

    def probe(self) -> str | None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"unreachable: {self.description}: {error.strerror}"
        if not os.access(self.root, os.W_OK | os.X_OK):
            return f"not writable: {self.description}"
        return None
