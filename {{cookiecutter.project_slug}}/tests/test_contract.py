"""The data contract: each type parses and each bad contract is refused naming its key; YAML's
surprises are caught; validation rejects exactly the rows scoring rejects; unseen categories,
text and ids behave as documented; and the row key keeps the evaluation set frozen."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline.contract import (
    OTHER,
    Contract,
    ContractError,
    load_contract,
    read_csv,
    row_problems,
    typed,
    unseen_counts,
)
from {{ cookiecutter.package_name }}.pipeline.data import split_frame
from {{ cookiecutter.package_name }}.pipeline.validation import validate_file

TARGET = 'target: {name: "outcome", classes: ["no", "yes"], positive: "yes"}\n'

CONTRACT = (
    "min_rows: 1\n"
    + TARGET
    + """\
columns:
  customer: {type: id}
  age:      {type: integer, min: 18, max: 100}
  income:   {type: float, min: 0, max_null_fraction: 0.5}
  home:     {type: category, values: ["rent", "own"]}
  vip:      {type: boolean}
  note:     {type: text, max_null_fraction: 0.5}
"""
)

# Four rows that keep CONTRACT, as the CSV's text ("" is an empty cell).
GOOD = pd.DataFrame(
    {
        "customer": ["c1", "c2", "c3", "c4"],
        "age": ["30", "41", "52", "63"],
        "income": ["1200.5", "", "0", "98000"],
        "home": ["rent", "own", "rent", "own"],
        "vip": ["yes", "No", "TRUE", "0"],
        "note": ["likes, commas", "", 'said "no"', "5"],
        "outcome": ["yes", "no", "no", "yes"],
    }
)

# (case, column, the bad cell's text, what the row's problem says); one defect per row.
DEFECTS = [
    ("out of range", "age", "150", "age is above 100"),
    ("not a number", "income", "lots", "income is not a number"),
    ("unknown category", "home", "castle", "home is not a known category"),
    ("not true/false", "vip", "maybe", "vip is not true/false"),
    ("missing where not allowed", "age", "", "age is missing"),
    ("fractional integer", "age", "35.5", "age is not a whole number"),
    ("missing key", "customer", "", "customer is missing"),
    ("outside the two classes", "outcome", "perhaps", "outcome is not one of the two classes"),
    ("missing target", "outcome", "", "outcome is missing"),
]


def contract_from(text: str, folder: Path) -> Contract:
    path = folder / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    return load_contract(path)


def bad_row(number: int, column: str, value: str) -> pd.DataFrame:
    """A good row with its own id and one cell replaced."""
    row = GOOD.iloc[[0]].assign(customer=f"bad{number}").reset_index(drop=True)
    row.loc[0, column] = value
    return row


def csv_file(frame: pd.DataFrame, folder: Path, name: str = "batch.csv") -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def read_back(frame: pd.DataFrame, contract: Contract, folder: Path) -> pd.DataFrame:
    """The frame as the pipeline reads it: written as CSV, read through the contract."""
    return read_csv(csv_file(frame, folder), contract)


def test_every_column_type_parses(tmp_path: Path) -> None:
    """A contract may use all six types; the four value types are learned from, text and id
    are not, and the id column is the row key."""
    contract = contract_from(CONTRACT, tmp_path)
    assert {name: column.type for name, column in contract.columns.items()} == {
        "customer": "id",
        "age": "integer",
        "income": "float",
        "home": "category",
        "vip": "boolean",
        "note": "text",
    }
    assert contract.learned_columns == ["age", "income", "home", "vip"]
    assert contract.key_columns == ["customer"]
    assert contract.all_columns[-1] == "outcome"


KEY_ONLY = "  customer: {type: id}\n"
BAD_CONTRACTS = [
    (
        "category without values",
        "min_rows: 1\n" + TARGET + "columns:\n" + KEY_ONLY + "  home: {type: category}\n",
        "columns.home: .*needs its allowed values",
    ),
    (
        "min on a text column",
        "min_rows: 1\n" + TARGET + "columns:\n" + KEY_ONLY + "  note: {type: text, min: 0}\n",
        "columns.note: .*min/max are for integer and float columns, not text",
    ),
    (
        "id with missing values",
        "min_rows: 1\n" + TARGET + "columns:\n  customer: {type: id, max_null_fraction: 0.1}\n",
        "columns.customer: .*allows no missing values",
    ),
    (
        "positive not a class",
        'min_rows: 1\ntarget: {name: "outcome", classes: ["no", "yes"], positive: "maybe"}\n'
        "columns:\n" + KEY_ONLY,
        "target: .*positive 'maybe' is not one of classes",
    ),
    (
        "key column not in columns",
        'min_rows: 1\nkey: ["branch"]\n' + TARGET + "columns:\n" + KEY_ONLY,
        "key column 'branch' is not in columns",
    ),
    (
        "learned column name the model cannot take",
        "min_rows: 1\n"
        + TARGET
        + "columns:\n"
        + KEY_ONLY
        + '  "payment/income [ratio]": {type: float}\n',
        r"column 'payment/income \[ratio\]': .*rename it",
    ),
    (
        "unknown type",
        "min_rows: 1\n" + TARGET + "columns:\n" + KEY_ONLY + "  opened: {type: date}\n",
        "columns.opened.type: ",
    ),
    (
        "unknown: other on a number",
        "min_rows: 1\n"
        + TARGET
        + "columns:\n"
        + KEY_ONLY
        + "  age: {type: integer, unknown: other}\n",
        "columns.age: .*unknown: other is for category columns",
    ),
    (
        "no row key",
        "min_rows: 1\n" + TARGET + "columns:\n  age: {type: integer}\n",
        "no row key: name `key` columns or declare an id column",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [pytest.param(text, message, id=case) for case, text, message in BAD_CONTRACTS],
)
def test_bad_contract_is_refused_naming_the_key(text: str, message: str, tmp_path: Path) -> None:
    """A contract that cannot work is refused when it is read, with the file and the key
    that is wrong, before any data is judged by it."""
    with pytest.raises(ContractError, match=message) as refused:
        contract_from(text, tmp_path)
    assert str(refused.value).startswith(f"{tmp_path / 'contract.yaml'}: ")


def test_a_name_the_model_cannot_take_is_fine_for_text(tmp_path: Path) -> None:
    """The column name the model refuses is accepted when the column is declared text: it is
    kept in the data and never learned from."""
    text = "min_rows: 1\n" + TARGET + "columns:\n" + KEY_ONLY
    contract = contract_from(text + '  "payment/income [ratio]": {type: text}\n', tmp_path)
    assert contract.columns["payment/income [ratio]"].type == "text"
    assert contract.learned_columns == []


@pytest.mark.parametrize(
    ("target", "columns", "place"),
    [
        ("classes: [no, yes], positive: yes", "", "target.classes"),
        (
            'classes: ["off", "on"], positive: "on"',
            "  power: {type: category, values: [on, off]}\n",
            "columns.power.values",
        ),
    ],
    ids=["target classes", "category values"],
)
def test_unquoted_yaml_booleans_are_refused(
    target: str, columns: str, place: str, tmp_path: Path
) -> None:
    """Unquoted yes/no or on/off, which YAML reads as true/false, are refused with the place
    and the advice to quote them, instead of silently matching no value in the data."""
    text = "min_rows: 1\ntarget: {name: outcome, " + target + "}\ncolumns:\n" + KEY_ONLY + columns
    with pytest.raises(ContractError, match=f"{place}.*quote them") as refused:
        contract_from(text, tmp_path)
    assert "true/false" in str(refused.value)


def test_unquoted_numbers_are_read_as_their_text(tmp_path: Path) -> None:
    """`classes: [0, 1]` and `values: [1, 2]` mean the text 0, 1 and 2 of the file: they are
    accepted, and a 0/1 target's 1 is the positive class."""
    text = (
        "min_rows: 1\ntarget: {name: outcome, classes: [0, 1], positive: 1}\ncolumns:\n"
        + KEY_ONLY
        + "  grade: {type: category, values: [1, 2]}\n"
    )
    contract = contract_from(text, tmp_path)
    assert contract.target.classes == ("0", "1")
    assert contract.target.positive == "1"
    assert contract.columns["grade"].values == ("1", "2")
    frame = read_back(
        pd.DataFrame({"customer": ["a", "b"], "grade": ["2", "1"], "outcome": ["1", "0"]}),
        contract,
        tmp_path,
    )
    assert (row_problems(frame, contract, contract.all_columns) == "").all()
    assert typed(frame, contract, ["outcome"])["outcome"].tolist() == [1, 0]


def test_unquoted_numbers_keep_their_digits(tmp_path: Path) -> None:
    """An unquoted number in a category's values is the text the file writes, digit for
    digit: product codes 010 and 020 are not 8 and 16, a price band 1.50 is not 1.5."""
    text = (
        "min_rows: 1\n"
        + TARGET
        + "columns:\n"
        + KEY_ONLY
        + "  code: {type: category, values: [010, 020, 1.50]}\n"
    )
    assert contract_from(text, tmp_path).columns["code"].values == ("010", "020", "1.50")


def test_unquoted_yes_no_column_name_is_refused(tmp_path: Path) -> None:
    """A column named no (or yes, on, off) left unquoted, which YAML reads as false, is
    refused with the advice to quote it, not renamed to 'false'."""
    text = "min_rows: 1\n" + TARGET + "columns:\n" + KEY_ONLY + "  no: {type: integer}\n"
    with pytest.raises(ContractError, match="quote"):
        contract_from(text, tmp_path)


def test_yes_no_target_is_one_for_the_positive_class(tmp_path: Path) -> None:
    """The model sees the positive class as 1 and the other as 0; a value that is neither
    class is a row problem, never a silent 0."""
    contract = contract_from(CONTRACT, tmp_path)
    frame = pd.DataFrame({"outcome": ["yes", "no", "no", "yes", "maybe"]})
    assert typed(frame.head(4), contract, ["outcome"])["outcome"].tolist() == [1, 0, 0, 1]
    problems = row_problems(frame, contract, ["outcome"]).tolist()
    assert problems == ["", "", "", "", "outcome is not one of the two classes"]


def test_integer_means_whole_numbers(tmp_path: Path) -> None:
    """35.5 in an integer column is a row problem and fails validation naming the column,
    so validation and scoring agree; 35.0 is a whole number and is accepted."""
    contract = contract_from(CONTRACT, tmp_path)
    whole = GOOD.assign(age=["30", "35.0", "52", "63"])
    fractional = GOOD.assign(age=["30", "35.5", "52", "63"])
    problems = row_problems(read_back(fractional, contract, tmp_path), contract, ["age"])
    assert problems.tolist() == ["", "age is not a whole number", "", ""]
    assert validate_file(csv_file(whole, tmp_path, "whole.csv"), contract).passed
    result = validate_file(csv_file(fractional, tmp_path, "fractional.csv"), contract)
    assert result.problems == ["column 'age': 1 rows: age is not a whole number (e.g. 35.5)"]


def test_rows_with_a_defect_are_exactly_the_rows_flagged(tmp_path: Path) -> None:
    """In a batch mixing good rows with one row per kind of defect, the contract flags exactly
    the defective rows, each with the reason that names its column."""
    contract = contract_from(CONTRACT, tmp_path)
    bad = [bad_row(i, column, value) for i, (_, column, value, _) in enumerate(DEFECTS)]
    frame = read_back(pd.concat([GOOD, *bad], ignore_index=True), contract, tmp_path)
    problems = row_problems(frame, contract, contract.all_columns)
    assert problems.tolist() == [""] * len(GOOD) + [reason for *_, reason in DEFECTS]


def test_good_rows_pass_validation(tmp_path: Path) -> None:
    """The rows the contract does not flag pass validation as a batch."""
    contract = contract_from(CONTRACT, tmp_path)
    frame = read_back(GOOD, contract, tmp_path)
    assert (row_problems(frame, contract, contract.all_columns) == "").all()
    result = validate_file(csv_file(GOOD, tmp_path), contract)
    assert result.problems == []


@pytest.mark.parametrize(
    ("column", "value"),
    [pytest.param(column, value, id=case) for case, column, value, _ in DEFECTS],
)
def test_one_bad_row_fails_validation_naming_its_column(
    column: str, value: str, tmp_path: Path
) -> None:
    """Good rows plus one row that scoring would set aside fail validation, and the problem
    names that row's column and no other: validation accepts a row exactly when scoring does."""
    contract = contract_from(CONTRACT, tmp_path)
    batch = pd.concat([GOOD, bad_row(0, column, value)], ignore_index=True)
    result = validate_file(csv_file(batch, tmp_path), contract)
    assert not result.passed
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith(f"column {column!r}: "), result.problems


def test_a_batch_with_one_class_says_which_class_is_missing(tmp_path: Path) -> None:
    """A batch whose target holds only one class fails, and the line says which class it
    found or which one is missing, not just that both are needed."""
    contract = contract_from(CONTRACT, tmp_path)
    result = validate_file(csv_file(GOOD.assign(outcome="no"), tmp_path), contract)
    assert len(result.problems) == 1, result.problems
    needs, _, rest = result.problems[0].partition("needs both classes ['no', 'yes']")
    assert needs == "target 'outcome': "
    assert "'no'" in rest or "'yes'" in rest, result.problems


def test_unknown_other_scores_an_unseen_category(tmp_path: Path) -> None:
    """With `unknown: other`, an unseen category value is scored as the one extra level the
    model knows, and counted for drift; with the default `unknown: reject` the row is set
    aside."""
    other = CONTRACT.replace('values: ["rent", "own"]}', 'values: ["rent", "own"], unknown: other}')
    contract = contract_from(other, tmp_path)
    frame = pd.DataFrame({"home": ["rent", "castle", "own", "castle", None]})
    assert (row_problems(frame.head(4), contract, ["home"]) == "").all()
    home = typed(frame, contract, ["home"])["home"]
    assert list(home.cat.categories) == ["rent", "own", OTHER]
    assert home.astype(object).tolist()[:4] == ["rent", OTHER, "own", OTHER]
    assert pd.isna(home.iloc[4])
    assert unseen_counts(frame, contract) == {"home": 2}

    rejecting = contract_from(CONTRACT, tmp_path)
    assert row_problems(frame.head(4), rejecting, ["home"]).tolist() == [
        "",
        "home is not a known category",
        "",
        "home is not a known category",
    ]
    assert unseen_counts(frame, rejecting) == {}


def test_text_and_ids_are_never_learned_nor_a_reason_to_reject(tmp_path: Path) -> None:
    """Text and id columns are kept out of the model, and whatever they hold never stops a
    row from being scored; a missing id is still a problem for the key."""
    contract = contract_from(CONTRACT, tmp_path)
    assert "note" not in contract.learned_columns
    assert "customer" not in contract.learned_columns
    odd = GOOD.assign(customer=["", "c2", "#!?", "   "], note=["", "", "[x] <y>", "\t"])
    frame = read_back(odd, contract, tmp_path)
    assert (row_problems(frame, contract, contract.learned_columns) == "").all()
    assert (
        row_problems(frame, contract, ["customer"]).tolist() == ["customer is missing"] + [""] * 3
    )


KEYED = {
    "id": "min_rows: 1\n" + TARGET + "columns:\n  customer: {type: id}\n",
    "columns": (
        'min_rows: 1\nkey: ["branch", "number"]\n'
        + TARGET
        + 'columns:\n  branch: {type: category, values: ["north", "south"]}\n'
        "  number: {type: integer}\n"
    ),
}


def keyed_frame(rows: int, start: int = 0) -> pd.DataFrame:
    """Rows with an id, a two-column key (branch, number: unique together) and other
    columns, as text."""
    numbers = range(start, start + rows)
    return pd.DataFrame(
        {
            "customer": [f"C{n:05d}" for n in numbers],
            "branch": ["north" if n % 2 else "south" for n in numbers],
            "number": [str(n // 2) for n in numbers],
            "age": [str(20 + n % 50) for n in numbers],
            "note": [f"note {n}" for n in numbers],
            "outcome": ["yes" if n % 4 else "no" for n in numbers],
        }
    )


def _evaluation_keys(frame: pd.DataFrame, key: list[str]) -> set[tuple[str, ...]]:
    _, evaluation = split_frame(frame, key, 0.25, 42)
    return set(evaluation[key].itertuples(index=False, name=None))


CHANGES = {
    "add a column": lambda frame: frame.assign(region="west"),
    "drop a non-key column": lambda frame: frame.drop(columns=["age"]),
    "correct a non-key column": lambda frame: frame.assign(age=frame["age"].str.replace("2", "9")),
    "append rows": lambda frame: pd.concat([frame, keyed_frame(100, start=1000)]),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("keyed_by", list(KEYED))
def test_evaluation_rows_stay_put(keyed_by: str, change: str, tmp_path: Path) -> None:
    """Adding a column, dropping or correcting a non-key column, or appending rows leaves
    every evaluation row in the evaluation set (by its key), so a champion is never judged on
    rows it was trained on."""
    key = contract_from(KEYED[keyed_by], tmp_path).key_columns
    frame = keyed_frame(400)
    assert not frame.duplicated(subset=key).any()
    before = _evaluation_keys(frame, key)
    after = _evaluation_keys(CHANGES[change](frame), key)
    assert 60 < len(before) < 140
    assert before <= after
    if change != "append rows":
        assert before == after


@pytest.mark.parametrize("keyed_by", list(KEYED))
def test_dropping_a_key_column_is_refused(keyed_by: str, tmp_path: Path) -> None:
    """Data without one of the key's columns cannot be split: the error names the column
    instead of moving rows between the splits."""
    key = contract_from(KEYED[keyed_by], tmp_path).key_columns
    with pytest.raises(ContractError, match=f"no key column {key[-1]}"):
        split_frame(keyed_frame(40).drop(columns=[key[-1]]), key, 0.25, 42)
