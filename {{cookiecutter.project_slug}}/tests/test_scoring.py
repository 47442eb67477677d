"""Batch scoring: rows that break the data contract are set aside with the reason, the rest are
scored by the registered model (a real MLflow server) and logged for drift checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Lab, logged
from test_parquet_data import parquet_folder

from {{ cookiecutter.package_name }}.control import registry
from {{ cookiecutter.package_name }}.monitoring import inference_log, scoring
from {{ cookiecutter.package_name }}.pipeline import contract as contracts
from {{ cookiecutter.package_name }}.pipeline import data, explanations, training
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError
from {{ cookiecutter.package_name }}.serving import answer
from {{ cookiecutter.package_name }}.serving.live import Loaded
from {{ cookiecutter.package_name }}.settings import Settings

SCORED = ["row", "probability", "prediction", "predicted_class", "model_version"]


def batch(sample_frame: pd.DataFrame, contract: Contract, rows: int = 40) -> pd.DataFrame:
    """Rows to score: the sample's features, without the target."""
    return sample_frame.head(rows).drop(columns=[contract.target.name]).reset_index(drop=True)


@pytest.fixture(scope="module")
def model(raw_data_path: Path, contract: Contract, settings: Settings) -> Any:
    """A small model trained as the train stage does: the sensitive column left out."""
    frame = data.read_typed(raw_data_path, contract)
    features, target = data.features_and_target(frame, contract, settings.excluded_from_model)
    return training.train_model(
        features, target, settings.train.model_copy(update={"n_estimators": 10})
    )


def test_good_rows_have_no_problems(
    sample_frame: pd.DataFrame, contract: Contract, model: Any
) -> None:
    """Rows of the tests' data keep the contract (missing employment years are allowed)."""
    problems = scoring.model_view(batch(sample_frame, contract, 500), contract, model).problems
    assert (problems == "").all()


def test_only_the_columns_the_model_takes_are_checked(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings, model: Any
) -> None:
    """A value the contract refuses in a column the model does not take (here the sensitive
    column) never makes a row unscorable, and that column may even be absent."""
    sensitive = settings.fairness.sensitive_column
    assert sensitive not in training.model_columns(model)
    frame = batch(sample_frame, contract, 5).astype(object)
    frame.loc[2, sensitive] = "undisclosed"
    assert (scoring.model_view(frame, contract, model).problems == "").all()
    without = frame.drop(columns=[sensitive])
    assert (scoring.model_view(without, contract, model).problems == "").all()


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
    sample_frame: pd.DataFrame,
    contract: Contract,
    model: Any,
    column: str,
    value: object,
    reason: str,
) -> None:
    """Only the broken row is flagged, and the reason names the column and the rule."""
    frame = batch(sample_frame, contract, 5).astype(object)
    frame.loc[2, column] = value
    view = scoring.model_view(frame, contract, model)
    assert view.problems[2] == reason
    assert (view.problems.drop(index=2) == "").all()
    assert view.inputs.index.tolist() == [0, 1, 3, 4]  # the others, typed as the model takes them
    assert view.inputs.columns.tolist() == training.model_columns(model)


def test_a_missing_column_rejects_the_whole_batch(
    sample_frame: pd.DataFrame, contract: Contract, model: Any
) -> None:
    """Without a column the model takes nothing can be scored: one error names the column."""
    frame = batch(sample_frame, contract).drop(columns=["credit_score"])
    with pytest.raises(ContractError, match="no column credit_score"):
        scoring.model_view(frame, contract, model)


def test_input_hash_follows_the_values(sample_frame: pd.DataFrame, contract: Contract) -> None:
    """The same values give the same hash, whether read from a CSV or sent as JSON (the
    server's log and batch scoring's log meet in the drift check); a changed value another."""
    frame = batch(sample_frame, contract, 3)
    columns = contract.learned_columns
    first = scoring.input_hashes(contracts.model_view(frame, contract, columns).inputs)
    as_json = pd.DataFrame.from_records(json.loads(frame.to_json(orient="records")))
    assert first.equals(
        scoring.input_hashes(contracts.model_view(as_json, contract, columns).inputs)
    )
    frame.loc[0, "age"] = frame.loc[0, "age"] + 1
    changed = scoring.input_hashes(contracts.model_view(frame, contract, columns).inputs)
    assert changed[0] != first[0] and changed[1] == first[1]


def test_a_request_is_scored_as_batch_scoring_scores_its_rows(
    sample_frame: pd.DataFrame, contract: Contract, model: Any
) -> None:
    """The server scores a request from plain arrays, without pandas (for speed): the same
    rows get batch scoring's scores to the bit, a missing value (sent as null, or left out
    of the row) and a padded category among them."""
    frame = batch(sample_frame, contract, 30).astype(object)
    frame.loc[[4, 6], "employment_years"] = None
    frame.loc[5, "home_ownership"] = f" {frame.loc[5, 'home_ownership']} "
    rows = json.loads(frame.to_json(orient="records"))
    del rows[6]["employment_years"]
    names = training.model_columns(model)
    table = answer.rows_table(rows, contract, 100)
    inputs = contracts.typed_columns(table, contract, names)
    served = training.positive_probability(model, training.feature_matrix(inputs, names))
    as_batch = training.predict_proba(model, scoring.model_view(frame, contract, model).inputs)
    assert served.tolist() == as_batch.tolist()


def test_a_row_s_reasons_are_the_columns_that_pushed_its_score_up(
    sample_frame: pd.DataFrame, contract: Contract, model: Any
) -> None:
    """Each row's contributions add up, with one bias common to every row, to the log-odds of
    its score (TreeSHAP's promise); the server's matrix gives the frame's contributions; a
    row's reasons are its largest positive contributions, largest first; batch scoring's
    reason columns say the same."""
    frame = batch(sample_frame, contract, 60)
    inputs = scoring.model_view(frame, contract, model).inputs
    names = training.model_columns(model)
    contributed = explanations.contributions(model, inputs)
    assert contributed.shape == (60, len(names))
    probability = training.predict_proba(model, inputs).to_numpy()
    bias = np.log(probability / (1 - probability)) - contributed.sum(axis=1)
    assert bias.max() - bias.min() < 1e-4
    table = answer.rows_table(json.loads(frame.to_json(orient="records")), contract, 100)
    matrix = training.feature_matrix(contracts.typed_columns(table, contract, names), names)
    assert explanations.contributions(model, matrix) == pytest.approx(contributed, abs=1e-6)

    reasons = explanations.top_reasons(contributed, names, 3)
    for row, said in zip(contributed, reasons, strict=True):
        values = [reason["contribution"] for reason in said]
        assert values == sorted(values, reverse=True) and all(v > 0 for v in values)
        assert all(row[names.index(r["column"])] == pytest.approx(r["contribution"], abs=1e-6)
                   for r in said)  # fmt: skip
        others = [row[i] for i, name in enumerate(names) if name not in {r["column"] for r in said}]
        assert len(said) == 3 or max(others) <= 0
        assert not said or max(others) <= said[-1]["contribution"] + 1e-6
    assert any(len(said) == 3 for said in reasons)

    version = registry.Version(name="m", number=1, run_id="r", tags={})
    scored = scoring.score(frame, contract, model, version, 0.5, explain=3).predictions
    for place in range(3):
        expected = [said[place]["column"] if place < len(said) else "" for said in reasons]
        assert scored[f"reason_{place + 1}"].tolist() == expected
    assert "reason_1" not in scoring.score(frame, contract, model, version, 0.5).predictions
    rejected = scoring.score(frame.assign(age=7), contract, model, version, 0.5, explain=2)
    assert rejected.predictions.empty and len(rejected.rejected) == 60
    assert {"reason_1", "reason_2_contribution"} <= set(rejected.predictions.columns)


def test_shadowed_requests_scored_together_get_what_each_gets_alone(
    sample_frame: pd.DataFrame, contract: Contract, model: Any
) -> None:
    """The shadow scores what is queued in one call (speed): each request gets the scores,
    labels and log rows it gets scored alone, one of them sending the target column too, and
    the batch's time is shared out by rows."""
    rows = json.loads(batch(sample_frame, contract, 7).to_json(orient="records"))
    rows[5][contract.target.name] = contract.target.positive
    requests = [rows[:1], rows[1:5], rows[5:]]
    version = registry.Version("model", 2, "run", {})
    loaded = Loaded(version, "0" * 64, model, training.model_columns(model))
    tables = [answer.rows_table(request, contract, 100) for request in requests]
    together = answer.score(loaded, answer.stacked(tables), contract, 0.5, "shadow")
    parts = answer.split(together, [answer.size(table) for table in tables])
    for part, table in zip(parts, tables, strict=True):
        alone = answer.score(loaded, table, contract, 0.5, "shadow")
        assert part.probability.tolist() == alone.probability.tolist()
        assert part.labels.tolist() == alone.labels.tolist()
        logged = answer.log_records(part, table, "id", "")
        assert [record[5:9] for record in logged] == [
            record[5:9] for record in answer.log_records(alone, table, "id", "")
        ]
    # Exact shares up to rounding: seconds * rows / total is not always (rows / total) bit for bit.
    shares = [part.seconds / together.seconds for part in parts]
    assert shares == pytest.approx([1 / 7, 4 / 7, 2 / 7], rel=1e-12)


def test_input_hashes_do_not_depend_on_how_many_rows_are_hashed_at_a_time(
    sample_frame: pd.DataFrame, contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are hashed in chunks (memory): a row's hash is the same in any chunk, and the
    result keeps the frame's index, across chunk boundaries too."""
    frame = batch(sample_frame, contract, 10).set_axis(range(100, 110))
    view = contracts.model_view(frame, contract, contract.learned_columns)
    whole = scoring.input_hashes(view.inputs)
    monkeypatch.setattr(data, "HASH_CHUNK_ROWS", 3)
    chunked = scoring.input_hashes(view.inputs)
    assert chunked.equals(whole) and list(chunked.index) == list(range(100, 110))
    assert whole.is_unique
    empty = contracts.model_view(frame.iloc[:0], contract, contract.learned_columns)
    assert scoring.input_hashes(empty.inputs).empty


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
    log = logged(predict.log)
    assert list(log.columns) == inference_log.LOG_COLUMNS and len(log) == len(predictions)
    # The same rows as a folder of Parquet files: the same scores, appended to the log.
    scoring.predict(lab.settings, parquet_folder(data.read_text(source), tmp_path / "batch"))
    again = pd.read_csv(predict.output)
    pd.testing.assert_frame_equal(again[SCORED], predictions[SCORED])
    assert len(logged(predict.log)) == 2 * len(predictions)


def test_predict_without_a_production_model_is_an_error(lab: Lab, tmp_path: Path) -> None:
    """Nothing in production: one line says so, and nothing is written."""
    source = tmp_path / "batch.csv"
    source.write_text("age\n30\n")
    with pytest.raises(registry.RegistryError, match="declares no production version"):
        scoring.predict(lab.settings, source)
    assert not lab.settings.predict.output.exists()


def test_predict_loads_a_named_version_only_where_git_declared_it(
    lab: Lab, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """--version N scores with a version deploy/ once declared (checked against the digest it
    declared); a version git never declared has no digest there and is refused."""
    champion = lab.champion(lab.candidate("a" * 40, 100))
    other = lab.register(lab.candidate("b" * 40, 200))
    source = tmp_path / "batch.csv"
    batch(sample_frame, contract).to_csv(source, index=False)
    assert scoring.predict(lab.settings, source, champion.number).version.number == 1
    with pytest.raises(registry.RegistryError, match=f"version {other.number} was never declared"):
        scoring.predict(lab.settings, source, other.number)
