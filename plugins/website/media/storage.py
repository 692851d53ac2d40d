"""Where uploaded bytes live: the :class:`MediaStorage` contract, the built-in
:class:`LocalStorage` and :func:`storage_for`, which picks the configured backend.

Storage backends
----------------

``local`` (:class:`LocalStorage`, a directory: ``media_dir``, by default
``<data_dir>/media``) is built in. Another backend — an S3-compatible object store, say —
is a plugin that implements this plugin's ``register_media_storage`` hook::

    class S3Storage(MediaStorage):
        name = "s3"

        @classmethod
        def create(cls, platform, settings, directory):
            # its own settings: [plugin_settings.website_s3] (the website plugin's table
            # refuses unknown keys); ``directory`` is for local backends and is ignored
            conf = platform.settings.plugin_settings.get("website_s3", {})
            return cls(conf["endpoint"], conf["bucket"], conf.get("public_url", ""))

        async def save(self, key, data, content_type):
            ...  # PUT the object with its Content-Type (any async S3 client, or httpx
            ...  # with SigV4 signing); raise on failure, so the upload is refused

        async def load(self, key):
            ...  # GET it; raise sdk.NotFound when the object does not exist

        async def delete(self, key):
            ...  # DELETE it; a missing object is not an error

        def path(self, key):
            return None  # not on this machine: /media/<key> answers with load()

        def url(self, key):
            # optional: hand out the bucket's (or a CDN's) address so the bytes never
            # pass through this server; the default is /media/<key>
            return f"{self.public_url}/{key}" if self.public_url else super().url(key)

    @hookimpl
    def register_media_storage():
        return [S3Storage]

and is chosen with ``media_storage = "s3"`` under ``[plugin_settings.website]``. Keys are
plain relative paths (``[0-9a-f-]`` directories, a ``[A-Za-z0-9_-]`` name and a
lower-case extension), valid as object names in any store.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import ClassVar

import sdk
from plugins.website.settings import WebsiteSettings


class MediaStorage(abc.ABC):
    """Where uploaded bytes live. Subclasses set ``name`` (what ``media_storage`` names)
    and implement the methods below; they are returned by the ``register_media_storage``
    hook and built with :meth:`create`. Keys are relative paths with ``/`` separators, as
    :class:`MediaLibrary` makes them."""

    name: ClassVar[str] = ""

    @classmethod
    @abc.abstractmethod
    def create(
        cls, platform: sdk.Platform, settings: WebsiteSettings, directory: Path
    ) -> MediaStorage:
        """Build the backend at start-up. ``directory`` is where a local backend keeps
        files (``media_dir``, by default ``<data_dir>/media``)."""

    @abc.abstractmethod
    async def save(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what was there), all or nothing."""

    @abc.abstractmethod
    async def load(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`sdk.NotFound` when there are none."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def path(self, key: str) -> Path | None:
        """A local file holding ``key`` (served without loading it into memory), or
        ``None`` for a remote store. Does no IO: the file may not exist."""

    def url(self, key: str) -> str:
        """The public URL of ``key``: ``/media/<key>`` (served by this plugin) unless the
        backend hands out its own (a bucket's or a CDN's address)."""
        return f"/media/{key}"


class LocalStorage(MediaStorage):
    """Files in a directory. Writes are atomic (a temporary file renamed into place), keys
    can never leave the directory, and all file IO runs in a worker thread."""

    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def create(
        cls, platform: sdk.Platform, settings: WebsiteSettings, directory: Path
    ) -> LocalStorage:
        return cls(directory)

    def path(self, key: str) -> Path:
        """The file of ``key``; ``ValueError`` for a key that is empty, absolute, or has an
        empty, ``.`` or ``..`` part, a backslash or a NUL."""
        if not key or "\x00" in key or "\\" in key or key.startswith("/"):
            raise ValueError(f"invalid media key {key[:80]!r}")
        parts = key.split("/")
        if any(part in ("", ".", "..") or ":" in part for part in parts):
            raise ValueError(f"invalid media key {key[:80]!r}")
        return self.directory.joinpath(*parts)

    async def save(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write_atomically, self.path(key), data)

    async def load(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise sdk.NotFound(f"media {key} not found") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a web server may serve it
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _refuse_non_storage(plugin: str, backend: object) -> None:
    if not (isinstance(backend, type) and issubclass(backend, MediaStorage)):
        raise sdk.PlatformError(
            f"plugin {plugin!r}: register_media_storage must return MediaStorage "
            f"subclasses, not {backend!r}"
        )


def storage_for(platform: sdk.Platform, settings: WebsiteSettings, directory: Path) -> MediaStorage:
    """The backend ``settings.media_storage`` names, among those plugins register through
    ``register_media_storage``, built with its ``create(platform, settings, directory)``."""
    backends: dict[str, type[MediaStorage]] = platform.plugins.collect_unique(
        "register_media_storage",
        key=lambda backend: backend.name,
        what="media storage",
        error=sdk.PlatformError,
        check=_refuse_non_storage,
    )
    chosen = backends.get(settings.media_storage)
    if chosen is None:
        raise sdk.PlatformError(
            f"plugin_settings.website.media_storage is {settings.media_storage!r}, which no "
            f"enabled plugin provides; available: {', '.join(sorted(backends)) or 'none'}"
        )
    return chosen.create(platform, settings, directory)
