"""UUIDv7 ids: version and variant bits, embedded time, strict ordering within a process."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from core.ontology import ids
from core.ontology.ids import uuid7


def _ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_version_and_variant() -> None:
    for _ in range(100):
        value = uuid7()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert str(value)[14] == "7"  # the version nibble as text, as other systems read it


def test_embeds_the_current_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= _ms(value) <= after + 1


def test_strictly_increasing_over_many_calls() -> None:
    values = [uuid7() for _ in range(20_000)]
    assert len(set(values)) == len(values)
    assert all(a.int < b.int for a, b in itertools.pairwise(values))
    # PostgreSQL compares uuids byte by byte, and the text form sorts the same way.
    assert sorted(values, key=lambda v: v.bytes) == values
    assert sorted(values, key=str) == values


def test_monotonic_when_more_ids_than_the_counter_share_a_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = time.time_ns()
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: frozen))
    values = [uuid7() for _ in range(10_000)]  # > 4096 ids in one (frozen) millisecond
    assert len(set(values)) == len(values)
    assert all(a.int < b.int for a, b in itertools.pairwise(values))
    assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in values)
    # Borrowing later milliseconds keeps the embedded time close to the real one.
    assert _ms(values[-1]) - frozen // 1_000_000 <= 5


def test_monotonic_when_the_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time_ns()
    clock = iter([now, now - 5_000_000_000, now - 10_000_000_000, now])
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: next(clock)))
    values = [uuid7() for _ in range(4)]
    assert all(a.int < b.int for a, b in itertools.pairwise(values))


def test_unique_across_threads() -> None:
    results: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def work(out: list[uuid.UUID]) -> None:
        out.extend(uuid7() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [v for out in results for v in out]
    assert len(set(everything)) == len(everything) == 16_000
    for out in results:  # each thread's own sequence is ordered too
        assert all(a.int < b.int for a, b in itertools.pairwise(out))
