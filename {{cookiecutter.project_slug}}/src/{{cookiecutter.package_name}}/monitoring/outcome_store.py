"""The outcome store: each decision the model made, with what became of it once that was known
(a loan repaid or not, months later), written by `make outcomes LABELS=file.csv`.

An outcome file names each decision by the server's request id (and `row`, for a request of
several rows; 0 where the file has no `row` column) or, for batch scoring, by the row's key
(data/contract.yaml's key, as the inference log writes it), and gives the contract's target
and, where known, when the outcome became known (`known_at`, else now). Other columns are
ignored, so a labelled batch is an outcome file as it is.

Each outcome is joined to every decision the inference log holds for it (one per model version
that scored it: production, a canary, a shadow) and kept in `outcomes.store` as Parquet, one
folder per day of decision, so that a window reads only its own days. A row that cannot be
stored is set aside with its reason (`outcomes.rejected`), never dropped or guessed: a class
the contract does not know, a time that does not parse, a key given twice with different
outcomes, an outcome known before its decision, a key that no decision has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from ..pipeline import data
from ..pipeline.contract import Contract, ContractError, load_contract
from ..settings import OutcomesSettings, Settings
from . import day_partitions, inference_log, scoring

REQUEST_ID, ROW, ROW_KEY, KNOWN_AT = "request_id", "row", "row_key", "known_at"
DECIDED_AT, OUTCOME, REASON = "decided_at", "outcome", "reason"
# What names one decision: the model that made it and the request's row or the batch row.
DECISION = ["model_name", "model_version", "route", REQUEST_ID, ROW, ROW_KEY]
STORED = [DECIDED_AT, *DECISION, "probability", "sensitive", OUTCOME, KNOWN_AT]
FROM_LOG = ["timestamp", *DECISION, "probability", "sensitive"]


@dataclass(frozen=True)
class Labels:
    """An outcome file read and checked: `rows` the usable outcomes (join columns, OUTCOME as
    1 for the contract's positive class, KNOWN_AT), `rejected` the file's other rows with a
    reason, `repeated` how many rows gave a decision's outcome again (kept once)."""

    text: pd.DataFrame  # the file as read, every cell as its text
    join: list[str]
    rows: pd.DataFrame
    rejected: pd.DataFrame
    repeated: int


@dataclass(frozen=True)
class Stored:
    rows: int  # in the file
    kept: int  # outcome rows stored
    decisions: int  # decisions given an outcome (one outcome may reach several versions)
    rejected: pd.DataFrame
    repeated: int


def _join_columns(text: pd.DataFrame, contract: Contract, source: Path) -> list[str]:
    """How the file names decisions: the request id (and row), else the contract's key."""
    if REQUEST_ID in text.columns:
        return [REQUEST_ID, ROW]
    key = contract.key_columns
    if not key:
        raise ContractError(
            f"{source}: no {REQUEST_ID} column, and data/contract.yaml names no key: give each "
            "outcome the request id the server answered, or declare the contract's key"
        )
    missing = [name for name in key if name not in text.columns]
    if missing:
        raise ContractError(
            f"{source}: no {REQUEST_ID} column and no key column {', '.join(missing)}: each "
            "outcome must name its decision, by request id or by the contract's key"
        )
    return [ROW_KEY]


def _times(values: pd.Series) -> pd.Series:
    """ISO 8601 times as UTC (one without a zone is UTC); NaT where a value does not parse."""
    return pd.to_datetime(values.str.strip(), utc=True, format="ISO8601", errors="coerce")


def read_labels(source: Path, contract: Contract, now: datetime) -> Labels:
    text = data.read_text(source)
    target = contract.target
    if target.name not in text.columns:
        raise ContractError(
            f"{source}: no {target.name} column: an outcome file gives each decision's outcome "
            "as data/contract.yaml's target"
        )
    join = _join_columns(text, contract, source)
    reason = pd.Series("", index=text.index, dtype=object)
    rows = pd.DataFrame(index=text.index)
    if join == [ROW_KEY]:
        rows[ROW_KEY] = scoring.contract_key(text, contract.key_columns)
        reason[rows[ROW_KEY] == ""] = "no key"
    else:
        rows[REQUEST_ID] = text[REQUEST_ID].str.strip()
        rows[ROW] = text[ROW].str.strip() if ROW in text.columns else "0"
        reason[~rows[ROW].str.fullmatch(r"\d+")] = "row is not a whole number"
        reason[rows[REQUEST_ID] == ""] = "no request id"
    value = text[target.name].str.strip()
    wrong = ~value.isin(target.classes)
    reason[wrong] = (
        f"{target.name} " + value[wrong].map(repr) + f" is not one of {', '.join(target.classes)}"
    )
    rows[OUTCOME] = (value == target.positive).astype("int8")
    if KNOWN_AT in text.columns:
        rows[KNOWN_AT] = _times(text[KNOWN_AT])
        reason[rows[KNOWN_AT].isna() & (reason == "")] = f"{KNOWN_AT} is not an ISO 8601 time"
        reason[(rows[KNOWN_AT] > pd.Timestamp(now)) & (reason == "")] = (
            f"{KNOWN_AT} is in the future"
        )
    else:
        rows[KNOWN_AT] = pd.Timestamp(now)
    # The same outcome for the same decision twice is kept once, as first known.
    usable = rows[reason == ""].sort_values(KNOWN_AT, kind="stable")
    repeated = usable.duplicated([*join, OUTCOME], keep="first")
    distinct = usable[~repeated].sort_index()
    conflicting = distinct.duplicated(join, keep=False)
    reason[distinct.index[conflicting]] = "the same decision is given different outcomes"
    rejected = text[reason != ""].assign(**{REASON: reason[reason != ""]})
    return Labels(text, join, distinct[~conflicting], rejected, int(repeated.sum()))


def decisions_for(log: Path, labels: Labels, max_delay_days: int) -> pd.DataFrame:
    """The inference log's decisions that `labels` name (served rows for request ids, batch
    rows for keys), the latest where the same version decided the same row twice. Only the
    days from `max_delay_days` before the first outcome was known to the last are read."""
    wanted = pd.MultiIndex.from_frame(labels.rows[labels.join])
    by_request = labels.join != [ROW_KEY]
    kept = []
    known = labels.rows[KNOWN_AT]
    if known.empty:
        return pd.DataFrame(columns=[DECIDED_AT, *FROM_LOG[1:]])
    start = known.min().to_pydatetime() - timedelta(days=max_delay_days)
    for chunk in inference_log.chunks(log, FROM_LOG, start, known.max().to_pydatetime()):
        chunk = chunk.fillna({REQUEST_ID: "", ROW_KEY: "", "sensitive": ""})
        served = chunk["route"] != inference_log.BATCH
        mine = served if by_request else ~served
        named = pd.MultiIndex.from_frame(chunk[labels.join]).isin(wanted)
        kept.append(chunk[mine & named])
    if not kept:
        return pd.DataFrame(columns=[DECIDED_AT, *FROM_LOG[1:]])
    found = pd.concat(kept, ignore_index=True)
    found[DECIDED_AT] = inference_log.logged_at(found)
    found = found.drop(columns="timestamp").sort_values(DECIDED_AT, kind="stable")
    return found.drop_duplicates(DECISION, keep="last")


def joined(decisions: pd.DataFrame, labels: Labels) -> tuple[pd.DataFrame, pd.Series]:
    """Each decision with its outcome (in STORED's columns, typed), and per label row why it
    was not stored ("" where it was)."""
    pairs = decisions.merge(labels.rows, on=labels.join, how="inner")
    in_time = pairs[KNOWN_AT] >= pairs[DECIDED_AT]
    keys = pd.MultiIndex.from_frame(labels.rows[labels.join])
    matched = keys.isin(pd.MultiIndex.from_frame(pairs[labels.join]))
    timely = keys.isin(pd.MultiIndex.from_frame(pairs.loc[in_time, labels.join]))
    reason = pd.Series("", index=labels.rows.index, dtype=object)
    reason[~matched] = (
        "no decision with this key in the inference log (predict.log) within "
        "outcomes.max_delay_days before it was known"
    )
    reason[matched & ~timely] = f"{KNOWN_AT} is before the model decided"
    stored = pairs[in_time].astype({"model_version": "int64", ROW: "int64"})
    stored = stored.astype({"probability": "float64", OUTCOME: "int8"})
    return stored[STORED].reset_index(drop=True), reason


def write(stored: pd.DataFrame, store: Path, now: datetime) -> None:
    """Add decisions with outcomes to the store: one new file per day of decision, written
    whole under another name first (a reader never sees half a file)."""
    if stored.empty:  # nothing matched (its times may not even be typed as times)
        return
    name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
    for day, part in stored.groupby(stored[DECIDED_AT].dt.date, sort=True):
        folder = day_partitions.folder(store, day)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{name}.partial"
        part.to_parquet(partial, index=False)
        partial.replace(folder / name)


def read(store: Path, start: datetime, end: datetime) -> pd.DataFrame:
    """The decisions with outcomes of [start, end): only those days' files are read. Where an
    outcome was given again (a correction), the one known last counts."""
    parts = [
        pd.read_parquet(path)
        for folder in day_partitions.between(store, start, end).values()
        for path in sorted(folder.glob("*.parquet"))
    ]
    if not parts:  # typed as a stored file is: times as UTC times
        times = {DECIDED_AT, KNOWN_AT}
        return pd.DataFrame(
            {n: pd.Series(dtype="datetime64[ns, UTC]" if n in times else object) for n in STORED}
        )
    found = pd.concat(parts, ignore_index=True)
    inside = (found[DECIDED_AT] >= pd.Timestamp(start)) & (found[DECIDED_AT] < pd.Timestamp(end))
    found = found[inside].sort_values(KNOWN_AT, kind="stable")
    return found.drop_duplicates(DECISION, keep="last").reset_index(drop=True)


def store_outcomes(
    source: Path, contract: Contract, log: Path, rules: OutcomesSettings, now: datetime
) -> Stored:
    """Read an outcome file, join it to its decisions, and add them to the store."""
    labels = read_labels(source, contract, now)
    if not len(labels.rows) and not len(labels.rejected):
        raise ContractError(f"{source}: no outcome rows")
    stored, reason = joined(decisions_for(log, labels, rules.max_delay_days), labels)
    unmatched = labels.rows.index[reason != ""]
    unstored = labels.text.loc[unmatched].assign(**{REASON: reason[unmatched]})
    rejected = pd.concat([labels.rejected, unstored])
    write(stored, rules.store, now)
    kept = len(labels.rows) - len(unmatched)
    return Stored(len(labels.text), kept, len(stored), rejected.sort_index(), labels.repeated)


def add_file(settings: Settings, source: Path, now: datetime) -> tuple[Stored, list[date]]:
    """`make outcomes LABELS=...`: the file's outcomes stored, the rows set aside written to
    outcomes.rejected, and the days past outcomes.retention_days deleted (those days)."""
    rules = settings.outcomes
    contract = load_contract(settings.data.contract)
    stored = store_outcomes(source, contract, settings.predict.log, rules, now)
    data.write_csv_for_people(stored.rejected, rules.rejected)
    return stored, day_partitions.prune(rules.store, rules.retention_days, now)
