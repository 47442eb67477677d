"""The server's answers, on their way to the inference log: kept in memory by the request and
written by a thread every few seconds, so that writing never slows an answer; the inputs' hashes
are computed there too, for every buffered row at once. A clean stop writes what is left."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ProjectError
from ..monitoring import scoring

Pending = tuple[pd.DataFrame, list[list[object]]]  # the inputs as the model took them, the rows


class LogBuffer:
    def __init__(self, path: Path, flush_seconds: float, hash_at: int) -> None:
        self.path = path
        self.flush_seconds = flush_seconds
        self.hash_at = hash_at  # where in a record the input's hash goes
        self._pending: list[Pending] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, inputs: pd.DataFrame, records: list[list[object]]) -> None:
        with self._lock:
            self._pending.append((inputs, records))

    def _hashed(self, pending: list[Pending]) -> list[list[object]]:
        """Every pending record with its input's hash: one hashing call per set of columns."""
        by_columns: dict[tuple[str, ...], list[Pending]] = {}
        for item in pending:
            by_columns.setdefault(tuple(item[0].columns), []).append(item)
        records = []
        for items in by_columns.values():
            inputs = pd.concat([frame for frame, _ in items], ignore_index=True)
            hashes = iter(np.asarray(scoring.input_hashes(inputs)))
            for _, rows in items:
                for row in rows:
                    row[self.hash_at] = next(hashes)
                    records.append(row)
        return records

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            scoring.append_log_records(self._hashed(pending), self.path)
        except (OSError, ProjectError) as error:
            # The answers were given; losing their log must be loud, never a crash of serving.
            with self._lock:
                self._pending[:0] = pending
            print(f"error: inference log not written, kept in memory: {error}", file=sys.stderr)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
