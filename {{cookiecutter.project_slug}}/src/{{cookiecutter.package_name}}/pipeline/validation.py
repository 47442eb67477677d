"""Data validation: Great Expectations, built from the data contract alone, failing closed.

Every problem comes back as one line that names the column and what is wrong. An empty suite,
an unreadable file or an expectation that could not be evaluated is a failure, never a pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import contract as contracts
from .contract import Contract

# Great Expectations would otherwise phone home and draw progress bars into CI logs.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

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
    """The table-level rules, in the order their failures are reported: the columns, the row
    floor, each column's share of missing values, both classes of the target. What each
    value may hold is a per-row rule (contract.row_problems), the same one scoring applies."""
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
    suite += [
        expect.ExpectColumnValuesToNotBeNull(column=target.name),
        expect.ExpectColumnDistinctValuesToContainSet(
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


def _describe_nulls(column: str, kwargs: dict[str, Any], result: dict[str, Any], rows: int) -> str:
    if result.get("unexpected_count") == rows:
        return f"column {column!r}: all values are missing"
    return (
        f"column {column!r}: {result.get('unexpected_count')} missing values "
        f"({result.get('unexpected_percent', 0):.3g}%), "
        f"more than the contract allows ({(1 - kwargs.get('mostly', 1)) * 100:.3g}%)"
    )


def _describe_failure(
    kind: str, kwargs: dict[str, Any], result: dict[str, Any], frame: pd.DataFrame, target: str
) -> str:
    """One line in words for a failed table-level expectation."""
    column: str = kwargs.get("column") or ""
    if kind == "expect_table_columns_to_match_set":
        return _describe_columns(result)
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"the file has {result.get('observed_value')} data rows; "
            f"the contract needs at least {kwargs['min_value']}"
        )
    if kind == "expect_column_values_to_not_be_null" and column == target:
        return (
            f"column {column!r}: the target is missing on {result.get('unexpected_count')} "
            "rows; only labelled rows can be learned from: remove them from the data (then "
            "`make data`)"
        )
    if kind == "expect_column_values_to_not_be_null":
        return _describe_nulls(column, kwargs, result, len(frame))
    if kind == "expect_column_distinct_values_to_contain_set":
        return (
            f"target {column!r}: needs both classes {list(kwargs['value_set'])}, "
            f"found only {_examples(sorted(frame[column].dropna().unique()))}"
        )
    return f"{kind} failed on {column!r}"


def _describe_columns(result: dict[str, Any]) -> str:
    mismatched = (result.get("details") or {}).get("mismatched") or {}
    parts = []
    if mismatched.get("missing"):
        parts.append(f"missing column(s): {', '.join(sorted(mismatched['missing']))}")
    if mismatched.get("unexpected"):
        parts.append(f"unexpected column(s): {', '.join(sorted(mismatched['unexpected']))}")
    return "; ".join(parts) or "the columns do not match the contract"


def _row_rule_problems(frame: pd.DataFrame, contract: Contract, skip: set[str]) -> list[str]:
    """One line per column whose values break the per-row rules: how many rows, what is
    wrong, and examples of the values (the very rule scoring applies to each row)."""
    columns = [name for name in contract.all_columns if name in frame.columns and name not in skip]
    cells = contracts.cell_problems(frame, contract, columns)
    problems = []
    for name in columns:
        bad = cells[name] != ""
        if bad.any():
            reasons = ", ".join(dict.fromkeys(cells[name][bad]))
            examples = _examples(frame.loc[bad, name].head(EXAMPLES * 4).tolist())
            problems.append(f"column {name!r}: {int(bad.sum())} rows: {reasons} (e.g. {examples})")
    return problems


def _key(config: Any) -> tuple[str, str | None]:
    """An expectation's identity in our suites: each kind appears once per column."""
    return config.type, config.kwargs.get("column")


def validate_frame(frame: pd.DataFrame, contract: Contract) -> ValidationResult:
    """Check a frame (read by contract.read_csv) against the contract; at most one problem is
    reported per column. Every row scoring would reject is rejected here, by the same rule
    (validation also checks the columns the model does not take, and the target)."""
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
    reported_columns: set[str] = set(absent)
    for result in sorted(results, key=lambda r: rank[_key(r.expectation_config)]):
        if result.success:
            continue
        config = result.expectation_config
        column = config.kwargs.get("column")
        if column in reported_columns:
            continue  # a missing column is reported once, by the column-set check
        if column:
            reported_columns.add(column)
        problems.append(
            _describe_failure(
                config.type, config.kwargs, result.result, frame, contract.target.name
            )
        )
    problems += _row_rule_problems(frame, contract, reported_columns)
    return ValidationResult(rows=len(frame), expectations=len(expectations), problems=problems)


def validate_file(path: Path, contract: Contract) -> ValidationResult:
    """Read a CSV as it is and check it; an unreadable or empty file is a problem, not a crash."""
    try:
        frame = contracts.read_csv(path, contract)
    except FileNotFoundError:
        return ValidationResult(rows=0, expectations=0, problems=[f"{path}: file not found"])
    except contracts.ContractError as error:  # empty, or not a CSV
        return ValidationResult(rows=0, expectations=0, problems=[str(error)])
    return validate_frame(frame, contract)
