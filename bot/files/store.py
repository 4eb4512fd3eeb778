"""Where files are kept: a folder (one machine) or an S3-compatible store (several instances).

`STORAGE_URL` chooses: empty for var/files, `file:///path` for another folder, `s3://bucket/
prefix` for S3 or anything that speaks its API (MinIO, Ceph, R2; `STORAGE_ENDPOINT_URL`), through
boto3 with the usual AWS_* credentials. Keys are made by the gateway (`new_key`), never taken
from a request. boto3 and the file system block, so every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from bot.settings import Settings

DEFAULT_FOLDER = Path("var") / "files"


@dataclass(frozen=True, slots=True)
class StoredFile:
    data: bytes
    content_type: str


class FileStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> StoredFile | None:
        """The file, or None when there is none under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove it; nothing happens when it is already gone."""
        ...


def new_key(folder: str, extension: str) -> str:
    """An unguessable key in `folder` ("webchat", "replies"): folder/<random>.<extension>."""
    return f"{folder}/{secrets.token_urlsafe(24)}.{extension}"


def valid_key(key: str) -> bool:
    """`key` has the shape `new_key` makes (so no path can climb out of the store)."""
    folder, _, name = key.partition("/")
    stem, _, extension = name.partition(".")
    return (
        folder.isalpha()
        and len(stem) == 32
        and all(c.isalnum() or c in "-_" for c in stem)
        and extension.isalnum()
    )


class LocalFileStore:
    """Files in a folder, the content type in a `.type` file beside each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError("not a file key")
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            path.with_name(path.name + ".type").write_text(content_type)
            partial.replace(path)  # whole or not at all

        await asyncio.to_thread(write)

    async def get(self, key: str) -> StoredFile | None:
        path = self._path(key)

        def read() -> StoredFile | None:
            try:
                data = path.read_bytes()
                content_type = path.with_name(path.name + ".type").read_text()
            except FileNotFoundError:
                return None
            return StoredFile(data, content_type)

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        path = self._path(key)

        def remove() -> None:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".type").unlink(missing_ok=True)

        await asyncio.to_thread(remove)


class S3FileStore:
    """Files as objects in an S3-compatible bucket, under a prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _name(self, key: str) -> str:
        if not valid_key(key):
            raise ValueError("not a file key")
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._name(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> StoredFile | None:
        def read() -> StoredFile | None:
            try:
                found = self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return StoredFile(found["Body"].read(), found.get("ContentType") or "")

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._name(key))


def file_store_from_settings(settings: Settings) -> FileStore:
    """The store STORAGE_URL names (see the module's docstring)."""
    url = settings.STORAGE_URL.strip()
    if not url:
        return LocalFileStore(DEFAULT_FOLDER)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalFileStore(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        client = boto3.client(
            "s3",
            endpoint_url=settings.STORAGE_ENDPOINT_URL or None,
            region_name=settings.STORAGE_REGION,
        )
        return S3FileStore(client, parsed.netloc, parsed.path)
    raise ValueError(f"STORAGE_URL must be empty, file:///path or s3://bucket/prefix, not {url!r}")
