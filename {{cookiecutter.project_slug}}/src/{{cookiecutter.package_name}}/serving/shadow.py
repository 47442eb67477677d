"""Shadow scoring off every request's path: the answer is sent, and the candidate scores a copy of
the request in a thread of its own. The thread takes what is queued together, waiting a moment
for more (BATCH_WAIT_SECONDS), and scores it in one call: one request's worth of the candidate's
work per answer costs the next answers as much again in a held GIL, a batch's a few rows' more.

A bounded queue keeps a slow candidate from holding memory or answers back: a request that finds
it full is not shadowed, and that is counted (`model_shadow_dropped_total`). A clean stop scores
what is queued first."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from . import answer, metrics
from .answer import Table
from .live import Loaded

Job = tuple[Loaded, Table, str]  # the candidate, the request's rows, its id
QUEUED_AT_MOST = 1000  # requests waiting to be shadowed
BATCH_WAIT_SECONDS = 0.05  # how long the first request of a batch waits for others
BATCH_ROWS_AT_MOST = 1000  # rows scored in one call


def _by_candidate(batch: list[Job]) -> list[list[Job]]:
    """The batch in runs of one candidate (a switch mid-batch starts another), in order."""
    runs: list[list[Job]] = []
    for job in batch:
        if runs and runs[-1][0][0] is job[0]:
            runs[-1].append(job)
        else:
            runs.append([job])
    return runs


class ShadowQueue:
    def __init__(self, score: Callable[[list[Job]], None]) -> None:
        self.score = score  # takes jobs of one candidate, in the order they came
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=QUEUED_AT_MOST)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, candidate: Loaded, table: Table, request_id: str) -> None:
        try:
            self._jobs.put_nowait((candidate, table, request_id))
        except queue.Full:
            metrics.SHADOW_DROPPED.labels(str(candidate.version.number)).inc()

    def _run(self) -> None:
        stopping = False
        while not stopping and (first := self._jobs.get()) is not None:
            batch, stopping = self._batch(first)
            for jobs in _by_candidate(batch):
                self.score(jobs)

    def _batch(self, first: Job) -> tuple[list[Job], bool]:
        """`first` and what comes within BATCH_WAIT_SECONDS of it, up to BATCH_ROWS_AT_MOST
        rows; and whether the stop came with it."""
        batch, rows = [first], answer.size(first[1])
        until = time.monotonic() + BATCH_WAIT_SECONDS
        while rows < BATCH_ROWS_AT_MOST:
            try:
                job = self._jobs.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
            rows += answer.size(job[1])
        return batch, False

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)  # after what is queued: it is all scored and logged
            self._thread.join()
