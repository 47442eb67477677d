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


def _usable_counts(
    rng: np.random.Generator, target: np.ndarray, resamples: int
) -> Iterator[np.ndarray]:
    """The resamples' row counts, in chunks that keep memory bounded, less those that hold a
    single class (no AUC)."""
    rows = len(target)
    chunk = max(1, BOOTSTRAP_CELLS // max(rows, 1))
    for start in range(0, resamples, chunk):
        counts = _resample_counts(rng, rows, min(chunk, resamples - start))
        positives = counts @ target
        yield counts[(positives > 0) & (positives < rows)]


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
    holds a single class has no AUC and is left out."""
    values: Resampled = {label: {m: [] for m in metrics} for label, (_, metrics) in models.items()}
    for counts in _usable_counts(np.random.default_rng(seed), target, resamples):
        for label, (probability, _) in models.items():
            for metric, found in values[label].items():  # a metric named twice is scored once
                found.append(
                    evaluation.resampled_scores(metric, target, probability, counts, threshold)
                )
    return values


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
