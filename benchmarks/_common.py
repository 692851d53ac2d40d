"""Small helpers shared by the benchmarks: ports, waiting for HTTP, child processes, tables,
cProfile summaries.

Not part of the platform; nothing here is imported by ``core`` or the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


def log(message: str) -> None:
    """A progress line, flushed at once (the benchmarks run for a minute or two)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """SIGTERM the child if this benchmark dies, so a crash orphans no server."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(
    args: Sequence[str], *, env: dict[str, str] | None = None, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child process with its output in ``log_path`` (or discarded)."""
    out = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            list(args),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    finally:
        if log_path is not None:
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``. Safe to call twice."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(
    url: str,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 60.0,
    interval: float = 0.02,
    log_path: Path | None = None,
) -> float:
    """Poll ``url`` until it answers 200; return the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = log_path.read_text()[-3000:] if log_path and log_path.exists() else ""
                raise RuntimeError(f"{url}: the server exited with {proc.returncode}\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.monotonic()
            time.sleep(interval)
    tail = log_path.read_text()[-3000:] if log_path and log_path.exists() else ""
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s\n{tail}")


class RawHttpConnection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation.

    httpx spends ~1.5-2 ms of CPU per request, more than the servers under test; on a
    2-core machine that makes the load generator the bottleneck and hides the difference
    between servers. This spends a fraction of that. Responses need ``Content-Length``
    (uvicorn sets it for every non-streaming response).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by RawHttpConnection")
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = self.reader = None


def raw_request(
    method: str, host: str, port: int, path: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table, so the output can be pasted into the README."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def machine() -> str:
    import platform

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {sys.version.split()[0]}"
    )


# -- cProfile summaries --------------------------------------------------------------------

ProfileKey = tuple[str, int, str]


def profile_stats(path: Path) -> dict[ProfileKey, tuple[float, float, int]]:
    """``{(file, line, function): (own seconds, cumulative seconds, calls)}`` of a dump."""
    import pstats

    raw = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    return {key: (tt, ct, nc) for key, (cc, nc, tt, ct, callers) in raw.items()}


def profile_package(key: ProfileKey, packages: Sequence[tuple[str, str]]) -> str:
    """The label of the first ``(label, path substring)`` in ``packages`` that the
    function's file matches, or one of a few fixed buckets (imports, idle, sockets)."""
    filename, _, func = key
    if "importlib" in filename or "marshal" in func:
        return "imports (start-up)"
    if "select.epoll" in func:
        return "idle (epoll wait)"
    if "_socket.socket" in func:
        return "socket send/recv"
    where = filename if filename != "~" else func
    for label, needle in packages:
        if needle in where:
            return label
    return "other (stdlib, builtins)"


def profile_name(key: ProfileKey) -> str:
    """A function's short name: ``package/module.py:line(function)``."""
    filename, line, func = key
    if filename == "~":
        # cProfile names a C method after the first function object seen with it.
        return "dict.get" if "ConvertingDict.get" in func else func
    parts = Path(filename).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor) :]
            break
    return f"{'/'.join(parts[-3:])}:{line}({func})"


def print_profile(path: Path, packages: Sequence[tuple[str, str]], top: int = 25) -> None:
    """One process's cProfile dump: own time by package, then the functions with the most
    own time and the project's functions with the most inclusive time."""
    stats = profile_stats(path)
    total = sum(tt for tt, _, _ in stats.values()) or 1.0
    by_package: dict[str, float] = {}
    for key, (tt, _, _) in stats.items():
        label = profile_package(key, packages)
        by_package[label] = by_package.get(label, 0.0) + tt
    print()
    print(
        table(
            ["package", "own s", "share"],
            [
                [label, f"{s:.2f}", f"{s / total:.0%}"]
                for label, s in sorted(by_package.items(), key=lambda kv: -kv[1])
            ],
        )
    )
    own = sorted(stats, key=lambda k: -stats[k][0])[:top]
    print()
    print(
        table(
            ["function (most own time)", "own s", "calls"],
            [[profile_name(k), f"{stats[k][0]:.3f}", stats[k][2]] for k in own],
        )
    )
    project = [k for k in stats if any(f"/{p}/" in k[0] for p in ("core", "plugins", "sdk"))]
    inclusive = sorted(project, key=lambda k: -stats[k][1])[:top]
    print()
    print(
        table(
            ["project function (most inclusive time)", "inclusive s", "own s", "calls"],
            [
                [profile_name(k), f"{stats[k][1]:.3f}", f"{stats[k][0]:.3f}", stats[k][2]]
                for k in inclusive
            ],
        )
    )


# -- an embedded platform ------------------------------------------------------------------


async def running_platform(
    plugins: Sequence[str], prefix: str, body: Callable[[Any], Awaitable[None]]
) -> None:
    """Run ``body(platform)`` on a started :class:`core.platform.Platform` with ``plugins``
    enabled, over an embedded PostgreSQL + Redis on a temp dir; everything is stopped and
    removed afterwards, also on error or Ctrl-C."""
    import msgspec

    from core.platform import Platform
    from core.runtime import Runtime
    from core.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        settings = load_settings(environ={}, data_dir=work / "data", plugins=list(plugins))
        log("starting embedded PostgreSQL and Redis")
        runtime = Runtime(settings).start()
        try:
            running = msgspec.structs.replace(
                settings, database_url=runtime.database_url, redis_url=runtime.redis_url
            )
            platform = Platform.load(running)
            await platform.start()
            try:
                await body(platform)
            finally:
                await platform.stop()
        finally:
            runtime.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
