"""Batch scoring with a registered model, and what production served for a batch according to
the inference log (inference_log.py, for the drift check).

Every row is checked against the data contract first: a row that breaks it is reported with
the reason and never scored. What is scored is written with the model version, and each scored
row is appended to the inference log: when, which model and route (batch; the server's stable,
canary or shadow), the request (the server's request id and row) or the batch row's key (the
contract's key, so that an outcome known later finds its decision), a hash of the input, the
score and label, the latency, and the sensitive column's value where the row carries it (for
fairness over time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..control import production, registry
from ..pipeline import contract as contracts
from ..pipeline import data, explanations, training
from ..pipeline.contract import Contract, load_contract
from ..settings import Settings
from . import inference_log


def model_view(frame: pd.DataFrame, contract: Contract, model: Any) -> contracts.ModelView:
    """The batch as `model` sees it (contract.model_view on the columns it takes): columns it
    does not use (text, ids, excluded ones) never make a row unscorable; a missing model column
    is an error for the whole batch."""
    return contracts.model_view(frame, contract, training.model_columns(model))


def input_hashes(inputs: pd.DataFrame) -> pd.Series:
    """SHA-256 of each row's input as the model takes it (typed by the contract: a
    ModelView's inputs): the same input, the same hash, from a CSV or a JSON request."""
    return data.row_sha256(inputs)


def probabilities(model: Any, view: contracts.ModelView) -> pd.Series:
    """The model's score of each row it can take, indexed like the batch."""
    if not len(view.inputs):
        return pd.Series(dtype="float64")
    return training.predict_proba(model, view.inputs)


def labels(probability: np.ndarray | pd.Series, contract: Contract, threshold: float) -> np.ndarray:
    """The contract's class for each score: the positive class from `threshold` up."""
    positive = contract.target.positive
    negative = next(c for c in contract.target.classes if c != positive)
    return np.where(np.asarray(probability) >= threshold, positive, negative)


@dataclass(frozen=True)
class Scored:
    version: registry.Version
    predictions: pd.DataFrame
    rejected: pd.DataFrame


def resolve(settings: Settings, client: Any, number: int | None) -> production.Production:
    """The model to score with, checked against git: by default what deploy/production.yaml
    declares; a named version only where git once declared it (only git holds a digest of
    which bytes a version is). Another alias than production has no digest in git."""
    alias = settings.predict.alias
    if number is None and alias != registry.PRODUCTION:
        raise registry.RegistryError(
            f"predict.alias is {alias!r}: only {registry.PRODUCTION!r} is declared in git, with "
            "the digest of its bytes; score with production, or name a version git declared "
            "(--version N)"
        )
    if number is None:
        return production.require(client, settings)
    return production.load_version(client, settings, number)


def reason_columns(model: Any, inputs: pd.DataFrame, count: int) -> dict[str, list[Any]]:
    """Each row's principal reasons (explanations.top_reasons) as columns: reason_1 (a column
    name, empty where fewer columns pushed the score up), reason_1_contribution, and so on."""
    names = training.model_columns(model)
    reasons = explanations.top_reasons(explanations.contributions(model, inputs), names, count)
    columns: dict[str, list[Any]] = {}
    for place in range(count):
        found = [row[place] if place < len(row) else None for row in reasons]
        columns[f"reason_{place + 1}"] = [r["column"] if r else "" for r in found]
        columns[f"reason_{place + 1}_contribution"] = [
            r["contribution"] if r else None for r in found
        ]
    return columns


def score(
    frame: pd.DataFrame,
    contract: Contract,
    model: Any,
    version: registry.Version,
    threshold: float,
    explain: int = 0,
) -> Scored:
    """Score the rows that keep the contract; set the others aside with their reasons. With
    `explain`, each scored row's principal reasons as columns (reason_columns)."""
    view = model_view(frame, contract, model)
    bad = ~view.usable
    good = frame[~bad] if bad.any() else frame  # no copy of a clean batch
    rejected = frame[bad].assign(reason=view.problems[bad])
    probability = probabilities(model, view)
    # The row's key (its id) comes first, so that scores can be joined back to their rows.
    keys = {name: good[name].to_numpy() for name in contract.key_columns if name in good}
    predictions = pd.DataFrame(
        {
            "row": good.index,
            **keys,
            "probability": probability.round(6).to_numpy(),
            "prediction": (probability >= threshold).astype(int).to_numpy(),
            "predicted_class": labels(probability, contract, threshold),
            "model_name": version.name,
            "model_version": version.number,
            "input_sha256": input_hashes(view.inputs).to_numpy(),
        }
    )
    if explain:  # the columns even when every row was rejected: one header, whatever the data
        predictions = predictions.assign(**reason_columns(model, view.inputs, explain))
    return Scored(version, predictions, rejected.rename_axis("row").reset_index())


def contract_key(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """Each row's key as the inference log and the outcome store write it (data.key_text);
    empty where the contract names no key or the batch lacks one of its columns."""
    if not key or any(name not in frame for name in key):
        return pd.Series("", index=frame.index, dtype=object)
    return data.key_text(frame, key)


def append_log(
    predictions: pd.DataFrame,
    frame: pd.DataFrame,
    path: Path,
    when: datetime,
    sensitive: str,
    key: list[str],
) -> None:
    """Add batch-scored rows to the inference log (`frame`: the batch, for each row's key and
    the sensitive column's value where it has those columns)."""
    rows = frame.loc[predictions["row"]]
    keys = contract_key(rows, key)
    log = predictions.assign(
        timestamp=when.astimezone(UTC).isoformat(timespec="seconds"),
        route=inference_log.BATCH,
        request_id="",
        row_key=keys.to_numpy(),
        label=predictions["predicted_class"],
        latency_ms="",
        sensitive=rows[sensitive].to_numpy() if sensitive in rows else "",
    )
    inference_log.append_frame(log, path)


def predict(
    settings: Settings,
    source: Path,
    number: int | None = None,
    explain: int = 0,
    decided_at: datetime | None = None,
) -> Scored:
    """Score a CSV with the registered model; write predictions (with `explain` reasons per
    row), rejected rows, the log (the decisions' time: now, or `decided_at` for a replay of
    past decisions)."""
    inference_log.check(settings.predict.log)  # before scoring: no decision goes unlogged
    contract = load_contract(settings.data.contract)
    frame = data.read_raw(source, contract)
    served = resolve(settings, registry.connect(), number)
    threshold = settings.evaluate.decision_threshold
    scored = score(frame, contract, served.model, served.version, threshold, explain)
    data.write_csv_for_people(scored.predictions, settings.predict.output)
    data.write_csv_for_people(scored.rejected, settings.predict.rejected)
    when = decided_at or datetime.now(UTC)
    sensitive = settings.fairness.sensitive_column
    log = settings.predict.log
    append_log(scored.predictions, frame, log, when, sensitive, contract.key_columns)
    inference_log.compact(log, datetime.now(UTC), settings.predict.log_retention_days)
    return scored


def served_scores(log: Path, version: registry.Version, hashes: pd.Series) -> pd.Series:
    """Per input hash, the latest score `version` served for it according to the inference
    log (missing where the log has none). Only the log rows of this version and this batch
    are kept, a piece at a time, of the four columns needed."""
    wanted = pd.Index(hashes.unique())
    columns = ["model_name", "model_version", "input_sha256", "probability"]
    kept = [
        chunk[
            (chunk["model_name"] == version.name)
            & (chunk["model_version"] == str(version.number))
            & chunk["input_sha256"].isin(wanted)
        ]
        for chunk in inference_log.chunks(log, columns)
    ]
    if not kept:
        return pd.Series(float("nan"), index=hashes.index)
    mine = pd.concat(kept)
    latest = mine.drop_duplicates("input_sha256", keep="last").set_index("input_sha256")
    return hashes.map(latest["probability"].astype("float64")).astype("float64")
