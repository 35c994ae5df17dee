"""Originals in an S3-compatible object store (AWS S3, MinIO, Ceph...), content-addressed.

Keys are ``prefix/ab/cd/<sha256>`` as in the local store, so the same photo is stored once and
an object is whole or absent (S3 puts are atomic: no temp names). Thumbnails are made from the
bytes and cached in the local data folder: each API replica keeps its own, nothing is shared.

Errors keep to the one family: a missing object is :class:`~modiste.errors.NotFoundError`, an
unreachable endpoint, refused credentials or a missing bucket :class:`~modiste.errors.StoreError`
in words that name no endpoint, address or key (the API shows them; the log has the cause).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from modiste.errors import ConfigError, NotFoundError, StoreError
from modiste.imaging.store import ImageStore, sha256_bytes

log = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}
_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "403",
}
_NO_BUCKET = {"NoSuchBucket"}


class S3ImageStore(ImageStore):
    """The :class:`ImageStore` verbs over ``s3://bucket/prefix``; no local originals."""

    is_local = False

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        images_dir: Path,
        thumbs_root: Path,
        client: Any = None,
    ) -> None:
        super().__init__(images_dir, thumbs_root)
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"an S3 image store URL is s3://bucket/prefix, not {url!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint_url = endpoint_url or None
        self._client = client
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key_for(self, content_hash: str) -> str:
        key = f"{content_hash[:2]}/{content_hash[2:4]}/{content_hash}"
        return f"{self.prefix}/{key}" if self.prefix else key

    def path_for(self, content_hash: str) -> Path:
        raise StoreError("the S3 image store keeps no local file for an image (use get)")

    def client(self) -> Any:
        """One boto3 client per store, made on first use (thread-safe, shared by workers)."""
        with self._lock:
            if self._client is None:
                self._client = _make_client(self.endpoint_url)
            return self._client

    def put(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        if not self.exists(digest):
            with self._errors("store"):
                self.client().put_object(Bucket=self.bucket, Key=self.key_for(digest), Body=data)
        return digest

    def exists(self, content_hash: str) -> bool:
        try:
            with self._errors("look up"):
                self.client().head_object(Bucket=self.bucket, Key=self.key_for(content_hash))
        except NotFoundError:
            return False
        return True

    def get(self, content_hash: str) -> bytes:
        with self._errors("read", content_hash):
            answer = self.client().get_object(Bucket=self.bucket, Key=self.key_for(content_hash))
            return bytes(answer["Body"].read())

    def delete(self, content_hash: str) -> None:
        with self._errors("delete"):
            self.client().delete_object(Bucket=self.bucket, Key=self.key_for(content_hash))
        self._drop_thumbnails(content_hash)

    def exists_checker(self) -> Callable[[str], bool]:
        """One listing of the prefix (1,000 keys a request) instead of a HEAD per image: at a
        few ms a request, a million HEADs held every ingest start for over an hour."""
        keys: set[str] = set()
        prefix = f"{self.prefix}/" if self.prefix else ""
        with self._errors("list"):
            pages = self.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.update(str(o["Key"]) for o in page.get("Contents", []))
        return lambda content_hash: self.key_for(content_hash) in keys

    def check(self) -> None:
        """Fail early (before an ingest marks anything) when the bucket can't be reached."""
        try:
            with self._errors("reach"):
                self.client().head_bucket(Bucket=self.bucket)
        except NotFoundError as e:  # HEAD answers a bare 404, no NoSuchBucket code
            raise StoreError(
                "the image store's bucket does not exist: create it or fix MODISTE_IMAGE_STORE"
            ) from e

    def _errors(self, verb: str, content_hash: str = "") -> _S3Errors:
        return _S3Errors(self, verb, content_hash)


class _S3Errors:
    """Turns botocore's exceptions into the package's errors, in words for a person."""

    def __init__(self, store: S3ImageStore, verb: str, content_hash: str) -> None:
        self.store, self.verb, self.content_hash = store, verb, content_hash

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _: Any
    ) -> Literal[False]:
        if exc is None or isinstance(exc, (NotFoundError, StoreError)):
            return False
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        if not isinstance(exc, (BotoCoreError, ClientError)):
            return False
        code = (
            str(exc.response.get("Error", {}).get("Code", ""))
            if isinstance(exc, ClientError)
            else ""
        )
        if code in _MISSING:
            what = f"image {self.content_hash[:12]}…" if self.content_hash else "the object"
            raise NotFoundError(f"{what} is not in the store") from exc
        log.warning("S3 image store %s (%s): %s", self.store.url, self.verb, exc)
        if isinstance(exc, ClientError):
            if code in _CREDENTIALS:
                raise StoreError(
                    f"the image store refused access ({code}): check the S3 credentials "
                    "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the bucket's policy"
                ) from exc
            if code in _NO_BUCKET:
                raise StoreError(
                    "the image store's bucket does not exist: create it or fix MODISTE_IMAGE_STORE"
                ) from exc
            raise StoreError(f"the image store could not {self.verb} an image ({code})") from exc
        if isinstance(exc, NoCredentialsError):
            raise StoreError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)"
            ) from exc
        if isinstance(exc, EndpointConnectionError):
            raise StoreError(
                "the image store could not be reached: check MODISTE_S3_ENDPOINT_URL and that "
                "the object store is running"
            ) from exc
        raise StoreError(
            f"the image store could not {self.verb} an image ({type(exc).__name__})"
        ) from exc


def _make_client(endpoint_url: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        raise ConfigError("an s3:// image store needs boto3: pip install 'modiste[s3]'") from e
    session = boto3.session.Session()
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=32,  # fetch workers and API threads share one client
        # MinIO and most self-hosted stores serve buckets as paths, not sub-domains
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=session.region_name or "us-east-1",
        config=config,
    )
