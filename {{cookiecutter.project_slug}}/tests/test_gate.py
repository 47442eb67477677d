"""The champion/challenger gate against a real MLflow server: it passes what it should, blocks
what it should, and fails closed whenever it cannot decide."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Lab, free_port

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.control import (
    champion_data,
    comparison,
    desired_state,
    gate,
    registry,
)
from {{ cookiecutter.package_name }}.control.desired_state import Declared
from {{ cookiecutter.package_name }}.pipeline import stages

GOOD = {}  # the tests' training parameters (fixtures/params.yaml)
WORSE = {"n_estimators": 5, "max_depth": 2, "learning_rate": 0.5}  # ~0.025 lower ROC AUC
BETTER = {"n_estimators": 600, "max_depth": 3, "learning_rate": 0.03}


def test_first_model_passes_on_absolute_thresholds(lab: Lab) -> None:
    """With nothing registered, a good model passes on floors and ceilings alone."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "pass", result.errors
    assert result.first_model is True
    assert result.champion is None
    assert result.eval.md5 == result.challenger.eval_md5


def test_first_model_below_a_floor_fails(lab: Lab) -> None:
    """A first model under an absolute floor fails: no champion does not mean no bar."""
    lab.with_settings(gate={"floors": {"roc_auc": 0.99}})
    lab.candidate(lab.commit(1), 100, **GOOD)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "fail"
    assert any("below the floor 0.99" in p for p in result.performance_problems)


def test_worse_challenger_fails_with_the_reason(lab: Lab) -> None:
    """A clearly worse challenger fails on the primary metric's interval, with numbers."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **WORSE)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "fail"
    assert result.interval.high < 0
    assert result.deltas["roc_auc"] < -0.01
    assert any("roc_auc: may be worse" in p for p in result.performance_problems)
    assert result.champion.version == 1


def test_better_challenger_passes(lab: Lab) -> None:
    """A better challenger passes, with both models' metrics and the interval recorded."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **BETTER)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "pass", result.errors
    assert result.deltas["roc_auc"] > 0
    assert set(result.champion.metrics) == set(result.challenger.metrics)
    assert result.interval.resamples == 1000
    assert result.champion_training_overlap == 0


def test_tie_within_noise_passes_and_is_repeatable(lab: Lab) -> None:
    """A challenger that differs from the champion only by noise passes non-inferiority, and
    the verdict and interval are identical on a second run (fixed bootstrap seed)."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, seed=43)
    first, second = gate.run_gate(lab.settings), gate.run_gate(lab.settings)
    assert first.verdict == "pass", first.errors
    assert first.interval.low < 0 < first.interval.high
    assert first.interval == second.interval


def test_tie_fails_a_superiority_rule(lab: Lab) -> None:
    """Under a superiority rule a tie is not enough: the challenger must be shown better."""
    lab.with_settings(gate={"rule": "superiority", "margin": 0.0})
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, seed=43)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "fail"
    assert any("not shown better" in p for p in result.performance_problems)


def test_override_turns_a_performance_failure_into_a_recorded_pass(lab: Lab) -> None:
    """An override lets a worse model through as "overridden", and says who did it."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **WORSE)
    result = gate.run_gate(lab.settings, override_by="octocat")
    assert result.verdict == "overridden"
    assert result.passed is True
    assert (result.override.requested_by, result.override.applied) == ("octocat", True)
    assert result.performance_problems


def test_risk_failure_blocks_an_auc_win_even_with_override(lab: Lab) -> None:
    """A challenger that wins on AUC but fails the risk gate is blocked; no override helps."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **BETTER)
    lab.with_settings(fairness={"min_disparate_impact": 0.999})
    result = gate.run_gate(lab.settings, override_by="octocat")
    assert result.deltas["roc_auc"] > 0
    assert result.verdict == "fail"
    assert result.passed is False
    assert any("disparate impact" in p for p in result.risk.problems)


def test_risk_groups_are_the_data_s_own_values_and_count_every_row(lab: Lab) -> None:
    """Groups are named as the file writes the values (a whole-number column's groups are "36",
    not "36.0" as the model reads it), and their sizes add up to the evaluation set."""
    lab.with_settings(fairness={"sensitive_column": "term_months", "min_group_size": 1})
    lab.candidate(lab.commit(1), 100, **GOOD)
    result = gate.run_gate(lab.settings)
    written = set(pd.read_csv(lab.settings.split.eval, dtype=str)["term_months"])
    assert set(result.risk.groups) == written
    assert sum(group.size for group in result.risk.groups.values()) == result.eval.rows
    assert result.risk.rows == result.eval.rows and result.risk.missing == 0


def test_risk_gate_is_off_without_a_sensitive_column(lab: Lab) -> None:
    """An empty fairness.sensitive_column turns the risk gate off, and the result says so."""
    lab.with_settings(fairness={"sensitive_column": ""})
    lab.candidate(lab.commit(1), 100, **GOOD)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "pass"
    assert result.risk is not None and not result.risk.enabled and result.risk.problems == ()


def test_deleted_champion_fails_closed(lab: Lab) -> None:
    """Git declares a production version that the registry no longer has (the champion's
    version was deleted): the gate fails closed, naming it."""
    champion = lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    declared = Declared(version=champion.number, sha256=champion.digest)
    desired_state.write(
        desired_state.DesiredState(model=lab.name).with_alias("production", declared)
    )
    lab.register(lab.candidate(lab.commit(2), 200, **GOOD))
    lab.client().delete_model_version(lab.name, str(champion.number))
    lab.candidate(lab.commit(3), 300, **GOOD)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("production.yaml declares version 1, but the registry" in e for e in result.errors)


def test_registered_versions_before_any_promotion_leave_the_first_model_rule(lab: Lab) -> None:
    """After main registered v1 but before its promotion pull request merged, nothing serves
    production and git declares nothing: every gate (the promotion pull request's too) judges
    on absolute thresholds, instead of failing for a missing champion."""
    lab.register(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **GOOD)
    result = gate.run_gate(lab.settings)
    assert (result.verdict, result.first_model) == ("pass", True)


def test_a_champion_changed_in_the_artifact_store_is_an_error(lab: Lab) -> None:
    """A champion whose stored bytes were replaced after registration is not scored: the
    verdict is error, naming the version."""
    from test_registry import overwrite_model_file

    champion = lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **BETTER)
    overwrite_model_file(lab, champion, lab.settings.train.model.read_bytes())
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any(f"{lab.name} version 1: the stored model" in e for e in result.errors)


def test_the_gate_records_the_digest_of_the_bytes_it_scored(lab: Lab) -> None:
    """gate.json names the sha256 of the model file it scored, and refuses when the run's
    logged model is other bytes than that file (so registration could register others)."""
    from {{ cookiecutter.package_name }}.pipeline import training

    lab.candidate(lab.commit(1), 100, **GOOD)
    scored = lab.settings.train.model.read_bytes()
    result = gate.run_gate(lab.settings)
    assert result.challenger.model_sha256 == training.model_digest(scored)
    other = training.train_model(*_features(lab), lab.settings.train.model_copy(update=WORSE))
    training.save_model(other, lab.settings.train.model)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("is not" in e and "retrain" in e for e in result.errors)


def _features(lab: Lab) -> tuple[pd.DataFrame, pd.Series]:
    from {{ cookiecutter.package_name }}.pipeline import data
    from {{ cookiecutter.package_name }}.pipeline.contract import load_contract

    contract = load_contract(lab.settings.data.contract)
    frame = data.read_typed(lab.settings.split.train, contract)
    return data.features_and_target(frame, contract, lab.settings.excluded_from_model)


def test_single_class_evaluation_set_fails_closed(lab: Lab) -> None:
    """An evaluation split holding one class cannot be scored: the gate fails closed."""
    evaluation = lab.settings.split.eval
    frame = pd.read_csv(evaluation)
    frame[frame["defaulted"] == 0].to_csv(evaluation, index=False)
    lab.candidate(lab.commit(1), 100, **GOOD)  # its run records the single-class split's md5
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("single class" in e for e in result.errors)


def test_challenger_scored_on_other_data_is_refused(lab: Lab) -> None:
    """If the evaluation split changed after training, the gate refuses to compare."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    evaluation = lab.settings.split.eval
    evaluation.write_text(evaluation.read_text() + evaluation.read_text().splitlines()[1] + "\n")
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("recorded evaluation split md5" in e for e in result.errors)


def test_non_finite_metric_and_constant_predictions_fail_closed() -> None:
    """NaN metrics and a constant predictor are reasons the scores cannot be trusted."""
    scored = comparison.Scored(
        label="challenger",
        eval_md5="x",
        probability=np.full(10, 0.3),
        metrics={"roc_auc": math.nan, "brier": 0.2},
        latency_ms_per_row=0.01,
    )
    problems = comparison.sanity_problems(scored)
    assert "challenger: roc_auc is not finite" in problems
    assert "challenger: predicts the same probability for every row" in problems
    assert comparison.decide(problems, [], [], override_by="octocat") == "error"


def test_latency_and_size_limits_are_enforced(lab: Lab) -> None:
    """A model slower or bigger than params allow fails the performance gate."""
    lab.with_settings(gate={"max_latency_ms_per_row": 1e-9, "max_model_mb": 1e-6})
    lab.candidate(lab.commit(1), 100, **GOOD)
    problems = gate.run_gate(lab.settings).performance_problems
    assert any("ms per row" in p for p in problems)
    assert any("MB, more than" in p for p in problems)


def test_registry_down_fails_closed_within_30_seconds(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the registry unreachable, `gate` exits 1 quickly, naming the server, and writes a
    gate.json whose verdict is error."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed)
    started = time.monotonic()
    result = gate.run_gate(lab.settings)
    assert time.monotonic() - started <= 30
    assert result.verdict == "error"
    assert any(closed in e and "not reachable" in e for e in result.errors)


def test_no_credential_reaches_the_gate_result(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracking URI that carries a user and password, and the password variable, never
    appear in gate.json (which is uploaded and rendered): the server is named without them."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://ci-bot:hunter2-secret@127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "another-secret-42")
    written = gate.run_gate(lab.settings).model_dump_json()
    assert "hunter2-secret" not in written and "another-secret-42" not in written
    assert f"127.0.0.1:{port}" in written


def test_empty_credentials_fail_closed(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracking URI that is set but empty (a fork's PR has no secrets) is an error, not a
    fallback to some default server."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("set but empty" in e for e in result.errors)


def test_gate_command_writes_gate_json_and_sets_the_exit_code(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gate` exits 0 on a pass and 1 on a failure, writing gate.json where params say."""
    params = lab.params_file(tmp_path / "lab-params.yaml")
    report = lab.settings.gate.report
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.candidate(lab.commit(2), 200, **BETTER)
    assert main(["--params", str(params), "gate"]) == 0
    assert json.loads(report.read_text())["verdict"] == "pass"
    lab.candidate(lab.commit(3), 300, **WORSE)
    assert main(["--params", str(params), "gate"]) == 1
    assert json.loads(report.read_text())["verdict"] == "fail"
    captured = capsys.readouterr()
    assert "gate: fail" in captured.out
    assert "roc_auc: may be worse" in captured.err


def test_registry_versions_are_untouched_by_the_gate(lab: Lab) -> None:
    """Judging never writes to the registry: no versions, no aliases appear."""
    lab.candidate(lab.commit(1), 100, **GOOD)
    gate.run_gate(lab.settings)
    assert registry.all_versions(lab.client(), lab.name) == []


def test_champion_is_scored_on_its_own_columns(lab: Lab) -> None:
    """A challenger that stops using some columns is compared with a champion that used them:
    each model is scored on the columns it was trained on, so the gate decides (here: the
    weaker challenger fails) instead of erring on a column mismatch."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    narrower = ("credit_score", "debt_to_income")
    lab.with_settings(train={"exclude_columns": narrower})
    lab.candidate(lab.commit(2), 200, exclude_columns=narrower)
    result = gate.run_gate(lab.settings)
    assert result.errors == ()
    assert result.verdict == "fail"
    assert result.deltas["roc_auc"] < -0.01
    # What each relies on is measured on its own columns: the champion on the dropped ones too.
    assert result.challenger is not None and result.champion is not None
    relied_on = result.challenger.importance
    assert set(relied_on) == set(result.challenger.columns)
    assert list(relied_on.values()) == sorted(relied_on.values(), reverse=True)
    assert set(narrower) <= set(result.champion.importance) - set(relied_on)


def test_a_champion_trained_on_evaluation_rows_is_refused(lab: Lab) -> None:
    """When the evaluation set moved (here: a new split seed), rows the champion learned from
    are now evaluation rows: the comparison would flatter it, so the gate refuses, naming how
    many rows and the key that matched them."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    champion_train = lab.settings.split.train.read_bytes()
    lab.with_settings(split={"seed": lab.settings.split.seed + 1})
    stages.split(lab.settings)
    lab.candidate(lab.commit(2), 200, **GOOD)  # its run records the moved evaluation set
    lab.settings.split.train.write_bytes(champion_train)  # the champion's split, found locally
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    [error] = result.errors
    assert "evaluation rows were in the training data of the champion (version 1)" in error
    assert "matched by the key annual_income, loan_amount" in error


def test_a_champion_without_its_training_split_md5_is_refused(lab: Lab) -> None:
    """A champion whose lineage does not say what it was trained on cannot be shown to be
    unseen by the evaluation set: the gate fails closed."""
    champion = lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    lab.client().delete_model_version_tag(lab.name, str(champion.number), "lineage.train_md5")
    lab.candidate(lab.commit(2), 200, **GOOD)
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("records no training split md5" in e for e in result.errors)


def a_change_of_production(lab: Lab, tmp_path: Path, declared: Declared) -> None:
    """The default branch (origin/main) declares the champion; this checkout, like a promotion
    pull request, declares `declared` instead."""
    lab.git("add", "-A")
    lab.git("commit", "--quiet", "-m", "main declares the champion")
    lab.git("init", "--quiet", "--bare", str(tmp_path / "origin.git"))
    lab.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    lab.git("push", "--quiet", "origin", "HEAD:refs/heads/main")
    lab.git("fetch", "--quiet", "origin")
    desired_state.write(desired_state.read().with_alias("production", declared))


@pytest.mark.parametrize(
    ("verdict", "sha256", "expected", "problem"),
    [
        pytest.param("pass", None, "pass", None, id="passed-and-the-declared-bytes"),
        pytest.param("fail", None, "error", "recorded gate verdict is fail", id="failed-gate"),
        pytest.param("pass", "0" * 64, "error", "not the 0000", id="other-bytes"),
    ],
)
def test_a_promotion_is_judged_on_the_version_it_declares(
    lab: Lab, tmp_path: Path, verdict: str, sha256: str | None, expected: str, problem: str | None
) -> None:
    """A change of deploy/production.yaml (a promotion pull request) is judged on the version it
    declares, not on a retrain: its bytes against the sha256 the change declares, and the gate
    verdict recorded when it was registered."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    proposed = lab.register(lab.candidate(lab.commit(2), 200, **GOOD))
    registry.set_tags(lab.client(), lab.name, proposed.number, {"gate.verdict": verdict})
    declared = Declared(version=proposed.number, sha256=sha256 or proposed.digest)
    a_change_of_production(lab, tmp_path, declared)
    result = gate.run_gate(lab.settings)
    assert result.verdict == expected, result.errors
    assert result.declared_version == (proposed.number if sha256 is None else None)
    if problem is not None:
        assert any(problem in error for error in result.errors), result.errors
    else:
        assert result.challenger is not None
        assert result.challenger.model_sha256 == proposed.digest
        assert result.challenger.version == proposed.number


def test_a_change_of_production_with_other_changes_is_an_error(lab: Lab, tmp_path: Path) -> None:
    """A pull request that declares production and changes anything else ends in error: it is
    judged on the declared version, so its other changes would go ungated."""
    lab.champion(lab.candidate(lab.commit(1), 100, **GOOD))
    proposed = lab.register(lab.candidate(lab.commit(2), 200, **GOOD))
    registry.set_tags(lab.client(), lab.name, proposed.number, {"gate.verdict": "pass"})
    a_change_of_production(lab, tmp_path, Declared(version=2, sha256=proposed.digest))
    Path("extra.txt").write_text("more\n", encoding="utf-8")
    lab.git("add", "-A")
    lab.git("commit", "--quiet", "-m", "declare v2 and add a file")
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    assert any("also changes extra.txt" in error for error in result.errors), result.errors


def test_a_dropped_column_is_filled_from_the_champion_s_own_rows_by_key() -> None:
    """The champion's values of a column the data no longer has are found row by row by key,
    whatever order the rows are in; a category keeps its levels."""
    keys = pd.Series(["k3", "k1", "k2"], index=[10, 11, 12])
    recorded = pd.DataFrame(
        {"grade": pd.Categorical(["a", "b", "b"], categories=["a", "b", "c"]), "x": [1.0, 2, 3]}
    )
    filled = champion_data.values_by_key(keys, recorded, pd.Series(["k1", "k2", "k3"]), "about")
    assert filled["x"].tolist() == [3.0, 1.0, 2.0]
    assert filled["x"].index.tolist() == [10, 11, 12]
    assert list(filled["grade"].cat.categories) == ["a", "b", "c"]
    assert filled["grade"].tolist() == ["b", "a", "b"]


def test_a_row_the_champion_never_saw_is_an_error_naming_the_way_out() -> None:
    """An evaluation row added since the champion was trained has no value of its dropped
    column: the gate cannot score the champion on it, and says to split the change."""
    recorded = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"1 of the 3 evaluation rows .* separate pull requests"):
        champion_data.values_by_key(
            pd.Series(["k1", "k2", "new"]), recorded, pd.Series(["k1", "k2"]), "a"
        )


def test_rows_sharing_a_key_must_agree_on_the_champion_s_values() -> None:
    """Two recorded rows with one key and different values leave the champion's input
    undecided: an error, not a guess."""
    recorded = pd.DataFrame({"x": [1.0, 2.0, 1.0]})
    keys = pd.Series(["k1", "k1", "k2"])
    with pytest.raises(ValueError, match="share a key hold different values"):
        champion_data.values_by_key(pd.Series(["k1", "k2"]), recorded, keys, "a")
    same = pd.DataFrame({"x": [1.0, 1.0, 2.0]})
    assert champion_data.values_by_key(pd.Series(["k2", "k1"]), same, keys, "a")["x"].tolist() == [
        2.0,
        1.0,
    ]
