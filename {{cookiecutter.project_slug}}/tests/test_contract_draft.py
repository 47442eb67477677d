"""Drafting a contract from a CSV (`make contract`): the draft reads back exactly, infers each
column's type as documented, picks a key that tells rows apart, asks for the positive class
only when it cannot tell, accepts the data it was drafted from, and never overwrites by
accident."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline import data
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError, parse_contract
from {{ cookiecutter.package_name }}.pipeline.validation import validate_file
from {{ cookiecutter.package_name }}.project.contract_draft import draft, write_contract

TARGET = "defaulted"
ROWS = 300
SPLIT = (0.2, 42)  # evaluation share and seed
# Levels YAML would read as something else were they not quoted.
TRICKY_LEVELS = ["no", "on", "0", "1.0", "True", "~", 'say "hi"', "back\\slash", "a: b", "# x"]


def messy_frame() -> pd.DataFrame:
    """A CSV's worth of the usual mess: ids, numbers with gaps, small and large categories,
    free text, yes/no words, dates and a column name the model cannot take."""
    rng = np.random.default_rng(7)
    income = rng.normal(50_000, 10_000, ROWS).round(2)
    days = pd.date_range("2024-01-01", periods=100).strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + ROWS),
            "ref": [f"R-{n:05d}" for n in rng.permutation(ROWS)],
            "age": rng.integers(18, 90, ROWS),
            "income": np.where(rng.random(ROWS) < 0.1, np.nan, income),
            "balance": rng.normal(0, 500, ROWS).round(2),
            "home": rng.choice(["rent", "own", "mortgage"], ROWS),
            "flags": rng.choice(TRICKY_LEVELS, ROWS),
            "city": [f"city {n % 60}" for n in range(ROWS)],
            "comment": [f"called {n % 120} times" if n % 7 else None for n in range(ROWS)],
            "remark": [f"paid {n} days late" for n in range(ROWS)],
            "vip": rng.choice(["Yes", "No"], ROWS),
            "opened": rng.choice(days, ROWS),
            "payment/income [ratio]": rng.random(ROWS).round(3),
            TARGET: rng.choice(["yes", "no"], ROWS),
        }
    )


def as_read(frame: pd.DataFrame, folder: Path) -> tuple[Path, pd.DataFrame]:
    """The frame written as a CSV, and read back as write_contract reads it (all text)."""
    path = folder / "data.csv"
    frame.to_csv(path, index=False)
    return path, pd.read_csv(path, dtype=str)


def drafted(frame: pd.DataFrame, folder: Path, target: str = TARGET) -> Contract:
    _, text_frame = as_read(frame, folder)
    return parse_contract(draft(text_frame, target, source="data.csv"), folder / "contract.yaml")


def target_frame(values: list[str]) -> pd.DataFrame:
    """Twenty rows with an id, a number and the target cycling through `values`."""
    return pd.DataFrame(
        {
            "customer_id": range(20),
            "age": [30 + n for n in range(20)],
            TARGET: [values[n % len(values)] for n in range(20)],
        }
    )


def test_draft_reads_back_every_string_exactly(tmp_path: Path) -> None:
    """Every name, level and class comes back from the drafted YAML as the text in the file:
    no, on, 0, 1.0, True or ~ stay strings, quotes and backslashes survive."""
    frame = messy_frame()
    contract = drafted(frame, tmp_path)
    assert list(contract.columns) == [name for name in frame.columns if name != TARGET]
    assert contract.columns["flags"].values == tuple(sorted(TRICKY_LEVELS))
    assert contract.columns["home"].values == ("mortgage", "own", "rent")
    assert contract.target.classes == ("no", "yes")
    assert contract.target.positive == "yes"


def test_types_are_inferred_as_documented(tmp_path: Path) -> None:
    """Numbers are integer or float (min 0 without negatives), few distinct strings a
    category that scores unseen values as other, yes/no words a boolean, short unique codes
    and unique whole numbers named like an identifier an id, and free text (unique or not),
    dates, more than 50 levels and names the model cannot take are text."""
    contract = drafted(messy_frame(), tmp_path)
    assert {name: column.type for name, column in contract.columns.items()} == {
        "customer_id": "id",
        "ref": "id",
        "age": "integer",
        "income": "float",
        "balance": "float",
        "home": "category",
        "flags": "category",
        "city": "text",
        "comment": "text",
        "remark": "text",
        "vip": "boolean",
        "opened": "text",
        "payment/income [ratio]": "text",
    }
    columns = contract.columns
    assert (columns["age"].min, columns["income"].min, columns["balance"].min) == (0, 0, None)
    assert columns["home"].unknown == "other"
    assert contract.learned_columns == ["age", "income", "balance", "home", "flags", "vip"]


def test_missing_values_are_allowed_with_a_margin(tmp_path: Path) -> None:
    """A column with gaps is allowed a little more than its observed share of missing values;
    a column without gaps is allowed none."""
    frame = messy_frame()
    contract = drafted(frame, tmp_path)
    observed = frame["income"].isna().mean()
    assert observed < contract.columns["income"].max_null_fraction <= observed + 0.06
    assert contract.columns["age"].max_null_fraction == 0


def test_drafted_contract_accepts_its_own_data(tmp_path: Path) -> None:
    """The data a contract was drafted from passes validation against it."""
    path, _ = as_read(messy_frame(), tmp_path)
    contract, _ = write_contract(path, TARGET, "", tmp_path / "contract.yaml", False, split=SPLIT)
    assert validate_file(path, contract).problems == []


def test_drafted_contract_accepts_a_column_that_is_always_empty(tmp_path: Path) -> None:
    """A column that is empty on every row (an unused export field, say) does not make the
    drafted contract reject the data it was drafted from."""
    path, _ = as_read(messy_frame().assign(unused=np.nan), tmp_path)
    contract, _ = write_contract(path, TARGET, "", tmp_path / "contract.yaml", False, split=SPLIT)
    assert validate_file(path, contract).problems == []


def test_key_is_the_first_id_column(tmp_path: Path) -> None:
    """With id columns in the data, the first one is the row key: another id (a reference
    code) may be corrected without moving rows between the splits."""
    contract = drafted(messy_frame(), tmp_path)
    assert contract.key == ("customer_id",)
    assert contract.columns["ref"].type == "id"


def test_without_an_id_the_key_tells_rows_apart(tmp_path: Path) -> None:
    """Without an id, the key is the fewest learned columns without gaps whose values tell
    every row apart: a branch and a number that repeat alone but not together."""
    frame = pd.DataFrame(
        {
            "branch": ["north", "south", "east"] * 100,
            "number": [n // 3 for n in range(ROWS)],
            "score": [n % 2 for n in range(ROWS)],
            TARGET: ["yes", "no"] * 150,
        }
    )
    contract = drafted(frame, tmp_path)
    assert contract.key_columns == ["number", "branch"]
    assert not frame.duplicated(subset=contract.key_columns).any()


def test_key_has_no_column_it_does_not_need(tmp_path: Path) -> None:
    """The key is the fewest columns that tell rows apart, as documented: a column with more
    distinct values that does not help (a score that repeats within each number) is left out,
    so correcting it never moves a row between the splits."""
    frame = pd.DataFrame(
        {
            "branch": ["north", "south", "east"] * 100,
            "number": [n // 3 for n in range(ROWS)],
            "score": [n // 30 for n in range(ROWS)],
            TARGET: ["yes", "no"] * 150,
        }
    )
    assert drafted(frame, tmp_path).key_columns == ["number", "branch"]


def test_without_an_id_a_single_distinct_column_is_the_key(tmp_path: Path) -> None:
    """A column whose values already differ on every row is the key on its own."""
    frame = messy_frame().drop(columns=["customer_id", "ref"])
    contract = drafted(frame, tmp_path)
    assert contract.key_columns == ["balance"]
    assert frame["balance"].is_unique


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        (["yes", "no"], "yes"),
        (["0", "1"], "1"),
        (["true", "false"], "true"),
        (["N", "Y"], "Y"),
    ],
    ids=["yes/no", "0/1", "true/false", "Y/N"],
)
def test_positive_class_is_inferred_when_obvious(
    values: list[str], positive: str, tmp_path: Path
) -> None:
    """For yes/no, 0/1, true/false or y/n targets the positive class needs no POSITIVE."""
    contract = drafted(target_frame(values), tmp_path)
    assert contract.target.positive == positive
    assert set(contract.target.classes) == set(values)


def test_positive_class_is_asked_for_when_not_obvious(tmp_path: Path) -> None:
    """For a good/bad target the draft asks which is the event, naming both values and
    POSITIVE; given POSITIVE it uses it; a POSITIVE that is not a value is refused."""
    _, frame = as_read(target_frame(["good", "bad"]), tmp_path)
    with pytest.raises(ContractError, match=r"'bad' or 'good'\? say it with POSITIVE=<value>"):
        draft(frame, TARGET)
    contract = parse_contract(draft(frame, TARGET, positive="bad"), tmp_path / "c.yaml")
    assert contract.target.positive == "bad"
    with pytest.raises(ContractError, match=r"POSITIVE='ugly' is not a value of defaulted"):
        draft(frame, TARGET, positive="ugly")


def test_target_must_have_two_values(tmp_path: Path) -> None:
    """A target with three values is refused, naming them; so is a target that is not a
    column, naming the columns there are."""
    _, frame = as_read(target_frame(["low", "mid", "high"]), tmp_path)
    with pytest.raises(
        ContractError, match=r"exactly two values, found 3: \['high', 'low', 'mid'\]"
    ):
        draft(frame, TARGET)
    with pytest.raises(ContractError, match=r"TARGET='default' is not a column .* customer_id"):
        draft(frame, "default")


def test_write_contract_never_overwrites_by_accident(tmp_path: Path) -> None:
    """An existing contract is kept unless FORCE=1, which the refusal names; with force it is
    replaced by the draft."""
    path, _ = as_read(messy_frame(), tmp_path)
    output = tmp_path / "data" / "contract.yaml"
    output.parent.mkdir()
    output.write_text("# my reviewed contract\n", encoding="utf-8")
    with pytest.raises(ContractError, match="FORCE=1"):
        write_contract(path, TARGET, "", output, force=False, split=SPLIT)
    assert output.read_text(encoding="utf-8") == "# my reviewed contract\n"
    contract, _ = write_contract(path, TARGET, "", output, force=True, split=SPLIT)
    assert parse_contract(output.read_text(encoding="utf-8"), output) == contract


def test_write_contract_refuses_missing_data(tmp_path: Path) -> None:
    """A DATA file that does not exist is refused, naming it, and nothing is written."""
    missing = tmp_path / "nope.csv"
    with pytest.raises(ContractError, match=f"DATA={missing}: no such file"):
        write_contract(missing, TARGET, "", tmp_path / "contract.yaml", False, split=SPLIT)
    assert not (tmp_path / "contract.yaml").exists()


def test_draft_tells_the_user_to_review_it(tmp_path: Path) -> None:
    """The written contract opens with a comment naming its source and asking for review, and
    explains in a comment why a column the model cannot take is not learned from."""
    path, _ = as_read(messy_frame(), tmp_path)
    output = tmp_path / "contract.yaml"
    write_contract(path, TARGET, "", output, force=False, split=SPLIT)
    text = output.read_text(encoding="utf-8")
    assert text.startswith(f"# The data contract, drafted by `make contract` from {path} (300 rows")
    assert "# REVIEW IT before the first commit" in text
    ratio = next(line for line in text.splitlines() if "payment/income [ratio]" in line)
    assert "# NOT LEARNED" in ratio
    assert "rename" in ratio


def loans_without_id(rows: int = 2_000) -> pd.DataFrame:
    """A loan table without an id, shaped like a real export: categories, an amount fixed at
    origination, a balance that changes with every export, and the target."""
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "grade": rng.choice(list("ABCDEFG"), rows),
            "purpose": rng.choice(["car", "home", "debt", "other"], rows),
            "loan_amount": rng.integers(10, 400, rows) * 100,
            "paid_total": rng.normal(5_000, 2_000, rows).round(2),
            "income": rng.normal(60_000, 9_000, rows).round(0),
            TARGET: rng.choice(["yes", "no"], rows),
        }
    )


def redraft(
    frame: pd.DataFrame, folder: Path, target: str = "", key: tuple[str, ...] = ()
) -> tuple[Contract, list[str]]:
    """`make contract FORCE=1` on `frame` over the contract already at folder/contract.yaml."""
    path, _ = as_read(frame, folder)
    return write_contract(path, target, "", folder / "contract.yaml", True, split=SPLIT, key=key)


def evaluation_rows(frame: pd.DataFrame, contract: Contract) -> set[str]:
    """The evaluation split's rows, each as its full original text."""
    text = frame.astype(str)
    chosen = data.in_evaluation(text, contract.key_columns, *SPLIT)
    return set(text.loc[chosen, ORIGINAL].agg("|".join, axis=1))


ORIGINAL = list(loans_without_id().columns)


def test_a_balance_is_not_the_key_when_stable_columns_tell_rows_apart(tmp_path: Path) -> None:
    """Without an id, the drafted key avoids a balance that changes with every export
    (paid_total, the most distinct column) when an amount fixed at origination and the
    categories tell the rows apart."""
    frame = loans_without_id()
    contract = drafted(frame, tmp_path)
    assert "paid_total" not in contract.key_columns
    assert not frame.duplicated(subset=contract.key_columns).any()


def test_a_redraft_keeps_the_key_and_every_evaluation_row(tmp_path: Path) -> None:
    """Adding a continuous column that tells every row apart on its own, then redrafting as
    `make data` says (FORCE=1), keeps the committed key: every evaluation row stays, and the
    redraft says what it kept and what it added."""
    frame = loans_without_id()
    first, _ = redraft(frame, tmp_path, target=TARGET)
    wider = frame.assign(score=np.random.default_rng(5).random(len(frame)))
    second, changes = redraft(wider, tmp_path)
    assert second.key_columns == first.key_columns
    assert evaluation_rows(wider, second) == evaluation_rows(frame, first)
    assert changes[0] == f"kept the key {', '.join(first.key_columns)}"
    assert "added: score (float)" in changes


def test_a_redraft_keeps_reviewed_settings_and_drops_gone_columns(tmp_path: Path) -> None:
    """A person's reviewed settings (a tightened range, a category's levels) survive a redraft
    that drops another column; the dropped column is named."""
    frame = loans_without_id()
    redraft(frame, tmp_path, target=TARGET)
    contract_file = tmp_path / "contract.yaml"
    reviewed = contract_file.read_text().replace(
        '"income":', '"income": {type: "float", min: 1000, max: 500000}  #'
    )
    contract_file.write_text(reviewed)
    contract, changes = redraft(frame.drop(columns=["purpose"]), tmp_path)
    assert contract.columns["income"].min == 1000 and contract.columns["income"].max == 500000
    assert "purpose" not in contract.columns
    assert "removed (not in the data): purpose" in changes


def test_a_redraft_without_the_key_column_asks_for_a_key_on_purpose(tmp_path: Path) -> None:
    """When the data loses a key column (renamed, say), a redraft refuses, naming the column
    and `make contract-key`; the committed contract is untouched."""
    frame = loans_without_id().assign(loan_id=[f"L{n}" for n in range(2_000)])
    redraft(frame, tmp_path, target=TARGET)
    before = (tmp_path / "contract.yaml").read_text()
    with pytest.raises(ContractError, match=r"key column\(s\) loan_id .*contract-key ROW_KEY"):
        redraft(frame.rename(columns={"loan_id": "loan_ref"}), tmp_path)
    assert (tmp_path / "contract.yaml").read_text() == before


def test_a_new_key_is_chosen_by_name_and_says_how_many_rows_move(tmp_path: Path) -> None:
    """`make contract-key ROW_KEY=...` keys rows by the named columns and counts the
    evaluation rows that leave and the training rows that enter the evaluation set."""
    frame = loans_without_id()
    first, _ = redraft(frame, tmp_path, target=TARGET)
    contract, changes = redraft(frame, tmp_path, key=("paid_total",))
    assert contract.key_columns == ["paid_total"]
    before = data.in_evaluation(frame.astype(str), first.key_columns, *SPLIT)
    after = data.in_evaluation(frame.astype(str), ["paid_total"], *SPLIT)
    assert changes[0].startswith(
        f"KEY CHANGED from {', '.join(first.key_columns)} to paid_total: "
        f"{int((before & ~after).sum())} of the {int(before.sum())} evaluation rows leave"
    )
    with pytest.raises(ContractError, match="ROW_KEY: 'nope' is not a column"):
        redraft(frame, tmp_path, key=("nope",))


def test_a_new_target_drafts_afresh(tmp_path: Path) -> None:
    """Another data set (another target) is drafted afresh, and the draft says so."""
    redraft(loans_without_id(), tmp_path, target=TARGET)
    other = target_frame(["yes", "no"]).rename(columns={TARGET: "churned"})
    contract, changes = redraft(other, tmp_path, target="churned")
    assert contract.key_columns == ["customer_id"]
    assert changes == [
        f"drafted afresh: TARGET=churned is not {TARGET}, the target of the contract it replaces"
    ]


def test_a_column_with_one_value_is_not_learned(tmp_path: Path) -> None:
    """A constant column (all zeros, or one word and gaps) carries nothing: drafted as not
    learned, with the reason beside it."""
    frame = target_frame(["yes", "no"]).assign(
        zeros=0, region=["north" if n % 3 else None for n in range(20)]
    )
    _, text_frame = as_read(frame, tmp_path)
    text = draft(text_frame, TARGET)
    contract = parse_contract(text, tmp_path / "c.yaml")
    assert "zeros" not in contract.learned_columns and "region" not in contract.learned_columns
    assert "age" in contract.learned_columns
    zeros = next(line for line in text.splitlines() if '"zeros"' in line)
    assert "NOT LEARNED: '0' on every row" in zeros


@pytest.mark.parametrize("written", ["Mar-2018", "March 2018", "2018-03", "03/2018", "Dec-18"])
def test_month_and_year_dates_are_dates(written: str, tmp_path: Path) -> None:
    """Month-year dates are dates, kept out of the model, not a category of months."""
    frame = target_frame(["yes", "no"]).assign(issued=[written] * 10 + [written[:-1] + "9"] * 10)
    assert drafted(frame, tmp_path).columns["issued"].type == "text"
