"""One request's answer, without HTTP: its rows checked by the same contract code as batch
scoring (a row batch scoring would reject is rejected, with the same reason), scored by the
model its route names, and the inference log's records of it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ProjectError
from ..monitoring import scoring
from ..pipeline import training
from ..pipeline.contract import Contract, ContractError
from . import routing
from .live import LiveState, Loaded

Row = dict[str, str | int | float | bool | None]
HASH_AT = scoring.LOG_COLUMNS.index("input_sha256")


class RequestRefused(ProjectError):
    """The request cannot be answered as sent: an HTTP status and what is wrong, per row."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Scores:
    loaded: Loaded
    route: str
    probability: np.ndarray
    labels: np.ndarray
    inputs: pd.DataFrame  # as the model took them: hashed for the log, off the request path
    seconds: float


def rows_frame(rows: list[Row], contract: Contract, max_rows: int) -> pd.DataFrame:
    """The request's rows as a frame of the contract's columns (a column it does not know is
    refused, as the drift check's schema check refuses it in a batch)."""
    if not rows:
        raise RequestRefused(422, "the request holds no rows")
    if len(rows) > max_rows:
        raise RequestRefused(413, f"{len(rows)} rows in one request; at most {max_rows}")
    known = {*contract.columns, contract.target.name}
    unknown = sorted({name for row in rows for name in row} - known)
    if unknown:
        raise RequestRefused(
            422, f"column(s) {', '.join(unknown)} are not in the data contract; leave them out"
        )
    return pd.DataFrame.from_records(rows)


def score(
    loaded: Loaded, frame: pd.DataFrame, contract: Contract, threshold: float, route: str
) -> Scores:
    """Every row scored by `loaded`, or the request refused with each bad row's reason."""
    started = time.perf_counter()
    try:
        view = scoring.model_view(frame, contract, loaded.model)
    except ContractError as error:  # a column the model takes is absent from every row
        raise RequestRefused(422, str(error)) from None
    if not view.usable.all():
        bad = view.problems[~view.usable]
        refused = [{"row": row, "reason": bad[row]} for row in bad.index.tolist()]
        raise RequestRefused(422, refused)
    probability = training.predict_proba(loaded.model, view.inputs).to_numpy()
    return Scores(
        loaded=loaded,
        route=route,
        probability=probability,
        labels=scoring.labels(probability, contract, threshold),
        inputs=view.inputs,
        seconds=time.perf_counter() - started,
    )


def answering(state: LiveState, request_id: str) -> tuple[Loaded | None, str]:
    """The model the request's id routes to, and the route's name."""
    route = routing.route(request_id, state.canary_percent) if state.candidate else routing.STABLE
    if route == routing.CANARY:
        return state.candidate, route
    return state.stable, route


def log_records(
    scores: Scores, frame: pd.DataFrame, request_id: str, sensitive: str
) -> list[list[object]]:
    """The inference log's rows for one scored request (scoring.LOG_COLUMNS' order), the
    input's hash left for the log's writer to fill in (HASH_AT)."""
    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    version = scores.loaded.version
    groups = frame[sensitive].tolist() if sensitive in frame else [""] * len(frame)
    latency_ms = round(scores.seconds * 1000, 3)
    return [
        [
            when, version.name, version.number, scores.route, request_id, row, "",
            round(float(probability), 6), label, latency_ms, "" if group is None else group,
        ]
        for row, (probability, label, group) in enumerate(
            zip(scores.probability, scores.labels, groups, strict=True)
        )
    ]  # fmt: skip
