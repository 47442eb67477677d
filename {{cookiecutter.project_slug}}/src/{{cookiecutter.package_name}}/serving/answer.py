"""One request's answer, without HTTP: its rows checked by the same contract code as batch
scoring (a row batch scoring would reject is rejected, with the same reason), scored by the
model its route names, and the inference log's records of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import ProjectError
from ..monitoring import inference_log, scoring
from ..pipeline import contract as contracts
from ..pipeline import explanations, training
from ..pipeline.contract import Contract, ContractError
from . import routing
from .live import LiveState, Loaded

Row = dict[str, str | int | float | bool | None]
HASH_AT = inference_log.LOG_COLUMNS.index("input_sha256")


class RequestRefused(ProjectError):
    """The request cannot be answered as sent: an HTTP status and what is wrong, per row."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


Table = dict[str, np.ndarray]  # a request's rows by column, as contract's rules take them


@dataclass(frozen=True)
class Scores:
    loaded: Loaded
    route: str
    probability: np.ndarray
    labels: np.ndarray
    inputs: dict[str, Any]  # typed as the model took them: hashed for the log, off the request path
    seconds: float
    reasons: list[list[dict[str, Any]]] | None = None  # per row, when the caller asked (explain)


def rows_table(rows: list[Row], contract: Contract, max_rows: int) -> Table:
    """The request's rows by column, every column of the contract among them: a column a row
    leaves out is missing in that row, as an empty cell of a CSV is (the contract says whether
    it may be). A column the contract does not know is refused, as the drift check's schema
    check refuses it in a batch. Plain arrays, not a DataFrame: pandas' cost per call would be
    most of the answer."""
    if not rows:
        raise RequestRefused(422, "the request holds no rows")
    if len(rows) > max_rows:
        raise RequestRefused(413, f"{len(rows)} rows in one request; at most {max_rows}")
    sent = {name for row in rows for name in row}
    unknown = sorted(sent - {*contract.columns, contract.target.name})
    if unknown:
        raise RequestRefused(
            422, f"column(s) {', '.join(unknown)} are not in the data contract; leave them out"
        )
    names = [*contract.columns, *sorted(sent - set(contract.columns))]
    return {name: np.array([row.get(name) for row in rows], dtype=object) for name in names}


def score(
    loaded: Loaded, table: Table, contract: Contract, threshold: float, route: str, explain: int = 0
) -> Scores:
    """Every row scored by `loaded`, or the request refused with each bad row's reason; with
    `explain`, each row's principal reasons too (explanations.top_reasons), from the same
    model and the same inputs."""
    started = time.perf_counter()
    try:
        problems = contracts.problems_per_row(table, contract, loaded.columns)
    except ContractError as error:  # a column the model takes is absent from every row
        raise RequestRefused(422, str(error)) from None
    bad = np.flatnonzero(problems != "")
    if bad.size:
        raise RequestRefused(422, [{"row": int(row), "reason": problems[row]} for row in bad])
    inputs = contracts.typed_columns(table, contract, loaded.columns)
    matrix = training.feature_matrix(inputs, loaded.columns)
    probability = training.positive_probability(loaded.model, matrix)
    reasons = None
    if explain:
        contributed = explanations.contributions(loaded.model, matrix)
        reasons = explanations.top_reasons(contributed, loaded.columns, explain)
    return Scores(
        loaded=loaded,
        route=route,
        probability=probability,
        labels=scoring.labels(probability, contract, threshold),
        inputs=inputs,
        seconds=time.perf_counter() - started,
        reasons=reasons,
    )


def size(table: Table) -> int:
    """The table's rows."""
    return len(next(iter(table.values())))


def stacked(tables: list[Table]) -> Table:
    """Several requests' rows as one table, in order (a column one of them leaves out is
    missing in its rows)."""
    names = list(dict.fromkeys(name for table in tables for name in table))
    missing = [np.full(size(table), None, dtype=object) for table in tables]
    return {
        name: np.concatenate(
            [table.get(name, none) for table, none in zip(tables, missing, strict=True)]
        )
        for name in names
    }


def split(scores: Scores, sizes: list[int]) -> list[Scores]:
    """A batch's scores per request (`sizes`: each one's rows, in order): its rows, and its
    share of the batch's time by rows. The typed inputs stay with the batch."""
    parts, start, total = [], 0, sum(sizes)
    for rows in sizes:
        end = start + rows
        parts.append(
            replace(
                scores,
                probability=scores.probability[start:end],
                labels=scores.labels[start:end],
                inputs={},
                seconds=scores.seconds * rows / total,
            )
        )
        start = end
    return parts


def answering(state: LiveState, request_id: str) -> tuple[Loaded | None, str]:
    """The model the request's id routes to, and the route's name."""
    route = routing.route(request_id, state.canary_percent) if state.candidate else routing.STABLE
    if route == routing.CANARY:
        return state.candidate, route
    return state.stable, route


def log_records(
    scores: Scores, table: Table, request_id: str, sensitive: str
) -> list[list[object]]:
    """The inference log's rows for one scored request (inference_log.LOG_COLUMNS' order), the
    input's hash left for the log's writer to fill in (HASH_AT)."""
    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    version = scores.loaded.version
    rows = len(scores.probability)
    groups = table[sensitive].tolist() if sensitive in table else [""] * rows
    latency_ms = round(scores.seconds * 1000, 3)
    return [
        [
            when, version.name, version.number, scores.route, request_id, row, "", "",
            round(float(probability), 6), label, latency_ms, "" if group is None else group,
        ]
        for row, (probability, label, group) in enumerate(
            zip(scores.probability, scores.labels, groups, strict=True)
        )
    ]  # fmt: skip
