"""Why the model scored a row as it did: XGBoost's own TreeSHAP (`pred_contribs`), exact for
tree models, with nothing installed beyond XGBoost (the `shap` package adds some 200 MB for
the same numbers).

A contribution is in log-odds of the positive class: a row's contributions and the model's
bias add up to the log-odds of its score. A positive one pushed the row toward the positive
class: for a credit model, toward the adverse decision, so the largest ones are the decision's
principal reasons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # for type hints only: pandas and xgboost cost seconds to import
    import pandas as pd
    from xgboost import XGBClassifier

# The most reasons a caller may ask for per row: a decision's principal reasons are a few.
MAX_REASONS = 10
# Global importance is measured on this many rows spread evenly over the frame (a file sorted by
# time is sampled across its whole span), the same rows for every model compared: enough for a
# stable ranking. TreeSHAP is exact but not cheap: ~0.45 ms a row for the default model here.
IMPORTANCE_ROWS = 500
# Below this ranking agreement the model leans on other columns than it was evaluated on: the
# line SageMaker Clarify alerts at for attribution drift.
AGREEMENT_LINE = 0.9


def contributions(model: XGBClassifier, inputs: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Each row's contribution of each column the model takes (rows x columns, the model's
    column order), the bias left out. `inputs`: a typed frame of the model's columns, or a
    training.feature_matrix (categories as their codes, as the model was trained). No rows,
    no contributions: XGBoost refuses an empty matrix."""
    from xgboost import DMatrix

    booster = model.get_booster()
    if not len(inputs):
        return np.empty((0, booster.num_features()))
    if isinstance(inputs, np.ndarray):
        matrix = DMatrix(
            inputs,
            feature_names=booster.feature_names,
            feature_types=booster.feature_types,
            enable_categorical=True,
        )
    else:
        matrix = DMatrix(inputs, enable_categorical=True)
    return np.asarray(booster.predict(matrix, pred_contribs=True))[:, :-1]


def top_reasons(
    contributed: np.ndarray, names: list[str], count: int
) -> list[list[dict[str, Any]]]:
    """Per row, up to `count` columns that pushed its score toward the positive class, the
    largest first, each with its contribution (log-odds, 6 decimals). A column that pushed
    the other way is no reason for the positive class and is left out."""
    order = np.argsort(-contributed, axis=1, kind="stable")[:, :count]
    return [
        [
            {"column": names[column], "contribution": round(float(row[column]), 6)}
            for column in columns
            if row[column] > 0
        ]
        for row, columns in zip(contributed, order, strict=True)
    ]


def importance_sample(inputs: pd.DataFrame) -> pd.DataFrame:
    """At most IMPORTANCE_ROWS rows of `inputs`, evenly spaced from the first to the last."""
    step = max(1, -(-len(inputs) // IMPORTANCE_ROWS))  # rounded up: never more than the cap
    return inputs.iloc[::step]


def global_importance(model: XGBClassifier, inputs: pd.DataFrame) -> dict[str, float]:
    """What the model relies on: each column's mean absolute contribution (log-odds) over
    importance_sample(inputs) (a typed frame of its columns), largest first."""
    sample = importance_sample(inputs)
    if not len(sample):
        return {}
    mean_absolute = np.abs(contributions(model, sample)).mean(axis=0)
    ranked = sorted(zip(sample.columns, mean_absolute.tolist(), strict=True), key=lambda c: -c[1])
    return {str(name): round(value, 6) for name, value in ranked}


def ranking_agreement(baseline: dict[str, float], current: dict[str, float]) -> float | None:
    """How far the columns keep their places, as the normalised discounted cumulative gain
    (nDCG) of `current`'s ranking with `baseline`'s importances as the gains: 1.0 when the
    columns rank as in the baseline, lower as the ones the model leaned on most move down.
    None when the baseline holds no importance to rank by."""
    names = [name for name in baseline if name in current]
    if not names or not any(baseline[name] for name in names):
        return None

    def gain(order: list[str]) -> float:
        return sum(baseline[name] / math.log2(place + 2) for place, name in enumerate(order))

    ideal = gain(sorted(names, key=lambda name: -baseline[name]))
    return round(gain(sorted(names, key=lambda name: -current[name])) / ideal, 4)
