"""Evaluation plots as data: ROC, precision-recall, calibration, confusion matrix and feature
importance, each a JSON list of points. dvc.yaml says how to draw each one, and `make plots`
(dvc plots show) draws them as a web page. MLflow keeps the same files with the run: its UI
lists them as data, it does not draw them.

Data rather than images: rendering five PNGs with matplotlib cost the train stage over a
second (its import and the drawing) on every pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve
from xgboost import XGBClassifier

# A curve keeps at most this many points, evenly spaced along it with both ends kept: enough
# to draw, and a file that stays small in git whatever the number of evaluation rows.
MAX_POINTS = 500

Points = list[dict[str, Any]]


def thinned(points: Points) -> Points:
    if len(points) <= MAX_POINTS:
        return points
    step = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * step)] for i in range(MAX_POINTS)]


def _curve(x_name: str, x: np.ndarray, y_name: str, y: np.ndarray) -> Points:
    points = zip(x.tolist(), y.tolist(), strict=True)
    return thinned([{x_name: round(a, 6), y_name: round(b, 6)} for a, b in points])


def roc_points(target: pd.Series, probability: pd.Series) -> Points:
    false_positive, true_positive, _ = roc_curve(target, probability)
    return _curve("false_positive_rate", false_positive, "true_positive_rate", true_positive)


def precision_recall_points(target: pd.Series, probability: pd.Series) -> Points:
    precision, recall, _ = precision_recall_curve(target, probability)
    return _curve("recall", recall, "precision", precision)


def calibration_points(target: pd.Series, probability: pd.Series) -> Points:
    observed, predicted = calibration_curve(target, probability, n_bins=10, strategy="quantile")
    return _curve("mean_predicted", predicted, "observed_rate", observed)


def confusion_points(target: pd.Series, probability: pd.Series, threshold: float) -> Points:
    """The four cells with their counts (DVC's confusion template would need a record per
    evaluation row)."""
    matrix = confusion_matrix(target, (probability >= threshold).astype(int), labels=[0, 1])
    return [
        {"cell": f"actual {actual}, predicted {predicted}", "rows": int(count)}
        for (actual, predicted), count in np.ndenumerate(matrix)
    ]


def importance_points(model: XGBClassifier) -> Points:
    # One number per feature: XGBoost gives lists only for multi-output trees.
    gains = cast(dict[str, float], model.get_booster().get_score(importance_type="gain"))
    ranked = sorted(gains.items(), key=lambda item: -item[1])
    return [{"feature": name, "average_gain": round(gain, 6)} for name, gain in ranked]


def save_plots(
    target: pd.Series, probability: pd.Series, threshold: float, model: XGBClassifier, folder: Path
) -> list[Path]:
    """Write every plot's points into `folder` (the names dvc.yaml draws) and return the
    files."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = {
        "roc.json": roc_points(target, probability),
        "precision_recall.json": precision_recall_points(target, probability),
        "calibration.json": calibration_points(target, probability),
        "confusion_matrix.json": confusion_points(target, probability, threshold),
        "feature_importance.json": importance_points(model),
    }
    written = []
    for name, points in plots.items():
        path = folder / name
        lines = ",\n".join(json.dumps(point) for point in points)  # a point a line: small diffs
        path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        written.append(path)
    return written
