"""Training data as a folder of Parquet files (`make data DATA=<folder>`): the same rows, the
same problems and the same split as the CSV that holds the same text; a broken folder is named
in one line; the contract is drafted from a sample and says so."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_validation import BAD_INPUTS

from {{ cookiecutter.package_name }}.pipeline import data, raw_data
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError
from {{ cookiecutter.package_name }}.pipeline.validation import validate_file
from {{ cookiecutter.package_name }}.project import contract_draft


def parquet_folder(frame: pd.DataFrame, folder: Path, files: int = 3, group: int = 1500) -> Path:
    """The frame's rows cut into `files` Parquet files (named so their order is the rows'),
    each in row groups of `group` rows."""
    folder.mkdir(parents=True)
    size = -(-len(frame) // files)
    for number in range(files):
        rows = frame.iloc[number * size : (number + 1) * size]
        rows.to_parquet(folder / f"part-{number:03}.parquet", index=False, row_group_size=group)
    return folder


def as_text(csv_text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)


def test_a_folder_holding_the_csvs_text_reads_splits_and_validates_as_the_csv(
    raw_data_path: Path, contract: Contract, tmp_path: Path
) -> None:
    """The CSV's cells as Parquet text, in three files of several row groups: the same frame,
    the same text, the same validation and the same two splits as the CSV."""
    text = data.read_text(raw_data_path)
    folder = parquet_folder(text, tmp_path / "loans")
    assert len(raw_data.parts(folder)) > 3  # more parts than files: one per row group

    frame = data.read_raw(folder, contract)
    pd.testing.assert_frame_equal(frame, data.read_raw(raw_data_path, contract))
    pd.testing.assert_frame_equal(data.read_text(folder), text)
    ours, theirs = validate_file(folder, contract), validate_file(raw_data_path, contract)
    assert ours.as_dict() == theirs.as_dict()
    key, fraction = contract.key_columns, 0.25
    for ours, theirs in zip(
        data.split_frame(frame, key, fraction, 42),
        data.split_frame(data.read_raw(raw_data_path, contract), key, fraction, 42),
        strict=True,
    ):
        pd.testing.assert_frame_equal(ours, theirs)


def test_files_that_gained_and_lost_columns_read_as_the_csv_of_all_their_rows(
    raw_data_path: Path, contract: Contract, tmp_path: Path
) -> None:
    """A later export with a column more and one fewer: the folder reads as the CSV that holds
    all the rows would (a column a file lacks: empty cells), and is validated alike."""
    text = data.read_text(raw_data_path)
    half = len(text) // 2
    older = text.iloc[:half].drop(columns=["employment_years"])
    newer = text.iloc[half:].assign(channel="web")
    folder = tmp_path / "exports"
    folder.mkdir()
    older.to_parquet(folder / "2024-01.parquet", index=False)
    newer.to_parquet(folder / "2024-02.parquet", index=False)
    whole = tmp_path / "whole.csv"
    pd.concat([older, newer], ignore_index=True).to_csv(whole, index=False)

    assert raw_data.columns(folder) == tuple(pd.read_csv(whole, nrows=0).columns)
    pd.testing.assert_frame_equal(data.read_raw(folder, contract), data.read_raw(whole, contract))
    pd.testing.assert_frame_equal(data.read_text(folder), data.read_text(whole))
    ours, theirs = validate_file(folder, contract), validate_file(whole, contract)
    assert ours.as_dict() == theirs.as_dict()
    assert "unexpected column(s): channel" in " ".join(ours.problems)


@pytest.mark.parametrize(
    ("case", "build"),
    [(case, build) for case, build, _ in BAD_INPUTS if case != "empty file"],
)
def test_bad_data_in_parquet_files_gets_the_csvs_problems(
    case: str, build: object, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """Each kind of bad data as Parquet text in two files: the same problems as the CSV."""
    csv_text = build(sample_frame, contract)  # type: ignore[operator]
    csv = tmp_path / "bad.csv"
    csv.write_text(csv_text, encoding="utf-8")
    try:
        text = as_text(csv_text)
    except pd.errors.ParserError:
        pytest.skip("not a CSV at all: no Parquet file holds it")
    folder = parquet_folder(text, tmp_path / "bad", files=2)
    ours, theirs = validate_file(folder, contract), validate_file(csv, contract)
    assert (ours.problems, ours.rows) == (theirs.problems, theirs.rows), case
    assert not ours.passed


def test_typed_parquet_files_validate_with_every_row(
    sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """Parquet written from typed columns (numbers as numbers), as other tools write it."""
    folder = parquet_folder(sample_frame, tmp_path / "typed", files=2)
    result = validate_file(folder, contract)
    assert result.passed, result.problems
    assert result.rows == len(sample_frame) == raw_data.row_count(folder)


def test_a_folder_that_is_not_data_is_named_in_one_line(
    sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert validate_file(empty, contract).problems == [
        f"{empty}: no .parquet files in it; the training data is a CSV file or a folder of "
        "Parquet files"
    ]
    broken = parquet_folder(sample_frame, tmp_path / "broken", files=2)
    (broken / "part-001.parquet").write_bytes(b"not parquet at all")
    (problem,) = validate_file(broken, contract).problems
    assert problem.startswith(f"{broken / 'part-001.parquet'}: not a readable Parquet file: ")
    assert "\n" not in problem
    with pytest.raises(ContractError, match=r"^DATA=.*nothing\*\.parquet: names no CSV file"):
        raw_data.matching_files(str(tmp_path / "nothing*.parquet"))
    twice = tmp_path / "twice"
    twice.mkdir()
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["age", "age"])
    pq.write_table(table, twice / "part.parquet")
    assert validate_file(twice, contract).problems == [
        f"{twice / 'part.parquet'}: column(s) age appear twice; rename one"
    ]


def test_whole_numbers_keep_their_text_in_row_groups_with_missing_ones(tmp_path: Path) -> None:
    """An id of whole numbers, missing in one row group: every row group writes 1, not 1.0
    (a key is its text), and an id past 2**53 keeps its last digit."""
    ids = pa.array([1, 2, None, 2**53 + 1], pa.int64())
    folder = tmp_path / "ids"
    folder.mkdir()
    pq.write_table(pa.table({"loan_id": ids}), folder / "part.parquet", row_group_size=2)
    assert len(raw_data.parts(folder)) == 2
    assert data.read_text(folder)["loan_id"].tolist() == ["1", "2", "", str(2**53 + 1)]


def test_one_parquet_file_is_read_as_a_folder_of_itself(
    raw_data_path: Path, contract: Contract, tmp_path: Path
) -> None:
    """`make predict INPUT=batch.parquet`, `make validate` on one file: read as Parquet."""
    folder = parquet_folder(data.read_text(raw_data_path), tmp_path / "loans", files=1)
    (single,) = folder.iterdir()
    pd.testing.assert_frame_equal(data.read_raw(single, contract), data.read_raw(folder, contract))
    assert validate_file(single, contract).passed


def test_the_contract_is_drafted_from_a_sample_and_says_so(
    raw_data_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's draft reads the first rows of every file, up to about the sample's size."""
    text = data.read_text(raw_data_path)
    folder = parquet_folder(text, tmp_path / "loans", files=4)
    assert len(contract_draft.read_as_text(folder)) == len(text)  # smaller than the sample
    monkeypatch.setattr(contract_draft, "DRAFT_SAMPLE_ROWS", 400)
    sampled = contract_draft.read_as_text(folder).fillna("")
    assert len(sampled) == 400
    each_file = len(text) // 4
    starts = [number * each_file + row for number in range(4) for row in range(100)]
    pd.testing.assert_frame_equal(sampled, text.iloc[starts].reset_index(drop=True))
    (note,) = contract_draft.sample_note(folder, sampled)
    assert note.startswith(f"drafted from a sample: 400 of the {len(text)} rows of {folder}")
    assert contract_draft.sample_note(raw_data_path, text) == []
