"""Data loading and the frozen split: typed, reproducible, balanced, stable, complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline import data
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError, typed
from {{ cookiecutter.package_name }}.pipeline.data import features_and_target, in_evaluation, split_frame
from {{ cookiecutter.package_name }}.settings import Settings

TARGET = "defaulted"


def model_view(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The learned columns and the target as the model sees them."""
    return typed(frame, contract, [*contract.learned_columns, contract.target.name])


def split(
    frame: pd.DataFrame, contract: Contract, settings: Settings, seed: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    chosen = settings.split.seed if seed is None else seed
    return split_frame(frame, contract.key_columns, settings.split.eval_fraction, chosen)


def test_split_is_reproducible(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """The same data and seed always give the same train and evaluation rows, in the same order."""
    first = split(sample_frame, contract, settings)
    second = split(sample_frame, contract, settings)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_split_depends_on_the_seed(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """A different seed gives a different evaluation set (the seed is really used)."""
    _, one = split(sample_frame, contract, settings, seed=1)
    _, two = split(sample_frame, contract, settings, seed=2)
    assert not one.index.equals(two.index)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_split_keeps_the_default_rate(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings, seed: int
) -> None:
    """Both parts keep the data's default rate within 1.5 percentage points, whatever the
    seed (the hash assigns rows independently of the target, so no class is favoured)."""
    defaulted = model_view(sample_frame, contract)[TARGET]
    for part in split(sample_frame, contract, settings, seed):
        assert abs(defaulted[part.index].mean() - defaulted.mean()) < 0.015


def test_adding_rows_moves_no_existing_row(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """A batch folded into the data (retraining) leaves every existing row on its side: a
    champion is never evaluated on rows it was trained on."""
    old_train, old_eval = split(sample_frame.iloc[:8000], contract, settings)
    new_train, new_eval = split(sample_frame, contract, settings)
    assert old_eval.index.isin(new_eval.index).all()
    assert old_train.index.isin(new_train.index).all()


def test_changing_other_columns_moves_no_row(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """A row's side depends on its key alone: correcting, adding or dropping any other column
    leaves every row where it was."""
    others = [name for name in contract.all_columns if name not in contract.key_columns]
    changed = sample_frame.drop(columns=others[0]).assign(branch="north")
    changed[others[1]] = changed[others[1]].sample(frac=1, random_state=5).to_numpy()
    _, before = split(sample_frame, contract, settings)
    _, after = split(changed, contract, settings)
    assert after.index.equals(before.index)


def test_the_key_decides_the_split(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Changing a key column's values moves rows: the key, not the row's position, decides."""
    _, before = split(sample_frame, contract, settings)
    rekeyed = sample_frame.assign(**{contract.key_columns[0]: sample_frame.index.astype(str)})
    _, after = split(rekeyed, contract, settings)
    assert not after.index.equals(before.index)


def test_a_missing_key_column_is_named(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Data without a key column cannot be split: the error names the column."""
    key = contract.key_columns
    with pytest.raises(ContractError, match=f"no key column {key[0]}"):
        in_evaluation(sample_frame.drop(columns=key[0]), key, 0.25, settings.split.seed)


def test_split_is_disjoint_and_complete(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Every row lands in exactly one part, unchanged, and the evaluation part has its share."""
    train, evaluation = split(sample_frame, contract, settings)
    assert train.index.intersection(evaluation.index).empty
    rejoined = pd.concat([train, evaluation]).sort_index()
    pd.testing.assert_frame_equal(rejoined, sample_frame)
    expected = len(sample_frame) * settings.split.eval_fraction
    assert len(evaluation) == pytest.approx(expected, rel=0.05)


def test_categories_follow_the_contract_order(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Category columns carry the contract's values in the contract's order."""
    view = model_view(sample_frame, contract)
    categories = [name for name, column in contract.columns.items() if column.type == "category"]
    assert categories
    for name in categories:
        assert list(view[name].cat.categories) == list(contract.columns[name].values or ())


def test_category_codes_do_not_depend_on_the_batch(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """A small batch holding only some categories encodes them exactly as the full data does."""
    full = model_view(sample_frame, contract)
    batch = sample_frame[sample_frame["purpose"] == "other"].head(3)
    small = model_view(batch, contract)
    codes = list(small["purpose"].cat.codes)
    assert codes == list(full.loc[batch.index, "purpose"].cat.codes)
    assert codes[0] == list(contract.columns["purpose"].values or ()).index("other")


def test_numeric_columns_become_floats_and_target_int(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Numeric columns are read as floats (missing values allowed) and the target as 0/1
    integers, 1 for the contract's positive class."""
    view = model_view(sample_frame, contract)
    for name, column in contract.columns.items():
        if column.is_numeric:
            assert view[name].dtype == "float64", name
    assert view[TARGET].dtype == "int64"
    positive = sample_frame[TARGET].str.strip() == contract.target.positive
    assert view[TARGET].tolist() == positive.astype(int).tolist()
    assert set(view[TARGET]) == {0, 1}


def test_features_exclude_the_sensitive_column_and_target(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """The model never sees the sensitive column or the answer; it sees every other learned
    column."""
    sensitive = settings.fairness.sensitive_column
    assert sensitive in contract.columns
    features, target = features_and_target(
        model_view(sample_frame, contract), contract, settings.excluded_from_model
    )
    assert sensitive not in features.columns
    assert TARGET not in features.columns
    assert list(features.columns) == [c for c in contract.learned_columns if c != sensitive]
    assert target.name == TARGET
    assert len(features) == len(target) == len(sample_frame)


def test_unknown_exclude_column_is_refused(sample_frame: pd.DataFrame, contract: Contract) -> None:
    """Excluding a column the contract does not have (a typo, say) is an error that names it."""
    with pytest.raises(ContractError, match="gendre"):
        features_and_target(model_view(sample_frame, contract), contract, ("gendre",))


def test_a_csv_for_people_shows_formulas_as_text(tmp_path: Path) -> None:
    """Text cells that a spreadsheet would run as a formula (=, +, -, @ first) are written
    with a quote in front; numbers, negative ones too (even as text), and other text are left
    as they are."""
    frame = pd.DataFrame(
        {
            "note": ['=HYPERLINK("https://evil.example","x")', "+1+cmd", "-2+3", "@SUM(A1)", "-2"],
            "amount": [-1.5, 2.0, 3.0, 4.0, 5.0],
        }
    )
    path = tmp_path / "rejected.csv"
    data.write_csv_for_people(frame, path)
    written = pd.read_csv(path)
    assert written["note"].tolist() == [
        '\'=HYPERLINK("https://evil.example","x")',
        "'+1+cmd",
        "'-2+3",
        "'@SUM(A1)",
        "-2",
    ]
    assert written["amount"].tolist() == [-1.5, 2.0, 3.0, 4.0, 5.0]


def test_a_csv_for_people_shows_a_formula_in_a_column_name_as_text(tmp_path: Path) -> None:
    """A column name that a spreadsheet would run (the user's data can name a column anything)
    is written with a quote in front too; other names are left as they are."""
    frame = pd.DataFrame({'=HYPERLINK("https://evil.example","x")': ["a"], "-1": [1], "age": [3]})
    path = tmp_path / "rejected.csv"
    data.write_csv_for_people(frame, path)
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header == '"\'=HYPERLINK(""https://evil.example"",""x"")",-1,age'
