"""Data validation: Great Expectations, built from the data contract alone, failing closed.

Every problem comes back as one line that names the column and what is wrong. An empty suite,
an unreadable file or an expectation that could not be evaluated is a failure, never a pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import contract as contracts
from . import raw_data
from .contract import Contract

if TYPE_CHECKING:
    from distributed import Client

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
    kind: str, kwargs: dict[str, Any], result: dict[str, Any], rows: int, target: str
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
        return _describe_nulls(column, kwargs, result, rows)
    if kind == "expect_column_distinct_values_to_contain_set":
        found = sorted(result.get("observed_value") or [])
        return (
            f"target {column!r}: needs both classes {list(kwargs['value_set'])}, "
            f"found only {_examples(found)}"
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


@dataclass(frozen=True)
class Measures:
    """What one part of the data shows, as plain values a worker can send back: its columns,
    rows and target classes, Great Expectations' result of each expectation (in the suite's
    order), and per column, the rows that break the per-row rules (how many, why, the first
    values)."""

    columns: list[str]
    rows: int
    classes: list[Any]
    results: list[tuple[bool, dict[str, Any]]]
    cells: dict[str, tuple[int, list[str], list[Any]]]


def _key(config: Any) -> tuple[str, str | None]:
    """An expectation's identity in our suites: each kind appears once per column."""
    return config.type, config.kwargs.get("column")


def _cell_findings(
    frame: pd.DataFrame, contract: Contract
) -> dict[str, tuple[int, list[str], list[Any]]]:
    """Per column whose values break the per-row rules (the very rules scoring applies to
    each row): how many rows, the reasons, and the first offending values."""
    columns = [name for name in contract.all_columns if name in frame.columns]
    cells = contracts.cell_problems(frame, contract, columns)
    findings = {}
    for name in columns:
        bad = cells[name] != ""
        if bad.any():
            reasons = list(dict.fromkeys(cells[name][bad]))
            examples = frame.loc[bad, name].head(EXAMPLES * 4).tolist()
            findings[name] = (int(bad.sum()), reasons, examples)
    return findings


def measure(frame: pd.DataFrame, contract: Contract) -> Measures:
    """Run the contract's suite and per-row rules on one frame (the whole data, or one
    partition of it on a worker)."""
    expectations = build_expectations(contract)
    if not expectations:
        raise RuntimeError("the expectation suite is empty: it would pass any data")
    results = _run_suite(frame, expectations)
    if len(results) != len(expectations):
        raise RuntimeError(
            f"{len(expectations)} expectations were built but {len(results)} were evaluated"
        )
    by_key = {_key(result.expectation_config): result for result in results}
    ordered = [by_key[_key(expectation.configuration)] for expectation in expectations]
    target = contract.target.name
    return Measures(
        columns=list(frame.columns),
        rows=len(frame),
        classes=frame[target].dropna().unique().tolist() if target in frame.columns else [],
        results=[(bool(result.success), dict(result.result)) for result in ordered],
        cells=_cell_findings(frame, contract),
    )


def _over_the_whole(
    kind: str,
    kwargs: dict[str, Any],
    parts: list[tuple[bool, dict[str, Any]]],
    rows: int,
    classes: list[Any],
) -> tuple[bool, dict[str, Any]]:
    """One expectation's verdict over all parts: Great Expectations' own for a single part;
    otherwise the row floor, the share of missing values and the classes found judged on the
    parts' sums, and any other expectation failing where a part fails."""
    if kind == "expect_column_distinct_values_to_contain_set":  # GE does not say what it found
        found = sorted(set(classes))
        success = parts[0][0] if len(parts) == 1 else set(kwargs["value_set"]) <= set(found)
        return success, {"observed_value": found}
    if len(parts) == 1:
        return parts[0]
    if kind == "expect_table_row_count_to_be_between":
        return rows >= kwargs["min_value"], {"observed_value": rows}
    if kind == "expect_column_values_to_not_be_null":
        missing = sum(int(result.get("unexpected_count") or 0) for _, result in parts)
        share = missing / rows if rows else 0.0
        summed = {"unexpected_count": missing, "unexpected_percent": share * 100}
        return 1 - share >= kwargs.get("mostly", 1), summed
    return next((part for part in parts if not part[0]), parts[0])


def combine(parts: list[Measures], contract: Contract) -> ValidationResult:
    """The verdict on the data from the measures of its parts (one part: the whole frame); at
    most one problem is reported per column. Every row scoring would reject is rejected here,
    by the same rule (validation also checks the columns the model does not take, and the
    target)."""
    expectations = build_expectations(contract)
    rows = sum(part.rows for part in parts)
    classes = [found for part in parts for found in part.classes]
    reported: set[str] = set(contract.all_columns) - set(parts[0].columns)  # said by the set check
    problems: list[str] = []
    for place, expectation in enumerate(expectations):
        kind, kwargs = expectation.configuration.type, expectation.configuration.kwargs
        column = kwargs.get("column")
        results = [part.results[place] for part in parts]
        success, result = _over_the_whole(kind, kwargs, results, rows, classes)
        if success or column in reported:
            continue
        if column:
            reported.add(column)
        problems.append(_describe_failure(kind, kwargs, result, rows, contract.target.name))
    for name in contract.all_columns:
        found = [part.cells[name] for part in parts if name in part.cells]
        if found and name not in reported:
            count = sum(number for number, _, _ in found)
            reasons = ", ".join(dict.fromkeys(r for _, listed, _ in found for r in listed))
            examples = _examples([value for _, _, values in found for value in values])
            problems.append(f"column {name!r}: {count} rows: {reasons} (e.g. {examples})")
    return ValidationResult(rows=rows, expectations=len(expectations), problems=problems)


def validate_frame(frame: pd.DataFrame, contract: Contract) -> ValidationResult:
    """Check a frame (read by contract.read_csv) against the contract."""
    return combine([measure(frame, contract)], contract)


def validate_file(path: Path, contract: Contract) -> ValidationResult:
    """Read data as it is (a CSV, or a folder of Parquet files) and check it; an unreadable or
    empty file is a problem, not a crash."""
    try:
        frame = raw_data.read(path, contract)
    except FileNotFoundError:
        return ValidationResult(rows=0, expectations=0, problems=[f"{path}: file not found"])
    except contracts.ContractError as error:  # empty, or not a CSV
        return ValidationResult(rows=0, expectations=0, problems=[str(error)])
    return validate_frame(frame, contract)


# A worker holds a block as text, as a frame and as Great Expectations' working copies: many
# bounded blocks rather than one per worker, whatever the data's size.
MAX_BLOCK_BYTES = 64 * 2**20


def _read_block(header: bytes, block: bytes, name: str, contract: Contract) -> pd.DataFrame:
    """One block of the file's lines, read by the contract's own reader (contract.read_csv),
    as the pandas engine reads the whole file."""
    import io

    stream = io.BytesIO(header + block)
    stream.name = name  # what a problem names
    return contracts.read_csv(stream, contract)


def _block_frames(path: Path, contract: Contract, partitions: int) -> list[Any]:
    """The data as delayed frames, each read by the contract's reader on a worker: a CSV's
    lines in at least `partitions` blocks of at most MAX_BLOCK_BYTES, a folder's Parquet parts."""
    from dask.bytes import read_bytes
    from dask.delayed import delayed

    if raw_data.is_parquet(path):
        return [delayed(raw_data.read_part)(part, contract) for part in raw_data.parts(path)]
    with path.open("rb") as stream:
        header = stream.readline()
    blocksize = max(1, min(-(-path.stat().st_size // partitions), MAX_BLOCK_BYTES))
    _, blocks = read_bytes(str(path), delimiter=b"\n", not_zero=True, blocksize=blocksize)
    return [delayed(_read_block)(header, block, str(path), contract) for block in blocks[0]]


def validate_on_cluster(
    client: Client, path: Path, contract: Contract, partitions: int
) -> ValidationResult:
    """The contract checked on the workers, part by part (Great Expectations' suite and the
    per-row rules on each part as the contract's reader reads it), and judged over the whole
    (the row floor, the shares of missing values, the classes found: combine)."""
    from dask.delayed import delayed

    empty_file = path.is_file() and path.stat().st_size == 0
    if not path.exists() or empty_file:
        return validate_file(path, contract)  # says what is wrong with the file
    try:
        frames = _block_frames(path, contract, partitions)
        parts = [delayed(measure)(frame, contract) for frame in frames]
        return combine(list(client.gather(client.compute(parts))), contract)
    except contracts.ContractError as error:  # a block that is not CSV, a broken Parquet file
        return ValidationResult(0, 0, [str(error)])
