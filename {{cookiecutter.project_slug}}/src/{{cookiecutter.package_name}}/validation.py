"""Data validation: Great Expectations, built from the data contract alone, failing closed.

Every problem comes back as one line that names the column and what is wrong. An empty suite,
an unreadable file or an expectation that could not be evaluated is a failure, never a pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .contract import Contract

# Great Expectations would otherwise phone home and draw progress bars into CI logs.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "float32", "float64", "Float64"]
EXAMPLES = 5


@dataclass(frozen=True)
class ValidationResult:
    rows: int
    expectations: int
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "expectations": self.expectations,
            "problems": self.problems,
        }


def build_expectations(contract: Contract) -> list[Any]:
    """The expectation suite's contents, in the order their failures are reported."""
    import great_expectations as gx

    expect = gx.expectations
    target = contract.target
    suite: list[Any] = [
        expect.ExpectTableColumnsToMatchSet(column_set=contract.all_columns, exact_match=True),
        expect.ExpectTableRowCountToBeBetween(min_value=contract.min_rows),
    ]
    for name, column in contract.columns.items():
        suite.append(
            expect.ExpectColumnValuesToNotBeNull(column=name, mostly=1 - column.max_null_fraction)
        )
        if column.is_numeric:
            suite.append(
                expect.ExpectColumnValuesToBeInTypeList(column=name, type_list=NUMERIC_TYPES)
            )
            suite.append(
                expect.ExpectColumnValuesToBeBetween(
                    column=name, min_value=column.min, max_value=column.max
                )
            )
        else:
            suite.append(
                expect.ExpectColumnValuesToBeInSet(column=name, value_set=list(column.values or ()))
            )
    suite += [
        expect.ExpectColumnValuesToNotBeNull(column=target.name),
        expect.ExpectColumnValuesToBeInSet(column=target.name, value_set=list(target.classes)),
        expect.ExpectColumnDistinctValuesToEqualSet(
            column=target.name, value_set=list(target.classes)
        ),
    ]
    return suite


def _run_suite(frame: pd.DataFrame, expectations: list[Any]) -> list[Any]:
    """Validate the frame in an in-process, throw-away Great Expectations context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = gx.ExpectationSuite(name="data_contract")
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = (
        context.data_sources.add_pandas("contract")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    return list(batch.validate(suite, result_format="SUMMARY").results)


def _examples(values: list[Any]) -> str:
    shown = list(dict.fromkeys(repr(v) for v in values))[:EXAMPLES]
    return ", ".join(shown)


def _non_numeric(frame: pd.DataFrame, column: str) -> list[Any]:
    values = frame[column].dropna()
    return list(values[pd.to_numeric(values, errors="coerce").isna()].head(EXAMPLES))


def _describe_failure(
    kind: str, kwargs: dict[str, Any], result: dict[str, Any], frame: pd.DataFrame
) -> str:
    """One line in words for a failed expectation."""
    column: str = kwargs.get("column") or ""
    found = _examples(result.get("partial_unexpected_list") or [])
    describers: dict[str, Callable[[], str]] = {
        "expect_table_columns_to_match_set": lambda: _describe_columns(result),
        "expect_table_row_count_to_be_between": lambda: (
            f"the file has {result.get('observed_value')} data rows; "
            f"the contract needs at least {kwargs['min_value']}"
        ),
        "expect_column_values_to_not_be_null": lambda: (
            f"column {column!r}: all values are missing"
            if result.get("unexpected_count") == len(frame)
            else f"column {column!r}: {result.get('unexpected_count')} missing values "
            f"({result.get('unexpected_percent', 0):.3g}%), "
            f"more than the contract allows ({(1 - kwargs.get('mostly', 1)) * 100:.3g}%)"
        ),
        "expect_column_values_to_be_in_type_list": lambda: (
            f"column {column!r}: wrong type, expected numbers but found "
            f"{_examples(_non_numeric(frame, column))}"
        ),
        "expect_column_values_to_be_between": lambda: (
            f"column {column!r}: {result.get('unexpected_count')} values out of range "
            f"[{kwargs.get('min_value')}, {kwargs.get('max_value')}], e.g. {found}"
        ),
        "expect_column_values_to_be_in_set": lambda: (
            f"column {column!r}: {result.get('unexpected_count')} unknown values, e.g. {found}; "
            f"allowed: {', '.join(map(str, kwargs['value_set']))}"
        ),
        "expect_column_distinct_values_to_equal_set": lambda: (
            f"target {column!r}: needs every class {sorted(kwargs['value_set'])}, "
            f"found only {sorted(frame[column].dropna().unique().tolist())}"
        ),
    }
    describe = describers.get(kind)
    return describe() if describe else f"{kind} failed on {column!r}"


def _describe_columns(result: dict[str, Any]) -> str:
    mismatched = (result.get("details") or {}).get("mismatched") or {}
    parts = []
    if mismatched.get("missing"):
        parts.append(f"missing column(s): {', '.join(sorted(mismatched['missing']))}")
    if mismatched.get("unexpected"):
        parts.append(f"unexpected column(s): {', '.join(sorted(mismatched['unexpected']))}")
    return "; ".join(parts) or "the columns do not match the contract"


def _key(config: Any) -> tuple[str, str | None]:
    """An expectation's identity in our suites: each kind appears once per column."""
    return config.type, config.kwargs.get("column")


def validate_frame(frame: pd.DataFrame, contract: Contract) -> ValidationResult:
    """Check a frame against the contract; at most one problem is reported per column."""
    expectations = build_expectations(contract)
    if not expectations:
        raise RuntimeError("the expectation suite is empty: it would pass any data")
    results = _run_suite(frame, expectations)
    if len(results) != len(expectations):
        raise RuntimeError(
            f"{len(expectations)} expectations were built but {len(results)} were evaluated"
        )
    rank = {_key(e.configuration): i for i, e in enumerate(expectations)}
    absent = set(contract.all_columns) - set(frame.columns)
    problems: list[str] = []
    reported_columns: set[str] = set()
    for result in sorted(results, key=lambda r: rank[_key(r.expectation_config)]):
        if result.success:
            continue
        config = result.expectation_config
        column = config.kwargs.get("column")
        if column in absent or column in reported_columns:
            continue  # a missing column is reported once, by the column-set check
        if column:
            reported_columns.add(column)
        problems.append(_describe_failure(config.type, config.kwargs, result.result, frame))
    return ValidationResult(rows=len(frame), expectations=len(expectations), problems=problems)


def validate_file(path: Path, contract: Contract) -> ValidationResult:
    """Read a CSV as it is and check it; an unreadable or empty file is a problem, not a crash."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        return ValidationResult(rows=0, expectations=0, problems=[f"{path}: file not found"])
    except pd.errors.EmptyDataError:
        return ValidationResult(rows=0, expectations=0, problems=[f"{path}: the file is empty"])
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        return ValidationResult(rows=0, expectations=0, problems=[f"{path}: not a CSV: {error}"])
    return validate_frame(frame, contract)
