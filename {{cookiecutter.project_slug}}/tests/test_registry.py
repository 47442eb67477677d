"""Registry commands against a real MLflow server: registration is idempotent per commit,
promotion never moves backwards, rollback is one call, and lineage answers questions."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import Lab

from {{ cookiecutter.package_name }} import registry, tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.contract import Contract


def commit(n: int) -> str:
    return f"{n:040x}"


def test_registering_sets_lineage_and_staging(lab: Lab) -> None:
    """A registered version carries the run's lineage tags and gets the staging alias."""
    run = lab.candidate(commit(1), 100)
    version = lab.register(run)
    assert version.number == 1
    assert version.aliases == (registry.STAGING,)
    assert version.tags["lineage.git_sha"] == commit(1)
    for key in ("lineage.data_md5", "lineage.eval_md5", "lineage.params_hash", "lineage.lock_hash"):
        assert version.tags[key], key
    assert version.tags["lineage.lock_hash"] != "missing"  # the project's uv.lock, read
    assert version.run_id == run.run_id


def test_same_commit_registers_once(lab: Lab) -> None:
    """Registering the same commit again returns the same version, never a second one."""
    run = lab.candidate(commit(1), 100)
    first = lab.register(run)
    again, created = registry.register(lab.client(), lab.name, run, {})
    assert (again.number, created) == (first.number, False)
    assert [v.number for v in registry.all_versions(lab.client(), lab.name)] == [1]


def test_same_commit_registered_concurrently_leaves_one_version(lab: Lab) -> None:
    """Two simultaneous registrations of one commit end with a single version."""
    run = lab.candidate(commit(1), 100)
    with ThreadPoolExecutor(max_workers=2) as pool:
        numbers = {v.number for v in pool.map(lambda _: lab.register(run), range(2))}
    survivors = registry.all_versions(lab.client(), lab.name)
    assert len(survivors) == 1
    assert numbers == {survivors[0].number}


def test_eight_concurrent_commits_get_eight_versions(lab: Lab) -> None:
    """Eight different commits registered at once become eight distinct versions."""
    runs = [lab.candidate(commit(n), 100 + n, n_estimators=20) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(lab.register, runs))
    assert len({v.number for v in versions}) == 8
    stored = registry.all_versions(lab.client(), lab.name)
    assert sorted(v.git_sha for v in stored) == sorted(commit(n) for n in range(8))


def test_dirty_run_is_not_registered(lab: Lab) -> None:
    """A model trained from uncommitted work cannot be registered."""
    run = lab.candidate(commit(1), 100)
    lab.client().set_tag(run.run_id, "lineage.git_dirty", "true")
    with pytest.raises(registry.RegistryError, match="clean git commit"):
        lab.register(run)


def test_promotion_keeps_the_replaced_version_for_rollback(lab: Lab) -> None:
    """Promoting v2 moves production and leaves v1 as previous-production, with approvers."""
    lab.champion(lab.candidate(commit(1), 100))
    second = lab.register(lab.candidate(commit(2), 200))
    promoted, replaced = registry.promote(
        lab.client(), lab.name, registry.PRODUCTION, None, ["alice", "bob"], False
    )
    assert promoted.number == second.number
    assert replaced is not None and replaced.number == 1
    aliases = registry.aliases(lab.client(), lab.name)
    assert aliases[registry.PRODUCTION] == 2
    assert aliases[registry.PREVIOUS] == 1
    assert promoted.tags["promotion.production.approved_by"] == "alice,bob"
    assert promoted.tags["promotion.production.at"]


def test_older_commit_is_not_promoted_over_a_newer_champion(lab: Lab) -> None:
    """A version from an older commit cannot replace a newer champion, unless forced."""
    older = lab.register(lab.candidate(commit(1), 100))
    lab.champion(lab.candidate(commit(2), 200))
    client = lab.client()
    with pytest.raises(registry.RegistryError, match="older than production"):
        registry.promote(client, lab.name, registry.PRODUCTION, older.number, [], False)
    assert registry.aliases(client, lab.name)[registry.PRODUCTION] == 2
    registry.promote(client, lab.name, registry.PRODUCTION, older.number, [], True)
    assert registry.aliases(client, lab.name)[registry.PRODUCTION] == older.number


def test_rollback_restores_the_previous_version_with_the_reason(lab: Lab) -> None:
    """Rollback points production back at the previous version and records why and who."""
    lab.champion(lab.candidate(commit(1), 100))
    lab.champion(lab.candidate(commit(2), 200))
    restored, demoted = registry.rollback(
        lab.client(), lab.name, None, "latency spike in prod", "oncall"
    )
    assert (restored.number, demoted.number) == (1, 2)
    aliases = registry.aliases(lab.client(), lab.name)
    assert aliases[registry.PRODUCTION] == 1
    assert aliases[registry.PREVIOUS] == 2  # so the rollback itself can be undone
    assert restored.tags["rollback.reason"] == "latency spike in prod"
    assert restored.tags["rollback.by"] == "oncall"
    assert registry.get_version(lab.client(), lab.name, 2).tags["rolled_back.reason"]


def test_rollback_without_a_previous_version_is_refused(lab: Lab) -> None:
    """With only one version ever in production there is nothing to roll back to."""
    lab.champion(lab.candidate(commit(1), 100))
    with pytest.raises(registry.RegistryError, match="no 'previous-production'"):
        registry.rollback(lab.client(), lab.name, None, "why not", "oncall")


def test_registry_down_is_one_line_not_a_hang(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any registry command against a stopped server fails at once with the server named."""
    from conftest import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(tracking.TrackingUnavailable, match="not reachable"):
        registry.connect()


@pytest.fixture
def lab_params(lab: Lab, tmp_path: Path) -> Path:
    """The lab's settings as a params file, for driving the CLI."""
    return lab.params_file(tmp_path / "lab-params.yaml")


def gate_passed(lab: Lab, run: tracking.RunInfo) -> None:
    """Write the gate.json that `register` requires, as a passing gate would."""
    report = lab.settings.gate.report
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        json.dumps({"verdict": "pass", "passed": True, "challenger": {"run_id": run.run_id}})
    )


def test_register_command_needs_a_passing_gate(
    lab: Lab, lab_params: Path, contract: Contract, capsys: pytest.CaptureFixture[str]
) -> None:
    """`register` refuses a model whose gate did not pass, and registers one that did."""
    run = lab.candidate(commit(1), 100)
    report = lab.settings.gate.report
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"verdict": "fail", "passed": False}))
    assert main(["--params", str(lab_params), "register"]) == 1
    assert "only a passing model is registered" in capsys.readouterr().err
    gate_passed(lab, run)
    assert main(["--params", str(lab_params), "register", "--pr", "7"]) == 0
    version = registry.get_version(lab.client(), lab.name, 1)
    assert version.tags["github.pr"] == "7"
    assert version.tags["gate.verdict"] == "pass"
    card = lab.client().get_model_version(lab.name, "1").description
    assert card.startswith(f"# Model card: {lab.name} version 1")
    learned = [c for c in contract.learned_columns if c not in lab.settings.excluded_from_model]
    lines = card.splitlines()
    assert f"- Target `{contract.target.name}`; features: {', '.join(learned)}." in lines
    assert f"- Not used as features: {lab.settings.fairness.sensitive_column}." in lines


def test_lineage_answers_the_three_questions(
    lab: Lab, lab_params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lineage finds versions by data md5, explains one version with its approvers, and says
    what is in production, as text and as JSON."""
    lab.champion(lab.candidate(commit(1), 100))
    second = lab.register(lab.candidate(commit(2), 200))
    registry.promote(lab.client(), lab.name, registry.PRODUCTION, None, ["alice"], False)
    data_md5 = second.tags["lineage.data_md5"]
    capsys.readouterr()  # MLflow's own registration messages

    assert main(["--params", str(lab_params), "lineage", "--data-md5", data_md5, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in found] == [1, 2]

    assert main(["--params", str(lab_params), "lineage", "--version", "2"]) == 0
    text = capsys.readouterr().out
    assert f"trained from commit {commit(2)}" in text
    assert "promotion.production.approved_by: alice" in text

    assert main(["--params", str(lab_params), "lineage", "--json"]) == 0
    (production,) = json.loads(capsys.readouterr().out)
    assert production["version"] == 2
    assert "production" in production["aliases"]

    assert main(["--params", str(lab_params), "lineage", "--data-md5", "0" * 32]) == 0
    assert "no matching version" in capsys.readouterr().out
