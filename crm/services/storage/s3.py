"""The S3 back end: each key an object under the bucket's prefix, through boto3.

One client per process and settings, made when first used (boto3's clients are thread-safe, its
sessions are not), with short timeouts and one retry: a store that is down makes an upload answer
503 within seconds, not hang a worker. A bucket is never made here, and nothing is ever served
by a bucket URL: every file goes out through the app's scope-checked routes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import IO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crm.errors import NotFound, StorageUnavailable
from crm.services.storage import Entry, Opened

TIMEOUT_SECONDS = 3
CLIENT_CONFIG = Config(
    connect_timeout=TIMEOUT_SECONDS,
    read_timeout=TIMEOUT_SECONDS,
    retries={"max_attempts": 2, "mode": "standard"},
    signature_version="s3v4",
    s3={"addressing_style": "path"},
)
MISSING = {"404", "NoSuchKey", "NotFound"}
_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def client(endpoint: str, access_key: str, secret_key: str, region: str):
    """The process's client for these settings."""
    settings = (endpoint, access_key, secret_key, region)
    with _clients_lock:
        if settings not in _clients:
            session = boto3.session.Session()
            _clients[settings] = session.client(
                "s3",
                endpoint_url=endpoint or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                region_name=region,
                config=CLIENT_CONFIG,
            )
        return _clients[settings]


class S3Store:
    def __init__(
        self, bucket: str, prefix: str, endpoint: str, access_key: str, secret_key: str, region: str
    ) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.settings = (endpoint, access_key, secret_key, region)
        place = f"s3://{bucket}/{prefix}".rstrip("/")
        self.description = f"{place} at {endpoint}" if endpoint else place

    @property
    def client(self):
        return client(*self.settings)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def call(self, operation: str, key: str | None = None, **arguments):
        """One S3 call; a missing key raises NotFound, any other failure StorageUnavailable."""
        if key is not None:
            arguments["Key"] = self.object_key(key)
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if key is not None and code in MISSING:
                raise NotFound() from None
            raise StorageUnavailable(self.problem(error)) from error
        except BotoCoreError as error:
            raise StorageUnavailable(self.problem(error)) from error

    def problem(self, error: Exception) -> str:
        """What is wrong, for /readyz and the log: the bucket, the keys, or the endpoint."""
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchBucket", "404", "NotFound"):
                return f"no such bucket: {self.description}"
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return f"access denied ({code}): check the keys for {self.description}"
            return f"error {code}: {self.description}"
        return f"unreachable: {self.description}: {error}"

    def write(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        self.call("put_object", key, Body=data, ContentType=content_type)

    def open(self, key: str) -> Opened:
        answer = self.call("get_object", key)
        return Opened(
            stream=ObjectStream(self, key, answer["ContentLength"], answer["Body"]),
            size=answer["ContentLength"],
            modified=answer["LastModified"],
            etag=answer.get("ETag", "").strip('"'),
        )

    def read(self, key: str) -> bytes:
        return self.call("get_object", key)["Body"].read()

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes start to end, both included (as an HTTP range names them)."""
        return self.call("get_object", key, Range=f"bytes={start}-{end}")["Body"].read()

    def head(self, key: str) -> dict | None:
        try:
            return self.call("head_object", key)
        except NotFound:
            return None

    def size(self, key: str) -> int | None:
        answer = self.head(key)
        return None if answer is None else answer["ContentLength"]

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def delete(self, key: str) -> None:
        self.call("delete_object", key)

    def list(self, prefix: str) -> Iterator[Entry]:
        start = len(self.object_key(""))
        token: dict = {}
        while True:
            page = self.call("list_objects_v2", Prefix=self.object_key(prefix), **token)
            for item in page.get("Contents", []):
                key = item["Key"][start:]
                yield Entry(key=key, size=item["Size"], modified=item["LastModified"])
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def probe(self) -> str | None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            return self.problem(error)
        return None


class ObjectStream(io.RawIOBase):
    """An object read as a seekable file: the first read continues the GET that opened it, a
    read after a seek asks for a range from there (what an <audio> element's seeking needs)."""

    def __init__(self, store: S3Store, key: str, size: int, body) -> None:
        super().__init__()
        self.store, self.key, self.length = store, key, size
        self.body, self.body_at, self.position = body, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.length:
            return 0
        if self.body is None or self.body_at != self.position:
            self.drop_body()
            answer = self.store.call("get_object", self.key, Range=f"bytes={self.position}-")
            self.body, self.body_at = answer["Body"], self.position
        try:
            data = self.body.read(len(buffer))
        except BotoCoreError as error:
            raise StorageUnavailable(self.store.problem(error)) from error
        buffer[: len(data)] = data
        self.position += len(data)
        self.body_at += len(data)
        return len(data)

    def drop_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self) -> None:
        self.drop_body()
        super().close()
