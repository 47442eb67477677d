"""Evaluation metrics, right on examples checked by hand and never a silent NaN; plot data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline import plots
from {{ cookiecutter.package_name }}.pipeline.contract import Contract
from {{ cookiecutter.package_name }}.pipeline.data import (
    features_and_target,
    read_typed,
    split_frame,
    write_csv,
)
from {{ cookiecutter.package_name }}.pipeline.evaluation import (
    METRIC_NAMES,
    compute_metrics,
    expected_metrics,
)
from {{ cookiecutter.package_name }}.pipeline.training import predict_proba, train_model
from {{ cookiecutter.package_name }}.settings import Settings


def test_metrics_on_a_hand_checked_example() -> None:
    """Four cases whose metrics can be worked out on paper give exactly those values."""
    target = pd.Series([0, 0, 1, 1])
    probability = pd.Series([0.1, 0.4, 0.35, 0.8])
    values = compute_metrics(target, probability, threshold=0.5)
    # Ranking: of the four (positive, negative) pairs, only (0.35, 0.4) is in the wrong order.
    assert values["roc_auc"] == 0.75
    # Descending: 0.8 (pos) precision 1 at recall 0.5; 0.35 (pos) precision 2/3 at recall 1.
    assert values["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, abs=1e-6)
    # At 0.5 only 0.8 is predicted positive: 1 true positive, 0 false positives, 1 missed.
    assert values["precision"] == 1.0
    assert values["recall"] == 0.5
    assert values["f1"] == pytest.approx(2 / 3, abs=1e-6)
    expected_log_loss = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert values["log_loss"] == pytest.approx(expected_log_loss, abs=1e-6)
    assert values["brier"] == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4, abs=1e-6)


def test_perfect_ranking_scores_one() -> None:
    """A model that ranks every defaulter above every non-defaulter gets ROC AUC and PR AUC 1."""
    values = compute_metrics(pd.Series([0, 0, 0, 1, 1]), pd.Series([0.1, 0.2, 0.3, 0.7, 0.9]), 0.5)
    assert values["roc_auc"] == 1.0
    assert values["pr_auc"] == 1.0
    assert values["f1"] == 1.0


def test_threshold_decides_the_predicted_class() -> None:
    """Raising the decision threshold turns borderline cases negative and lowers recall."""
    target = pd.Series([0, 1, 1, 1])
    probability = pd.Series([0.2, 0.55, 0.65, 0.9])
    assert compute_metrics(target, probability, threshold=0.5)["recall"] == 1.0
    high = compute_metrics(target, probability, threshold=0.7)
    assert high["recall"] == pytest.approx(1 / 3, abs=1e-6)


@pytest.mark.parametrize("only_class", [0, 1])
def test_single_class_target_is_an_error(only_class: int) -> None:
    """An evaluation set holding one class raises instead of reporting undefined metrics."""
    with pytest.raises(ValueError, match="single class"):
        compute_metrics(pd.Series([only_class] * 4), pd.Series([0.1, 0.4, 0.6, 0.9]), 0.5)


def test_missing_probability_is_an_error() -> None:
    """A missing probability raises instead of turning a metric into NaN."""
    with pytest.raises(ValueError):
        compute_metrics(pd.Series([0, 1, 0, 1]), pd.Series([0.1, float("nan"), 0.3, 0.8]), 0.5)


def test_real_model_has_every_metric_and_beats_chance(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings, tmp_path: Path
) -> None:
    """The tests' params on the tests' data split give every metric, finite, and a model that
    beats both chance ranking and always predicting the base rate."""
    train, evaluation = split_frame(
        sample_frame, contract.key_columns, settings.split.eval_fraction, settings.split.seed
    )
    # Through CSV, as the pipeline does it: the split is written, then read back to train and score.
    write_csv(train, tmp_path / "train.csv")
    write_csv(evaluation, tmp_path / "eval.csv")
    exclude = settings.excluded_from_model
    train_typed = read_typed(tmp_path / "train.csv", contract)
    eval_typed = read_typed(tmp_path / "eval.csv", contract)
    features, target = features_and_target(train_typed, contract, exclude)
    model = train_model(features, target, settings.train)
    eval_features, eval_target = features_and_target(eval_typed, contract, exclude)
    values = compute_metrics(
        eval_target, predict_proba(model, eval_features), settings.evaluate.decision_threshold
    )
    assert set(values) == set(METRIC_NAMES)
    assert all(math.isfinite(value) for value in values.values())
    assert values["roc_auc"] > 0.6
    base_rate = eval_target.mean()
    assert 0 < values["brier"] < base_rate * (1 - base_rate)


def test_curves_are_small_data_whatever_the_rows() -> None:
    """The plots are JSON lists of points that dvc.yaml draws: the ROC curve runs from (0, 0)
    to (1, 1) in at most MAX_POINTS points even for 20,000 distinct scores, and the confusion
    matrix's four cells count every row."""
    rng = np.random.default_rng(7)
    target = pd.Series(rng.integers(0, 2, 20_000))
    probability = pd.Series(np.clip(target * 0.3 + rng.random(20_000) * 0.7, 0, 1))
    roc = plots.roc_points(target, probability)
    assert len(roc) == plots.MAX_POINTS
    assert (roc[0]["false_positive_rate"], roc[0]["true_positive_rate"]) == (0.0, 0.0)
    assert (roc[-1]["false_positive_rate"], roc[-1]["true_positive_rate"]) == (1.0, 1.0)
    cells = plots.confusion_points(target, probability, 0.5)
    assert len(cells) == 4 and sum(cell["rows"] for cell in cells) == 20_000
    few = [{"x": 1}, {"x": 2}]
    assert plots.thinned(few) == few


def test_without_labels_calibrated_scores_expect_what_their_labels_give() -> None:
    """CBPE: where each row's label is drawn with its score's probability (calibrated by
    construction), the ROC AUC and F1 the scores expect are the ones the labels give, to
    sampling error; certain scores expect a perfect model, one score for all a coin."""
    rng = np.random.default_rng(11)
    probability = rng.beta(2, 5, 50_000)
    labels = pd.Series((rng.random(50_000) < probability).astype(int))
    realised = compute_metrics(labels, pd.Series(probability), threshold=0.3)
    expected = expected_metrics(probability, threshold=0.3)
    assert expected["roc_auc"] == pytest.approx(realised["roc_auc"], abs=0.01)
    assert expected["f1"] == pytest.approx(realised["f1"], abs=0.01)
    assert expected_metrics(np.array([0.0, 1.0, 1.0, 0.0]), 0.5) == {"roc_auc": 1.0, "f1": 1.0}
    assert expected_metrics(np.full(10, 0.3), 0.5)["roc_auc"] == 0.5
    assert expected_metrics(np.array([]), 0.5) == {}
