"""The inference log as a folder of days: a window reads its days only, closed days are
compacted to Parquet without changing a value, writers racing a compaction lose nothing, and
an earlier version's one-file log is moved in, not dropped."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.monitoring import day_partitions, inference_log
from {{ cookiecutter.package_name }}.monitoring.inference_log import CLOSED, LOG_COLUMNS, OPEN

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def decisions(when: datetime, count: int, first: int = 0) -> pd.DataFrame:
    """`count` batch decisions at `when`, keyed k<first>.. (one key the text "NA", one empty
    sensitive value: a round trip must keep both as they are)."""
    keys = [f"k{first + n}" for n in range(count)]
    keys[0] = "NA"
    rows = {
        "timestamp": when.isoformat(timespec="seconds"), "model_name": "m", "model_version": "2",
        "route": "batch", "request_id": "", "row": [str(n) for n in range(count)],
        "row_key": keys, "input_sha256": "h", "probability": "0.25", "label": "no",
        "latency_ms": "", "sensitive": ["", *["F"] * (count - 1)],
    }  # fmt: skip
    return pd.DataFrame(rows)[LOG_COLUMNS]


def everything(log: Path, **window: datetime) -> pd.DataFrame:
    return pd.concat(inference_log.chunks(log, LOG_COLUMNS, **window), ignore_index=True)


def test_a_window_reads_only_its_days(tmp_path: Path) -> None:
    log = tmp_path / "inference_log"
    for days_ago in (9, 2, 1):
        inference_log.append_frame(decisions(NOW - timedelta(days=days_ago), 3), log)
    assert sorted(day_partitions.days(log)) == [(NOW - timedelta(days=n)).date() for n in (9, 2, 1)]
    # A day outside the window is never opened: a broken file there changes nothing.
    (day_partitions.folder(log, (NOW - timedelta(days=9)).date()) / OPEN).write_text("x,y\n1,2\n")
    week = inference_log.since(log, NOW - timedelta(days=3), ["probability"], until=NOW)
    assert len(week) == 6
    with pytest.raises(ProjectError, match="has other columns than this project's inference log"):
        everything(log)


def test_compaction_keeps_every_value_and_a_later_append(tmp_path: Path) -> None:
    log = tmp_path / "inference_log"
    old, yesterday = NOW - timedelta(days=5), NOW - timedelta(days=1)
    inference_log.append_frame(decisions(old, 4), log)
    inference_log.append_frame(decisions(yesterday, 2), log)
    before = everything(log)

    compacted, deleted = inference_log.compact(log, NOW, keep_days=0)

    assert compacted == [old.date()] and deleted == []
    old_day = day_partitions.folder(log, old.date())
    assert sorted(p.name for p in old_day.iterdir()) == [CLOSED]  # yesterday stays open
    assert (day_partitions.folder(log, yesterday.date()) / OPEN).exists()
    pd.testing.assert_frame_equal(everything(log), before)
    assert everything(log)["row_key"].tolist()[0] == "NA"
    # A replay written to the compacted day is read beside it, and folded in next time.
    inference_log.append_frame(decisions(old, 3, first=10), log)
    assert len(everything(log)) == 9
    inference_log.compact(log, NOW, keep_days=0)
    assert sorted(p.name for p in old_day.iterdir()) == [CLOSED] and len(everything(log)) == 9


def test_retention_deletes_whole_days_past_it(tmp_path: Path) -> None:
    log = tmp_path / "inference_log"
    for days_ago in (40, 20, 0):
        inference_log.append_frame(decisions(NOW - timedelta(days=days_ago), 2), log)
    _, deleted = inference_log.compact(log, NOW, keep_days=30)
    assert deleted == [(NOW - timedelta(days=40)).date()]
    assert len(everything(log)) == 4


def _write_many(log: Path, first: int) -> None:
    for batch in range(40):
        inference_log.append_frame(decisions(NOW - timedelta(days=5), 25, first + batch * 25), log)


def test_writers_racing_a_compaction_lose_no_row(tmp_path: Path) -> None:
    """Two processes append to a closed day while it is compacted again and again: every row
    arrives once, whole."""
    log = tmp_path / "inference_log"
    writers = [multiprocessing.Process(target=_write_many, args=(log, n * 10_000)) for n in (1, 2)]
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        inference_log.compact(log, NOW, keep_days=0)
    assert all(writer.exitcode == 0 for writer in writers)
    rows = everything(log)
    assert len(rows) == 2 * 40 * 25
    assert rows["row_key"].value_counts().max() == 80  # "NA": the first key of every batch
    assert rows.loc[rows["row_key"] != "NA", "row_key"].is_unique


def test_an_earlier_one_file_log_is_moved_in_not_dropped(tmp_path: Path) -> None:
    log = tmp_path / "inference_log"
    old = decisions(NOW - timedelta(days=3), 5).drop(columns=["row_key"])  # before row_key
    old.to_csv(log.with_suffix(".csv"), index=False)
    with pytest.raises(ProjectError, match=r"inference_log.csv is an inference log in one file"):
        everything(log)

    assert inference_log.fold_in_single_file(log) == 5
    moved = everything(log)
    assert len(moved) == 5 and moved["row_key"].isna().all()
    assert (tmp_path / "inference_log.csv.folded").exists()
    assert not log.with_suffix(".csv").exists()
