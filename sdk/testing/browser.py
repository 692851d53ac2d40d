"""Browser tests: the app on a real HTTP port and headless Chromium through Playwright
(Debian's, never a downloaded one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser

from sdk.testing.platform import CreatorPlatform

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def serving(creator_platform: CreatorPlatform) -> AsyncIterator[str]:
    """The platform's app served over real HTTP by uvicorn on 127.0.0.1 (a free port),
    inside the running event loop, while the block runs; yields the base URL
    (``http://127.0.0.1:<port>``). The app's lifespan already runs (the platform was
    started), so uvicorn runs with ``lifespan="off"``."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        creator_platform.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        forwarded_allow_ips=creator_platform.platform.settings.forwarded_allow_ips,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        for _ in range(400):  # up to 10 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.025)
        if task.done():
            task.result()  # raises what stopped the server
            raise RuntimeError("the live server stopped before it started")
        if not server.started:
            raise RuntimeError("the live server did not start within 10 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        finally:
            sock.close()


@pytest_asyncio.fixture
async def creator_live_server(creator_platform: CreatorPlatform) -> AsyncIterator[str]:
    """The ``creator_platform`` app served over real HTTP (:func:`serving`); yields the
    base URL (``http://127.0.0.1:<port>``)."""
    async with serving(creator_platform) as base_url:
        yield base_url


def _find_chromium() -> str | None:
    """``$CREATOR_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on the PATH."""
    candidates = (os.environ.get("CREATOR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _chromium_or_install() -> str | None:
    """Chromium's path; with ``CREATOR_INSTALL_CHROMIUM=1``, on Debian as root, install
    Debian's package first when it is missing (this project's CI asks for it in
    ``tests/conftest.py``)."""
    found = _find_chromium()
    if found is not None:
        return found
    wanted = os.environ.get("CREATOR_INSTALL_CHROMIUM") == "1"
    can = (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and Path("/etc/debian_version").exists()
        and shutil.which("apt-get") is not None
    )
    if not (wanted and can):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("creator_browser: Chromium is missing; running apt-get install -y chromium")

    def run(*args: str) -> bool:
        done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"creator_browser: apt-get {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.returncode == 0

    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*_Packages*")):
        print("creator_browser: no apt package lists; running apt-get update first")
        run("update")
    # Stale package lists name files the mirror no longer has: refresh them and retry.
    if not run("install", "-y", "chromium") and run("update"):
        run("install", "-y", "chromium")
    return _find_chromium()


@pytest_asyncio.fixture
async def creator_browser() -> AsyncIterator[Browser]:
    """A headless Chromium (Debian's, not a downloaded one) driven by async Playwright.

    Skips the test when Playwright or Chromium is missing (see ``_chromium_or_install``
    for when it is installed instead). Function-scoped: Playwright's objects belong to the
    event loop that made them, and each test has its own loop."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install playwright (no browser download)")
    executable = await asyncio.to_thread(_chromium_or_install)
    if executable is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (see README)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
