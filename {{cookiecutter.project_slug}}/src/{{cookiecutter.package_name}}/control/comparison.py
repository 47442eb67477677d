"""The gate's performance judgement: each model scored on the evaluation split, every metric
against its floor or ceiling, latency and size limits, and on the primary metric a paired
bootstrap confidence interval of the challenger's improvement, judged by a non-inferiority or
superiority rule; then the verdict, where errors and risk failures always block."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import ProjectError
from ..pipeline import evaluation, explanations, training
from ..settings import GateSettings
from .gate_result import Interval, Verdict

if TYPE_CHECKING:
    from xgboost import XGBClassifier

MIN_USABLE_SHARE = 0.9  # of bootstrap resamples that hold both classes
BOOTSTRAP_CELLS = 4_000_000  # resamples x rows scored at once: about 32 MB per model
# Above this many evaluation rows, resamples are drawn over cells of rows (one class, one score
# bin per model: cells) rather than row by row, so a resample costs the cells' number, not
# the rows'. Scores within a bin count as tied; the values are recentred on the exact figures
# (_recentre): intervals move by the bootstrap's own noise (README).
EXACT_BOOTSTRAP_ROWS = 200_000
SCORE_BINS = 1024  # per model: equal-count bins of its scores


@dataclass
class Scored:
    """One model scored on the evaluation split."""

    label: str
    eval_md5: str
    probability: np.ndarray
    metrics: dict[str, float]
    latency_ms_per_row: float
    importance: dict[str, float] = field(default_factory=dict)
    importance_rows: int = 0
    model_mb: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            **self.details,
            "eval_md5": self.eval_md5,
            "metrics": self.metrics,
            "latency_ms_per_row": round(self.latency_ms_per_row, 6),
            "importance": self.importance,
            "importance_rows": self.importance_rows,
            "model_mb": None if self.model_mb is None else round(self.model_mb, 3),
        }


Score = TypeVar("Score", float, np.ndarray)


def improvement(metric: str, challenger: Score, champion: Score) -> Score:
    """Positive when the challenger is better, whichever direction the metric runs."""
    delta: Score = challenger - champion
    if metric in evaluation.LOWER_IS_BETTER:
        flipped: Score = -delta
        return flipped
    return delta


def _resample_counts(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    """How often each row is drawn, for `size` resamples of `rows` rows with replacement.
    One draw call per resample, in order: the same seed draws the same rows as it always has
    (one call for all of them would not: numpy buffers its 32-bit draws per call)."""
    picks = np.stack([rng.integers(0, rows, rows) for _ in range(size)])
    offsets = (np.arange(size)[:, None] * rows + picks).ravel()
    return np.bincount(offsets, minlength=size * rows).reshape(size, rows).astype(float)


def _usable(counts: np.ndarray, target: np.ndarray, rows: int) -> np.ndarray:
    """The resamples that hold both classes (one that does not has no AUC)."""
    positives = counts @ target
    usable: np.ndarray = counts[(positives > 0) & (positives < rows)]
    return usable


def _usable_counts(
    rng: np.random.Generator, target: np.ndarray, resamples: int
) -> Iterator[np.ndarray]:
    """The resamples' row counts, in chunks that keep memory bounded, less those that hold a
    single class."""
    rows = len(target)
    chunk = max(1, BOOTSTRAP_CELLS // max(rows, 1))
    for start in range(0, resamples, chunk):
        counts = _resample_counts(rng, rows, min(chunk, resamples - start))
        yield _usable(counts, target, rows)


def _score_bins(
    probability: np.ndarray, target: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's score bin, and each bin's mean score. The edges are equal-count quantiles of
    each class's scores (half the bins each), so a rare class keeps its own resolution (PR AUC
    lives among the positives' scores); equal scores share a bin; the decision threshold is an
    edge, so no bin holds rows on both sides of it."""
    quantiles = np.linspace(0, 1, SCORE_BINS // 2 + 1)[1:-1]
    by_class = [probability[target == label] for label in (0, 1)]
    inner = [np.quantile(scores, quantiles) for scores in by_class if len(scores)]
    edges = np.unique(np.concatenate([*inner, [threshold]]))
    bins = np.searchsorted(edges, probability, side="right")
    sizes = np.bincount(bins, minlength=len(edges) + 1)
    sums = np.bincount(bins, weights=probability, minlength=len(edges) + 1)
    means = np.divide(sums, sizes, out=np.zeros(len(sizes)), where=sizes > 0)
    return bins, means


@dataclass(frozen=True)
class Weighted:
    """What one model's metrics are scored on: the classes and scores that a resample's
    weights go with, and how a resample's counts become those weights (by default, the counts
    are the weights)."""

    target: np.ndarray
    scores: np.ndarray
    order: np.ndarray | None = None
    starts: np.ndarray | None = None

    def weights(self, counts: np.ndarray) -> np.ndarray:
        if self.order is None or self.starts is None:
            return counts
        return np.asarray(np.add.reduceat(counts[:, self.order], self.starts, axis=1))


def _by_bin(cell_target: np.ndarray, cell_bins: np.ndarray, means: np.ndarray) -> Weighted:
    """One model's view of the cells: their counts summed per class and score bin."""
    key = cell_target.astype(np.int64) * len(means) + cell_bins
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    groups = ordered[starts]
    return Weighted(groups // len(means), means[groups % len(means)], order, starts)


def cells(
    probabilities: list[np.ndarray], target: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, list[Weighted]]:
    """The rows grouped into cells by their class and every model's score bin: each cell's
    class and row count, and each model's view of them (_by_bin). A bootstrap resample of the
    rows gives the cells multinomial counts with the cells' shares: drawn so, nothing is lost
    but the order of scores within a bin."""
    key = target.astype(np.int64)
    binned = [_score_bins(probability, target, threshold) for probability in probabilities]
    for bins, means in binned:
        key = key * len(means) + bins
    _, first, sizes = np.unique(key, return_index=True, return_counts=True)
    cell_target = target[first]
    return cell_target, sizes, [_by_bin(cell_target, bins[first], means) for bins, means in binned]


def _usable_cell_counts(
    rng: np.random.Generator, target: np.ndarray, sizes: np.ndarray, resamples: int
) -> Iterator[np.ndarray]:
    """The resamples' counts per cell (cells), in bounded chunks, less single-class ones."""
    rows = int(sizes.sum())
    chunk = max(1, BOOTSTRAP_CELLS // len(sizes))
    for start in range(0, resamples, chunk):
        counts = rng.multinomial(rows, sizes / rows, size=min(chunk, resamples - start))
        yield _usable(counts.astype(float), target, rows)


def _interval(
    values: list[np.ndarray], estimate: float, resamples: int, confidence: float, what: str
) -> Interval:
    """The percentile interval of the resampled values; too few usable resamples is an
    error (`what` says what could not be judged)."""
    usable = np.concatenate(values)
    if len(usable) < MIN_USABLE_SHARE * resamples:
        raise ProjectError(
            f"only {len(usable)} of {resamples} bootstrap resamples hold both classes: "
            f"too few rows of one class to {what}"
        )
    tail = (1 - confidence) / 2
    low, high = np.quantile(usable, [tail, 1 - tail])
    return Interval(
        estimate=round(estimate, 6),
        low=round(float(low), 6),
        high=round(float(high), 6),
        confidence=confidence,
        resamples=resamples,
    )


Resampled = dict[str, dict[str, list[np.ndarray]]]  # model -> metric -> values, per chunk


def resampled_values(
    models: Mapping[str, tuple[np.ndarray, tuple[str, ...]]],
    target: np.ndarray,
    threshold: float,
    resamples: int,
    seed: int,
) -> Resampled:
    """Each model's metrics (label -> its probabilities and metrics) on the same resamples of
    the evaluation rows, drawn once: the draw costs as much as a metric, and the gate wants
    the challenger's own intervals beside the paired one. The resamples are scored together,
    as weights (evaluation.resampled_scores), in chunks that keep memory bounded; one that
    holds a single class has no AUC and is left out. Past EXACT_BOOTSTRAP_ROWS rows, the
    weights are cells' (cells)."""
    rng = np.random.default_rng(seed)
    scores = [probability for probability, _ in models.values()]
    if len(target) <= EXACT_BOOTSTRAP_ROWS:
        views = [Weighted(target, probability) for probability in scores]
        chunks = _usable_counts(rng, target, resamples)
    else:
        cell_target, sizes, views = cells(scores, target, threshold)
        chunks = _usable_cell_counts(rng, cell_target, sizes, resamples)
    values: Resampled = {label: {m: [] for m in metrics} for label, (_, metrics) in models.items()}
    for counts in chunks:
        for label, view in zip(models, views, strict=True):
            weights = view.weights(counts)
            for metric, found in values[label].items():  # a metric named twice is scored once
                scored = evaluation.resampled_scores(
                    metric, view.target, view.scores, weights, threshold
                )
                found.append(scored)
    if len(target) > EXACT_BOOTSTRAP_ROWS:
        _recentre(values, scores, views, target, sizes, threshold)
    return values


def _recentre(
    values: Resampled,
    scores: list[np.ndarray],
    views: list[Weighted],
    target: np.ndarray,
    sizes: np.ndarray,
    threshold: float,
) -> None:
    """Shift each model's resampled values on cells by what the bins alone cost on the whole
    set (the rows' metric less the cells'), so the interval is about the exact figure."""
    whole = sizes[None, :].astype(float)
    for found, probability, view in zip(values.values(), scores, views, strict=True):
        for metric, chunks in found.items():
            on_cells = evaluation.resampled_scores(
                metric, view.target, view.scores, view.weights(whole), threshold
            )[0]
            shift = evaluation.score(metric, target, probability, threshold) - on_cells
            found[metric] = [chunk + shift for chunk in chunks]


def paired_interval(
    metric: str,
    values: Resampled,
    target: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    threshold: float,
    resamples: int,
    confidence: float,
) -> Interval:
    """The percentile interval of the challenger's improvement over the same resamples."""
    differences = [
        improvement(metric, ours, theirs)
        for ours, theirs in zip(
            values["challenger"][metric], values["champion"][metric], strict=True
        )
    ]
    estimate = improvement(
        metric,
        evaluation.score(metric, target, challenger, threshold),
        evaluation.score(metric, target, champion, threshold),
    )
    return _interval(differences, estimate, resamples, confidence, "compare models")


def own_intervals(
    metrics: tuple[str, ...],
    values: dict[str, list[np.ndarray]],
    target: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    resamples: int,
    confidence: float,
) -> dict[str, Interval]:
    """One model's metrics, each with its percentile bootstrap interval."""
    return {
        metric: _interval(
            values[metric],
            evaluation.score(metric, target, probability, threshold),
            resamples,
            confidence,
            "measure the model",
        )
        for metric in metrics
    }


def paired_bootstrap(
    metric: str,
    target: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    threshold: float,
    resamples: int,
    seed: int,
    confidence: float,
) -> Interval:
    """Resample evaluation rows with replacement (the same rows for both models) and take the
    percentile interval of the improvement. A fixed seed makes the verdict repeatable."""
    models = {"challenger": (challenger, (metric,)), "champion": (champion, (metric,))}
    values = resampled_values(models, target, threshold, resamples, seed)
    return paired_interval(
        metric, values, target, champion, challenger, threshold, resamples, confidence
    )


def bootstrap_intervals(
    metrics: tuple[str, ...],
    target: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Interval]:
    """One model's metrics, each with its percentile bootstrap interval, all scored on the
    same resamples (drawn as paired_bootstrap draws them)."""
    values = resampled_values({"model": (probability, metrics)}, target, threshold, resamples, seed)
    return own_intervals(metrics, values["model"], target, probability, threshold, resamples,
                         confidence)  # fmt: skip


def comparison_problem(metric: str, interval: Interval, rule: str, margin: float) -> str | None:
    """None when the rule holds; otherwise why not, in words."""
    span = f"{interval.low:+.4f} to {interval.high:+.4f}"
    if rule == "superiority" and interval.low <= margin:
        return (
            f"{metric}: not shown better than the champion by more than {margin:g} "
            f"({interval.confidence:.0%} interval of the improvement {span})"
        )
    if rule == "non_inferiority" and interval.low < -margin:
        return (
            f"{metric}: may be worse than the champion by more than the margin {margin:g} "
            f"({interval.confidence:.0%} interval of the improvement {span})"
        )
    return None


def threshold_problems(scored: Scored, gate: GateSettings) -> list[str]:
    """Absolute limits: metric floors and ceilings, latency and model size."""
    problems = []
    for metric, floor in gate.floors.items():
        if scored.metrics[metric] < floor:
            problems.append(f"{metric} {scored.metrics[metric]:.4f} is below the floor {floor:g}")
    for metric, ceiling in gate.ceilings.items():
        if scored.metrics[metric] > ceiling:
            problems.append(
                f"{metric} {scored.metrics[metric]:.4f} is above the ceiling {ceiling:g}"
            )
    if scored.latency_ms_per_row > gate.max_latency_ms_per_row:
        problems.append(
            f"prediction takes {scored.latency_ms_per_row:.4f} ms per row, more than "
            f"{gate.max_latency_ms_per_row:g}"
        )
    if scored.model_mb is not None and scored.model_mb > gate.max_model_mb:
        problems.append(f"the model is {scored.model_mb:.2f} MB, more than {gate.max_model_mb:g}")
    return problems


def sanity_problems(scored: Scored) -> list[str]:
    """Reasons the scores cannot be trusted at all: these fail closed."""
    problems = [
        f"{scored.label}: {name} is not finite"
        for name, value in scored.metrics.items()
        if not math.isfinite(value)
    ]
    if np.unique(scored.probability).size == 1:
        problems.append(f"{scored.label}: predicts the same probability for every row")
    return problems


def score_model(
    label: str,
    model: XGBClassifier,
    features: pd.DataFrame,
    target: pd.Series,
    threshold: float,
    eval_md5: str,
) -> Scored:
    """Predict the evaluation split (best of three timings) and compute every metric, and
    what the model relies on (explanations.global_importance)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        probability = training.predict_proba(model, features)
        timings.append(time.perf_counter() - started)
    if probability.isna().any():
        raise ProjectError(f"{label}: predicted probabilities contain NaN")
    return Scored(
        label=label,
        eval_md5=eval_md5,
        probability=probability.to_numpy(),
        metrics=evaluation.compute_metrics(target, probability, threshold),
        latency_ms_per_row=min(timings) * 1000 / max(len(features), 1),
        importance=explanations.global_importance(model, features),
        importance_rows=len(explanations.importance_sample(features)),
    )


def decide(
    errors: list[str], risk_problems: list[str], performance: list[str], override_by: str
) -> Verdict:
    """Errors and risk failures block whatever happens; an override only lifts performance."""
    if errors:
        return "error"
    if risk_problems:
        return "fail"
    if performance:
        return "overridden" if override_by else "fail"
    return "pass"
