"""Training data as a folder of Parquet files (`make data DATA=<folder>`): the same rows, the
same problems and the same split as the CSV that holds the same text; a broken folder is named
in one line; the contract is drafted from a sample and says so."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
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
