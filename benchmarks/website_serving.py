"""Website serving: published pages from the full platform versus a bare Litestar app
sending the same bytes, and the publish latency of a 50-component page.

One embedded PostgreSQL + Redis (``core.runtime.Runtime``) on a temp dir, one database
migrated with the platform's migrations (core + the ``website`` plugin), a person and an
API token made with ``Directory``; everything else goes through the platform's HTTP API.
Servers, each in its own uvicorn subprocess (one worker, same options):

* **api**: the platform, used to build the sites and to time publishing (never loaded);
* **platform**: the platform (``create_app`` with the ``website`` plugin), rate limit as
  ``things_api.py`` sets it (on, with a limit never reached);
* **platform, rate limit off**: the same with ``rate_limit_per_minute = 0``;
* **platform, default limit**: the same with the default ``rate_limit_per_minute``
  (public pages are limited per client address: one load generator is one client);
* **bare**: a Litestar app with one GET handler returning the page's exact bytes with the
  same headers (and a 304 for a matching ``If-None-Match``).

Part 1: a page of 20 components is published; the four serving servers answer
``GET /sites/<slug>/home`` (and the same with ``If-None-Match``) to raw keep-alive HTTP
connections from this process, bursts alternating platform/bare/bare/platform. Every
answer is checked (status, body length). Part 2: a 50-component page is published N
times after a one-component edit and N times unchanged (both a full render and write),
timed client-side over loopback, beside a trivial authenticated GET of the same server.

    python benchmarks/website_serving.py                  # ~40 s
    python benchmarks/website_serving.py --requests 1000  # quicker
    python benchmarks/website_serving.py --profile        # + cProfile of the servers

Nothing is asserted: the figures and the targets (platform >= 0.8 x bare; publish of a
50-component page < 50 ms) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.params import FromPath

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    LOOPBACK,
    RawHttpConnection,
    free_port,
    log,
    machine,
    percentile,
    profile_name,
    profile_package,
    profile_stats,
    raw_request,
    spawn,
    stop,
    table,
    wait_http,
)

TARGET_RATIO = 0.8
TARGET_PUBLISH_MS = 50.0
#: As things_api.py: the limiter runs on every request but never refuses one.
HIGH_LIMIT = 1_000_000_000
#: Response headers the bare app copies from the platform's answer.
COPIED_HEADERS = (
    "content-type",
    "etag",
    "cache-control",
    "content-security-policy",
    "x-content-type-options",
)
#: Headers that differ per response or per process: not compared.
VOLATILE_HEADERS = frozenset(("date", "server", "content-length", "x-request-id"))


# -- the servers (child processes) ---------------------------------------------------------


def platform_app(args: argparse.Namespace) -> Any:
    from core.app import create_app
    from core.settings import load_settings

    overrides: dict[str, Any] = {}
    if args.rate_limit is not None:  # unset: the platform's default
        overrides["rate_limit_per_minute"] = args.rate_limit
    settings = load_settings(
        environ={},
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        redis_url=args.redis_url,
        plugins=["website"],  # core's built-ins are always on
        migrate_on_start=False,  # migrated by the benchmark before the servers start
        log_level="warning",
        **overrides,
    )
    return create_app(settings)


def bare_app(page_file: Path) -> Any:
    """One handler: the platform's page bytes with its headers; 304 on a matching ETag."""
    body = page_file.read_bytes()
    meta = json.loads(page_file.with_suffix(".json").read_text())
    copied: dict[str, str] = meta["headers"]
    media_type = copied.pop("content-type").split(";")[0]  # Litestar adds the charset back
    etag = copied["etag"]

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/sites/{site:str}/{page:str}")
    async def page(
        request: Request[Any, Any, Any], site: FromPath[str], page: FromPath[str]
    ) -> Response[bytes]:
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=copied)
        return Response(body, media_type=media_type, headers=copied)

    return Litestar(route_handlers=[health, page])


def serve(args: argparse.Namespace) -> None:
    """Child process: one uvicorn worker, same options for every app."""
    import uvicorn

    app = bare_app(Path(args.page_file)) if args.serve == "bare" else platform_app(args)
    config = dict(host=LOOPBACK, port=args.port, log_level="warning", access_log=False)
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        uvicorn.run(app, **config)  # type: ignore[arg-type]
        return
    import cProfile
    import signal

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so the
    # profile is written.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    profiler = cProfile.Profile()
    if os.environ.get("BENCH_PROFILE_TOGGLE"):
        # The api server: profiled only between SIGUSR1 and SIGUSR2 (the publishes).
        signal.signal(signal.SIGUSR1, lambda signum, frame: profiler.enable())
        signal.signal(signal.SIGUSR2, lambda signum, frame: profiler.disable())
    else:
        profiler.enable()
    try:
        uvicorn.run(app, **config)  # type: ignore[arg-type]
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


# -- orchestration --------------------------------------------------------------------------


@dataclass
class Burst:
    requests: int = 0
    elapsed: float = 0.0
    bad: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0

    def add(self, other: Burst) -> None:
        self.requests += other.requests
        self.elapsed += other.elapsed
        self.bad += other.bad
        self.statuses.update(other.statuses)
        self.latencies += other.latencies
        self.server_cpu += other.server_cpu
        self.loadgen_cpu += other.loadgen_cpu

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000

    def per_req(self, seconds: float) -> float:
        return seconds / self.requests * 1000 if self.requests else 0.0


@dataclass
class Server:
    name: str  # label in the tables
    key: str  # short name: log and profile file names
    kind: str  # "platform" or "bare"
    rate_limit: int | None = None  # platform only; None: the default
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    profile: Path | None = None
    conns: list[RawHttpConnection] = field(default_factory=list)
    results: dict[str, Burst] = field(default_factory=dict)
    served: int = 0  # requests sent to this server, all kinds

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def prepare_database(server_url: str, url: str) -> str:
    """A fresh database migrated for core + website, with a person; returns their token."""
    import asyncpg

    from core.auth.tokens import Directory
    from core.db import Database, database_logins
    from core.migrations import migrate
    from core.platform import Platform
    from core.settings import load_settings

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{urlsplit(url).path.lstrip("/")}"')
    finally:
        await conn.close()
    settings = load_settings(environ={}, database_url=url, plugins=["website"])
    logins = database_logins(settings)
    await migrate(url, Platform.load(settings).migration_apps(), role_passwords=logins.managed)
    db = Database(logins, min_size=1, max_size=1)
    await db.open()
    try:
        directory = Directory(db)
        person = await directory.create_person("bench-website@example.test", "Bench")
        _, token = await directory.issue_token(person.id, "bench")
        return token
    finally:
        await db.close()


class Api:
    """JSON calls to the platform over one raw keep-alive connection (little client CPU,
    so client-side latency is mostly the server's)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = RawHttpConnection(LOOPBACK, port)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.calls = 0

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        data = msgspec.json.encode(body) if body is not None else b""
        raw = raw_request(method, LOOPBACK, self.port, path, self.headers, data)
        self.calls += 1
        status, answer = await self.conn.request(raw)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {answer[:500]!r}")
        return msgspec.json.decode(answer) if answer else None

    async def timed(self, method: str, path: str, body: Any = None) -> tuple[float, Any]:
        start = time.perf_counter()
        result = await self.call(method, path, body)
        return time.perf_counter() - start, result


RICH = (
    "<p>Our <strong>spring workshop</strong> covers <em>glazing</em>, kiln loading and "
    'firing schedules. Read the <a href="https://example.com/notes">notes</a> first; '
    "bring an apron and a towel. Places are limited to twelve people per session.</p>"
)


def serving_components() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """20 components: (top-level component, its children)."""
    top: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"type": "heading", "props": {"text": "Clay & Kiln Studio", "level": 1}}, []),
        ({"type": "text", "props": {"html": RICH}}, []),
        ({"type": "button", "props": {"label": "Book a class", "href": "/sites/x/book"}}, []),
        ({"type": "text", "props": {"html": "<p>Open Tuesday to Sunday.</p>"}}, []),
    ]
    for i in range(4):
        top.append(
            (
                {
                    "type": "section",
                    "props": {"background": ["muted", "accent"][i % 2], "label": f"Part {i + 1}"},
                },
                [
                    {"type": "heading", "props": {"text": f"Session {i + 1}", "level": 2}},
                    {"type": "text", "props": {"html": RICH}},
                    {
                        "type": "button",
                        "props": {
                            "label": "Details",
                            "style": "secondary",
                            "href": f"https://example.com/s/{i}",
                        },
                    },
                ],
            )
        )
    return top


def publish_components() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """50 components: a heading and a text, then 6 sections of 7 children each."""
    top: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"type": "heading", "props": {"text": "Revision 0", "level": 1}}, []),
        ({"type": "text", "props": {"html": RICH}}, []),
    ]
    for i in range(6):
        top.append(
            (
                {
                    "type": "section",
                    "props": {
                        "background": ["default", "muted", "accent"][i % 3],
                        "padding": "large",
                        "label": f"Chapter {i + 1}",
                    },
                },
                [
                    {"type": "heading", "props": {"text": f"Chapter {i + 1}", "level": 2}},
                    {"type": "text", "props": {"html": RICH}},
                    {
                        "type": "image",
                        "props": {
                            "src": f"https://images.example.com/{i}.jpg",
                            "alt": f"Pots on shelf {i + 1}",
                            "caption": "Fresh from the kiln",
                        },
                    },
                    {
                        "type": "button",
                        "props": {"label": "Read more", "href": f"https://example.com/c/{i}"},
                    },
                    {"type": "text", "props": {"html": RICH.replace("spring", "autumn")}},
                    {"type": "heading", "props": {"text": "Good to know", "level": 3}},
                    {
                        "type": "button",
                        "props": {
                            "label": "Ask us",
                            "style": "secondary",
                            "href": "mailto:studio@example.com",
                        },
                    },
                ],
            )
        )
    return top


async def build_page(
    api: Api, base: str, title: str, slug: str, layout: list[tuple[dict[str, Any], list[Any]]]
) -> tuple[str, int, str]:
    """Create a page and add its components one by one; returns (page id, count, first
    component's id)."""
    page = await api.call("POST", f"{base}/pages", {"title": title, "slug": slug}, expect=201)
    path = f"{base}/pages/{page['id']}/components"
    count, first = 0, ""
    for component, children in layout:
        added = await api.call("POST", path, component, expect=201)
        count += 1
        first = first or added["node"]["id"]
        for child in children:
            await api.call("POST", path, {**child, "parent_id": added["node"]["id"]}, expect=201)
            count += 1
    return page["id"], count, first


@dataclass
class Site:
    group_id: str = ""
    site_id: str = ""
    slug: str = ""
    base: str = ""  # API path of the site
    home_id: str = ""
    big_id: str = ""
    big_heading: str = ""
    big_count: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    other_headers: list[str] = field(default_factory=list)


async def build_sites(api: Api) -> Site:
    site = Site(slug=f"bench-{uuid.uuid4().hex[:8]}")
    group = await api.call("POST", "/api/v1/groups", {"slug": site.slug, "name": "Bench"}, 201)
    site.group_id = group["id"]
    made = await api.call(
        "POST",
        f"/api/v1/website/groups/{site.group_id}/sites",
        {"name": "Clay & Kiln", "slug": site.slug},
        expect=201,
    )
    site.site_id = made["id"]
    site.base = f"/api/v1/website/groups/{site.group_id}/sites/{site.site_id}"
    site.home_id, count, _ = await build_page(api, site.base, "Home", "home", serving_components())
    await api.call("POST", f"{site.base}/pages/{site.home_id}/publish")
    log(f"  page 'home': {count} components, published")
    site.big_id, site.big_count, site.big_heading = await build_page(
        api, site.base, "Big", "big", publish_components()
    )
    log(f"  page 'big': {site.big_count} components")
    await api.conn.close()
    return site


def sample_page(api_server: Server, site: Site, work: Path) -> Path:
    """The exact bytes and headers of the published home page, for the bare app."""
    import httpx

    resp = httpx.get(f"{api_server.base_url}/sites/{site.slug}/home", timeout=30)
    api_server.served += 1
    if resp.status_code != 200:
        raise RuntimeError(f"published page: {resp.status_code} {resp.text[:300]}")
    site.body = resp.content
    site.headers = {k: resp.headers[k] for k in COPIED_HEADERS if k in resp.headers}
    missing = [k for k in COPIED_HEADERS if k not in resp.headers]
    if missing:
        log(f"WARNING: the published page has no {', '.join(missing)} header")
    site.other_headers = sorted(
        k for k in resp.headers if k not in COPIED_HEADERS and k not in VOLATILE_HEADERS
    )
    page_file = work / "page.bin"
    page_file.write_bytes(site.body)
    page_file.with_suffix(".json").write_text(json.dumps({"headers": site.headers}))
    return page_file


def check_same_answer(servers: list[Server], site: Site) -> None:
    """Every serving server sends the same bytes and the copied headers alike."""
    import httpx

    for server in servers:
        resp = httpx.get(f"{server.base_url}/sites/{site.slug}/home", timeout=30)
        server.served += 1
        got = {k: resp.headers.get(k) for k in COPIED_HEADERS}
        want = {k: site.headers.get(k) for k in COPIED_HEADERS}
        if resp.status_code != 200 or resp.content != site.body or got != want:
            log(
                f"WARNING: {server.name} answers differently: {resp.status_code}, "
                f"{len(resp.content)} bytes (want {len(site.body)}), headers {got}"
            )


async def burst(server: Server, kind: str, n: int, site: Site) -> Burst:
    """``n`` GETs of the home page (``kind`` "200", or "304" with If-None-Match) on the
    server's connections, each sending its next request as soon as an answer arrives."""
    import psutil

    proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
    me = psutil.Process()
    headers = {"If-None-Match": site.headers["etag"]} if kind == "304" else {}
    raw = raw_request("GET", LOOPBACK, server.port, f"/sites/{site.slug}/home", headers)
    expected_status = int(kind)
    expected_length = len(site.body) if kind == "200" else 0
    result = Burst(requests=n)
    server.served += n
    counter = iter(range(n))

    async def worker(conn: RawHttpConnection) -> None:
        for _ in counter:
            start = time.perf_counter()
            status, body = await conn.request(raw)
            result.latencies.append(time.perf_counter() - start)
            result.statuses[status] += 1
            if status != expected_status or len(body) != expected_length:
                result.bad += 1
                if result.bad == 1 and status != 429:
                    log(f"  {server.name} {kind}: {status}, {len(body)} bytes {body[:200]!r}")

    # Fresh connections, opened before the clock starts: uvicorn closes a keep-alive
    # connection idle for 5 s, as happens between bursts when the servers are profiled.
    for conn in server.conns:
        await conn.close()
        conn.reader, conn.writer = await asyncio.open_connection(LOOPBACK, server.port)
    cpu0, me0 = proc.cpu_times(), me.cpu_times()
    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker(conn) for conn in server.conns))
    except (OSError, asyncio.IncompleteReadError) as exc:
        alive = "running" if server.proc.poll() is None else f"exited {server.proc.returncode}"  # type: ignore[union-attr]
        tail = server.log_path.read_text()[-3000:] if server.log_path else ""
        raise RuntimeError(
            f"{server.name} ({alive}) dropped a connection: {exc!r}\n{tail}"
        ) from exc
    result.elapsed = time.perf_counter() - start
    cpu1, me1 = proc.cpu_times(), me.cpu_times()
    result.server_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    result.loadgen_cpu = (me1.user + me1.system) - (me0.user + me0.system)
    return result


async def run_serving(servers: list[Server], site: Site, args: argparse.Namespace) -> None:
    for server in servers:
        server.conns = [RawHttpConnection(LOOPBACK, server.port) for _ in range(args.concurrency)]
    try:
        for kind in ("200", "304"):
            log(f"warm-up: {args.warmup} requests ({kind}) per server")
            for server in servers:
                await burst(server, kind, args.warmup, site)
            per_round = max(1, args.requests // args.rounds)
            for r in range(args.rounds):
                for server in servers if r % 2 == 0 else servers[::-1]:
                    b = await burst(server, kind, per_round, site)
                    server.results.setdefault(kind, Burst()).add(b)
                    others = ", ".join(
                        f"{count} x {status}"
                        for status, count in sorted(b.statuses.items())
                        if status != int(kind)
                    )
                    log(
                        f"  {kind} round {r + 1}/{args.rounds} {server.key:9} "
                        f"{b.rps:7.0f} req/s  p50 {b.ms(50):5.1f} ms  p99 {b.ms(99):5.1f} ms"
                        + (f"  BAD {b.bad} ({others})" if b.bad else "")
                    )
    finally:
        for server in servers:
            for conn in server.conns:
                await conn.close()


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0

    def ms(self, pct: float) -> float:
        return percentile(self.wall, pct) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.wall) * 1000 if self.wall else float("nan")

    def cpu_ms(self, seconds: float) -> float:
        return seconds / len(self.wall) * 1000 if self.wall else float("nan")


def postgres_processes(postmaster_pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(postmaster_pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(processes: list[Any]) -> float:
    import psutil

    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


PUBLISH_OPS = (
    ("edit", "edit: PATCH one component (new revision)"),
    ("publish_edited", "publish after that edit (render + write)"),
    ("publish_same", "publish again, same revision (render + write)"),
    ("get_page", "GET the page (50-component draft tree as JSON)"),
    ("get_site", "baseline: GET the site (trivial authenticated read)"),
)


async def run_publishes(
    api: Api, api_server: Server, site: Site, args: argparse.Namespace, pg_pid: int
) -> dict[str, Timings]:
    """Interleaved, so drift hits every operation alike: edit, publish it, publish again,
    read the page, read the site."""
    import psutil

    server = psutil.Process(api_server.proc.pid)  # type: ignore[union-attr]
    pg = postgres_processes(pg_pid)
    page = f"{site.base}/pages/{site.big_id}"
    results = {key: Timings() for key, _ in PUBLISH_OPS}
    warmup = min(3, max(1, args.publishes))
    last_revision = 0
    for i in range(warmup + args.publishes):
        calls = {
            "edit": (
                "PATCH",
                f"{page}/components/{site.big_heading}",
                {"props": {"text": f"Revision {i + 1}"}},
            ),
            "publish_edited": ("POST", f"{page}/publish", None),
            "publish_same": ("POST", f"{page}/publish", None),
            "get_page": ("GET", page, None),
            "get_site": ("GET", site.base, None),
        }
        for key, (method, path, body) in calls.items():
            cpu0, pg0 = server.cpu_times(), cpu_seconds(pg)
            elapsed, answer = await api.timed(method, path, body)
            cpu1, pg1 = server.cpu_times(), cpu_seconds(pg)
            if key.startswith("publish"):
                if answer["published_revision"] != answer["revision"]:
                    raise RuntimeError(f"publish did not publish: {answer}")
                last_revision = answer["revision"]
            if i < warmup:
                continue
            timing = results[key]
            timing.wall.append(elapsed)
            timing.server_cpu += (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            timing.postgres_cpu += pg1 - pg0
    api_server.served += api.calls
    # The live page is the last edit: each publish after an edit was a real re-render.
    raw = raw_request("GET", LOOPBACK, api.port, f"/sites/{site.slug}/big", {})
    status, live = await api.conn.request(raw)
    await api.conn.close()
    api_server.served += 1
    final = f"Revision {warmup + args.publishes}"
    if status != 200 or final.encode() not in live:
        log(f"WARNING: the live page does not show {final!r} ({status})")
    else:
        log(f"  live page shows {final!r} (revision {last_revision}), {len(live):,} bytes")
    return results


# -- the report ---------------------------------------------------------------------------


def _cpu_ratio(base: Any, run: Any) -> str:
    """bare / platform server CPU per request; "-" when too few requests to measure (the
    kernel counts CPU in 10 ms ticks)."""
    mine = run.per_req(run.server_cpu)
    if not mine:
        return "-"
    return f"{base.per_req(base.server_cpu) / mine:.2f}"


def report_serving(
    servers: list[Server], site: Site, args: argparse.Namespace, default_limit: int
) -> None:
    bare = next(s for s in servers if s.kind == "bare")
    rows, cpu_rows = [], []
    for kind, label in (("200", "GET page -> 200"), ("304", "If-None-Match -> 304")):
        base = bare.results[kind]
        for server in servers:
            b = server.results[kind]
            ratio = b.rps / base.rps if base.rps else 0.0
            is_bare = server is bare
            refused = b.statuses.get(429, 0)
            met = "" if is_bare else ("PASS" if round(ratio, 2) >= TARGET_RATIO else "below")
            if refused:
                met = f"n/a: {refused} x 429"
            answers = ", ".join(f"{c} x {s}" for s, c in sorted(b.statuses.items()))
            rows.append(
                [
                    label if server is servers[0] else "",
                    server.name,
                    f"{b.rps:.0f}",
                    f"{b.ms(50):.2f} / {b.ms(99):.2f}",
                    "1.00" if is_bare else ("-" if refused else f"{ratio:.2f}"),
                    "" if is_bare else f">= {TARGET_RATIO}",
                    met,
                    answers,
                    str(b.bad),
                ]
            )
            cpu_rows.append(
                [
                    label if server is servers[0] else "",
                    server.name,
                    f"{b.per_req(b.server_cpu):.3f}",
                    f"{b.per_req(b.loadgen_cpu):.3f}",
                    "1.00" if is_bare else _cpu_ratio(base, b),
                ]
            )
    print()
    print(
        f"Website serving: GET /sites/<slug>/home, a published page of 20 components "
        f"({len(site.body):,} bytes), {args.requests} requests per kind and server at "
        f"concurrency {args.concurrency} (after {args.warmup} warm-up), {args.rounds} "
        f"alternating rounds, raw keep-alive client; uvicorn 1 worker each; {machine()}"
    )
    print(
        f"platform: rate limit {HIGH_LIMIT:,}/min (as things_api.py: on, never reached); "
        f"platform, default limit: {default_limit}/min per client (here one address). "
        f"Bare app copies: {', '.join(COPIED_HEADERS)}; the platform also sends: "
        f"{', '.join(site.other_headers) or 'nothing else'} (+ x-request-id)"
    )
    print()
    print(
        table(
            [
                "request",
                "server",
                "req/s",
                "p50 / p99 ms",
                "ratio p/b",
                "target",
                "met",
                "answers",
                "bad",
            ],
            rows,
        )
    )
    print()
    print(
        "CPU per request (ms, psutil over the same bursts). The server CPU ratio (bare / "
        "platform) is the\nthroughput ratio a purely server-bound run would show."
    )
    print()
    print(
        table(
            ["request", "server", "server CPU ms", "load generator CPU ms", "server CPU ratio"],
            cpu_rows,
        )
    )


def report_publishes(results: dict[str, Timings], site: Site, args: argparse.Namespace) -> None:
    baseline = results["get_site"].ms(50)
    rows = []
    for key, label in PUBLISH_OPS:
        t = results[key]
        is_publish = key.startswith("publish")
        met = ""
        if is_publish:
            met = " / ".join("yes" if t.ms(p) < TARGET_PUBLISH_MS else "no" for p in (50, 95))
        rows.append(
            [
                label,
                str(len(t.wall)),
                f"{t.ms(50):.1f}",
                f"{t.ms(95):.1f}",
                f"{t.max_ms:.1f}",
                "" if key == "get_site" else f"{t.ms(50) - baseline:+.1f}",
                f"{t.cpu_ms(t.server_cpu):.1f} / {t.cpu_ms(t.postgres_cpu):.1f}",
                f"< {TARGET_PUBLISH_MS:.0f} ms" if is_publish else "",
                met,
            ]
        )
    print()
    print(
        f"Publish latency: a page of {site.big_count} components (headings, rich text, "
        f"images with https src and alt, buttons, 6 sections with 7 children each), "
        f"{args.publishes} rounds after {min(3, max(1, args.publishes))} warm-up, "
        f"interleaved, one keep-alive connection, client-side over loopback; {machine()}"
    )
    print(
        "CPU: psutil around each request, summed per operation (the kernel counts CPU in "
        "10 ms ticks,\nso these are estimates that need n in the tens)"
    )
    print()
    print(
        table(
            [
                "operation",
                "n",
                "p50 ms",
                "p95 ms",
                "max ms",
                "p50 - baseline",
                "CPU ms server / postgres",
                "target",
                "met p50 / p95",
            ],
            rows,
        )
    )


# -- profiles ----------------------------------------------------------------------------

PACKAGES = (  # (label, substring of the code's file path), first match wins
    ("core/ (platform code)", "/core/"),
    ("plugins/website", "/plugins/website/"),
    ("sdk/", "/sdk/"),
    ("litestar", "/litestar/"),
    ("uvicorn + h11", "/uvicorn/"),
    ("uvicorn + h11", "/h11/"),
    ("asyncpg", "/asyncpg/"),
    ("redis", "/redis/"),
    ("prometheus_client", "/prometheus_client/"),
    ("logging", "/logging/"),
    ("msgspec", "msgspec"),
    ("anyio", "/anyio/"),
    ("asyncio", "/asyncio/"),
    ("asyncio", "_asyncio"),
    ("contextlib", "contextlib"),
    ("this benchmark (bare app)", "website_serving.py"),
)


def print_profiles(platform: Server, bare: Server, top: int = 20) -> None:
    """Where the platform's server spends CPU beyond the bare app's, per request.

    cProfile inflates code made of many small Python calls more than code in C, so read
    the split as an attribution of the difference, not as absolute costs."""
    if not (platform.profile and platform.profile.exists() and bare.profile):
        log("profiles missing; nothing to compare")
        return
    prof = {"platform": profile_stats(platform.profile), "bare": profile_stats(bare.profile)}
    served = {"platform": platform.served, "bare": bare.served}
    by_pkg: dict[str, dict[str, float]] = {}
    for name, stats in prof.items():
        for key, (tt, _, _) in stats.items():
            pkg = by_pkg.setdefault(profile_package(key, PACKAGES), {"platform": 0.0, "bare": 0.0})
            pkg[name] += tt / served[name] * 1e6
    rows = sorted(by_pkg.items(), key=lambda kv: kv[1]["bare"] - kv[1]["platform"])
    print()
    print(
        f"cProfile of the serving servers (own time per request, us; {served['platform']} / "
        f"{served['bare']} requests, 200s and 304s; profiled servers run slower):"
    )
    print()
    print(
        table(
            ["package", "platform us/req", "bare us/req", "difference"],
            [
                [
                    pkg,
                    f"{v['platform']:.0f}",
                    f"{v['bare']:.0f}",
                    f"{v['platform'] - v['bare']:+.0f}",
                ]
                for pkg, v in rows
            ],
        )
    )
    zero = (0.0, 0.0, 0)

    def per_req(name: str, key: tuple[str, int, str], index: int) -> float:
        return prof[name].get(key, zero)[index] / served[name] * 1e6

    keys = set(prof["platform"]) | set(prof["bare"])
    deltas = sorted(keys, key=lambda k: per_req("bare", k, 0) - per_req("platform", k, 0))
    print()
    print(f"Functions with the largest extra own time in the platform (top {top}):")
    print()
    print(
        table(
            ["function", "platform us/req", "bare us/req", "calls/req p / b"],
            [
                [
                    profile_name(k),
                    f"{per_req('platform', k, 0):.1f}",
                    f"{per_req('bare', k, 0):.1f}",
                    f"{prof['platform'].get(k, zero)[2] / served['platform']:.1f} / "
                    f"{prof['bare'].get(k, zero)[2] / served['bare']:.1f}",
                ]
                for k in [k for k in deltas if "epoll" not in k[2]][:top]
            ],
        )
    )
    mine = sorted(
        (
            k
            for k in prof["platform"]
            if any(p in k[0] for p in ("/core/", "/plugins/website/", "/litestar/middleware"))
        ),
        key=lambda k: -per_req("platform", k, 1),
    )
    print()
    print(f"Platform code and Litestar's middleware, inclusive time (top {top}):")
    print()
    print(
        table(
            ["function", "inclusive us/req", "own us/req", "calls/req"],
            [
                [
                    profile_name(k),
                    f"{per_req('platform', k, 1):.1f}",
                    f"{per_req('platform', k, 0):.1f}",
                    f"{prof['platform'][k][2] / served['platform']:.1f}",
                ]
                for k in mine[:top]
            ],
        )
    )


async def profiled_publishes(api: Api, site: Site, n: int) -> None:
    """``n`` publishes of the unchanged page (the api server profiles only these)."""
    path = f"{site.base}/pages/{site.big_id}/publish"
    for _ in range(n):
        await api.call("POST", path)
    await api.conn.close()


def print_publish_profile(api_server: Server, publishes: int, top: int = 25) -> None:
    """Where a publish request spends the api server's CPU (profiled only during
    ``publishes`` publishes of the unchanged 50-component page)."""
    if not (api_server.profile and api_server.profile.exists()):
        log("the api server's profile is missing")
        return
    stats = profile_stats(api_server.profile)
    by_pkg: dict[str, float] = {}
    for key, (tt, _, _) in stats.items():
        label = profile_package(key, PACKAGES)
        by_pkg[label] = by_pkg.get(label, 0.0) + tt / publishes * 1e6
    busy = sum(v for k, v in by_pkg.items() if not k.startswith("idle"))
    print()
    print(
        f"cProfile of the api server during {publishes} publishes of the unchanged "
        f"50-component page: own CPU per publish by package ({busy:,.0f} us in all, "
        f"profiled):"
    )
    print()
    print(
        table(
            ["package", "us/publish", "share"],
            [
                [pkg, f"{us:,.0f}", f"{us / busy:.0%}"]
                for pkg, us in sorted(by_pkg.items(), key=lambda kv: -kv[1])
                if not pkg.startswith("idle") and us >= 1
            ],
        )
    )
    wanted = ("/plugins/website/", "/core/", "/markupsafe/", "/asyncpg/pool", "/asyncpg/conn")
    keys = sorted(
        (k for k in stats if any(w in k[0] for w in wanted)),
        key=lambda k: -stats[k][1],
    )
    print()
    print(
        f"Inclusive CPU per publish of the platform's functions (top {top}; a coroutine "
        "counts one call per resumption):"
    )
    print()
    print(
        table(
            ["function", "inclusive us/publish", "own us/publish", "calls/publish"],
            [
                [
                    profile_name(k),
                    f"{stats[k][1] / publishes * 1e6:,.0f}",
                    f"{stats[k][0] / publishes * 1e6:,.0f}",
                    f"{stats[k][2] / publishes:.1f}",
                ]
                for k in keys[:top]
            ],
        )
    )


# -- main --------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    from core.runtime import Runtime
    from core.settings import load_settings

    default_limit = load_settings(environ={}).rate_limit_per_minute
    work = Path(tempfile.mkdtemp(prefix="creator-bench-website-"))
    runtime: Runtime | None = None
    servers: list[Server] = []
    try:
        log(f"starting embedded PostgreSQL + Redis in {work}")
        t0 = time.perf_counter()
        runtime = Runtime(load_settings(environ={}, data_dir=work / "data")).start()
        log(f"  ready in {time.perf_counter() - t0:.2f} s")
        assert runtime.postgres is not None and runtime.postgres.pid is not None
        pg_pid = runtime.postgres.pid
        db_url = database_url(runtime.database_url, f"bench_w_{uuid.uuid4().hex[:8]}")
        log("creating and migrating the database (core + website)")
        token = asyncio.run(prepare_database(runtime.database_url, db_url))

        api_server = Server("api (setup, publishes)", "api", "platform", HIGH_LIMIT)
        platform = Server("platform", "platform", "platform", HIGH_LIMIT)
        unlimited = Server("platform, rate limit off", "no-limit", "platform", 0)
        limited = Server(f"platform, default limit {default_limit}/min", "limited", "platform")
        bare = Server("bare Litestar", "bare", "bare")
        servers = [api_server, platform, unlimited, limited, bare]
        page_file = work / "page.bin"

        def start(server: Server) -> None:
            server.port = free_port()
            server.log_path = work / f"{server.key}.log"
            server.profile = work / f"{server.key}.prof" if args.profile else None
            env = {"BENCH_PROFILE": str(server.profile)} if server.profile else {}
            if server.profile and server is api_server:
                env["BENCH_PROFILE_TOGGLE"] = "1"  # only while publishing (SIGUSR1/2)
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                server.kind,
                "--port",
                str(server.port),
                "--database-url",
                db_url,
                "--redis-url",
                runtime.redis_url,
                "--data-dir",
                str(work / "data"),
                "--page-file",
                str(page_file),
            ]
            if server.rate_limit is not None:
                command += ["--rate-limit", str(server.rate_limit)]
            server.proc = spawn(command, env=env, log_path=server.log_path)

        def wait(server: Server) -> None:
            wait_http(
                f"{server.base_url}/health", proc=server.proc, timeout=60, log_path=server.log_path
            )
            log(f"{server.name} up on {server.base_url} (pid {server.proc.pid})")  # type: ignore[union-attr]

        for server in (api_server, platform, unlimited, limited):
            start(server)
        wait(api_server)
        log("building the site through the API")
        api = Api(api_server.port, token)
        t0 = time.perf_counter()
        site = asyncio.run(build_sites(api))
        api_server.served += api.calls
        log(f"  {api.calls} API calls in {time.perf_counter() - t0:.1f} s")
        sample_page(api_server, site, work)
        log(f"  published page: {len(site.body):,} bytes, headers {site.headers}")
        start(bare)
        for server in (platform, unlimited, limited, bare):
            wait(server)
        serving = [platform, unlimited, limited, bare]
        check_same_answer(serving, site)

        asyncio.run(run_serving(serving, site, args))
        log(f"publishing the {site.big_count}-component page {args.publishes} x 2 times")
        api = Api(api_server.port, token)
        publish_results = asyncio.run(run_publishes(api, api_server, site, args, pg_pid))
        if args.profile:
            import signal

            log(f"profiling the api server during {args.publishes} more publishes")
            api_server.proc.send_signal(signal.SIGUSR1)  # type: ignore[union-attr]
            time.sleep(0.2)
            asyncio.run(profiled_publishes(Api(api_server.port, token), site, args.publishes))
            api_server.proc.send_signal(signal.SIGUSR2)  # type: ignore[union-attr]
            time.sleep(0.2)

        report_serving(serving, site, args, default_limit)
        report_publishes(publish_results, site, args)
        if args.profile:
            for server in servers:
                stop(server.proc, timeout=30)
            print_profiles(platform, bare)
            print_publish_profile(api_server, args.publishes)
            if args.keep_profiles:
                args.keep_profiles.mkdir(parents=True, exist_ok=True)
                for server in servers:
                    if server.profile and server.profile.exists():
                        shutil.copy(server.profile, args.keep_profiles / server.profile.name)
                log(f"profiles copied to {args.keep_profiles} (python -m pstats FILE)")
        return 0
    finally:
        for server in servers:
            stop(server.proc)
        if runtime is not None:
            runtime.stop()
        shutil.rmtree(work, ignore_errors=True)
        log("cleaned up servers and temp dirs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=10000, help="per kind (200/304) and server")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=500, help="per kind and server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating bursts per server")
    parser.add_argument("--publishes", type=int, default=30, help="of each kind, timed")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the servers (serving and publishing)"
    )
    parser.add_argument(
        "--keep-profiles", type=Path, metavar="DIR", help="with --profile: copy the .prof files"
    )
    # Internal: run one of the servers (the benchmark starts these itself).
    parser.add_argument("--serve", choices=["platform", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--page-file", help=argparse.SUPPRESS)
    parser.add_argument("--rate-limit", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        serve(arguments)
    else:
        sys.exit(main(arguments))
