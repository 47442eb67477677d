"""Data loading and the frozen split: typed, reproducible, balanced, stable, complete."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.contract import Contract
from {{ cookiecutter.package_name }}.data import apply_types, features_and_target, split_frame
from {{ cookiecutter.package_name }}.settings import Settings

TARGET = "defaulted"


@pytest.fixture
def split(sample_frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_frame(sample_frame, settings.split.eval_fraction, settings.split.seed)


def test_split_is_reproducible(sample_frame: pd.DataFrame, settings: Settings) -> None:
    """The same data and seed always give the same train and evaluation rows, in the same order."""
    first = split_frame(sample_frame, settings.split.eval_fraction, settings.split.seed)
    second = split_frame(sample_frame, settings.split.eval_fraction, settings.split.seed)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_split_depends_on_the_seed(sample_frame: pd.DataFrame, settings: Settings) -> None:
    """A different seed gives a different evaluation set (the seed is really used)."""
    fraction = settings.split.eval_fraction
    _, one = split_frame(sample_frame, fraction, seed=1)
    _, two = split_frame(sample_frame, fraction, seed=2)
    assert not one.index.equals(two.index)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_split_keeps_the_default_rate(
    sample_frame: pd.DataFrame, settings: Settings, seed: int
) -> None:
    """Both parts keep the data's default rate within 1.5 percentage points, whatever the
    seed (the hash assigns rows independently of the target, so no class is favoured)."""
    overall = sample_frame[TARGET].mean()
    for part in split_frame(sample_frame, settings.split.eval_fraction, seed):
        assert abs(part[TARGET].mean() - overall) < 0.015


def test_adding_rows_moves_no_existing_row(sample_frame: pd.DataFrame, settings: Settings) -> None:
    """A batch folded into the data (retraining) leaves every existing row on its side: a
    champion is never evaluated on rows it was trained on."""
    fraction, seed = settings.split.eval_fraction, settings.split.seed
    old_train, old_eval = split_frame(sample_frame.iloc[:8000], fraction, seed)
    new_train, new_eval = split_frame(sample_frame, fraction, seed)
    assert old_eval.index.isin(new_eval.index).all()
    assert old_train.index.isin(new_train.index).all()


def test_split_is_disjoint_and_complete(
    split: tuple[pd.DataFrame, pd.DataFrame], sample_frame: pd.DataFrame, settings: Settings
) -> None:
    """Every row lands in exactly one part, unchanged, and the evaluation part has its share."""
    train, evaluation = split
    assert train.index.intersection(evaluation.index).empty
    rejoined = pd.concat([train, evaluation]).sort_index()
    pd.testing.assert_frame_equal(rejoined, sample_frame)
    expected = len(sample_frame) * settings.split.eval_fraction
    assert len(evaluation) == pytest.approx(expected, rel=0.05)


def test_categories_follow_the_contract_order(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Category columns carry the contract's values in the contract's order."""
    typed = apply_types(sample_frame, contract)
    for name, column in contract.columns.items():
        if column.type == "category":
            assert list(typed[name].cat.categories) == list(column.values or ())


def test_category_codes_do_not_depend_on_the_batch(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """A small batch holding only some categories encodes them exactly as the full data does."""
    full = apply_types(sample_frame, contract)
    batch = sample_frame[sample_frame["purpose"] == "other"].head(3)
    small = apply_types(batch, contract)
    codes = list(small["purpose"].cat.codes)
    assert codes == list(full.loc[batch.index, "purpose"].cat.codes)
    assert codes[0] == list(contract.columns["purpose"].values or ()).index("other")


def test_numeric_columns_become_floats_and_target_int(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Numeric columns are read as floats (missing values allowed) and the target as integers."""
    typed = apply_types(sample_frame, contract)
    for name, column in contract.columns.items():
        if column.is_numeric:
            assert typed[name].dtype == "float64", name
    assert typed[TARGET].dtype == "int64"


def test_features_exclude_the_sensitive_column_and_target(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """The model never sees the sensitive column or the answer; it sees every other column."""
    typed = apply_types(sample_frame, contract)
    features, target = features_and_target(typed, contract, settings.train.exclude_columns)
    assert "gender" not in features.columns
    assert TARGET not in features.columns
    assert list(features.columns) == [c for c in contract.columns if c != "gender"]
    assert target.name == TARGET
    assert len(features) == len(target) == len(sample_frame)


def test_unknown_exclude_column_is_refused(sample_frame: pd.DataFrame, contract: Contract) -> None:
    """Excluding a column the contract does not have (a typo, say) is an error that names it."""
    typed = apply_types(sample_frame, contract)
    with pytest.raises(ValueError, match="gendre"):
        features_and_target(typed, contract, ("gendre",))
