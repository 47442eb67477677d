"""Evaluation metrics on the frozen evaluation split."""

from __future__ import annotations

import math

import pandas as pd
from sklearn import metrics

# Every metric the pipeline reports; for all but log_loss and brier, higher is better.
METRIC_NAMES = ("roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier")
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


def compute_metrics(
    target: pd.Series, probability: pd.Series, threshold: float
) -> dict[str, float]:
    """All metrics for one model. A single-class target has no ROC or PR curve: that is an
    error here, not a NaN that could slip through a gate."""
    if target.nunique() < 2:
        raise ValueError("the evaluation set holds a single class: its metrics are undefined")
    predicted = (probability >= threshold).astype(int)
    values = {
        "roc_auc": metrics.roc_auc_score(target, probability),
        "pr_auc": metrics.average_precision_score(target, probability),
        "f1": metrics.f1_score(target, predicted, zero_division=0),
        "precision": metrics.precision_score(target, predicted, zero_division=0),
        "recall": metrics.recall_score(target, predicted, zero_division=0),
        "log_loss": metrics.log_loss(target, probability, labels=[0, 1]),
        "brier": metrics.brier_score_loss(target, probability),
    }
    result = {name: round(float(value), 6) for name, value in values.items()}
    not_finite = [name for name, value in result.items() if not math.isfinite(value)]
    if not_finite:
        raise ValueError(f"metrics are not finite: {', '.join(not_finite)}")
    return result
