"""Reading data with the contract's types, and the frozen train/evaluation split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

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


def split_frame(
    frame: pd.DataFrame, target: str, eval_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded split: the same data and seed always give the same two frames."""
    train, evaluation = train_test_split(
        frame, test_size=eval_fraction, random_state=seed, stratify=frame[target]
    )
    return train.sort_index(), evaluation.sort_index()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
