"""Batch scoring with a registered model, and the inference log that drift checks read.

Every row is checked against the data contract first: a row that breaks it is reported with
the reason and never scored. What is scored is written with the model version, and each scored
row is appended to the inference log (when, which model, a hash of the input, the score).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import contract as contracts
from . import data, registry, training
from .contract import Contract, load_contract
from .settings import Settings

LOG_COLUMNS = ["timestamp", "model_name", "model_version", "row", "input_sha256", "probability"]


def row_problems(frame: pd.DataFrame, contract: Contract, model: Any) -> pd.Series:
    """Per row, why it cannot be scored ("" when it can): the contract's rules on the columns
    the model takes. Columns the model does not use (text, ids, excluded ones) never make a
    row unscorable; a missing model column is an error for the whole batch."""
    return contracts.row_problems(frame, contract, training.model_columns(model))


def input_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """SHA-256 of each row's input values as text: the same input, the same hash."""
    return data.row_sha256(frame[columns])


def probabilities(model: Any, frame: pd.DataFrame, contract: Contract) -> pd.Series:
    """The model's score of each row (rows that keep the contract), indexed like `frame`."""
    if not len(frame):
        return pd.Series(dtype="float64")
    columns = training.model_columns(model)
    return training.predict_proba(model, contracts.typed(frame, contract, columns))


@dataclass(frozen=True)
class Scored:
    version: registry.Version
    predictions: pd.DataFrame
    rejected: pd.DataFrame


def resolve(client: Any, name: str, alias: str, number: int | None) -> registry.Version:
    """The version to score with: a named one, or the one the alias points at."""
    if number is not None:
        return registry.get_version(client, name, number)
    found = registry.by_alias(client, name, alias)
    if found is None:
        raise registry.RegistryError(f"{name} has no '{alias}' version to score with")
    return found


def score(
    frame: pd.DataFrame, contract: Contract, model: Any, version: registry.Version, threshold: float
) -> Scored:
    """Score the rows that keep the contract; set the others aside with their reasons."""
    positive = contract.target.positive
    negative = next(c for c in contract.target.classes if c != positive)
    problems = row_problems(frame, contract, model)
    bad = problems != ""
    good = frame[~bad] if bad.any() else frame  # no copy of a clean batch
    rejected = frame[bad].assign(reason=problems[bad])
    probability = probabilities(model, good, contract)
    # The row's key (its id) comes first, so that scores can be joined back to their rows.
    keys = {name: good[name].to_numpy() for name in contract.key_columns if name in good}
    predictions = pd.DataFrame(
        {
            "row": good.index,
            **keys,
            "probability": probability.round(6).to_numpy(),
            "prediction": (probability >= threshold).astype(int).to_numpy(),
            "predicted_class": np.where(
                probability >= threshold, contract.target.positive, negative
            ),
            "model_name": version.name,
            "model_version": version.number,
            "input_sha256": input_hashes(good, training.model_columns(model)).to_numpy(),
        }
    )
    return Scored(version, predictions, rejected.rename_axis("row").reset_index())


def append_log(predictions: pd.DataFrame, path: Path, when: datetime) -> None:
    """Add the scored rows to the inference log (CSV, header written once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log = predictions.assign(timestamp=when.isoformat(timespec="seconds"))[LOG_COLUMNS]
    log.to_csv(path, mode="a", header=not path.exists(), index=False, lineterminator="\n")


def predict(settings: Settings, source: Path, number: int | None = None) -> Scored:
    """Score a CSV with the registered model; write predictions, rejected rows, the log."""
    contract = load_contract(settings.data.contract)
    frame = data.read_raw(source, contract)
    client = registry.connect()
    version = resolve(client, settings.tracking.model_name, settings.predict.alias, number)
    model = registry.load_model(client, version)
    scored = score(frame, contract, model, version, settings.evaluate.decision_threshold)
    data.write_csv_for_people(scored.predictions, settings.predict.output)
    data.write_csv_for_people(scored.rejected, settings.predict.rejected)
    append_log(scored.predictions, settings.predict.log, datetime.now(UTC))
    return scored
