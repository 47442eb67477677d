"""Outcomes known after the decision: stored against the decisions the inference log holds, and
judged per version and per window (a real MLflow server holds each version's evaluation
figures). A planted concept drift (inputs unchanged, the relation to the target flipped) is
caught by the declared rule; rows that cannot be stored are set aside with their reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Lab, loans_frame

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.control import registry
from {{ cookiecutter.package_name }}.monitoring import day_partitions, outcome_store, outcomes, scoring
from {{ cookiecutter.package_name }}.pipeline import data, evaluation
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError, load_contract
from {{ cookiecutter.package_name }}.settings import Settings

FIRST_MONDAY = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
WEEK_ROWS = 1000


def test_the_rule_needs_k_of_the_last_n_windows_and_the_latest() -> None:
    """mlops-stacks' rule: 2 of the last 5 counted windows break, the latest among them."""
    fires = outcomes.rule_fires
    assert fires([False, True, False, True], 2, 5)
    assert not fires([True, True, False], 2, 5)  # the latest holds
    assert not fires([False, False, True], 2, 5)  # one break only
    assert not fires([True, False, False, False, False, False, True], 2, 5)  # the first is out
    assert not fires([], 2, 5)


def test_weekly_windows_start_on_monday_in_utc() -> None:
    """A Sunday evening west of Greenwich is already Monday in UTC."""
    times = ["2025-01-12T23:30:00-02:00", "2025-01-12T23:59:59Z", "2025-01-06T00:00:00Z"]
    starts = outcomes.window_starts(pd.Series(pd.to_datetime(times, utc=True)), "weekly")
    assert [f"{t:%Y-%m-%d}" for t in starts] == ["2025-01-13", "2025-01-06", "2025-01-06"]


def test_calibration_error_is_zero_for_calibrated_bins_and_large_for_inverted_ones() -> None:
    probability = np.repeat([0.05, 0.95], 100)
    calibrated = np.r_[np.zeros(95), np.ones(5), np.zeros(5), np.ones(95)]
    assert outcomes.calibration_error(calibrated, probability) == pytest.approx(0.0)
    assert outcomes.calibration_error(1 - calibrated, probability) == pytest.approx(0.9)


def _outcome_file(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_bad_outcome_rows_are_set_aside_with_their_reason(
    contract: Contract, tmp_path: Path
) -> None:
    """A class the contract does not know, a time that does not parse or lies ahead, a row
    given twice with different outcomes: set aside, each with its reason; the same outcome
    given twice is kept once."""
    now = datetime(2025, 3, 1, tzinfo=UTC)
    source = _outcome_file(
        tmp_path / "outcomes.csv",
        [
            {"request_id": "a", "defaulted": "1", "known_at": "2025-02-01"},
            {"request_id": "b", "defaulted": "yes", "known_at": "2025-02-01"},
            {"request_id": "c", "defaulted": "0", "known_at": "last week"},
            {"request_id": "d", "defaulted": "0", "known_at": "2026-01-01"},
            {"request_id": "e", "defaulted": "0", "known_at": "2025-02-01"},
            {"request_id": "e", "defaulted": "1", "known_at": "2025-02-02"},
            {"request_id": "f", "defaulted": "1", "known_at": "2025-02-03"},
            {"request_id": "f", "defaulted": "1", "known_at": "2025-02-01"},
        ],
    )
    labels = outcome_store.read_labels(source, contract, now)
    assert labels.join == ["request_id", "row"]
    kept = labels.rows.sort_values("request_id")
    assert kept["request_id"].tolist() == ["a", "f"] and kept["outcome"].tolist() == [1, 1]
    assert kept["known_at"].iloc[1] == pd.Timestamp("2025-02-01", tz="UTC")  # first known
    assert labels.repeated == 1
    reasons = dict(zip(labels.rejected["request_id"], labels.rejected["reason"], strict=False))
    assert reasons["b"] == "defaulted 'yes' is not one of 0, 1"
    assert reasons["c"] == "known_at is not an ISO 8601 time"
    assert reasons["d"] == "known_at is in the future"
    assert reasons["e"] == "the same decision is given different outcomes"
    assert (labels.rejected["request_id"] == "e").sum() == 2


def test_an_outcome_file_must_name_its_decisions_and_their_outcome(
    contract: Contract, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    no_target = _outcome_file(tmp_path / "a.csv", [{"request_id": "a", "outcome": "1"}])
    with pytest.raises(ContractError, match="no defaulted column"):
        outcome_store.read_labels(no_target, contract, now)
    no_key = _outcome_file(tmp_path / "b.csv", [{"loan_amount": "1", "defaulted": "1"}])
    with pytest.raises(ContractError, match="no key column annual_income"):
        outcome_store.read_labels(no_key, contract, now)


def _log_baseline(lab: Lab, version: registry.Version) -> dict[str, float]:
    """The version's metrics on the evaluation split, recorded where registration records
    them (its registration run), as the gate measured them."""
    model = registry.load_model(lab.client(), version, version.digest, "test")
    contract = load_contract(lab.settings.data.contract)
    frame = data.read_typed(lab.settings.split.eval, contract)
    probability = scoring.probabilities(model, scoring.model_view(frame, contract, model))
    figures = evaluation.compute_metrics(frame[contract.target.name], probability, 0.5)
    for metric, value in figures.items():
        lab.client().log_metric(version.run_id, metric, value)
    return figures


def _score_week(
    lab: Lab, contract: Contract, week: int, tmp_path: Path, flipped: bool
) -> pd.DataFrame:
    """A week of batch decisions, replayed at their time; with `flipped`, the credit score's
    relation to default is reversed (each score mirrored around the population's mean, the
    outcome kept): the inputs look the same, the model's ranking is wrong."""
    frame = loans_frame(contract, WEEK_ROWS, seed=100 + week)
    if flipped:
        frame["credit_score"] = (2 * 690 - frame["credit_score"]).clip(300, 850)
    source = tmp_path / f"week{week}.csv"
    frame.drop(columns=[contract.target.name]).to_csv(source, index=False)
    decided = FIRST_MONDAY + timedelta(weeks=week)
    scoring.predict(lab.settings, source, decided_at=decided)
    return frame


def _outcomes_of(frame: pd.DataFrame, week: int, path: Path, share: float = 1.0) -> Path:
    known = FIRST_MONDAY + timedelta(weeks=week, days=30)
    rows = frame.head(int(len(frame) * share))
    labelled = rows[["annual_income", "loan_amount", "defaulted"]].assign(
        known_at=known.isoformat()
    )
    labelled.to_csv(path, index=False)
    return path


@pytest.fixture
def weekly(lab: Lab) -> Lab:
    champion = lab.champion(lab.candidate("a" * 40, 100, n_estimators=60))
    lab.baseline = _log_baseline(lab, champion)  # type: ignore[attr-defined]
    lab.number = champion.number  # type: ignore[attr-defined]
    return lab


def _judge(settings: Settings) -> list[outcomes.Judgement]:
    return outcomes.judge(settings, outcomes.registry_baselines(settings), datetime.now(UTC))


def test_a_planted_concept_drift_is_caught_by_the_declared_rule(
    weekly: Lab, contract: Contract, tmp_path: Path
) -> None:
    """Three weeks as at evaluation, then the credit score's relation flips: the flipped weeks
    break the ROC AUC tolerance, and the estimate from the scores alone, right until then,
    misses it; one break is no alert, the second is."""
    settings = weekly.settings
    for week in range(5):
        frame = _score_week(weekly, contract, week, tmp_path, flipped=week >= 3)
        labels = _outcomes_of(frame, week, tmp_path / f"outcomes{week}.csv")
        outcome_store.store_outcomes(
            labels, contract, settings.predict.log, settings.outcomes, datetime.now(UTC)
        )
        if week >= 3:  # the first break, then the second
            [judged] = _judge(settings)
            assert judged.performance_alert == (week == 4), week
    assert judged.version == weekly.number and judged.answering  # type: ignore[attr-defined]
    windows = judged.windows
    assert [w.counted for w in windows] == [True] * 5
    assert [bool(w.breaches) for w in windows] == [False, False, False, True, True]
    auc = [w.realised["roc_auc"] for w in windows]
    assert auc[4].high < weekly.baseline["roc_auc"] - 0.05  # type: ignore[attr-defined]
    assert all(a.low < a.estimate < a.high for a in auc)
    # The estimate from the scores holds where nothing changed, and misses the flip.
    missed = [w.expected["roc_auc"] - a.estimate for w, a in zip(windows, auc, strict=True)]
    assert all(abs(gap) < 0.05 for gap in missed[:3]) and all(gap > 0.05 for gap in missed[3:])
    assert all(w.coverage == 1.0 and w.decisions == WEEK_ROWS for w in windows)
    assert windows[0].delay_days == pytest.approx(30.0)
    # The rollout's outcome check, on the same judgement: the performance rule fires.
    baselines = outcomes.registry_baselines(settings)
    now = datetime.now(UTC)
    broken = outcomes.candidate_rules_broken(settings, weekly.number, baselines, now)  # type: ignore[attr-defined]
    assert broken == judged.performance_alert + judged.fairness_alert and broken >= 1
    assert outcomes.candidate_rules_broken(settings, weekly.number + 1, baselines, now) is None  # type: ignore[attr-defined]


def test_late_outcomes_make_a_window_count_and_unknown_keys_are_set_aside(
    weekly: Lab, contract: Contract, tmp_path: Path
) -> None:
    """A window counts only once enough of its decisions have outcomes: a first file with a
    third of them leaves it uncounted, the rest, arriving after the window closed, make it
    count. Outcomes for rows never scored, or known longer after than outcomes.max_delay_days,
    are set aside, never guessed."""
    settings = weekly.settings
    frame = _score_week(weekly, contract, 0, tmp_path, flipped=False)
    now = datetime.now(UTC)
    rules = settings.outcomes
    first = outcome_store.store_outcomes(
        _outcomes_of(frame, 0, tmp_path / "first.csv", share=1 / 3),
        contract, settings.predict.log, rules, now,
    )  # fmt: skip
    assert first.kept == WEEK_ROWS // 3 and first.decisions == WEEK_ROWS // 3
    [window] = _judge(settings)[0].windows
    assert window.closed and not window.counted and window.coverage == (WEEK_ROWS // 3) / WEEK_ROWS

    stranger = loans_frame(contract, 5, seed=999)
    everything = pd.concat([frame, stranger])
    late = outcome_store.store_outcomes(
        _outcomes_of(everything, 0, tmp_path / "all.csv"), contract, settings.predict.log,
        rules, now + timedelta(seconds=1),
    )  # fmt: skip
    assert late.kept == WEEK_ROWS and len(late.rejected) == 5
    unknown = (
        "no decision with this key in the inference log (predict.log) within "
        "outcomes.max_delay_days before it was known"
    )
    assert set(late.rejected["reason"]) == {unknown}
    too_late = _outcomes_of(frame.head(3), 0, tmp_path / "late.csv")
    pd.read_csv(too_late).assign(
        known_at=(FIRST_MONDAY + timedelta(days=rules.max_delay_days + 1)).isoformat()
    ).to_csv(too_late, index=False)
    stale = outcome_store.store_outcomes(too_late, contract, settings.predict.log, rules, now)
    assert stale.kept == 0 and set(stale.rejected["reason"]) == {unknown}
    [window] = _judge(settings)[0].windows
    assert window.counted and window.outcomes == WEEK_ROWS  # the repeated third counted once


def test_the_command_prints_the_table_and_exits_1_on_an_alert(
    weekly: Lab, contract: Contract, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = weekly.settings
    params = weekly.params_file(tmp_path / "params.yaml")
    for week in range(2):
        frame = _score_week(weekly, contract, week, tmp_path, flipped=True)
        labels = _outcomes_of(frame, week, tmp_path / f"outcomes{week}.csv")
        code = main(["--params", str(params), "outcomes", str(labels)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"**Alert**: performance: version {weekly.number}" in out  # type: ignore[attr-defined]
    assert f"| 2025-01-13 | {WEEK_ROWS} | {WEEK_ROWS} | 100% |" in out
    report = json.loads(settings.outcomes.report.read_text(encoding="utf-8"))
    assert report["versions"][0]["performance_alert"] is True
    assert settings.outcomes.summary.read_text(encoding="utf-8") in out
    page = settings.outcomes.html.read_text(encoding="utf-8")
    assert page.count("<svg") == 8  # four figures, estimate, coverage, two fairness measures
    assert page.count('class="point"') >= 4 * 2 + 2 * 2 + 2  # each figure in each week
    assert "No alert." not in page and "performance: version" in page


def test_without_the_versions_evaluation_figures_nothing_is_decided(
    lab: Lab, contract: Contract, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version whose evaluation figures the registry does not hold cannot be judged: exit
    2, and the outcomes given are stored all the same."""
    lab.champion(lab.candidate("a" * 40, 100, n_estimators=20))
    frame = _score_week(lab, contract, 0, tmp_path, flipped=False)
    labels = _outcomes_of(frame, 0, tmp_path / "outcomes.csv")
    params = lab.params_file(tmp_path / "params.yaml")
    assert main(["--params", str(params), "outcomes", str(labels)]) == 2
    assert "records no evaluation metrics" in capsys.readouterr().err
    assert day_partitions.days(lab.settings.outcomes.store)


def test_window_fairness_judges_groups_large_enough(settings: Settings) -> None:
    """A planted divergence: one group selected far more often than the other breaks the
    disparate impact limit; a group below the minimum size is left out of the judgement."""
    rng = np.random.default_rng(3)
    rows = 400
    group = np.where(np.arange(rows) < 200, "female", "male")
    probability = np.where(
        group == "female", rng.uniform(0.4, 0.9, rows), rng.uniform(0, 0.6, rows)
    )
    known = pd.DataFrame(
        {"sensitive": group, "probability": probability, "outcome": rng.integers(0, 2, rows)}
    )
    measured = outcomes.window_fairness(known, settings)
    assert measured is not None and set(measured.groups) == {"female", "male"}
    assert measured.disparate_impact is not None and measured.disparate_impact < 0.5
    assert outcomes.fairness_breaches(measured, settings)[0].startswith("disparate impact")
    tiny = known.assign(sensitive=np.where(np.arange(rows) < 5, "other", "male"))
    assert outcomes.window_fairness(tiny, settings) is None
    unknown = known.assign(sensitive=np.where(np.arange(rows) < 100, "", group))
    measured = outcomes.window_fairness(unknown, settings)
    assert measured is not None and measured.groups["(missing)"] == 100


def test_a_store_without_files_reads_as_an_empty_typed_frame(tmp_path: Path) -> None:
    """Day folders left empty (a run stopped before its file was renamed into place) read as
    no outcomes, whose times are still times."""
    (tmp_path / "store" / "day=2025-01-06").mkdir(parents=True)
    (tmp_path / "store" / "day=2025-01-06" / ".x.parquet.partial").write_bytes(b"half")
    found = outcome_store.read(tmp_path / "store", FIRST_MONDAY, FIRST_MONDAY + timedelta(days=7))
    assert found.empty and list(found.columns) == outcome_store.STORED
    assert outcomes.window_starts(found[outcome_store.DECIDED_AT], "daily").empty
