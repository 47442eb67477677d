"""Batch scoring: rows that break the data contract are set aside with the reason, the rest are
scored by the registered model (a real MLflow server) and logged for drift checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import Lab

from {{ cookiecutter.package_name }} import registry, scoring
from {{ cookiecutter.package_name }}.contract import Contract, ContractError


def batch(sample_frame: pd.DataFrame, contract: Contract, rows: int = 40) -> pd.DataFrame:
    """Rows to score: the sample's features, without the target."""
    return sample_frame.head(rows).drop(columns=[contract.target.name]).reset_index(drop=True)


def test_good_rows_have_no_problems(sample_frame: pd.DataFrame, contract: Contract) -> None:
    """Rows of the shipped data keep the contract (missing employment years are allowed)."""
    problems = scoring.row_problems(batch(sample_frame, contract, 500), contract)
    assert (problems == "").all()


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("age", 7, "age is below 18"),
        ("credit_score", 900, "credit_score is above 850"),
        ("term_months", 12.5, "term_months is not a whole number"),
        ("annual_income", "lots", "annual_income is not a number"),
        ("purpose", "yacht", "purpose is not a known category"),
        ("loan_amount", None, "loan_amount is missing"),
    ],
    ids=["below-min", "above-max", "fractional", "not-a-number", "unknown-category", "missing"],
)
def test_a_bad_row_is_named_with_its_reason(
    sample_frame: pd.DataFrame, contract: Contract, column: str, value: object, reason: str
) -> None:
    """Only the broken row is flagged, and the reason names the column and the rule."""
    frame = batch(sample_frame, contract, 5).astype(object)
    frame.loc[2, column] = value
    problems = scoring.row_problems(frame, contract)
    assert problems[2] == reason
    assert (problems.drop(index=2) == "").all()


def test_a_missing_column_rejects_the_whole_batch(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Without a contract column nothing can be scored: one error names the column."""
    with pytest.raises(ContractError, match="no column credit_score"):
        scoring.row_problems(batch(sample_frame, contract).drop(columns=["credit_score"]), contract)


def test_input_hash_follows_the_values(sample_frame: pd.DataFrame, contract: Contract) -> None:
    """The same values give the same hash; a changed value another."""
    frame = batch(sample_frame, contract, 3)
    columns = list(contract.columns)
    first = scoring.input_hashes(frame, columns)
    assert first.equals(scoring.input_hashes(frame.copy(), columns))
    frame.loc[0, "age"] = frame.loc[0, "age"] + 1
    changed = scoring.input_hashes(frame, columns)
    assert changed[0] != first[0] and changed[1] == first[1]


def test_predict_scores_good_rows_sets_bad_ones_aside_and_logs(
    lab: Lab, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """With the production model: good rows are scored with its version, a bad row is written
    to the rejected file with its reason, and every scored row lands in the inference log;
    a second batch appends to the log."""
    champion = lab.champion(lab.candidate("a" * 40, 100))
    rows = batch(sample_frame, contract)
    rows.loc[5, "age"] = 7
    source = tmp_path / "batch.csv"
    rows.to_csv(source, index=False)

    scored = scoring.predict(lab.settings, source)

    predict = lab.settings.predict
    predictions = pd.read_csv(predict.output)
    assert len(predictions) == len(rows) - 1 and 5 not in set(predictions["row"])
    assert set(predictions["model_version"]) == {champion.number}
    assert predictions["probability"].between(0, 1).all()
    rejected = pd.read_csv(predict.rejected)
    assert rejected[["row", "reason"]].to_dict("records") == [
        {"row": 5, "reason": "age is below 18"}
    ]
    assert scored.version.number == champion.number
    log = pd.read_csv(predict.log)
    assert list(log.columns) == scoring.LOG_COLUMNS and len(log) == len(predictions)
    scoring.predict(lab.settings, source)
    assert len(pd.read_csv(predict.log)) == 2 * len(predictions)


def test_predict_without_a_production_model_is_an_error(lab: Lab, tmp_path: Path) -> None:
    """Nothing in production: one line says so, and nothing is written."""
    source = tmp_path / "batch.csv"
    source.write_text("age\n30\n")
    with pytest.raises(registry.RegistryError, match="no 'production' version"):
        scoring.predict(lab.settings, source)
    assert not lab.settings.predict.output.exists()
