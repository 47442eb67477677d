"""Reading data with the contract's types, and the frozen train/evaluation split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from .contract import Contract


def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV as it is, with no types imposed: validation judges what is really there."""
    return pd.read_csv(path)


def apply_types(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Give every contract column its type; categories get the contract's fixed order.

    Fixed category orders keep XGBoost's category codes identical between training, evaluation
    and scoring, whatever values a given batch happens to contain.
    """
    typed = frame.copy()
    for name, column in contract.columns.items():
        if column.type == "category":
            typed[name] = pd.Categorical(typed[name], categories=list(column.values or ()))
        else:
            typed[name] = pd.to_numeric(typed[name], errors="raise").astype("float64")
    if contract.target.name in typed:  # a batch to score has no target yet
        typed[contract.target.name] = typed[contract.target.name].astype("int64")
    return typed


def read_typed(path: Path, contract: Contract) -> pd.DataFrame:
    """Read a validated CSV (a split, say) with the contract's types."""
    return apply_types(pd.read_csv(path), contract)


def features_and_target(
    frame: pd.DataFrame, contract: Contract, exclude: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, pd.Series]:
    """The model's inputs (contract columns less the excluded ones) and the target."""
    unknown = sorted(set(exclude) - set(contract.columns))
    if unknown:
        raise ValueError(f"exclude_columns names columns the contract does not have: {unknown}")
    features = [name for name in contract.columns if name not in exclude]
    return frame[features], frame[contract.target.name]


def row_sha256(frame: pd.DataFrame, prefix: str = "") -> pd.Series:
    """SHA-256 (hex) of each row's values as text, after `prefix`: the same values, the same
    digest, wherever the row sits in the frame."""
    text = frame.astype(str).agg("\x1f".join, axis=1)
    return text.map(lambda row: hashlib.sha256(f"{prefix}{row}".encode()).hexdigest())


def in_evaluation(frame: pd.DataFrame, eval_fraction: float, seed: int) -> pd.Series:
    """Whether each row belongs to the evaluation split, decided by a hash of its own values
    and the seed alone. Adding rows (a retraining batch) never moves an existing row between
    the splits, so a champion is never evaluated on rows it was trained on."""
    buckets = row_sha256(frame, prefix=f"{seed}\x1f").map(lambda digest: int(digest[:8], 16))
    return buckets < eval_fraction * 2**32


def split_frame(
    frame: pd.DataFrame, eval_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same data and seed always give the same two frames, in the data's row order."""
    evaluation = in_evaluation(frame, eval_fraction, seed)
    return frame[~evaluation], frame[evaluation]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
