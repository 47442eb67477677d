"""Training: an XGBoost classifier from the train split, deterministic for the same inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingInputError, ProjectError
from ..settings import TrainSettings

if TYPE_CHECKING:  # xgboost (with scikit-learn and scipy) is imported where a model is made
    import numpy as np
    import pandas as pd
    from xgboost import XGBClassifier


def make_model(params: TrainSettings) -> XGBClassifier:
    """An untrained classifier; a fixed seed and thread count make its bytes reproducible."""
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        reg_lambda=params.reg_lambda,
        random_state=params.seed,
        n_jobs=params.n_jobs,
        tree_method="hist",
        enable_categorical=True,
        eval_metric="logloss",
    )


def train_model(features: pd.DataFrame, target: pd.Series, params: TrainSettings) -> XGBClassifier:
    model = make_model(params)
    model.fit(features, target)
    return model


def save_model(model: XGBClassifier, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(path)


def model_bytes(path: Path) -> bytes:
    """The trained model's file, as the gate scores it and the registry checks it."""
    if not path.exists():
        raise MissingInputError(f"{path}: no trained model (run the train stage first)")
    return path.read_bytes()


def model_digest(content: bytes) -> str:
    """The identity of a model: the sha256 of its bytes (not a tag anyone could set)."""
    return hashlib.sha256(content).hexdigest()


def model_from_bytes(content: bytes) -> XGBClassifier:
    """A model from its bytes, by XGBoost's own loader: nothing in the bytes can run code, so
    these are the only bytes of a registered model we ever load (never MLflow's loader, which
    imports whatever the stored MLmodel names)."""
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(bytearray(content))
    return model


def load_model(path: Path) -> XGBClassifier:
    return model_from_bytes(model_bytes(path))


def predict_proba(model: XGBClassifier, features: pd.DataFrame) -> pd.Series:
    """Probability of the positive class, indexed like the input."""
    import pandas as pd

    probability = positive_probability(model, features)
    return pd.Series(probability, index=features.index, name="probability")


def model_columns(model: XGBClassifier) -> list[str]:
    """The columns a trained model takes, in its order (its own record of them)."""
    names = model.get_booster().feature_names
    if not names:
        raise ProjectError("the model records no feature names: cannot tell which columns it takes")
    return list(names)


def model_inputs(model: XGBClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a trained model takes, in its order. A champion trained when other columns
    were excluded is scored on its own inputs, not on the challenger's."""
    names = model_columns(model)
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ProjectError(f"the model takes columns the data does not have: {missing}")
    return frame[names]


def feature_matrix(inputs: Mapping[str, Any], names: list[str]) -> np.ndarray:
    """Typed columns (contract.typed_columns) as one float matrix in the model's order, a
    category as its code, NaN where missing: the form XGBoost predicts from without pandas
    (most of a one-row answer's time otherwise). The codes are the places among the
    contract's fixed levels, as in training, so the scores are the frame's, to the bit."""
    import numpy as np
    import pandas as pd

    columns = []
    for name in names:
        values = inputs[name]
        if isinstance(values, pd.Categorical):
            values = np.where(values.codes < 0, np.nan, values.codes)
        columns.append(np.asarray(values, dtype="float64"))
    return np.column_stack(columns)


def positive_probability(model: XGBClassifier, features: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Probability of the positive class for each row (of a feature_matrix or a typed frame)."""
    import numpy as np

    return np.asarray(model.predict_proba(features)[:, 1])
