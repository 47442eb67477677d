"""The drift check: no drift on data like the training data; shifted numeric and category
columns flagged by name; a changed schema is an error, never silently skipped; and the whole
check against the production model on a real MLflow server, with its exit codes."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import DvcRepo, Lab, loans_frame

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.monitoring import drift, drift_report, inference_log, scoring
from {{ cookiecutter.package_name }}.monitoring.drift_report import ColumnDrift
from {{ cookiecutter.package_name }}.pipeline import contract as contracts
from {{ cookiecutter.package_name }}.pipeline import explanations, lineage
from {{ cookiecutter.package_name }}.pipeline.contract import OTHER, Contract, parse_contract
from {{ cookiecutter.package_name }}.pipeline.data import feature_names
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

BATCH_ROWS = 3000
CALM_SEED, RECESSION_SEED = 11, 12  # fresh batches, drawn apart from the training data
SHIFTED = ["credit_score", "debt_to_income", "purpose"]  # what shifted() moves
# What a recession (synthetic.make_loans shift=1) moves far enough to be drift, among others.
RECESSION_MOVES = ["credit_score", "debt_to_income", "purpose"]


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    return frame.drop(columns=[contract.target.name]).reset_index(drop=True)


def same_population(contract: Contract) -> pd.DataFrame:
    """A fresh batch of applicants from the training data's population."""
    return features(loans_frame(contract, BATCH_ROWS, CALM_SEED), contract)


def shifted(contract: Contract) -> pd.DataFrame:
    """Applicants with lower credit scores, more debt, and many more small-business loans,
    and otherwise like the training data."""
    batch = same_population(contract)
    batch["credit_score"] = (batch["credit_score"] - 90).clip(300, 850)
    batch["debt_to_income"] = (batch["debt_to_income"] + 0.25).clip(0, 5)
    batch.loc[batch.index % 2 == 0, "purpose"] = "small_business"
    return batch


def recession(contract: Contract) -> pd.DataFrame:
    """A batch from the population in a recession (tests/synthetic.py's shift)."""
    return features(loans_frame(contract, BATCH_ROWS, RECESSION_SEED, shift=1.0), contract)


def with_scores(frame: pd.DataFrame, offset: float) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return frame.assign(**{drift.PREDICTION: rng.beta(2, 6, len(frame)) + offset})


def drifted_columns(
    sample_frame: pd.DataFrame, current: pd.DataFrame, contract: Contract, settings: Settings
) -> dict[str, bool]:
    """Evidently's verdict per column for `current` (with its scores) against the whole sample
    data, both as the check gives them to Evidently."""
    reference = with_scores(drift.drift_view(sample_frame, contract), 0)
    scores = {drift.PREDICTION: current[drift.PREDICTION].to_numpy()}
    current_view = drift.drift_view(current, contract).assign(**scores)
    snapshot = drift._evidently_report(reference, current_view, contract, settings.drift)
    return {name: r.drifted for name, r in drift.column_results(snapshot).items()}


def test_the_same_population_does_not_drift(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """A batch drawn like the training data flags no column and no score drift."""
    current = with_scores(same_population(contract), 0)
    flags = drifted_columns(sample_frame, current, contract, settings)
    assert set(flags) == {*contract.learned_columns, drift.PREDICTION}
    assert not any(flags.values())


def test_shifted_columns_are_flagged_by_name(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Shifted numeric (PSI) and category (chi-square) columns are flagged, and only they."""
    current = with_scores(shifted(contract), 0)
    flags = drifted_columns(sample_frame, current, contract, settings)
    assert sorted(name for name, drifted in flags.items() if drifted) == sorted(SHIFTED)


def test_shifted_scores_are_prediction_drift(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Scores that moved are prediction drift, even when no input column did."""
    current = with_scores(same_population(contract), 0.3)
    flags = drifted_columns(sample_frame, current, contract, settings)
    assert flags[drift.PREDICTION]
    assert not any(flag for name, flag in flags.items() if name != drift.PREDICTION)


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


def column(drifted: bool, value: float, method: str = "psi") -> ColumnDrift:
    return ColumnDrift(method=method, threshold=0.0, value=value, drifted=drifted)


def test_decision_counts_the_share_and_the_age(settings: Settings) -> None:
    """Drift from the drifted share on; a model older than allowed, or of unknown age, is
    stale; either asks for retraining."""
    share = settings.drift.drifted_share
    names = [f"c{i}" for i in range(10)]
    flagged = set(names[: int(np.ceil(share * 10))])
    moderate = settings.drift.numeric_threshold * 1.5  # drifted, but short of critical
    assert moderate < settings.drift.numeric_critical
    columns = {n: column(n in flagged, moderate if n in flagged else 0.0) for n in names}
    numeric = set(names)
    fresh = drift.decide(columns, numeric, settings.drift, 1.0, 0.0)
    assert fresh.drift and fresh.retrain and fresh.drifted_columns == tuple(sorted(flagged))
    assert fresh.critical_columns == () and fresh.alert
    calm_columns = {n: column(False, 0.0) for n in names}
    calm = drift.decide(calm_columns, numeric, settings.drift, 1.0, 0.0)
    assert not calm.retrain and not calm.alert
    old = drift.decide(calm_columns, numeric, settings.drift, 10_000.0, 0.0)
    assert old.stale and old.retrain and not old.drift
    assert drift.decide({}, set(), settings.drift, None, 0.0).stale


def test_one_column_beyond_its_critical_value_is_drift(settings: Settings) -> None:
    """A single column drifted beyond its critical value is drift, however small the share:
    a distance from its critical value up (psi, jensenshannon), a p-value below it
    (chisquare)."""
    names = [f"c{i}" for i in range(20)]
    calm = {n: column(False, 0.0) for n in names}
    numeric = {"n": column(True, settings.drift.numeric_critical)}
    far = drift.decide({**calm, **numeric}, {"n", *names}, settings.drift, 1.0, 0.0)
    assert far.drift and far.retrain and far.critical_columns == ("n",)
    assert far.drifted_share < settings.drift.drifted_share
    category = {"k": column(True, settings.drift.categorical_critical, "jensenshannon")}
    gone = drift.decide({**calm, **category}, set(names), settings.drift, 1.0, 0.0)
    assert gone.drift and gone.critical_columns == ("k",)
    near = {"k": column(True, settings.drift.categorical_critical / 2, "jensenshannon")}
    assert not drift.decide({**calm, **near}, set(names), settings.drift, 1.0, 0.0).drift
    # chisquare gives a p-value: smaller is further gone.
    chi = settings.drift.model_copy(
        update={"categorical_method": "chisquare", "categorical_critical": 1e-6}
    )
    p_value = {"k": column(True, 1e-7, "chisquare")}
    assert drift.decide({**calm, **p_value}, set(names), chi, 1.0, 0.0).critical_columns == ("k",)
    calm_p = {"k": column(True, 1e-3, "chisquare")}
    assert not drift.decide({**calm, **calm_p}, set(names), chi, 1.0, 0.0).drift


def test_too_many_broken_rows_alert_without_asking_for_retraining(settings: Settings) -> None:
    """More rows breaking the contract than allowed is an alert of its own: not drift, and no
    reason to retrain (the data, not the model, needs fixing)."""
    limit = settings.drift.max_invalid_share
    calm = {"c": column(False, 0.0)}
    broken = drift.decide(calm, {"c"}, settings.drift, 1.0, limit + 0.01)
    assert broken.invalid and broken.alert
    assert not broken.drift and not broken.retrain
    assert broken.invalid_share == round(limit + 0.01, 4)
    assert not drift.decide(calm, {"c"}, settings.drift, 1.0, limit).alert


def test_quality_names_bad_rows_and_growing_nulls(
    sample_frame: pd.DataFrame, contract: Contract, settings: Settings
) -> None:
    """Rows breaking the contract and a column whose missing share grew are reported."""
    reference = features(sample_frame, contract)
    current = same_population(contract).astype(object)
    current.loc[:599, "annual_income"] = None
    current.loc[0, "age"] = 7
    model_columns = feature_names(contract, settings.excluded_from_model)
    by_row = contracts.row_problems(current, contract, model_columns)
    problems = drift.quality_problems(reference, current, by_row, contract, 0.05)
    assert problems[0] == (
        f"600 of {len(current)} rows break the contract "
        "(first: age is below 18; annual_income is missing)"
    )
    assert problems[1].startswith("annual_income: missing values rose from 0.0% to 20.0%")
    assert len(problems) == 2


def test_unseen_values_of_an_open_category_are_counted(
    sample_frame: pd.DataFrame, contract_path: Path
) -> None:
    """With `unknown: other`, a value the contract does not list breaks no row: the model
    sees it as the one `other` level, and the quality report counts it."""
    raw = yaml.safe_load(contract_path.read_text(encoding="utf-8"))
    raw["columns"]["purpose"]["unknown"] = "other"
    open_contract = parse_contract(yaml.safe_dump(raw), contract_path)
    current = same_population(open_contract)
    current.loc[:4, "purpose"] = "crypto"
    by_row = contracts.row_problems(current, open_contract, open_contract.learned_columns)
    assert (by_row == "").all()
    reference = features(sample_frame, open_contract)
    assert drift.quality_problems(reference, current, by_row, open_contract, 0.05) == [
        "purpose: 5 values the contract does not list (scored as other)"
    ]
    view = drift.drift_view(current, open_contract)
    assert view.loc[:4, "purpose"].tolist() == [OTHER] * 5


def write_batch(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_check_against_the_production_model(lab: Lab, contract: Contract, tmp_path: Path) -> None:
    """With a production model on the server: a batch from a recession drifts, and drift.json,
    the self-contained HTML and the Markdown summary say which columns; a batch like the
    training data does not."""
    trained_at = 1_700_000_000
    lab.champion(lab.candidate("b" * 40, trained_at))
    a_day_later = datetime.fromtimestamp(trained_at, UTC) + timedelta(days=1)
    settings = lab.settings.drift

    calm_batch = write_batch(same_population(contract), tmp_path / "calm.csv")
    calm = drift.check(lab.settings, calm_batch, a_day_later)
    assert not calm.decision.drift and not calm.decision.retrain and not calm.decision.alert
    assert calm.reference.md5 == lineage.file_md5(lab.settings.split.eval)
    # The same population: the model leans on its columns as it did on the evaluation rows.
    relied_on = calm.attribution
    assert relied_on.agreement is not None and relied_on.agreement >= 0.9
    assert set(dict(relied_on.current)) == set(dict(relied_on.reference))
    assert len(relied_on.reference) > 5 and 0 < relied_on.rows <= explanations.IMPORTANCE_ROWS
    # Without labels, the scores expect about what the labels gave on the evaluation rows.
    expected = calm.expected
    assert expected.evaluation["roc_auc"] == pytest.approx(
        expected.evaluation_realised["roc_auc"], abs=0.05
    )
    assert 0.5 < expected.batch["roc_auc"] < 1 and 0 < expected.batch["f1"] < 1
    assert "Expected performance without labels" in settings.summary.read_text(encoding="utf-8")
    ranked = json.loads(settings.report.read_text())["attribution"]["reference"]
    assert [name for name, _ in ranked] == [name for name, _ in relied_on.reference]
    assert [value for _, value in ranked] == sorted((value for _, value in ranked), reverse=True)
    assert "agreement (nDCG) of" in settings.summary.read_text(encoding="utf-8")
    # drift.sample_rows: a seeded sample of the evaluation rows is compared, and said so.
    one_thousand = settings.model_copy(update={"sample_rows": 1000})
    declared = lab.settings.model_copy(update={"drift": one_thousand})
    sampled = drift.check(declared, calm_batch, a_day_later)
    assert (sampled.reference.rows, sampled.reference.compared) == (calm.reference.rows, 1000)
    assert calm.reference.compared == calm.reference.rows > 1000
    assert not sampled.decision.drift
    assert json.loads(settings.report.read_text())["reference"]["compared"] == 1000
    said = f"against a sample of 1000 of the {calm.reference.rows} (drift.sample_rows) evaluation"
    assert said in settings.summary.read_text(encoding="utf-8")

    moved_batch = write_batch(recession(contract), tmp_path / "recession.csv")
    result = drift.check(lab.settings, moved_batch, a_day_later)
    decided = result.decision
    assert decided.drift and decided.alert and decided.retrain
    assert set(RECESSION_MOVES) <= set(decided.drifted_columns)
    assert result.model_version == 1
    written = json.loads(settings.report.read_text())
    assert written["drifted_columns"] == list(decided.drifted_columns)
    assert written["model"] == {"name": result.model_name, "version": 1}
    assert settings.html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert "| credit_score | psi |" in settings.summary.read_text(encoding="utf-8")


def test_check_reads_the_scores_production_served(
    lab: Lab, contract: Contract, tmp_path: Path
) -> None:
    """After `predict` scored a batch, the drift check takes the batch's scores from the
    inference log; a served score the model would not give for that input is named as
    training-serving skew, and a batch the log has never seen is scored now."""
    lab.champion(lab.candidate("d" * 40, int(time.time())))
    batch = write_batch(same_population(contract), tmp_path / "batch.csv")
    scoring.predict(lab.settings, batch)

    served = drift.check(lab.settings, batch)
    assert served.scores.served == BATCH_ROWS and served.scores.scored_now == 0
    assert served.scores.skewed == 0 and served.quality == ()
    said = drift_report.summary(served)
    assert f"Scores: {BATCH_ROWS} as served (inference log), 0 scored now." in said

    (day,) = lab.settings.predict.log.glob("day=*/decisions.csv")  # scored today: one day
    log = pd.read_csv(day)
    log.loc[:9, "probability"] = (log.loc[:9, "probability"] + 0.3).clip(upper=1)
    log.to_csv(day, index=False)
    skewed = drift.check(lab.settings, batch)
    assert skewed.scores.skewed == 10
    assert any(f"10 of {BATCH_ROWS} served scores differ" in problem for problem in skewed.quality)

    unseen = write_batch(shifted(contract), tmp_path / "unseen.csv")
    assert drift.check(lab.settings, unseen).scores == drift_report.ScoreSources(
        log=str(lab.settings.predict.log), served=0, scored_now=BATCH_ROWS, skewed=0
    )

    log.drop(columns=["input_sha256"]).to_csv(day, index=False)
    with pytest.raises(ValueError, match="has other columns than this project's inference log"):
        drift.check(lab.settings, batch)


def test_served_scores_keep_only_this_version_and_batch_in_any_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is read a few rows at a time: another model's or version's rows, and inputs
    not in the batch, are never kept; the latest score of an input wins across chunks."""
    monkeypatch.setattr(inference_log, "CHUNK_ROWS", 2)
    rows = [
        ("other-model", 3, "a", 0.9),
        ("m", 3, "a", 0.1),
        ("m", 2, "b", 0.8),
        ("m", 3, "z", 0.5),
        ("m", 3, "a", 0.2),
    ]
    log = tmp_path / "inference_log"
    version = scoring.registry.Version(name="m", number=3, run_id="r", tags={})
    assert scoring.served_scores(log, version, pd.Series(["a"])).isna().all()  # no log yet
    frame = pd.DataFrame(
        rows, columns=["model_name", "model_version", "input_sha256", "probability"]
    )
    others = {"timestamp": "2026-01-02T10:00:00+00:00", "route": "batch", "request_id": ""}
    logged = frame.assign(**others, row=0, row_key="k", label="1", latency_ms="", sensitive="")
    inference_log.append_frame(logged, log)
    served = scoring.served_scores(log, version, pd.Series(["a", "b", "c"]))
    assert served.tolist()[0] == 0.2 and served.iloc[1:].isna().all()


def step_outputs(path: Path) -> dict[str, str]:
    """The step outputs written to GITHUB_OUTPUT (the last value of each name)."""
    found = re.findall(r"^(\w+)<<(EOF_\w+)\n(.*?)\n\2$", path.read_text(), re.MULTILINE | re.DOTALL)
    return {name: value for name, _, value in found}


def test_drift_command_exit_codes(
    lab: Lab, contract: Contract, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`drift` exits 0 without drift, 1 on an alert (drift, or too many rows breaking the
    contract), and 2 when it cannot decide (a dropped column), leaving drift.json with the
    reason. With --github the verdict is a step output instead, and only 2 fails."""
    lab.champion(lab.candidate("c" * 40, int(time.time())))
    params = ["--params", str(lab.params_file(tmp_path / "lab-params.yaml"))]
    calm = write_batch(same_population(contract), tmp_path / "calm.csv")
    moved = write_batch(recession(contract), tmp_path / "moved.csv")
    invalid_rows = same_population(contract)
    invalid_rows.loc[invalid_rows.index % 10 == 0, "age"] = 7  # 10% break the contract
    invalid = write_batch(invalid_rows, tmp_path / "invalid.csv")
    broken = write_batch(same_population(contract).drop(columns=["age"]), tmp_path / "b.csv")
    assert main([*params, "drift", str(calm)]) == 0
    assert main([*params, "drift", str(moved)]) == 1
    assert main([*params, "drift", str(invalid)]) == 1
    report = json.loads(lab.settings.drift.report.read_text())
    assert report["invalid"] and not report["drift"] and not report["retrain"]
    assert report["invalid_share"] == 0.1
    assert main([*params, "drift", str(broken)]) == 2
    error = json.loads(lab.settings.drift.report.read_text())["error"]
    assert "column age is missing" in error

    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert main([*params, "drift", "--github", str(invalid)]) == 0
    said = step_outputs(output)
    assert (said["alert"], said["retrain"]) == ("true", "false")
    assert said["reason"] == "10% of rows break the data contract"
    assert main([*params, "drift", "--github", str(moved)]) == 0
    assert (step_outputs(output)["alert"], step_outputs(output)["retrain"]) == ("true", "true")


def test_an_older_evaluation_split_is_read_through_dvc(
    settings: Settings, dvc_repo: DvcRepo, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the checkout's data has moved on since the production model was trained, the
    reference (its evaluation split) is fetched by its md5 from the DVC remote (no local
    cache); an md5 the remote does not hold, no DVC repository, or bytes that do not match the
    md5 are errors that say so, never another file taken for it."""
    raw = Path("data/split/eval.csv")
    trained_sha = dvc_repo.commit_data(raw, b"age,defaulted\n30,0\n41,1\n")
    trained_md5 = lineage.file_md5(dvc_repo.root / raw)
    dvc_repo.commit_data(raw, b"age,defaulted\n30,0\n41,1\n52,0\n")
    shutil.rmtree(dvc_repo.root / ".dvc" / "cache")  # as on a fresh runner: only the remote has it
    monkeypatch.chdir(dvc_repo.root)
    moved = settings.model_copy(
        update={
            "split": settings.split.model_copy(update={"eval": raw}),
            "drift": settings.drift.model_copy(update={"reference": Path("ref/reference.csv")}),
        }
    )

    found = drift.locate_reference(moved, trained_md5, trained_sha)
    assert found == drift.Reference(Path("ref/reference.csv"), trained_md5)
    assert found.path.read_text(encoding="utf-8") == "age,defaulted\n30,0\n41,1\n"
    with pytest.raises(FileNotFoundError, match="neither in DVC's cache nor in its remote"):
        drift.locate_reference(moved, "0" * 32, trained_sha)
    found.path.unlink()  # else the copy fetched above is reused: its md5 matches

    cached = dvc_repo.root / ".dvc" / "cache" / "files" / "md5" / trained_md5[:2] / trained_md5[2:]
    cached.chmod(0o644)
    cached.write_bytes(b"age,defaulted\n99,1\n")  # a corrupted cache
    with pytest.raises(ValueError, match="DVC returned bytes with md5"):
        drift.locate_reference(moved, trained_md5, trained_sha)
    assert not found.path.exists()

    monkeypatch.chdir(workspace)  # no DVC repository here
    with pytest.raises(FileNotFoundError, match="cannot be fetched through DVC"):
        drift.locate_reference(moved, trained_md5, trained_sha)


def test_a_check_stopped_by_any_error_is_undecided_never_an_alert(
    params_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A library's error inside the check (DVC refused by the cloud, say) exits 2, could not
    decide, with its traceback: exit 1 would read as an alert and retrain."""

    def refused(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Unable to locate credentials")

    monkeypatch.setattr(drift, "check", refused)
    batch = tmp_path / "batch.csv"
    batch.write_text("age\n30\n")
    assert main(["--params", str(params_path), "drift", str(batch)]) == 2
    assert "Traceback" in capsys.readouterr().err
    settings = load_settings(params_path)
    assert "Unable to locate credentials" in json.loads(settings.drift.report.read_text())["error"]


def test_ranking_agreement_falls_as_the_most_relied_on_columns_move_down() -> None:
    """nDCG of the batch's ranking, the baseline's importances as gains: 1 for the same order
    (whatever the sizes), lower the higher up the columns that moved were, None with nothing
    to rank by."""
    baseline = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.05}
    agree = explanations.ranking_agreement
    assert agree(baseline, {"a": 9.0, "b": 2.0, "c": 1.0, "d": 0.0}) == 1.0
    bottom_swapped = agree(baseline, {"a": 0.5, "b": 0.3, "c": 0.04, "d": 0.06})
    top_swapped = agree(baseline, {"a": 0.3, "b": 0.5, "c": 0.1, "d": 0.05})
    top_last = agree(baseline, {"a": 0.01, "b": 0.5, "c": 0.1, "d": 0.05})
    reversed_order = agree(baseline, {"a": 0.0, "b": 0.1, "c": 0.2, "d": 0.3})
    assert 1.0 > bottom_swapped > top_swapped > top_last > reversed_order > 0
    assert top_last < explanations.AGREEMENT_LINE < top_swapped
    assert agree({"a": 0.0}, {"a": 1.0}) is None and agree({}, {}) is None


def test_sampling_noise_shrinks_with_the_batch_and_grows_with_the_levels() -> None:
    """The noise floor of a 50-level category is above the default 0.1 for 1,000 rows and
    below it for 50,000; fewer levels, less noise; one level, none."""
    fifty, three = np.full(50, 1 / 50), np.full(3, 1 / 3)
    assert (
        drift.sampling_noise(fifty, 1_000, 10_000)
        > 0.1
        > drift.sampling_noise(fifty, 50_000, 10_000)
    )
    assert drift.sampling_noise(three, 1_000, 10_000) < drift.sampling_noise(fifty, 1_000, 10_000)
    assert drift.sampling_noise(np.ones(1), 1_000, 10_000) == 0.0


STATES = [f"s{n:02d}" for n in range(50)]


def _states(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A 50-level category with unequal shares; `shift` moves weight to the first ten."""
    weights = np.linspace(1, 3, 50) + np.r_[np.full(10, shift), np.zeros(40)]
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"state": rng.choice(STATES, rows, p=weights / weights.sum())})


@pytest.mark.parametrize("rows", [200, 1_000, 5_000, 50_000])
def test_a_many_level_category_of_the_same_population_never_drifts(
    rows: int, settings: Settings, tmp_path: Path
) -> None:
    """Same-population batches of 200 to 50,000 rows of a 50-level category are not drift
    (the fixed 0.1 flagged 1,000 rows by noise); a shifted batch of 1,000 rows is."""
    levels = ", ".join(f'"{state}"' for state in STATES)
    text = (
        'min_rows: 1\nkey: ["state"]\ntarget: {name: "y", classes: ["0", "1"], positive: "1"}\n'
        'columns:\n  state: {type: "category", values: [' + levels + "]}\n"
    )
    contract = parse_contract(text, tmp_path / "contract.yaml")
    reference = with_scores(_states(10_000, 1), 0)

    def flagged(batch: pd.DataFrame) -> bool:
        current = with_scores(batch, 0)
        snapshot = drift._evidently_report(reference, current, contract, settings.drift)
        return bool(drift.column_results(snapshot)["state"].drifted)

    assert not any(flagged(_states(rows, seed)) for seed in (2, 3, 4))
    assert flagged(_states(1_000, 5, shift=2.0))
