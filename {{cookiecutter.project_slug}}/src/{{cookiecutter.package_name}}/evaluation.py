"""Evaluation metrics on the frozen evaluation split."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics

from .settings import LOWER_IS_BETTER

__all__ = ["LOWER_IS_BETTER", "METRIC_NAMES", "compute_metrics", "score"]

Scorer = Callable[[np.ndarray, np.ndarray, float], float]


def _labels(probability: np.ndarray, threshold: float) -> np.ndarray:
    return (probability >= threshold).astype(int)


# name -> scorer(target, probability, decision threshold). All take probabilities, so the gate
# can score champion and challenger alike on any resample of the evaluation set.
SCORERS: dict[str, Scorer] = {
    "roc_auc": lambda y, p, t: metrics.roc_auc_score(y, p),
    "pr_auc": lambda y, p, t: metrics.average_precision_score(y, p),
    "f1": lambda y, p, t: metrics.f1_score(y, _labels(p, t), zero_division=0),
    "precision": lambda y, p, t: metrics.precision_score(y, _labels(p, t), zero_division=0),
    "recall": lambda y, p, t: metrics.recall_score(y, _labels(p, t), zero_division=0),
    "log_loss": lambda y, p, t: metrics.log_loss(y, p, labels=[0, 1]),
    "brier": lambda y, p, t: metrics.brier_score_loss(y, p),
}
METRIC_NAMES = tuple(SCORERS)


def score(name: str, target: np.ndarray, probability: np.ndarray, threshold: float) -> float:
    return float(SCORERS[name](target, probability, threshold))


def compute_metrics(
    target: pd.Series, probability: pd.Series, threshold: float
) -> dict[str, float]:
    """All metrics for one model. A single-class target has no ROC or PR curve: that is an
    error here, not a NaN that could slip through a gate."""
    if target.nunique() < 2:
        raise ValueError("the evaluation set holds a single class: its metrics are undefined")
    y, p = target.to_numpy(), probability.to_numpy()
    result = {name: round(score(name, y, p, threshold), 6) for name in SCORERS}
    not_finite = [name for name, value in result.items() if not math.isfinite(value)]
    if not_finite:
        raise ValueError(f"metrics are not finite: {', '.join(not_finite)}")
    return result
