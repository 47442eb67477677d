"""Data validation: the sample data passes; each kind of bad batch fails with its reason named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError, load_contract
from {{ cookiecutter.package_name }}.pipeline.validation import build_expectations, validate_file

TARGET = "defaulted"


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def _with_value(frame: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    """The frame with one cell of `column` replaced (the column becomes text if need be)."""
    changed = frame.copy()
    changed[column] = changed[column].astype(object)
    changed.loc[changed.index[7], column] = value
    return changed


def _empty_file(frame: pd.DataFrame, contract: Contract) -> str:
    return ""


def _header_only(frame: pd.DataFrame, contract: Contract) -> str:
    return ",".join(frame.columns) + "\n"


def _too_few_rows(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.head(contract.min_rows - 1))


def _missing_column(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.drop(columns=["credit_score"]))


def _unexpected_column(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.assign(zip_code="90210"))


def _text_in_numeric_column(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(_with_value(frame, "credit_score", "abc"))


def _all_null_column(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.assign(annual_income=np.nan))


def _too_many_nulls(frame: pd.DataFrame, contract: Contract) -> str:
    every_other_missing = np.where(np.arange(len(frame)) % 2 == 0, np.nan, 5.0)
    return _csv(frame.assign(employment_years=every_other_missing))  # 50%; the contract allows 20%


def _out_of_range(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(_with_value(frame, "age", 150))


def _unknown_category(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(_with_value(frame, "purpose", "crypto"))


def _target_column_missing(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.drop(columns=[TARGET]))


def _target_values_missing(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(_with_value(frame, TARGET, None))


def _unknown_target_class(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(_with_value(frame, TARGET, 2))


def _single_target_class(frame: pd.DataFrame, contract: Contract) -> str:
    return _csv(frame.assign(defaulted=0))


# (case, how to build the bad CSV from the sample data, a problem line must contain this)
BAD_INPUTS: list[tuple[str, Callable[[pd.DataFrame, Contract], str], str]] = [
    ("empty file", _empty_file, "the file is empty"),
    ("header only", _header_only, "the file has 0 data rows"),
    ("too few rows", _too_few_rows, "the file has 999 data rows; the contract needs at least 1000"),
    ("missing column", _missing_column, "missing column(s): credit_score"),
    ("unexpected column", _unexpected_column, "unexpected column(s): zip_code"),
    (
        "text in a numeric column",
        _text_in_numeric_column,
        "column 'credit_score': 1 rows: credit_score is not a number (e.g. 'abc')",
    ),
    ("all-null column", _all_null_column, "column 'annual_income': all values are missing"),
    (
        "too many nulls",
        _too_many_nulls,
        "column 'employment_years': 6000 missing values (50%), more than the contract allows (20%)",
    ),
    ("out-of-range value", _out_of_range, "column 'age': 1 rows: age is above 100 (e.g. 150)"),
    (
        "unknown category",
        _unknown_category,
        "column 'purpose': 1 rows: purpose is not a known category (e.g. 'crypto')",
    ),
    ("target column missing", _target_column_missing, "missing column(s): defaulted"),
    (
        "target values missing",
        _target_values_missing,
        "column 'defaulted': the target is missing on 1 rows",
    ),
    (
        "unknown target class",
        _unknown_target_class,
        "column 'defaulted': 1 rows: defaulted is not one of the two classes (e.g. '2')",
    ),
    (
        "single target class",
        _single_target_class,
        "target 'defaulted': needs both classes ['0', '1'], found only '0'",
    ),
]


def test_the_sample_passes(
    raw_data_path: Path, contract: Contract, sample_frame: pd.DataFrame
) -> None:
    """The tests' data set (the rows of the shipped sample) passes every expectation of its
    contract."""
    result = validate_file(raw_data_path, contract)
    assert result.problems == []
    assert result.passed
    assert result.rows == len(sample_frame) > 0
    assert result.expectations == len(build_expectations(contract)) > 0


def test_every_contract_column_is_checked(contract: Contract) -> None:
    """No column of the contract, the target included, goes unchecked by the suite."""
    checked = {e.configuration.kwargs.get("column") for e in build_expectations(contract)}
    assert set(contract.all_columns) <= checked


@pytest.mark.parametrize(
    ("build", "reason"),
    [pytest.param(build, reason, id=case) for case, build, reason in BAD_INPUTS],
)
def test_bad_data_fails_with_its_reason(
    build: Callable[[pd.DataFrame, Contract], str],
    reason: str,
    sample_frame: pd.DataFrame,
    contract: Contract,
    tmp_path: Path,
) -> None:
    """A bad batch fails validation with a one-line problem that says what is wrong."""
    path = tmp_path / "batch.csv"
    path.write_text(build(sample_frame, contract), encoding="utf-8")
    result = validate_file(path, contract)
    assert not result.passed
    assert any(reason in problem for problem in result.problems), result.problems
    assert all("\n" not in problem for problem in result.problems)


def test_missing_column_is_reported_once(
    sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """A missing column is one problem, not one per expectation on that column."""
    path = tmp_path / "batch.csv"
    path.write_text(_missing_column(sample_frame, contract), encoding="utf-8")
    assert validate_file(path, contract).problems == ["missing column(s): credit_score"]


def test_a_column_with_several_bad_rows_is_one_line(
    sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """Bad values in one column are one problem line: how many rows, every reason, examples."""
    frame = sample_frame.copy()
    frame["age"] = frame["age"].astype(object)
    frame.loc[frame.index[[3, 5, 9]], "age"] = [150, 7, "old"]
    path = tmp_path / "batch.csv"
    path.write_text(_csv(frame), encoding="utf-8")
    assert validate_file(path, contract).problems == [
        "column 'age': 3 rows: age is above 100, age is below 18, age is not a number "
        "(e.g. '150', '7', 'old')"
    ]


def test_missing_file_fails(contract: Contract, tmp_path: Path) -> None:
    """A file that does not exist fails validation instead of crashing it."""
    result = validate_file(tmp_path / "absent.csv", contract)
    assert not result.passed
    assert result.problems == [f"{tmp_path / 'absent.csv'}: file not found"]


@pytest.mark.parametrize(
    "columns_yaml", ["columns: {}\n", ""], ids=["empty columns", "no columns key"]
)
def test_contract_without_columns_is_refused(columns_yaml: str, tmp_path: Path) -> None:
    """A contract that lists no columns is refused, so an empty suite can never pass data."""
    path = tmp_path / "contract.yaml"
    path.write_text(
        'min_rows: 1\nkey: ["id"]\ntarget: {name: defaulted, classes: ["0", "1"], positive: "1"}\n'
        + columns_yaml,
        encoding="utf-8",
    )
    with pytest.raises(ContractError) as refused:
        load_contract(path)
    assert str(refused.value).startswith(f"{path}: columns: ")
    assert len(str(refused.value).splitlines()) == 1


def test_cli_rejects_bad_data(
    params_path: Path,
    sample_frame: pd.DataFrame,
    contract: Contract,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`validate FILE` on bad data exits 1 and prints each problem as an `invalid data:` line."""
    path = tmp_path / "batch.csv"
    path.write_text(_unknown_category(sample_frame, contract), encoding="utf-8")
    assert main(["--params", str(params_path), "validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert (
        "invalid data: column 'purpose': 1 rows: purpose is not a known category (e.g. 'crypto')"
        in captured.err.splitlines()
    )
    assert "data valid" not in captured.out


def test_cli_accepts_good_data(
    tmp_params: Path, sample_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate` on the training data (the tests') exits 0, says so, and writes the validation
    report."""
    assert main(["--params", str(tmp_params), "validate"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"data valid: {len(sample_frame)} rows passed ")
    assert captured.err == ""
    assert (tmp_params.parent / "out" / "reports" / "validation.json").exists()
