"""Batch scoring with a registered model, and the inference log: its one schema, written here
for batch scoring and for the server, read here for the drift check (what production served).

Every row is checked against the data contract first: a row that breaks it is reported with
the reason and never scored. What is scored is written with the model version, and each scored
row is appended to the inference log: when, which model and route (batch; the server's stable,
canary or shadow), the request (the server's request id and row) or the batch row's key (the
contract's key, so that an outcome known later finds its decision), a hash of the input, the
score and label, the latency, and the sensitive column's value where the row carries it (for
fairness over time).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..control import production, registry
from ..errors import ProjectError
from ..pipeline import contract as contracts
from ..pipeline import data, explanations, training
from ..pipeline.contract import Contract, load_contract
from ..settings import Settings

LOG_COLUMNS = [
    "timestamp", "model_name", "model_version", "route", "request_id", "row", "row_key",
    "input_sha256", "probability", "label", "latency_ms", "sensitive",
]  # fmt: skip
BATCH = "batch"  # the route of rows scored by `predict`
LOG_CHUNK_ROWS = 500_000  # the inference log is read in pieces: memory stays flat as it grows


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


def log_header_problem(path: Path) -> str | None:
    with path.open(encoding="utf-8") as log:
        header = log.readline().strip()
    if header == ",".join(LOG_COLUMNS):
        return None
    return (
        f"{path} is an inference log with other columns ({header}): an earlier version of this "
        "project wrote it; move it aside (drift still reads it) and score again"
    )


def _append_to_log(path: Path, lines: str) -> None:
    """Append CSV lines in one write (processes appending at once never interleave a line);
    the header is written once, by whoever creates the file."""
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        lines = ",".join(LOG_COLUMNS) + "\n" + lines
    except FileExistsError:
        problem = log_header_problem(path)
        if problem:
            raise ProjectError(problem) from None
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(descriptor, lines.encode("utf-8"))
    finally:
        os.close(descriptor)


# Rows of the server's log hashed or written as text in one call: a call into pandas or the csv
# module holds the GIL until it returns, and one over a second's worth of a server's answers
# would hold its next answers back for tens of milliseconds.
LOG_ROWS_AT_ONCE = 500


def append_log_records(records: Sequence[Sequence[object]], path: Path) -> None:
    """Add rows given in LOG_COLUMNS' order (the server's buffered answers) to the log."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for start in range(0, len(records), LOG_ROWS_AT_ONCE):
        writer.writerows(records[start : start + LOG_ROWS_AT_ONCE])
    _append_to_log(path, text.getvalue())


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
        timestamp=when.isoformat(timespec="seconds"),
        route=BATCH,
        request_id="",
        row_key=keys.to_numpy(),
        label=predictions["predicted_class"],
        latency_ms="",
        sensitive=rows[sensitive].to_numpy() if sensitive in rows else "",
    )
    _append_to_log(path, log[LOG_COLUMNS].to_csv(index=False, header=False, lineterminator="\n"))


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
    contract = load_contract(settings.data.contract)
    frame = data.read_raw(source, contract)
    served = resolve(settings, registry.connect(), number)
    threshold = settings.evaluate.decision_threshold
    scored = score(frame, contract, served.model, served.version, threshold, explain)
    data.write_csv_for_people(scored.predictions, settings.predict.output)
    data.write_csv_for_people(scored.rejected, settings.predict.rejected)
    when = decided_at or datetime.now(UTC)
    sensitive = settings.fairness.sensitive_column
    append_log(
        scored.predictions, frame, settings.predict.log, when, sensitive, contract.key_columns
    )
    return scored


def served_scores(log: Path, version: registry.Version, hashes: pd.Series) -> pd.Series:
    """Per input hash, the latest score `version` served for it according to the inference
    log (missing where the log has none). Only the log rows of this version and this batch
    are kept, a chunk at a time, of the four columns needed."""
    if not log.exists():
        return pd.Series(float("nan"), index=hashes.index)
    header = pd.read_csv(log, nrows=0).columns
    missing = sorted(set(LOG_COLUMNS) - set(header))
    if missing:
        raise ProjectError(f"{log} is not an inference log: no column {', '.join(missing)}")
    wanted = pd.Index(hashes.unique())
    chunks = pd.read_csv(
        log,
        usecols=["model_name", "model_version", "input_sha256", "probability"],
        dtype={"input_sha256": str, "model_name": str},
        chunksize=LOG_CHUNK_ROWS,
    )
    kept = [
        chunk[
            (chunk["model_name"] == version.name)
            & (chunk["model_version"] == version.number)
            & chunk["input_sha256"].isin(wanted)
        ]
        for chunk in chunks
    ]
    if not kept:
        return pd.Series(float("nan"), index=hashes.index)
    mine = pd.concat(kept)
    latest = mine.drop_duplicates("input_sha256", keep="last").set_index("input_sha256")
    return hashes.map(latest["probability"]).astype("float64")


def log_chunks(log: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The log's `columns` as text (an empty cell is NaN), LOG_CHUNK_ROWS rows at a time;
    nothing where there is no log yet."""
    if not log.exists():
        return
    problem = log_header_problem(log)
    if problem:
        raise ProjectError(problem)
    yield from pd.read_csv(log, usecols=columns, chunksize=LOG_CHUNK_ROWS, dtype=str)


def logged_at(chunk: pd.DataFrame) -> pd.Series:
    """When each log row was written (UTC)."""
    return pd.to_datetime(chunk["timestamp"], utc=True, format="ISO8601")


def log_since(
    log: Path, since: datetime, columns: list[str], until: datetime | None = None
) -> pd.DataFrame:
    """The log's rows (of `columns`, with their time) from `since` on (and before `until`),
    read a chunk at a time; empty where there is no log yet."""
    wanted = ["timestamp", *[name for name in columns if name != "timestamp"]]
    kept = []
    for chunk in log_chunks(log, wanted):
        when = logged_at(chunk)
        inside = when >= pd.Timestamp(since)
        if until is not None:
            inside &= when < pd.Timestamp(until)
        kept.append(chunk[inside])
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=wanted)
