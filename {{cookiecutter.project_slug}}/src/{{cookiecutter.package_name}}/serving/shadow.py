"""Shadow scoring off every request's path: the answer is sent, and the candidate scores a copy
of the request in a thread of its own. A bounded queue keeps a slow candidate from holding
memory or answers back: a request that finds it full is not shadowed, and that is counted
(`model_shadow_dropped_total`). A clean stop scores what is queued first."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from . import metrics
from .answer import Table
from .live import Loaded

Job = tuple[Loaded, Table, str]  # the candidate, the request's rows, its id
QUEUED_AT_MOST = 1000  # requests waiting to be shadowed


class ShadowQueue:
    def __init__(self, score: Callable[[Loaded, Table, str], None]) -> None:
        self.score = score
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
        while (job := self._jobs.get()) is not None:
            self.score(*job)

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)  # after what is queued: it is all scored and logged
            self._thread.join()
