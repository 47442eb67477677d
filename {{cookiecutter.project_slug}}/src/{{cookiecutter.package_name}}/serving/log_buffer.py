"""The server's answers, on their way to the inference log: kept in memory by the request and
written by a thread every few seconds, so that writing never slows an answer; a clean stop
writes what is left."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import ProjectError
from ..monitoring import scoring


class LogBuffer:
    def __init__(self, path: Path, flush_seconds: float) -> None:
        self.path = path
        self.flush_seconds = flush_seconds
        self._records: list[Sequence[object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, records: list[Sequence[object]]) -> None:
        with self._lock:
            self._records.extend(records)

    def flush(self) -> None:
        with self._lock:
            records, self._records = self._records, []
        try:
            scoring.append_log_records(records, self.path)
        except (OSError, ProjectError) as error:
            # The answers were given; losing their log must be loud, never a crash of serving.
            with self._lock:
                self._records[:0] = records
            print(f"error: inference log not written, kept in memory: {error}", file=sys.stderr)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
