"""Reading data through the contract, the model's inputs, and the frozen train/evaluation split."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from . import contract as contracts
from . import raw_data
from .contract import Contract, ContractError


def read_raw(path: Path | IO[bytes], contract: Contract) -> pd.DataFrame:
    """Read data (a CSV, or a folder of Parquet files: raw_data) as its text says (see
    contract.read_csv): validation judges what is there."""
    if isinstance(path, Path):
        return raw_data.read(path, contract)
    return contracts.read_csv(path, contract)


def read_text(path: Path) -> pd.DataFrame:
    """Every cell as the text the data holds (an empty cell is ""): for copying rows as they
    are."""
    return raw_data.read_text(path)


def read_typed(path: Path, contract: Contract) -> pd.DataFrame:
    """Read a validated CSV (a split, say): the model's columns typed, the others as read."""
    frame = read_raw(path, contract)
    model_view = contracts.typed(frame, contract, [*contract.learned_columns, contract.target.name])
    return frame.assign(**{name: model_view[name] for name in model_view.columns})


def feature_names(contract: Contract, exclude: tuple[str, ...] = ()) -> list[str]:
    """The columns a model learns from: the contract's learned columns less `exclude`."""
    unknown = sorted(set(exclude) - set(contract.columns))
    if unknown:
        raise ContractError(f"columns to exclude from the model are not in the contract: {unknown}")
    return [name for name in contract.learned_columns if name not in exclude]


def features_and_target(
    frame: pd.DataFrame, contract: Contract, exclude: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, pd.Series]:
    """The model's inputs and the target (0/1), from a frame read by read_typed."""
    return frame[feature_names(contract, exclude)], frame[contract.target.name]


def _joined(text: pd.DataFrame) -> pd.Series:
    """Each row's cells joined by a separator no value holds, as column operations."""
    first = text.iloc[:, 0]
    return first.str.cat(text.iloc[:, 1:], sep="\x1f") if text.shape[1] > 1 else first


def _sha256_each(texts: list[str], prefix: bytes = b"") -> list[bytes]:
    """The SHA-256 of `prefix` + each text (one C call per row, the prefix hashed once)."""
    seeded = hashlib.sha256(prefix)

    def digest(text: str) -> bytes:
        state = seeded.copy()
        state.update(text.encode())
        return state.digest()

    return [digest(text) for text in texts]


def _sha256_hex(texts: pd.Series, prefix: bytes = b"") -> pd.Series:
    """The same digests as hex text, indexed like `texts`."""
    digests = _sha256_each(texts.tolist(), prefix)
    return pd.Series([digest.hex() for digest in digests], index=texts.index, dtype=object)


def _cells(column: pd.Series) -> list[str]:
    """Each cell as pandas' "string" type writes it, a missing one as "". A typed view's
    float64 and category columns are written in plain Python, the same text in a third of
    pandas' time (the server hashes every answer's inputs); any other type by pandas."""
    if column.dtype == np.float64:
        return ["" if value != value else repr(value) for value in column.to_numpy().tolist()]
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype == object:
        levels = [*map(str, column.cat.categories), ""]  # code -1, a missing value: the last
        return [levels[code] for code in column.cat.codes.tolist()]
    return list(column.astype("string").fillna("").tolist())


# Rows turned into text at a time when hashing: every cell becomes a Python string on the way
# (several times the frame's own size), so a million rows at once would peak at ~1 GB more.
HASH_CHUNK_ROWS = 50_000


def row_sha256(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    """SHA-256 (hex) of each row's values as text, joined by a separator no value holds, after
    `prefix`: the same values, the same digest, wherever the row sits in the frame. (sha256
    rather than pandas' own row hash, whose values a pandas release may change: these digests
    are kept for years.)"""

    def hashed(rows: pd.DataFrame) -> list[str]:
        columns = [_cells(rows[name]) for name in rows.columns]
        texts = ["\x1f".join(cells) for cells in zip(*columns, strict=True)]
        return [digest.hex() for digest in _sha256_each(texts, prefix.encode())]

    starts = range(0, len(frame), HASH_CHUNK_ROWS)
    digests = [hashed(frame.iloc[start : start + HASH_CHUNK_ROWS]) for start in starts]
    return pd.Series([d for chunk in digests for d in chunk], index=frame.index, dtype=object)


def key_text(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """Each row's identity as one text: its key columns' values, stripped as every rule of the
    contract strips them, joined by a separator no value holds."""
    missing = [name for name in key if name not in frame.columns]
    if missing:
        raise ContractError(
            f"the data has no key column {', '.join(missing)}: the key decides the frozen "
            "evaluation set; bring the column back, or change `key` in the contract (rows move)"
        )
    text = frame[key].astype("string").fillna("")
    return _joined(text.apply(lambda column: column.str.strip()))


def _key_buckets(joined: pd.Series, seed: int) -> np.ndarray:
    """A number in [0, 2**32) per row from the seed and the row's key text alone: the first
    four bytes of sha256(seed, separator, key text), big-endian."""
    digests = _sha256_each(joined.tolist(), f"{seed}\x1f".encode())
    first_bytes = b"".join(digest[:4] for digest in digests)
    return np.frombuffer(first_bytes, dtype=">u4").astype(np.uint64)


def in_evaluation(
    frame: pd.DataFrame, key: list[str], eval_fraction: float, seed: int
) -> pd.Series:
    """Whether each row belongs to the evaluation split, decided by the seed and the row's
    key alone. Adding rows, adding or dropping other columns, or correcting their values never
    moves a row between the splits, so a champion is never evaluated on rows it learned from."""
    buckets = _key_buckets(key_text(frame, key), seed)
    return pd.Series(buckets < eval_fraction * 2**32, index=frame.index)


def split_frame(
    frame: pd.DataFrame, key: list[str], eval_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same data and seed always give the same two frames, in the data's row order."""
    evaluation = in_evaluation(frame, key, eval_fraction, seed)
    return frame[~evaluation], frame[evaluation]


def key_digests(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """Each row's identity: a digest of its key text."""
    return _sha256_hex(key_text(frame, key))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def runs_as_formula(value: object) -> bool:
    """Whether a spreadsheet would run this text as a formula: it starts with =, +, -, @, a
    tab or a carriage return, and is not a plain number."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not PLAIN_NUMBER.fullmatch(value)
    )


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column name and text cell that would run as a formula prefixed
    with a quote, so it shows as text. For files people open (predictions, rejected rows);
    never for data the pipeline reads."""
    safe = frame.rename(columns=lambda name: f"'{name}" if runs_as_formula(name) else name)
    for name in safe.columns:
        if safe[name].dtype == object:
            column = safe[name]
            safe[name] = column.where(~column.map(runs_as_formula), "'" + column.astype(str))
    return safe


def write_csv_for_people(frame: pd.DataFrame, path: Path) -> None:
    """A CSV someone will open in a spreadsheet: formulas in it are shown, not run."""
    write_csv(neutralised(frame), path)
