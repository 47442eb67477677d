"""Evaluation plots as PNG images: ROC, precision-recall, calibration, confusion matrix and
feature importance. They are DVC plots and MLflow artifacts alike."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window: this runs in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve
from xgboost import XGBClassifier


def _figure(title: str) -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(5, 4), dpi=100)
    axes.set_title(title)
    return figure, axes


def roc_figure(target: pd.Series, probability: pd.Series) -> Figure:
    false_positive, true_positive, _ = roc_curve(target, probability)
    figure, axes = _figure("ROC curve")
    axes.plot(false_positive, true_positive, label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.legend(loc="lower right")
    return figure


def precision_recall_figure(target: pd.Series, probability: pd.Series) -> Figure:
    precision, recall, _ = precision_recall_curve(target, probability)
    figure, axes = _figure("Precision-recall curve")
    axes.plot(recall, precision, label="model")
    axes.axhline(float(target.mean()), linestyle="--", color="grey", label="base rate")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.legend(loc="upper right")
    return figure


def calibration_figure(target: pd.Series, probability: pd.Series) -> Figure:
    observed, predicted = calibration_curve(target, probability, n_bins=10, strategy="quantile")
    figure, axes = _figure("Calibration")
    axes.plot(predicted, observed, marker="o", label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed default rate")
    axes.legend(loc="upper left")
    return figure


def confusion_figure(target: pd.Series, probability: pd.Series, threshold: float) -> Figure:
    matrix = confusion_matrix(target, (probability >= threshold).astype(int), labels=[0, 1])
    figure, axes = _figure(f"Confusion matrix (threshold {threshold})")
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_xticks([0, 1], labels=["predicted 0", "predicted 1"])
    axes.set_yticks([0, 1], labels=["actual 0", "actual 1"])
    return figure


def importance_figure(model: XGBClassifier) -> Figure:
    gains = model.get_booster().get_score(importance_type="gain")
    ranked = sorted(gains.items(), key=lambda item: item[1])
    figure, axes = _figure("Feature importance (gain)")
    axes.barh([name for name, _ in ranked], [gain for _, gain in ranked])
    axes.set_xlabel("average gain")
    figure.tight_layout()
    return figure


def save_plots(
    target: pd.Series, probability: pd.Series, threshold: float, model: XGBClassifier, folder: Path
) -> list[Path]:
    """Write every plot into `folder` and return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "roc.png": roc_figure(target, probability),
        "precision_recall.png": precision_recall_figure(target, probability),
        "calibration.png": calibration_figure(target, probability),
        "confusion_matrix.png": confusion_figure(target, probability, threshold),
        "feature_importance.png": importance_figure(model),
    }
    written = []
    for name, figure in figures.items():
        path = folder / name
        figure.savefig(path, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written
