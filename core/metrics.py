"""Prometheus metrics every part of core records; served at ``/metrics``.

Defined in one module so each subsystem imports the metric it records and the exposition
shows one consistent set of names.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "creator_http_request_duration_seconds",
    "HTTP request latency by method, route template and status.",
    ["method", "route", "status"],
)
EVENTS_RELAYED = Counter(
    "creator_events_relayed_total", "Committed events handed to subscribers.", ["type"]
)
EVENT_LAG = Histogram(
    "creator_event_lag_seconds",
    "Time from an event's commit to its dispatch to subscribers.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600),
)
EVENT_HANDLER_FAILURES = Counter(
    "creator_event_handler_failures_total",
    "Event handler runs that raised, by handler.",
    ["handler"],
)
JOBS = Counter("creator_jobs_total", "Background job runs by job and outcome.", ["job", "outcome"])
EMBEDDINGS = Counter("creator_embeddings_total", "Texts embedded, by provider.", ["provider"])
QUERY_VECTORS = Counter(
    "creator_query_vectors_total",
    "Search query vectors, by source: embedded, or one of the group's recent queries.",
    ["source"],
)
LOOP_LAG = Histogram(
    "creator_event_loop_lag_seconds",
    "How late the event loop woke a task that slept a short interval: how long it was held.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOOP_LAG_LAST = Gauge(
    "creator_event_loop_lag_last_seconds", "The event loop's most recently measured lag."
)
