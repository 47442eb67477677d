"""Evaluation metrics on the frozen evaluation split."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics

from ..errors import ProjectError
from ..settings import LOWER_IS_BETTER, METRIC_NAMES

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


def score(name: str, target: np.ndarray, probability: np.ndarray, threshold: float) -> float:
    return float(SCORERS[name](target, probability, threshold))


def compute_metrics(
    target: pd.Series, probability: pd.Series, threshold: float
) -> dict[str, float]:
    """All metrics for one model. A single-class target has no ROC or PR curve: that is an
    error here, not a NaN that could slip through a gate."""
    if target.nunique() < 2:
        raise ProjectError("the evaluation set holds a single class: its metrics are undefined")
    y, p = target.to_numpy(), probability.to_numpy()
    result = {name: round(score(name, y, p, threshold), 6) for name in SCORERS}
    not_finite = [name for name, value in result.items() if not math.isfinite(value)]
    if not_finite:
        raise ProjectError(f"metrics are not finite: {', '.join(not_finite)}")
    return result


def expected_metrics(probability: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC and F1 as the scores themselves expect them, without labels: each row counts as
    positive with its probability (confidence-based performance estimation, CBPE). Right
    where the scores are calibrated; compared with the realised figures wherever labels exist,
    it shows how far to trust it."""
    p = np.asarray(probability, dtype="float64")
    positive, negative = p.sum(), (1 - p).sum()
    own_pairs = (p * (1 - p)).sum()  # a row is never paired with itself
    if not len(p) or positive * negative - own_pairs <= 0:
        return {}
    order, starts = _score_groups(p, descending=False)
    pos = np.add.reduceat(p[order], starts)
    neg = np.add.reduceat(1 - p[order], starts)
    below = np.cumsum(neg) - neg  # negatives with a lower score, per run of equal scores
    ranked = (pos * (below + 0.5 * neg)).sum() - 0.5 * own_pairs
    chosen = p >= threshold
    true_positive, false_positive = p[chosen].sum(), (1 - p[chosen]).sum()
    missed = p[~chosen].sum()
    f1_denominator = 2 * true_positive + false_positive + missed
    return {
        "roc_auc": round(float(ranked / (positive * negative - own_pairs)), 4),
        "f1": round(float(2 * true_positive / f1_denominator), 4) if f1_denominator else 0.0,
    }


def _score_groups(probability: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """The rows in score order, and where each run of equal scores starts in that order."""
    order = np.argsort(-probability if descending else probability, kind="stable")
    ordered = probability[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _grouped(weights: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per resample (row of `weights`), the weight of each run of equal scores."""
    return np.add.reduceat(weights[:, order], starts, axis=1)


def resampled_scores(
    name: str, target: np.ndarray, probability: np.ndarray, counts: np.ndarray, threshold: float
) -> np.ndarray:
    """The metric on many bootstrap resamples at once, each given as how often each row was
    drawn (a row of `counts`): the same values the scorers above give on the resampled rows,
    computed with weights instead of copies (ties count half for ROC AUC, and average
    precision steps at each distinct score, as scikit-learn's do)."""
    positive = counts * target
    negative = counts * (1 - target)
    if name == "roc_auc":
        order, starts = _score_groups(probability, descending=False)
        pos, neg = _grouped(positive, order, starts), _grouped(negative, order, starts)
        below = np.cumsum(neg, axis=1) - neg
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        return np.asarray((pos * (below + 0.5 * neg)).sum(axis=1) / pairs)
    if name == "pr_auc":
        order, starts = _score_groups(probability, descending=True)
        pos, neg = _grouped(positive, order, starts), _grouped(negative, order, starts)
        true_pos, false_pos = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        drawn = true_pos + false_pos
        precision = np.divide(
            true_pos, drawn, out=np.zeros_like(drawn, dtype=float), where=drawn > 0
        )
        return np.asarray((pos * precision).sum(axis=1) / pos.sum(axis=1))
    if name == "f1":
        chosen = probability >= threshold
        true_pos = positive[:, chosen].sum(axis=1)
        wrong = negative[:, chosen].sum(axis=1) + positive[:, ~chosen].sum(axis=1)
        denominator = 2 * true_pos + wrong
        f1: np.ndarray = np.divide(
            2 * true_pos, denominator, out=np.zeros(len(counts)), where=denominator > 0
        )
        return f1
    if name == "brier":
        return np.asarray(counts @ (probability - target) ** 2 / counts.sum(axis=1))
    raise ValueError(f"no resampled form of the metric {name!r}")
