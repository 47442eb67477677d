"""The inference log: every decision a model made, by batch scoring or by the server, in one
schema, written and read only here.

It is a folder of days (UTC, by the time of the decision), so that a window of a week reads a
week, however long the history:

    predictions/inference_log/day=2026-12-06/decisions.parquet   a closed day, compacted
    predictions/inference_log/day=2026-12-07/decisions.csv       the open day, appended to

Writers append CSV lines to the day's file, one write per batch or per server flush, under a
lock (processes writing at once never interleave a line). Days before yesterday are compacted
into Parquet (columns read alone, a tenth of the size); a day can hold both, where a replay of
past decisions or a server's last flush after midnight wrote to a compacted day, and readers read
both. Both keep every cell as the text the writer gave it: one reader for either, and a
compaction cannot change a value.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ProjectError
from . import day_partitions

LOG_COLUMNS = [
    "timestamp", "model_name", "model_version", "route", "request_id", "row", "row_key",
    "input_sha256", "probability", "label", "latency_ms", "sensitive",
]  # fmt: skip
BATCH = "batch"  # the route of rows scored by `predict`
OPEN, CLOSED = "decisions.csv", "decisions.parquet"
HEADER = (",".join(LOG_COLUMNS) + "\n").encode("utf-8")
SCHEMA = pa.schema([(name, pa.string()) for name in LOG_COLUMNS])
CHUNK_ROWS = 500_000  # a day is read in pieces: memory stays flat however busy the day
# Rows hashed or written as text in one call: a call into pandas or the csv module holds the
# GIL until it returns, and one over a second's worth of a server's answers would hold its next
# answers back for tens of milliseconds.
ROWS_AT_ONCE = 500


def single_file_problem(log: Path) -> str | None:
    """What is wrong where the log is still one file, as earlier versions wrote it."""
    if log.is_file():
        return (
            f"predict.log: {log} is one file, the inference log of an earlier version; the log "
            f"is now a folder of days: set predict.log to {log.with_suffix('')} in params.yaml "
            "and run `make compact-log`"
        )
    old = log.with_suffix(".csv")
    if old.is_file():
        return (
            f"{old} is an inference log in one file, as an earlier version wrote it: "
            f"`make compact-log` moves its rows into {log}/, a folder per day"
        )
    return None


def check(log: Path) -> None:
    problem = single_file_problem(log)
    if problem:
        raise ProjectError(problem)


def _open_locked(path: Path, flags: int, lock: int) -> int | None:
    """`path` opened and locked; None where it does not exist, or stopped existing (compacted)
    while this waited for the lock. A writer (O_CREAT) then creates it anew."""
    while True:
        try:
            descriptor = os.open(path, flags, 0o644)
        except FileNotFoundError:
            return None
        fcntl.flock(descriptor, lock)
        if os.fstat(descriptor).st_nlink:
            return descriptor
        os.close(descriptor)
        if not flags & os.O_CREAT:
            return None


def _header_problem(path: Path, descriptor: int) -> str | None:
    header = os.pread(descriptor, len(HEADER), 0)
    if header in (b"", HEADER):
        return None
    return (
        f"{path} has other columns than this project's inference log "
        f"({header.decode('utf-8', 'replace').strip()}): move it aside and score again"
    )


def _append_to_day(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = _open_locked(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, fcntl.LOCK_EX)
    assert descriptor is not None  # O_CREAT: created where missing
    try:
        problem = _header_problem(path, descriptor)
        if problem:
            raise ProjectError(problem)
        lines = text.encode("utf-8")
        os.write(descriptor, lines if os.fstat(descriptor).st_size else HEADER + lines)
    finally:
        os.close(descriptor)  # and the lock with it


def _day_file(log: Path, day: date) -> Path:
    return day_partitions.folder(log, day) / OPEN


def append_records(records: Sequence[Sequence[object]], log: Path) -> None:
    """Add rows given in LOG_COLUMNS' order (the server's buffered answers, their timestamp an
    ISO time in UTC) to their days."""
    check(log)
    by_day: dict[str, list[Sequence[object]]] = {}
    for record in records:
        by_day.setdefault(str(record[0])[:10], []).append(record)
    for day, rows in by_day.items():
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        for start in range(0, len(rows), ROWS_AT_ONCE):
            writer.writerows(rows[start : start + ROWS_AT_ONCE])
        _append_to_day(_day_file(log, date.fromisoformat(day)), text.getvalue())


def append_frame(rows: pd.DataFrame, log: Path) -> None:
    """Add rows with LOG_COLUMNS (batch scoring's) to their days."""
    check(log)
    _append_frame_unchecked(rows, log)


def _append_frame_unchecked(rows: pd.DataFrame, log: Path) -> None:
    days = logged_at(rows).dt.date
    for day, part in rows[LOG_COLUMNS].groupby(days, sort=True):
        text = part.to_csv(index=False, header=False, lineterminator="\n")
        _append_to_day(_day_file(log, day), text)


def _read_open_day(path: Path, descriptor: int, columns: list[str]) -> Iterator[pd.DataFrame]:
    problem = _header_problem(path, descriptor)
    if problem:
        raise ProjectError(problem)
    if not os.fstat(descriptor).st_size:  # created by a writer that has not written yet
        return
    with os.fdopen(os.dup(descriptor), encoding="utf-8") as text:
        yield from pd.read_csv(
            text, usecols=columns, chunksize=CHUNK_ROWS, dtype=str,
            keep_default_na=False, na_values=[""],
        )  # fmt: skip


def _day_chunks(folder: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """One day's rows of `columns`: the compacted part, then the open part (under a shared
    lock, so that a compaction cannot move rows between the two while they are read)."""
    descriptor = _open_locked(folder / OPEN, os.O_RDONLY, fcntl.LOCK_SH)
    try:
        if (folder / CLOSED).exists():
            closed = pq.ParquetFile(folder / CLOSED)
            for batch in closed.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
                rows = batch.to_pandas()
                yield rows.mask(rows.isna(), np.nan)  # a missing cell as the CSV's reader gives it
        if descriptor is not None:
            yield from _read_open_day(folder / OPEN, descriptor, columns)
    finally:
        if descriptor is not None:
            os.close(descriptor)


def chunks(
    log: Path, columns: list[str], start: datetime | None = None, end: datetime | None = None
) -> Iterator[pd.DataFrame]:
    """The log's `columns` as text (an empty cell is missing), a piece at a time, oldest day
    first, of the days that can hold a time of [start, end] (all where not given); nothing
    where there is no log yet."""
    check(log)
    for day, folder in day_partitions.days(log).items():
        if (start is None or day >= start.date()) and (end is None or day <= end.date()):
            yield from _day_chunks(folder, columns)


def logged_at(rows: pd.DataFrame) -> pd.Series:
    """When each log row was written (UTC)."""
    return pd.to_datetime(rows["timestamp"], utc=True, format="ISO8601")


def since(
    log: Path, start: datetime, columns: list[str], until: datetime | None = None
) -> pd.DataFrame:
    """The log's rows (of `columns`, with their time) from `start` on (and before `until`):
    only those days are read."""
    wanted = ["timestamp", *[name for name in columns if name != "timestamp"]]
    kept = []
    for chunk in chunks(log, wanted, start, until):
        when = logged_at(chunk)
        inside = when >= pd.Timestamp(start)
        if until is not None:
            inside &= when < pd.Timestamp(until)
        kept.append(chunk[inside])
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=wanted)


def _compact_day(folder: Path) -> bool:
    """Fold the day's open file into its Parquet file; whether there was one to fold."""
    descriptor = _open_locked(folder / OPEN, os.O_RDONLY, fcntl.LOCK_EX)
    if descriptor is None:
        return False
    try:
        parts = list(_read_open_day(folder / OPEN, descriptor, LOG_COLUMNS))
        if (folder / CLOSED).exists():
            parts.insert(0, pd.read_parquet(folder / CLOSED))
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LOG_COLUMNS)
        partial = folder / f".{CLOSED}.partial"
        table = pa.Table.from_pandas(rows[LOG_COLUMNS], schema=SCHEMA, preserve_index=False)
        pq.write_table(table, partial, compression="zstd")
        partial.replace(folder / CLOSED)
        (folder / OPEN).unlink()  # under the lock: a writer waiting for it starts a new file
        return True
    finally:
        os.close(descriptor)


def compact(log: Path, now: datetime, keep_days: int) -> tuple[list[date], list[date]]:
    """Compact the days before yesterday (yesterday stays open for a server's last flush) and
    delete those older than `keep_days` (0 keeps all): the days compacted, and deleted."""
    check(log)
    deleted = day_partitions.prune(log, keep_days, now)
    last_closed = now.date() - timedelta(days=2)
    days = day_partitions.days(log).items()
    compacted = [day for day, folder in days if day <= last_closed and _compact_day(folder)]
    return compacted, deleted


def fold_in_single_file(log: Path) -> int:
    """Move the rows of an earlier version's one-file log (`log` + .csv) into the folder of days
    (columns it lacks left empty); the file is kept, renamed .folded. The rows moved."""
    old = log.with_suffix(".csv")
    if not old.is_file() or log.is_file():
        return 0
    moved = 0
    frames = pd.read_csv(old, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS)
    for frame in frames:
        if "timestamp" not in frame:
            raise ProjectError(f"{old} is not an inference log: it has no timestamp column")
        _append_frame_unchecked(frame.reindex(columns=LOG_COLUMNS, fill_value=""), log)
        moved += len(frame)
    old.rename(old.with_name(f"{old.name}.folded"))
    return moved
