"""Training: an XGBoost classifier from the train split, deterministic for the same inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from xgboost import XGBClassifier

from .settings import TrainSettings


def make_model(params: TrainSettings) -> XGBClassifier:
    """An untrained classifier; a fixed seed and thread count make its bytes reproducible."""
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


def load_model(path: Path) -> XGBClassifier:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trained model (run the train stage first)")
    model = XGBClassifier()
    model.load_model(path)
    return model


def predict_proba(model: XGBClassifier, features: pd.DataFrame) -> pd.Series:
    """Probability of the positive class, indexed like the input."""
    return pd.Series(model.predict_proba(features)[:, 1], index=features.index, name="probability")


def model_columns(model: XGBClassifier) -> list[str]:
    """The columns a trained model takes, in its order (its own record of them)."""
    names = model.get_booster().feature_names
    if not names:
        raise ValueError("the model records no feature names: cannot tell which columns it takes")
    return list(names)


def model_inputs(model: XGBClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a trained model takes, in its order. A champion trained when other columns
    were excluded is scored on its own inputs, not on the challenger's."""
    names = model_columns(model)
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"the model takes columns the data does not have: {missing}")
    return frame[names]
