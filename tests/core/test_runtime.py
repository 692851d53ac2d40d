"""The embedded servers: start, keep data, stop with no orphans; external URLs start nothing."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import redis

from core.runtime import (
    TUNING_FILE,
    Runtime,
    machine_memory,
    pid_alive,
    shared_memory_limit,
    tuned_settings,
    write_tuning,
)
from core.settings import load_settings

TUNED = ("shared_buffers", "effective_cache_size", "maintenance_work_mem", "autovacuum_work_mem")


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="creator-runtime-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


def test_embedded_servers_start_keep_data_and_stop(data_dir):
    settings = load_settings(environ={}, data_dir=data_dir)

    async def write(url):
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept (value text)")
        await conn.execute("INSERT INTO kept VALUES ('still here')")
        ext = await conn.fetchval(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        )
        await conn.close()
        return ext

    async def read(url):
        conn = await asyncpg.connect(url)
        value = await conn.fetchval("SELECT value FROM kept")
        await conn.close()
        return value

    async def memory_settings(url):
        conn = await asyncpg.connect(url)
        sizes = {
            name: await conn.fetchval(f"SELECT pg_size_bytes(current_setting('{name}'))")
            for name in TUNED
        }
        await conn.close()
        return sizes

    with Runtime(settings) as runtime:
        assert runtime.embedded
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        pg_pid, redis_pid = runtime.postgres.pid, runtime.redis.pid
        assert pid_alive(pg_pid) and pid_alive(redis_pid)
        assert asyncio.run(write(runtime.database_url))  # pgvector is available
        client = redis.Redis.from_url(runtime.redis_url)
        client.set("queue-item", "kept")
        client.close()
    assert _wait_gone([pg_pid, redis_pid]) == []

    expected = {
        name: int(value.removesuffix("MB")) * 2**20
        for name, value in tuned_settings(machine_memory(), shared_memory_limit()).items()
    }
    with Runtime(settings) as runtime:
        assert asyncio.run(read(runtime.database_url)) == "still here"
        assert asyncio.run(memory_settings(runtime.database_url)) == expected
        conf = (data_dir / "postgres" / "postgresql.conf").read_text()
        assert conf.count(f"include_if_exists = '{TUNING_FILE}'") == 1  # once, two starts
        client = redis.Redis.from_url(runtime.redis_url)
        assert client.get("queue-item") == b"kept"  # snapshot written on shutdown
        client.close()


def test_memory_settings_follow_the_machine_within_bounds():
    gb, mb = 2**30, 2**20
    assert tuned_settings(1 * gb) == {
        "shared_buffers": "256MB",
        "effective_cache_size": "512MB",
        "maintenance_work_mem": "64MB",
        "autovacuum_work_mem": "64MB",
    }
    assert tuned_settings(8 * gb) == {
        "shared_buffers": "2048MB",
        "effective_cache_size": "4096MB",
        "maintenance_work_mem": "512MB",
        "autovacuum_work_mem": "256MB",
    }
    assert tuned_settings(256 * gb) == {
        "shared_buffers": "4096MB",
        "effective_cache_size": "16384MB",
        "maintenance_work_mem": "1024MB",
        "autovacuum_work_mem": "256MB",
    }
    assert tuned_settings(256 * mb)["shared_buffers"] == "128MB"  # PostgreSQL's default
    # a container's small /dev/shm bounds index builds (never below PostgreSQL's default)
    assert tuned_settings(16 * gb, shm=512 * mb)["maintenance_work_mem"] == "256MB"
    assert tuned_settings(16 * gb, shm=64 * mb)["maintenance_work_mem"] == "64MB"
    assert 0 < machine_memory() <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def test_the_tuning_file_is_readable_whatever_the_umask(data_dir):
    conf = data_dir / "postgresql.conf"
    conf.write_text("# initdb's\n")
    old = os.umask(0o077)
    try:
        write_tuning(data_dir, {"shared_buffers": "256MB"})
        write_tuning(data_dir, {"shared_buffers": "512MB"})  # the next start
    finally:
        os.umask(old)
    tuning = data_dir / TUNING_FILE
    assert tuning.stat().st_mode & 0o777 == 0o644
    assert "shared_buffers = '512MB'" in tuning.read_text()
    assert conf.read_text().count(f"include_if_exists = '{TUNING_FILE}'") == 1
    assert sorted(p.name for p in data_dir.iterdir()) == [TUNING_FILE, "postgresql.conf"]


def test_configured_urls_start_nothing(creator_servers):
    settings = load_settings(
        environ={},
        database_url=creator_servers.database_url,
        redis_url=creator_servers.redis_url,
    )
    with Runtime(settings) as runtime:
        assert not runtime.embedded
        assert runtime.postgres is None and runtime.redis is None
        assert runtime.database_url == creator_servers.database_url


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_embedded_servers_on_signal(data_dir, sig):
    port = _free_port()
    env = {**os.environ, "CREATOR_DATA_DIR": str(data_dir), "CREATOR_PLUGINS": ""}
    env.pop("CREATOR_DATABASE_URL", None)
    env.pop("CREATOR_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200
        server_pids = [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if str(data_dir) in " ".join(p.info["cmdline"] or [])
        ]
        server_pids += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert server_pids, "expected embedded postgres and redis processes"
        proc.send_signal(sig)
        output = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, output
        assert "Stopped embedded PostgreSQL and Redis." in output
        assert _wait_gone(server_pids) == [], output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
