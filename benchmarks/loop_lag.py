"""``/health`` latency while one request feeds a pathological input to a parser, against an
idle baseline measured in the same run.

The app (every installed plugin, embedded PostgreSQL and Redis on a temp dir) runs on this
process's event loop behind httpx's ASGI transport, as in the tests; a probe task asks
``/health`` every 10 ms, so its latency is how long the loop kept it waiting. Each attack
is one request (the review's three cases and a few linear ones); the table shows the
probe's p50/p99/max during it (counted from when each check was due), the platform's
loop-lag monitor's worst lag, and how long the request took. A stall longer than
``--break-off`` seconds is broken off (a timer signal raises inside the code holding the
loop) and shown with ``>=``.

    python benchmarks/loop_lag.py                 # 24 KB inputs (the review's sizes)
    python benchmarks/loop_lag.py --size 2000     # quicker
    python benchmarks/loop_lag.py --size 1000000  # the body limit (break-off bounds it)

Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, machine, median, percentile, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Broken(BaseException):
    """Raised in the code holding the loop once it has held it ``--break-off`` seconds."""


def paragraphs(size: int) -> str:
    out, total, i = [], 0, 0
    while total < size:
        word = f"w{i}\n\n"
        out.append(word)
        total += len(word)
        i += 1
    return "".join(out)[:size]


def cut(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


#: name -> (route under the group or clone, kind, text maker)
ATTACKS: dict[str, tuple[str, str, Callable[[int], str]]] = {
    "markdown ' *a' * n": ("source", "markdown", lambda n: cut(" *a", n)),
    "html '<a' * n": ("source", "html", lambda n: cut("<a", n)),
    "knowledge 'w1\\n\\nw2...'": ("knowledge", "", paragraphs),
    "text 'a' * n": ("source", "text", lambda n: "a" * n),
    "markdown 'a\\n' * n": ("source", "markdown", lambda n: cut("a\n", n)),
    "html nested tags": ("source", "html", lambda n: cut("<b>", n // 2) + cut("</b>", n // 2)),
}


async def probe(client: httpx.AsyncClient, latencies: list[float], stop: asyncio.Event) -> None:
    """A health check due every 10 ms; its latency counts from when it was due, so a
    stall while the probe waited for its next turn counts too."""
    due = time.perf_counter()
    while not stop.is_set():
        await client.get("/health")
        latencies.append(time.perf_counter() - due)
        due = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def breaking_off(monitor: Any, after: float) -> Any:
    def check(signum: int, frame: FrameType | None) -> None:
        if monitor.held_now() > after:
            raise Broken

    previous = signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, 0.25, 0.25)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def measure(
    client: httpx.AsyncClient, monitor: Any, send: Callable[[], Any] | None, args: Any
) -> list[object]:
    latencies: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(probe(client, latencies, stop))
    await asyncio.sleep(0.05)
    mark = monitor.mark()
    start = time.perf_counter()
    outcome = "idle"
    if send is None:
        await asyncio.sleep(args.idle)
    else:
        try:
            with breaking_off(monitor, args.break_off):
                response = await send()
            outcome = str(response.status_code)
        except Broken:
            outcome = "broken off"
    took = time.perf_counter() - start
    await asyncio.sleep(0.05)
    stop.set()
    await task
    held = monitor.max_lag_since(mark)
    ms = [x * 1000 for x in latencies]
    mark_ge = ">=" if outcome == "broken off" else ""
    return [
        f"{median(ms):.1f}",
        f"{percentile(ms, 99):.1f}",
        f"{mark_ge}{max(ms):.0f}",
        f"{mark_ge}{held * 1000:.0f}",
        f"{mark_ge}{took:.2f}",
        outcome,
    ]


async def bench(args: argparse.Namespace) -> None:
    from core.app import create_app
    from core.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="creator-bench-looplag-"))
    try:
        settings = load_settings(
            environ={},
            data_dir=work / "data",
            rate_limit_per_minute=0,
            worker=False,
            # the client's address: the API answers on the platform's own host only
            public_url="http://bench.local",
        )
        app = create_app(settings)
        log("starting the app (embedded PostgreSQL and Redis)")
        async with app.lifespan():
            platform = app.state.platform
            monitor = app.state.background.loop_lag
            person = await platform.directory.create_person("bench@example.test", "Bench")
            _, token = await platform.directory.issue_token(person.id, "bench")
            group = await platform.directory.create_group(person, slug="bench", name="Bench")
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench.local",
                headers={"Authorization": f"Bearer {token}"},
                timeout=None,
            ) as client:
                clones = f"/api/v1/clone/groups/{group.id}/clones"
                clone = (await client.post(clones, json={"name": "Bench"})).json()
                sources = f"{clones}/{clone['id']}/sources"
                knowledge = f"/api/v1/groups/{group.id}/knowledge"
                rows = [["idle baseline", *(await measure(client, monitor, None, args))]]
                for name, (route, kind, make) in ATTACKS.items():
                    text = make(args.size)
                    if route == "source":
                        body = {"kind": kind, "title": "Bench", "text": text}

                        def send(body: dict[str, Any] = body) -> Any:
                            return client.post(sources, json=body)
                    else:

                        def send(text: str = text) -> Any:
                            return client.post(knowledge, json={"text": text})

                    log(f"attack: {name}, {args.size} characters")
                    rows.append([name, *(await measure(client, monitor, send, args))])
        headers = [
            "during",
            "health p50 ms",
            "health p99 ms",
            "health max ms",
            "loop held ms",
            "request s",
            "answer",
        ]
        print(f"\n/health latency while one request parses {args.size} characters")
        print(f"({machine()})\n")
        print(table(headers, rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=24_000, help="characters per attack")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idle baseline")
    parser.add_argument(
        "--break-off", type=float, default=20.0, help="stop a stall after this many seconds"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(bench(parse_args()))
