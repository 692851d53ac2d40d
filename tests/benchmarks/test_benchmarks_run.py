"""Every benchmark still runs: each is started at a tiny size and must finish cleanly.

No figures are checked here (timing belongs to ``benchmarks/``, never to the suite); this
only keeps the scripts from rotting as the platform changes under them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMALL_RUNS = {
    "things_api.py": ["--requests", "60", "--warmup", "10", "--rounds", "2"],
    "event_streams.py": ["--streams", "40", "--groups", "4", "--rounds", "3"],
    "event_bus.py": ["--events", "400", "--single", "100", "--relay", "200", "--rounds", "1"],
    "knowledge_search.py": ["--rows", "3000", "--queries", "10", "--ingest", "10"],
    "cold_start.py": ["--repeat", "1", "--idle", "0.5"],
    "website_serving.py": ["--requests", "60", "--warmup", "10", "--publishes", "3"],
    "loop_lag.py": ["--size", "2000", "--idle", "0.5"],
    "clone.py": (
        "--rows 2000 --queries 5 --questions 5 --sources 12 --train-sources 1 --pool 30"
    ).split(),
}


def test_every_benchmark_has_a_small_run():
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    scripts.discard("knowledge_models.py")  # a one-off model comparison, run by hand
    assert scripts == set(SMALL_RUNS)


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_benchmark_runs(script):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *SMALL_RUNS[script]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "|" in result.stdout  # it printed its table
