"""Fixtures of the clone plugin's tests: the platform with a job worker, a small client for
the clone API as one tenant sees it, documents to learn from (a hand-written PDF with
text) and an event reader.

Test modules do not import from each other (pytest runs with ``--import-mode=importlib``),
so every shared helper reaches the tests through a fixture.
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sdk.testing import CreatorPlatform, Tenant, wait_until

#: Quick job retries and worker polling.
FAST = {"job_retry_base_seconds": 0.02, "worker_poll_delay_seconds": 0.02}

REFUNDS = (
    "Refund policy. If a course is not right for you, ask for a refund within 30 days of "
    "buying it and you get all your money back. Write to help@studio.example with your "
    "order number."
)
COACHING = (
    "Coaching sessions. One-to-one coaching calls happen on Tuesdays and Thursdays over "
    "video. Each session lasts 45 minutes and can be booked from the members area."
)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``[(event, data as JSON), ...]`` of a server-sent events body."""
    found: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            found.append((event, json.loads("\n".join(data))))
    return found


def minimal_pdf(*lines: str) -> bytes:
    """A one-page PDF written by hand whose text is ``lines`` (ASCII, no parentheses)."""
    ops = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {ops} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def blank_pdf(password: str | None = None) -> bytes:
    """A PDF with one blank page made by pypdf (encrypted with ``password`` if given)."""
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    if password is not None:
        writer.encrypt(user_password=password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class CloneApi:
    """The clone API as one tenant sees it, with shortcuts that assert success."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.client = tenant.client
        self.group_id = tenant.group.id
        self.base = f"/api/v1/clone/groups/{tenant.group.id}"

    def url(self, clone_id: str, path: str = "") -> str:
        return f"{self.base}/clones/{clone_id}{path}"

    def thread_url(self, clone_id: str, thread_id: str, path: str = "") -> str:
        return self.url(clone_id, f"/threads/{thread_id}{path}")

    async def clone(self, name: str = "Ada", **body: Any) -> dict:
        r = await self.client.post(self.base + "/clones", json={"name": name, **body})
        assert r.status_code == 201, r.text
        return r.json()

    async def get(self, clone_id: str) -> dict:
        r = await self.client.get(self.url(clone_id))
        assert r.status_code == 200, r.text
        return r.json()

    async def text(self, clone_id: str, title: str, text: str, kind: str = "text") -> dict:
        r = await self.client.post(
            self.url(clone_id, "/sources"), json={"kind": kind, "title": title, "text": text}
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def upload(
        self, clone_id: str, filename: str, data: bytes, **form: str
    ) -> httpx.Response:
        return await self.client.post(
            self.url(clone_id, "/sources/file"), files={"file": (filename, data)}, data=form
        )

    async def sources(self, clone_id: str) -> list[dict]:
        r = await self.client.get(self.url(clone_id, "/sources"))
        assert r.status_code == 200, r.text
        items: list[dict] = r.json()["items"]
        return items

    async def job(self, job_id: str) -> dict:
        r = await self.client.get(f"/api/v1/groups/{self.group_id}/jobs/{job_id}")
        assert r.status_code == 200, r.text
        return r.json()

    async def train(self, clone_id: str, *, wait: bool = True) -> dict:
        """Train; with ``wait``, until the job ends. Returns the final job status (with
        ``clone``: the clone after training)."""
        r = await self.client.post(self.url(clone_id, "/train"))
        assert r.status_code == 202, r.text
        started = r.json()
        if not wait:
            return started

        async def ended() -> dict | None:
            status = await self.job(started["job_id"])
            return status if status["status"] in ("complete", "failed") else None

        status = await wait_until(ended, within=30, message="training to end")
        status["clone"] = await self.get(clone_id)
        return status

    async def thread(self, clone_id: str, **body: Any) -> dict:
        r = await self.client.post(self.url(clone_id, "/threads"), json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def ask(self, clone_id: str, thread_id: str, content: str) -> dict:
        """``{"question": ..., "answer": ...}``."""
        r = await self.client.post(
            self.thread_url(clone_id, thread_id, "/messages"), json={"content": content}
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def messages(self, clone_id: str, thread_id: str, **params: Any) -> dict:
        r = await self.client.get(self.thread_url(clone_id, thread_id, "/messages"), params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def sse() -> Callable[[str], list[tuple[str, Any]]]:
    """``sse(text)``: the ``(event, data)`` pairs of a server-sent events body."""
    return parse_sse


@pytest.fixture
def pdfs() -> Any:
    """Documents: ``pdfs.text(*lines)`` (a hand-written PDF with text) and
    ``pdfs.blank(password=None)`` (pypdf's blank page, optionally encrypted)."""

    class Pdfs:
        text = staticmethod(minimal_pdf)
        blank = staticmethod(blank_pdf)

    return Pdfs


@pytest.fixture
def docs() -> dict[str, str]:
    """Two short, unrelated documents to learn from."""
    return {"refunds": REFUNDS, "coaching": COACHING}


@pytest_asyncio.fixture
async def clone_platform(
    request: pytest.FixtureRequest, creator_platform_factory: Any
) -> CreatorPlatform:
    """The platform with the plugins of the ``creator_plugins`` marker (default: clone)
    and an in-process job worker. ``@pytest.mark.clone_settings(...)`` adds settings."""
    marker = request.node.get_closest_marker("creator_plugins")
    plugins = list(marker.args) if marker is not None else ["clone"]
    extra = marker.kwargs.get("extra") if marker is not None else None
    overrides = request.node.get_closest_marker("clone_settings")
    settings = {**FAST, "worker": True, **(overrides.kwargs if overrides else {})}
    platform: CreatorPlatform = await creator_platform_factory(
        plugins=plugins, extra_plugins=extra, **settings
    )
    return platform


@pytest_asyncio.fixture
async def owner(clone_platform: CreatorPlatform) -> Tenant:
    """A person owning a fresh group."""
    return await clone_platform.tenant(name="Studio Nova")


@pytest.fixture
def api_for() -> Callable[[Tenant], CloneApi]:
    """``api_for(tenant)``: the clone API as ``tenant`` sees it."""
    return CloneApi


@pytest.fixture
def api(owner: Tenant) -> CloneApi:
    """The clone API as ``owner`` sees it."""
    return CloneApi(owner)


@pytest.fixture
def events() -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    """``await events(tenant, type, target_id=None)``: the group's events of ``type``,
    newest first, read through the core events API."""

    async def read(tenant: Tenant, type: str, target_id: str | None = None) -> list[dict]:
        params: dict[str, Any] = {"type": type, "limit": 200}
        if target_id is not None:
            params["target_id"] = target_id
        r = await tenant.client.get(f"/api/v1/groups/{tenant.group.id}/events", params=params)
        assert r.status_code == 200, r.text
        items: list[dict] = r.json()["items"]
        return items

    return read


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clone_settings(**settings): platform settings of the clone_platform fixture"
    )
