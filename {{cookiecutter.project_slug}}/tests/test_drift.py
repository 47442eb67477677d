"""The drift check: no drift on data like the training data; shifted numeric and category
columns flagged by name; a changed schema is an error, never silently skipped; and the whole
check against the production model on a real MLflow server, with its exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import Lab

from {{ cookiecutter.package_name }} import drift, lineage, scoring
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.contract import Contract
from {{ cookiecutter.package_name }}.settings import Settings

SHIFTED = ["credit_score", "debt_to_income", "purpose"]


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    return frame.drop(columns=[contract.target.name]).reset_index(drop=True)


def same_population(sample_frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """A fresh batch from the training population: a random sample of it."""
    return features(sample_frame.sample(3000, random_state=11), contract)


def shifted(sample_frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Applicants with lower credit scores, more debt, and many more small-business loans."""
    batch = same_population(sample_frame, contract)
    batch["credit_score"] = (batch["credit_score"] - 90).clip(300, 850)
    batch["debt_to_income"] = (batch["debt_to_income"] + 0.25).clip(0, 5)
    batch.loc[batch.index % 2 == 0, "purpose"] = "small_business"
    return batch


def with_scores(frame: pd.DataFrame, offset: float) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return frame.assign(**{drift.PREDICTION: rng.beta(2, 6, len(frame)) + offset})


def drifted_columns(
    sample_frame: pd.DataFrame, current: pd.DataFrame, contract: Contract, settings: Settings
) -> dict[str, bool]:
    """Evidently's verdict per column for `current` against the whole sample data."""
    reference = with_scores(features(sample_frame, contract), 0)
    snapshot = drift._evidently_report(reference, current, contract, settings.drift)
    return {name: r["drifted"] for name, r in drift.column_results(snapshot).items()}


def test_the_same_population_does_not_drift(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """A batch drawn like the training data flags no column and no score drift."""
    current = with_scores(same_population(sample_frame, contract), 0)
    flags = drifted_columns(sample_frame, current, contract, settings)
    assert set(flags) == {*contract.columns, drift.PREDICTION}
    assert not any(flags.values())


def test_shifted_columns_are_flagged_by_name(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Shifted numeric (PSI) and category (chi-square) columns are flagged, and only they."""
    current = with_scores(shifted(sample_frame, contract), 0)
    flags = drifted_columns(sample_frame, current, contract, settings)
    assert sorted(name for name, drifted in flags.items() if drifted) == sorted(SHIFTED)


def test_shifted_scores_are_prediction_drift(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Scores that moved are prediction drift, even when no input column did."""
    current = with_scores(same_population(sample_frame, contract), 0.3)
    assert drifted_columns(sample_frame, current, contract, settings)[drift.PREDICTION]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.drop(columns=["credit_score"]), "column credit_score is missing"),
        (lambda f: f.assign(branch="north"), "column branch is not in the contract"),
    ],
    ids=["dropped-column", "extra-column"],
)
def test_a_changed_schema_is_named(
    sample_frame: pd.DataFrame, contract: Contract, change: object, problem: str
) -> None:
    """Evidently would skip a missing column in silence: the schema check names it first."""
    batch = change(features(sample_frame, contract))  # type: ignore[operator]
    assert drift.schema_problems(list(batch.columns), contract) == [problem]
    assert drift.schema_problems(list(sample_frame.columns), contract) == []


def test_decision_counts_the_share_and_the_age(settings: Settings) -> None:
    """Drift from the drifted share on; a model older than allowed, or of unknown age, is
    stale; either asks for retraining."""
    share = settings.drift.drifted_share
    names = [f"c{i}" for i in range(10)]
    flagged = set(names[: int(np.ceil(share * 10))])
    columns = {n: {"drifted": n in flagged} for n in names}
    fresh = drift.decide(columns, settings.drift, 1.0)
    assert fresh["drift"] and fresh["retrain"] and fresh["drifted_columns"] == sorted(flagged)
    calm = drift.decide({n: {"drifted": False} for n in names}, settings.drift, 1.0)
    assert not calm["retrain"]
    old = drift.decide({n: {"drifted": False} for n in names}, settings.drift, 10_000.0)
    assert old["stale"] and old["retrain"] and not old["drift"]
    assert drift.decide({}, settings.drift, None)["stale"]


def test_quality_names_bad_rows_and_growing_nulls(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """Rows breaking the contract and a column whose missing share grew are reported."""
    reference = features(sample_frame, contract)
    current = same_population(sample_frame, contract).astype(object)
    current.loc[:599, "annual_income"] = None
    current.loc[0, "age"] = 7
    by_row = scoring.row_problems(current, contract)
    problems = drift.quality_problems(reference, current, by_row, contract, 0.05)
    assert problems[0] == f"600 of {len(current)} rows break the contract"
    assert problems[1].startswith("annual_income: missing values rose from 0.0% to 20.0%")


def write_batch(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_check_against_the_production_model(
    lab: Lab, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """With a production model on the server: a shifted batch drifts, and drift.json, the
    self-contained HTML and the Markdown summary say which columns; a batch like the training
    data does not."""
    trained_at = 1_700_000_000
    lab.champion(lab.candidate("b" * 40, trained_at))
    a_day_later = datetime.fromtimestamp(trained_at, UTC) + timedelta(days=1)
    settings = lab.settings.drift

    calm_batch = write_batch(same_population(sample_frame, contract), tmp_path / "calm.csv")
    calm = drift.check(lab.settings, calm_batch, a_day_later)
    assert not calm["drift"] and not calm["retrain"]

    shifted_batch = write_batch(shifted(sample_frame, contract), tmp_path / "shifted.csv")
    result = drift.check(lab.settings, shifted_batch, a_day_later)
    assert result["drift"] and set(SHIFTED) <= set(result["drifted_columns"])
    assert result["model"]["version"] == 1
    assert json.loads(settings.report.read_text())["drifted_columns"] == result["drifted_columns"]
    assert settings.html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert "| credit_score | psi |" in settings.summary.read_text(encoding="utf-8")


def test_check_reads_the_scores_production_served(
    lab: Lab, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """After `predict` scored a batch, the drift check takes the batch's scores from the
    inference log; a served score the model would not give for that input is named as
    training-serving skew, and a batch the log has never seen is scored now."""
    lab.champion(lab.candidate("d" * 40, int(time.time())))
    batch = write_batch(same_population(sample_frame, contract), tmp_path / "batch.csv")
    scoring.predict(lab.settings, batch)

    served = drift.check(lab.settings, batch)
    assert served["scores"]["served"] == 3000 and served["scores"]["scored_now"] == 0
    assert served["scores"]["skewed"] == 0 and served["quality"] == []
    assert "Scores: 3000 as served (inference log), 0 scored now." in drift.summary(served)

    log = pd.read_csv(lab.settings.predict.log)
    log.loc[:9, "probability"] = (log.loc[:9, "probability"] + 0.3).clip(upper=1)
    log.to_csv(lab.settings.predict.log, index=False)
    skewed = drift.check(lab.settings, batch)
    assert skewed["scores"]["skewed"] == 10
    assert any("10 of 3000 served scores differ" in problem for problem in skewed["quality"])

    unseen = write_batch(shifted(sample_frame, contract), tmp_path / "unseen.csv")
    assert drift.check(lab.settings, unseen)["scores"] == {
        "log": str(lab.settings.predict.log), "served": 0, "scored_now": 3000, "skewed": 0,
    }  # fmt: skip

    log.drop(columns=["input_sha256"]).to_csv(lab.settings.predict.log, index=False)
    with pytest.raises(ValueError, match="not an inference log: no column input_sha256"):
        drift.check(lab.settings, batch)


def test_drift_command_exit_codes(
    lab: Lab, sample_frame: pd.DataFrame, contract: Contract, tmp_path: Path
) -> None:
    """`drift` exits 0 without drift, 1 with it, and 2 when it cannot decide (a dropped
    column), leaving drift.json with the reason."""
    lab.champion(lab.candidate("c" * 40, int(time.time())))
    lab_params = tmp_path / "lab-params.yaml"  # the Lab's settings, as the CLI reads them
    lab_params.write_text(yaml.safe_dump(lab.settings.model_dump(mode="json")), encoding="utf-8")
    params = ["--params", str(lab_params)]
    calm = write_batch(same_population(sample_frame, contract), tmp_path / "calm.csv")
    moved = write_batch(shifted(sample_frame, contract), tmp_path / "moved.csv")
    broken = write_batch(features(sample_frame, contract).drop(columns=["age"]), tmp_path / "b.csv")
    assert main([*params, "drift", str(calm)]) == 0
    assert main([*params, "drift", str(moved)]) == 1
    assert main([*params, "drift", str(broken)]) == 2
    error = json.loads(lab.settings.drift.report.read_text())["error"]
    assert "column age is missing" in error


def run_in(folder: Path, *command: str) -> str:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_older_training_data_is_read_through_dvc(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the checkout's data has moved on since the production model was trained, the
    reference is read through DVC at the model's commit, from the remote (no local cache);
    a wrong md5 or an unknown commit is an error that names the problem."""
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    raw = Path("data/raw/loans.csv")
    (repo / raw.parent).mkdir(parents=True)
    for name, value in {"NAME": "Drift Test", "EMAIL": "drift@localhost"}.items():
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
    dvc = [sys.executable, "-m", "dvc"]
    run_in(repo, "git", "init", "--quiet")
    run_in(repo, *dvc, "init", "--quiet")
    run_in(repo, *dvc, "remote", "add", "--default", "store", str(remote))

    def commit_data(text: str) -> str:
        (repo / raw).write_text(text, encoding="utf-8")
        run_in(repo, *dvc, "add", "--quiet", str(raw))
        run_in(repo, *dvc, "push", "--quiet")
        run_in(repo, "git", "add", "--all")
        run_in(repo, "git", "commit", "--quiet", "-m", "data")
        return run_in(repo, "git", "rev-parse", "HEAD")

    trained_sha = commit_data("age,defaulted\n30,0\n41,1\n")
    trained_md5 = lineage.file_md5(repo / raw)
    commit_data("age,defaulted\n30,0\n41,1\n52,0\n")
    shutil.rmtree(repo / ".dvc" / "cache")  # as on a fresh runner: only the remote has it
    monkeypatch.chdir(repo)
    moved = settings.model_copy(
        update={
            "data": settings.data.model_copy(update={"raw": raw}),
            "drift": settings.drift.model_copy(update={"reference": Path("ref/reference.csv")}),
        }
    )

    found = drift.locate_reference(moved, trained_md5, trained_sha)
    assert found == drift.Reference(Path("ref/reference.csv"), trained_md5)
    assert found.path.read_text(encoding="utf-8") == "age,defaulted\n30,0\n41,1\n"
    with pytest.raises(ValueError, match="md5 differs from the model's lineage tag"):
        drift.locate_reference(moved, "0" * 32, trained_sha)
    found.path.unlink()  # else the copy fetched above is reused: its md5 matches
    with pytest.raises(FileNotFoundError, match="cannot be read through DVC"):
        drift.locate_reference(moved, trained_md5, "f" * 40)
