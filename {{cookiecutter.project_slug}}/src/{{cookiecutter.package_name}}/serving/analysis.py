"""Is the rollout's candidate as good as production on live traffic? One function, used by the
server at every interval (its verdict can abort the canary at once) and by
`make rollout-status`.

It reads what the server measured: the inference log's rows of the interval (latency, scores
and the sensitive column's value of every answer, the candidate's shadow answers included) and
the server's error and request counters (Prometheus' text). A shadow answer's latency is its
share, by rows, of the batch it was scored in (see shadow.py): the candidate's own time. A
check without enough rows to judge is undecided: it never aborts, and it never lets a rollout
advance either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from ..control import fairness
from ..settings import AT_MOST, Analysis
from . import routing

ANALYSED_COLUMNS = [  # the inference log columns the analysis reads
    "model_version",
    "route",
    "request_id",
    "probability",
    "latency_ms",
    "sensitive",
]
SCORE_BINS = 10
OUTCOMES = "outcomes"  # the check of the outcome rules the candidate breaks (at most 0)


@dataclass(frozen=True)
class Counts:
    """The server's counters for one version, since it started."""

    answered: float = 0.0
    errors: float = 0.0


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None  # None: not enough data to judge
    limit: float

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.name in AT_MOST else self.value >= self.limit

    def __str__(self) -> str:
        shown = "undecided" if self.value is None else f"{self.value:.4g}"
        side = "at most" if self.name in AT_MOST else "at least"
        mark = {True: "ok", False: "FAILED", None: "undecided"}[self.passed]
        return f"{self.name} {shown} ({side} {self.limit:g}): {mark}"


@dataclass(frozen=True)
class Verdict:
    candidate: int
    stable: int
    candidate_rows: int
    checks: tuple[Check, ...]

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.passed is False]

    @property
    def healthy(self) -> bool:
        """Every check decided and passed: the rollout may advance. The outcome check alone
        may be undecided: outcomes come weeks after a decision, a hold lasts minutes."""
        return all(check.passed or (check.name == OUTCOMES and check.passed is None)
                   for check in self.checks)  # fmt: skip

    def reason(self) -> str:
        return "; ".join(str(check) for check in self.failed) or "every check passed"


def counts(metrics_text: str, version: int) -> Counts:
    """A version's answered requests (any route, status 200) and errors from /metrics."""
    answered = errors = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.labels.get("version") != str(version):
                continue
            if sample.name == "model_requests_total" and sample.labels.get("status") == "200":
                answered += sample.value
            elif sample.name == "model_errors_total":
                errors += sample.value
    return Counts(answered, errors)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of `actual` against `expected`, on `expected`'s deciles."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, SCORE_BINS + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    floor = 1e-4  # an empty bin would make the index infinite
    before = np.maximum(np.histogram(expected, edges)[0] / len(expected), floor)
    now = np.maximum(np.histogram(actual, edges)[0] / len(actual), floor)
    return float(np.sum((now - before) * np.log(now / before)))


def _measure(
    name: str, candidate: pd.DataFrame, stable: pd.DataFrame, threshold: float
) -> float | None:
    """One check's value from the interval's log rows (error_rate comes from the counters)."""
    if name == "latency_p99_ms":
        per_request = candidate.drop_duplicates(["request_id", "route"])["latency_ms"]
        return float(np.quantile(per_request.astype(float), 0.99))
    if name == "score_psi":
        if stable.empty:
            return None
        return psi(stable["probability"].to_numpy(float), candidate["probability"].to_numpy(float))
    known = candidate[candidate["sensitive"].fillna("") != ""]
    selected = known["probability"].astype(float) >= threshold
    rates = [float(rate) for rate in selected.groupby(known["sensitive"]).mean()]
    return fairness.disparate_impact(rates) if len(rates) >= 2 else None


def stable_rows(window: pd.DataFrame, stable: int) -> pd.DataFrame:
    """The log rows production answered in `window`."""
    answered = window["route"] == routing.STABLE
    return window[answered & (window["model_version"].astype(int) == stable)]


def analyse(
    window: pd.DataFrame,
    now: Counts,
    before: Counts,
    candidate: int,
    stable: int,
    analysis: Analysis,
    threshold: float,
    reference: pd.DataFrame | None = None,
    outcome_rules_broken: int | None = None,
) -> Verdict:
    """The candidate judged on one interval: `window` holds the inference log's rows of it,
    `now` and `before` the candidate's counters at its end and start. Its scores are compared
    with production's in the same interval, or, where production answered none (the candidate
    answers every request), with `reference`: production's rows of an earlier one. Where the
    analysis asks, `outcome_rules_broken` (outcomes.candidate_rules_broken) is a check too."""
    version = window["model_version"].astype(int)
    mine = window[(version == candidate) & window["route"].isin([routing.CANARY, routing.SHADOW])]
    theirs = stable_rows(window, stable)
    if theirs.empty and reference is not None:
        theirs = stable_rows(reference, stable)  # an earlier production's rows do not count
    attempts = (now.answered - before.answered) + (now.errors - before.errors)
    error_rate = (now.errors - before.errors) / attempts if attempts else None
    enough = len(mine) >= analysis.min_rows
    checks = []
    for name, limit in analysis.checks.items():
        value = None
        if name == "error_rate":
            value = error_rate
        elif enough:
            value = _measure(name, mine, theirs, threshold)
        checks.append(Check(name, None if value is None else round(value, 6), limit))
    if analysis.outcomes:
        checks.append(Check(OUTCOMES, outcome_rules_broken, 0))
    return Verdict(candidate, stable, len(mine), tuple(checks))
