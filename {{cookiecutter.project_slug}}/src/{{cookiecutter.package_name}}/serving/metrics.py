"""The server's own measurements, in Prometheus' format: requests, errors and latency per model
version and route, and the score distribution. With several worker processes every worker
writes its figures to PROMETHEUS_MULTIPROC_DIR and /metrics adds them up."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

# From 50 microseconds: a small XGBoost model answers one row in well under a millisecond.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
)  # fmt: skip
SCORE_BUCKETS = tuple(round(step / 20, 2) for step in range(1, 21))

REQUESTS = Counter(
    "model_requests", "Requests answered, by model version, route and HTTP status",
    ["version", "route", "status"],
)  # fmt: skip
ROWS = Counter("model_rows", "Rows scored, by model version and route", ["version", "route"])
ERRORS = Counter(
    "model_errors", "Requests a model failed to answer, by version and route", ["version", "route"]
)
LATENCY = Histogram(
    "model_request_seconds", "Time to answer, by model version and route",
    ["version", "route"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
SHADOW_DROPPED = Counter(
    "model_shadow_dropped", "Requests not shadowed because the shadow queue was full",
    ["version"],
)  # fmt: skip
SCORES = Histogram(
    "model_score", "Scores given, by model version and route", ["version", "route"],
    buckets=SCORE_BUCKETS,
)  # fmt: skip


def exposition() -> tuple[bytes, str]:
    """The figures of every worker (or of this process alone) and their content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
