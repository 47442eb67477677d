"""`make load-test`: many requests at a model server, as many at once as asked, each with its own
request id; what came back, how fast, and which route answered. Point it at any deployment."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ..pipeline import raw_data
from ..pipeline.contract import Contract


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failed: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    routes: dict[str, int]
    failures: list[str] = field(repr=False)  # the first few, to say why

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float | None:
        """None when no request was answered (JSON has no NaN)."""
        if not self.latencies_ms:
            return None
        return round(float(np.quantile(self.latencies_ms, share)), 3)

    def summary(self) -> dict[str, Any]:
        answered = sum(self.routes.values()) or 1
        return {
            "requests": self.requests,
            "failed": self.failed,
            "per_second": round(self.per_second, 1),
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "route_shares": {r: round(n / answered, 4) for r, n in sorted(self.routes.items())},
            "first_failures": self.failures[:3],
        }


# Rows a load test sends are drawn from this many of the data's (all of a CSV file's).
REQUEST_ROWS = 10_000


def request_rows(path: Path, contract: Contract) -> list[dict[str, Any]]:
    """The rows of a CSV (or a sample of a folder of Parquet files) as a caller sends them: the
    contract's columns, no target, JSON values."""
    frame = raw_data.read_sample(path, contract, REQUEST_ROWS)
    frame = frame.drop(columns=[contract.target.name], errors="ignore")
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return rows


async def _run(
    url: str, rows: list[dict[str, Any]], requests: int, concurrency: int, batch: int
) -> LoadResult:
    latencies: list[float] = []
    routes: Counter[str] = Counter()
    failures: list[str] = []
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def sender(client: httpx.AsyncClient) -> None:
        for n in queue:
            body = [rows[(n * batch + i) % len(rows)] for i in range(batch)]
            started = time.perf_counter()
            try:
                said = await client.post(
                    "/predict", json=body if batch > 1 else body[0],
                    headers={"X-Request-ID": f"load-{n}"},
                )  # fmt: skip
            except httpx.HTTPError as error:
                failures.append(f"request {n}: {error!r}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if said.status_code != 200:
                failures.append(f"request {n}: {said.status_code} {said.text[:200]}")
                continue
            routes[said.json()["route"]] += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return LoadResult(requests, len(failures), seconds, latencies, dict(routes), failures)


def run(
    url: str, rows: list[dict[str, Any]], requests: int, concurrency: int, batch: int = 1
) -> LoadResult:
    """`requests` requests of `batch` rows each, `concurrency` at a time."""
    return asyncio.run(_run(url, rows, requests, concurrency, batch))
