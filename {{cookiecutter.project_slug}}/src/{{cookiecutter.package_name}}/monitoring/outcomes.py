"""Outcomes judged per model version and per window of decision time: how each version did on
the decisions whose outcomes are known, against its own evaluation figures.

Per window (daily or weekly, UTC, by the time of the decision): the decisions (inference log)
and the outcomes known for them (outcome store), label coverage and delay; ROC AUC, PR AUC,
F1 at the decision threshold and the Brier score, each with the gate's bootstrap interval, and
the calibration error; the same ROC AUC and F1 as the scores expect them (CBPE, on every
decision, labelled or not: before the outcomes come, it is all there is); disparate impact
and equal-opportunity difference on the sensitive column.

A window counts once it has closed and the share of its decisions with an outcome passes
`outcomes.min_coverage` (with at least `min_outcomes`). It breaks when a figure is worse than
the version's own evaluation figure by more than its tolerance, and its interval does not
reach the evaluation figure. The alert rule is the one
mlops-stacks uses: `alert_after` of the last `of_last` counted windows break, the latest among
them. Fairness is judged by the same rule against the risk gate's limits, as its own alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..control import comparison, fairness, registry
from ..control.gate_result import Interval
from ..errors import ProjectError
from ..pipeline import evaluation
from ..settings import LOWER_IS_BETTER, OUTCOME_METRICS, Settings
from . import day_partitions, inference_log, outcome_store

SHOWN_WINDOWS = 2  # the report covers this many times the rule's windows, to show the trend
CALIBRATION_BINS = 10
ANSWERING = {inference_log.BATCH, "stable"}  # routes whose decisions were acted upon


@dataclass(frozen=True)
class WindowFairness:
    groups: dict[str, int]  # labelled rows per group judged
    disparate_impact: float | None
    equal_opportunity_difference: float | None


@dataclass(frozen=True)
class Window:
    version: int
    start: datetime
    end: datetime
    decisions: int
    outcomes: int
    delay_days: float | None  # median time from decision to outcome
    closed: bool
    counted: bool
    realised: dict[str, Interval] = field(default_factory=dict)
    calibration_error: float | None = None
    expected: dict[str, float] = field(default_factory=dict)
    fairness: WindowFairness | None = None
    breaches: list[str] = field(default_factory=list)
    fairness_breaches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.outcomes / self.decisions if self.decisions else 0.0


@dataclass(frozen=True)
class Judgement:
    """One version over its windows, oldest first."""

    version: int
    answering: bool  # it answered (production or batch) in the newest window: alerts are its
    baseline: dict[str, float]
    windows: list[Window]
    performance_alert: bool
    fairness_alert: bool


def window_starts(when: pd.Series, kind: str) -> pd.Series:
    """The start of each time's window: its day, or the Monday of its week (UTC)."""
    day: pd.Series = when.dt.tz_convert("UTC").dt.floor("D")
    if kind == "weekly":
        monday: pd.Series = day - pd.to_timedelta(day.dt.weekday, unit="D")
        return monday
    return day


def window_length(kind: str) -> timedelta:
    return timedelta(days=7 if kind == "weekly" else 1)


def calibration_error(target: np.ndarray, probability: np.ndarray) -> float:
    """Expected calibration error: over ten equal bins of score, the gap between the mean
    score and the share of positives, weighted by the bin's rows."""
    bins = np.minimum((probability * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    scored = np.bincount(bins, probability, CALIBRATION_BINS)
    positive = np.bincount(bins, target, CALIBRATION_BINS)
    return round(float(np.abs(scored - positive).sum() / len(target)), 6)


def realised(
    target: np.ndarray, probability: np.ndarray, settings: Settings
) -> tuple[dict[str, Interval], list[str]]:
    """Each judged figure with its bootstrap interval (the gate's resamples, seed and
    confidence); none where the outcomes cannot give them, with the reason."""
    gate = settings.gate
    try:
        figures = comparison.bootstrap_intervals(
            OUTCOME_METRICS, target, probability, settings.evaluate.decision_threshold,
            gate.resamples, gate.seed, gate.confidence,
        )  # fmt: skip
    except ProjectError as error:
        return {}, [str(error)]
    return figures, []


def window_fairness(rows: pd.DataFrame, settings: Settings) -> WindowFairness | None:
    """Disparate impact and equal-opportunity difference over the groups with at least
    fairness.min_group_size outcomes; None where fewer than two such groups."""
    limits = settings.fairness
    if not limits.sensitive_column:
        return None
    groups = fairness.group_names(rows["sensitive"])  # "" is the missing group
    if limits.missing_values == "refuse":
        groups = groups[groups != fairness.MISSING_GROUP]
    rates = fairness.group_rates(
        groups,
        rows.loc[groups.index, outcome_store.OUTCOME],
        rows.loc[groups.index, "probability"],
        settings.evaluate.decision_threshold,
    )
    judged = {name: r for name, r in rates.items() if r.size >= limits.min_group_size}
    if len(judged) < 2:
        return None
    recalls = [r.true_positive_rate for r in judged.values() if r.true_positive_rate is not None]
    gap = round(max(recalls) - min(recalls), fairness.DIGITS) if len(recalls) >= 2 else None
    return WindowFairness(
        groups={name: r.size for name, r in judged.items()},
        disparate_impact=fairness.disparate_impact([r.selection_rate for r in judged.values()]),
        equal_opportunity_difference=gap,
    )


def breaches(
    figures: dict[str, Interval], baseline: dict[str, float], settings: Settings
) -> list[str]:
    """The figures worse than the version's own evaluation by more than their tolerance,
    whose interval does not reach that figure either: the noise of a small window alone
    never breaks one."""
    found = []
    for metric, tolerance in settings.outcomes.tolerance.items():
        if metric not in figures or metric not in baseline:
            continue
        interval, base = figures[metric], baseline[metric]
        value = interval.estimate
        if metric in LOWER_IS_BETTER:
            worse, shown = value - base, interval.low > base
        else:
            worse, shown = base - value, interval.high < base
        if worse > tolerance and shown:
            found.append(f"{metric} {value:.4f} against {base:.4f} at evaluation")
    return found


def fairness_breaches(measured: WindowFairness | None, settings: Settings) -> list[str]:
    limits = settings.fairness
    if measured is None:
        return []
    found = []
    impact, gap = measured.disparate_impact, measured.equal_opportunity_difference
    if impact is not None and impact < limits.min_disparate_impact:
        found.append(f"disparate impact {impact:.3f} below {limits.min_disparate_impact:g}")
    if gap is not None and gap > limits.max_equal_opportunity_difference:
        found.append(
            f"equal-opportunity difference {gap:.3f} above "
            f"{limits.max_equal_opportunity_difference:g}"
        )
    return found


def judge_window(
    version: int,
    start: datetime,
    decided: pd.DataFrame,
    known: pd.DataFrame,
    baseline: dict[str, float],
    settings: Settings,
    now: datetime,
) -> Window:
    """One version's window: `decided` its decisions (log rows), `known` those with outcomes."""
    rules = settings.outcomes
    end = start + window_length(rules.window)
    decisions = max(len(decided), len(known))  # a log moved aside still leaves its outcomes
    target = known[outcome_store.OUTCOME].to_numpy(dtype="float64")
    probability = known["probability"].to_numpy(dtype="float64")
    classes = len(np.unique(target))
    delay = known[outcome_store.KNOWN_AT] - known[outcome_store.DECIDED_AT]
    window = Window(
        version=version,
        start=start,
        end=end,
        decisions=decisions,
        outcomes=len(known),
        delay_days=round(delay.dt.total_seconds().median() / 86_400, 2) if len(known) else None,
        closed=end <= now,
        counted=False,
        expected=evaluation.expected_metrics(
            decided["probability"].to_numpy(dtype="float64"), settings.evaluate.decision_threshold
        ),
    )
    if classes < 2:
        note = "no outcomes" if not len(known) else "outcomes of one class only"
        return _with(window, notes=[note])
    figures, notes = realised(target, probability, settings)
    measured = window_fairness(known, settings)
    counted = (
        window.closed
        and window.coverage >= rules.min_coverage
        and len(known) >= rules.min_outcomes
        and not notes
    )
    return _with(
        window,
        counted=counted,
        realised=figures,
        calibration_error=calibration_error(target, probability),
        fairness=measured,
        breaches=breaches(figures, baseline, settings),
        fairness_breaches=fairness_breaches(measured, settings),
        notes=notes,
    )


def _with(window: Window, **changes: Any) -> Window:
    return Window(**{**window.__dict__, **changes})


def rule_fires(flags: list[bool], alert_after: int, of_last: int) -> bool:
    """k of the last n counted windows break, the latest among them (flags oldest first)."""
    last = flags[-of_last:]
    return bool(last) and last[-1] and sum(last) >= alert_after


def judge_version(
    version: int,
    answering: bool,
    windows: list[Window],
    baseline: dict[str, float],
    settings: Settings,
) -> Judgement:
    counted = [w for w in windows if w.counted]
    rules = settings.outcomes
    return Judgement(
        version=version,
        answering=answering,
        baseline=baseline,
        windows=windows,
        performance_alert=answering
        and rule_fires([bool(w.breaches) for w in counted], rules.alert_after, rules.of_last),
        fairness_alert=answering
        and rule_fires(
            [bool(w.fairness_breaches) for w in counted], rules.alert_after, rules.of_last
        ),
    )


def span(settings: Settings, now: datetime) -> tuple[datetime, datetime] | None:
    """The decision times the report covers: SHOWN_WINDOWS times the rule's windows up to the
    newest day with outcomes, and on to now (decisions still waiting for theirs)."""
    stored = day_partitions.days(settings.outcomes.store)
    if not stored:
        return None
    kind = settings.outcomes.window
    newest = pd.Series([pd.Timestamp(max(stored), tz="UTC")])
    start = window_starts(newest, kind).iloc[0].to_pydatetime()
    start -= window_length(kind) * (SHOWN_WINDOWS * settings.outcomes.of_last - 1)
    return start, max(now, start + window_length(kind))


def judge(
    settings: Settings, baseline_of: Callable[[int], dict[str, float]], now: datetime
) -> list[Judgement]:
    """Every version that decided in the span, judged over its windows against its own
    evaluation figures (`baseline_of`; a version that answered must have them, or nothing
    can be decided: its error goes up)."""
    covered = span(settings, now)
    if covered is None:
        return []
    start, end = covered
    kind, name = settings.outcomes.window, settings.tracking.model_name
    columns = ["model_name", "model_version", "route", "probability"]
    log = inference_log.since(settings.predict.log, start, columns, until=end)
    log = log[log["model_name"] == name]
    decided = log.assign(
        model_version=log["model_version"].astype("int64"),
        probability=log["probability"].astype("float64"),
        window=window_starts(inference_log.logged_at(log), kind),
    )
    known = outcome_store.read(settings.outcomes.store, start, end)
    known = known[known["model_name"] == name]
    known = known.assign(window=window_starts(known[outcome_store.DECIDED_AT], kind))
    marks = ["model_version", "route", "window"]
    both = pd.concat([decided[marks], known[marks]])
    newest = both["window"].max()
    judged = []
    for version in sorted(set(both["model_version"])):
        routes = both.loc[(both["model_version"] == version) & (both["window"] == newest), "route"]
        answering = bool(routes.isin(ANSWERING).any())
        baseline = _baseline(baseline_of, version, required=answering)
        mine = decided[decided["model_version"] == version]
        theirs = known[known["model_version"] == version]
        windows = [
            judge_window(
                version,
                start_of.to_pydatetime(),
                mine[mine["window"] == start_of],
                theirs[theirs["window"] == start_of],
                baseline,
                settings,
                now,
            )
            for start_of in sorted(set(mine["window"]) | set(theirs["window"]))
        ]
        judged.append(judge_version(version, answering, windows, baseline, settings))
    return judged


def rules_broken(judgement: Judgement, settings: Settings) -> int | None:
    """How many of the outcome rules (performance, fairness) a version's counted windows fire,
    whether or not it answered (a rollout's candidate answers as canary or shadow); None while
    none of its windows counts: nothing can be said yet."""
    counted = [w for w in judgement.windows if w.counted]
    if not counted:
        return None
    rules = settings.outcomes
    flags = ([bool(w.breaches) for w in counted], [bool(w.fairness_breaches) for w in counted])
    return sum(rule_fires(kind, rules.alert_after, rules.of_last) for kind in flags)


def candidate_rules_broken(
    settings: Settings, version: int, baseline_of: Callable[[int], dict[str, float]], now: datetime
) -> int | None:
    """The rollout's outcome check: the rules the candidate's own decisions with outcomes
    break; None where it has no counted window (the usual case within a canary's hold)."""
    for judgement in judge(settings, baseline_of, now):
        if judgement.version == version and judgement.baseline:  # none: nothing to judge by
            return rules_broken(judgement, settings)
    return None


def _baseline(
    baseline_of: Callable[[int], dict[str, float]], version: int, required: bool
) -> dict[str, float]:
    """A version's evaluation figures; one that no longer answers is shown without them
    where the registry no longer has them."""
    try:
        return baseline_of(version)
    except ProjectError:
        if required:
            raise
        return {}


def registry_baselines(settings: Settings) -> Callable[[int], dict[str, float]]:
    """Each version's evaluation figures from the registry (connected at the first ask)."""
    clients: list[Any] = []

    def baseline(version: int) -> dict[str, float]:
        if not clients:
            clients.append(registry.connect())
        return registry.evaluation_figures(clients[0], settings.tracking.model_name, version)

    return baseline
