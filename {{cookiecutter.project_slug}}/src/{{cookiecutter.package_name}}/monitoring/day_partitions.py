"""Folders of days: how the inference log and the outcome store keep their rows, one folder per
day (UTC) of decision, named day=YYYY-MM-DD as Hive-style partitions are, so that reading a
window opens only the window's days and a retention setting deletes whole days."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

DAY_FOLDER = "day="


def folder(root: Path, day: date) -> Path:
    return root / f"{DAY_FOLDER}{day.isoformat()}"


def _day(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.name.removeprefix(DAY_FOLDER))
    except ValueError:
        return None


def days(root: Path) -> dict[date, Path]:
    """The day folders under `root`, oldest first (nothing where `root` does not exist)."""
    if not root.is_dir():
        return {}
    found = {_day(path): path for path in root.glob(f"{DAY_FOLDER}*") if path.is_dir()}
    return {day: path for day, path in sorted(found.items()) if day is not None}


def between(root: Path, start: datetime, end: datetime) -> dict[date, Path]:
    """The day folders that can hold a time of [start, end]."""
    return {day: path for day, path in days(root).items() if start.date() <= day <= end.date()}


def prune(root: Path, keep_days: int, now: datetime) -> list[date]:
    """Delete the days older than `keep_days` before `now` (0 keeps all); the days deleted."""
    if not keep_days:
        return []
    oldest = (now - timedelta(days=keep_days)).date()
    gone = [day for day in days(root) if day < oldest]
    for day in gone:
        shutil.rmtree(folder(root, day))
    return gone
