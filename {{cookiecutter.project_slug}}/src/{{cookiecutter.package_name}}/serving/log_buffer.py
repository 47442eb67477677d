"""The server's answers, on their way to the inference log: kept in memory by the request and
written by a thread every few seconds, so that writing never slows an answer; the inputs' hashes
are computed there too, for every buffered row at once. A clean stop writes what is left."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..errors import ProjectError
from ..monitoring import inference_log, scoring
from ..monitoring.inference_log import ROWS_AT_ONCE

Pending = tuple[dict[str, Any], list[list[object]]]  # typed inputs as the model took them, rows


def _stacked(parts: list[Any]) -> Any:
    """One column of many requests' typed inputs, end to end (a category keeps its levels)."""
    if isinstance(parts[0], pd.Categorical):
        return union_categoricals(parts)
    return np.concatenate(parts)


def _pieces(pending: list[Pending]) -> list[list[Pending]]:
    """The pending requests in order, in pieces of one set of columns and at most
    ROWS_AT_ONCE rows (a larger request makes a piece of its own)."""
    pieces: list[list[Pending]] = []
    rows = 0
    for item in pending:
        size = len(item[1])
        last = pieces[-1] if pieces else None
        if last is None or rows + size > ROWS_AT_ONCE or list(item[0]) != list(last[0][0]):
            pieces.append([item])
            rows = size
        else:
            last.append(item)
            rows += size
    return pieces


class LogBuffer:
    def __init__(self, path: Path, flush_seconds: float, hash_at: int, keep_days: int) -> None:
        self.path = path
        self.flush_seconds = flush_seconds
        self.keep_days = keep_days  # predict.log_retention_days
        self._compacted_on: date | None = None
        self.hash_at = hash_at  # where in a record the input's hash goes
        self._pending: list[Pending] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, inputs: dict[str, Any], records: list[list[object]]) -> None:
        with self._lock:
            self._pending.append((inputs, records))

    def _hashed(self, pending: list[Pending]) -> list[list[object]]:
        """Every pending record with its input's hash, hashed ROWS_AT_ONCE rows at a time
        (the answers of this worker wait for the GIL while one call runs)."""
        records = []
        for piece in _pieces(pending):
            names = list(piece[0][0])
            inputs = pd.DataFrame({n: _stacked([typed[n] for typed, _ in piece]) for n in names})
            hashes = iter(np.asarray(scoring.input_hashes(inputs)))
            for _, rows in piece:
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
            inference_log.append_records(self._hashed(pending), self.path)
        except (OSError, ProjectError) as error:
            # The answers were given; losing their log must be loud, never a crash of serving.
            with self._lock:
                self._pending[:0] = pending
            print(f"error: inference log not written, kept in memory: {error}", file=sys.stderr)

    def compact(self) -> None:
        """Once a day, the days that closed compacted (and those past retention deleted)."""
        now = datetime.now(UTC)
        if self._compacted_on == now.date():
            return
        try:
            inference_log.compact(self.path, now, self.keep_days)
            self._compacted_on = now.date()
        except (OSError, ProjectError) as error:  # tried again at the next flush
            print(f"error: inference log not compacted: {error}", file=sys.stderr)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
            self.compact()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
