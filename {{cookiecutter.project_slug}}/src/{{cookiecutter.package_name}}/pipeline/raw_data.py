"""The training data's two forms (data.raw): one CSV file, or a folder of Parquet files for data
a CSV would make too large, which DVC tracks as one. A folder is read in parts (each row group
of each file, the files in name order): every part is written as CSV text in memory and read by
the reader that reads a CSV, so a number, a missing cell or a stray word means the same in
either form, and the same rows reach the same split on either engine."""

from __future__ import annotations

import glob
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from . import contract as contracts
from .contract import Contract, ContractError

PARQUET = ".parquet"


@dataclass(frozen=True)
class Part:
    """One row group of one Parquet file: the unit a worker reads, bounded by the writer's row
    group size (a million rows by default), however large the file. It is read with the
    folder's columns: those of every file, a column a file lacks as missing values (a later
    export that gained or lost a column reads as the CSV of all the rows would)."""

    file: Path
    row_group: int
    columns: tuple[str, ...]


def is_folder(path: Path) -> bool:
    return path.is_dir()


def is_parquet(path: Path) -> bool:
    """Data read as Parquet: a folder of Parquet files, or one such file."""
    return path.is_dir() or path.suffix == PARQUET


def parquet_files(folder: Path) -> list[Path]:
    """The folder's Parquet files (in sub-folders too), in name order: the rows' order; one
    Parquet file is a folder of itself."""
    if folder.is_file():
        return [folder]
    files = sorted(path for path in folder.rglob(f"*{PARQUET}") if path.is_file())
    if not files:
        raise ContractError(
            f"{folder}: no {PARQUET} files in it; the training data is a CSV file or a folder "
            "of Parquet files"
        )
    return files


def matching_files(pattern: str) -> list[Path]:
    """The Parquet files a folder or a glob (`data/*.parquet`) names, in name order."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        return parquet_files(path)
    # glob.glob: the pattern may be absolute, which Path.glob does not take.
    files = sorted(Path(name) for name in glob.glob(str(path), recursive=True))  # noqa: PTH207
    files = [file for file in files if file.is_file() and file.suffix == PARQUET]
    if not files:
        raise ContractError(
            f"DATA={pattern}: names no CSV file, folder or {PARQUET} files; give a CSV, a "
            "folder of Parquet files, or a glob of them (quoted: DATA='dir/*.parquet')"
        )
    return files


def _parquet(file: Path):  # type: ignore[no-untyped-def]  # pyarrow ships no type hints
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise ContractError(f"{file}: not a readable Parquet file: {error}") from None


def columns(folder: Path) -> tuple[str, ...]:
    """Every column of the folder's files, in the order the files first name them (from the
    files' footers: no data is read)."""
    return _columns({file: _parquet(file) for file in parquet_files(folder)})


def _columns(opened: dict[Path, Any]) -> tuple[str, ...]:
    names = []
    for file, parquet in opened.items():
        named = parquet.schema_arrow.names
        twice = sorted({name for name in named if named.count(name) > 1})
        if twice:
            raise ContractError(f"{file}: column(s) {', '.join(twice)} appear twice; rename one")
        names += named
    return tuple(dict.fromkeys(names))


def parts(folder: Path) -> list[Part]:
    """Every row group of every Parquet file of the folder, in the rows' order."""
    opened = {file: _parquet(file) for file in parquet_files(folder)}  # each footer read once
    names = _columns(opened)
    found = [
        Part(file, group, names)
        for file, parquet in opened.items()
        for group in range(parquet.num_row_groups)
    ]
    if not found:
        raise ContractError(f"{folder}: its Parquet files hold no rows")
    return found


def row_count(folder: Path) -> int:
    """The folder's rows, from the files' footers (no data is read)."""
    return sum(_parquet(file).metadata.num_rows for file in parquet_files(folder))


def _as_csv(frame: pd.DataFrame, name: str) -> IO[bytes]:
    stream = io.BytesIO(frame.to_csv(index=False, lineterminator="\n").encode())
    stream.name = name  # what a problem names
    return stream


def part_csv(part: Part, rows: int | None = None) -> IO[bytes]:
    """One part as the CSV text that holds its rows (its first `rows` rows, when given)."""
    parquet = _parquet(part.file)
    try:
        if rows is None:
            table = parquet.read_row_group(part.row_group)
        else:
            table = next(parquet.iter_batches(batch_size=max(rows, 1)), None)
            table = parquet.schema_arrow.empty_table() if table is None else table
    except (OSError, ValueError) as error:
        raise ContractError(f"{part.file}: not a readable Parquet file: {error}") from None
    # Whole numbers stay whole where a row group has missing ones (1, not 1.0: a key's text).
    frame = table.to_pandas(integer_object_nulls=True)
    frame = frame.reindex(columns=list(part.columns))  # a column the file lacks: missing
    return _as_csv(frame, f"{part.file} (row group {part.row_group})")


def csv_sources(path: Path) -> Iterator[Path | IO[bytes]]:
    """The data as CSV text, part by part: a CSV file itself, or each part of the Parquet."""
    if not is_parquet(path):
        yield path
        return
    for part in parts(path):
        yield part_csv(part)


def sample_sources(path: Path, rows: int) -> Iterator[Path | IO[bytes]]:
    """At most about `rows` rows as CSV text: a CSV file whole, a folder's first rows of each
    file (every file, so a folder written one day per file is sampled across its days)."""
    if not is_parquet(path):
        yield path
        return
    files, names = parquet_files(path), columns(path)
    each = math.ceil(rows / len(files))
    for file in files:
        yield part_csv(Part(file, 0, names), rows=each)


def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts' frames as one (a single frame as it is)."""
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read(path: Path, contract: Contract) -> pd.DataFrame:
    """The whole data as contract.read_csv reads a CSV."""
    return joined([contracts.read_csv(source, contract) for source in csv_sources(path)])


def read_sample(path: Path, contract: Contract, rows: int) -> pd.DataFrame:
    """About `rows` rows (sample_sources) as contract.read_csv reads a CSV."""
    return joined([contracts.read_csv(source, contract) for source in sample_sources(path, rows)])


def _all_text(source: Path | IO[bytes]) -> pd.DataFrame:
    frame: pd.DataFrame = pd.read_csv(source, dtype=str, keep_default_na=False)
    return frame


def read_text(path: Path) -> pd.DataFrame:
    """Every cell as the text the data holds (an empty cell is ""): for copying rows as they
    are."""
    return joined([_all_text(source) for source in csv_sources(path)])


def read_text_part(part: Part) -> pd.DataFrame:
    """One part, every cell as its text (as read_text)."""
    return _all_text(part_csv(part))


def read_part(part: Part, contract: Contract) -> pd.DataFrame:
    """One part as contract.read_csv reads it (as read)."""
    return contracts.read_csv(part_csv(part), contract)
