"""Registry commands against a real MLflow server: registration is idempotent per commit,
promotion never moves backwards, rollback is one call, and lineage answers questions."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import Lab

from {{ cookiecutter.package_name }} import vocabulary
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.control import production, registry
from {{ cookiecutter.package_name }}.control.gate_result import Verdict
from {{ cookiecutter.package_name }}.pipeline import tracking, training
from {{ cookiecutter.package_name }}.pipeline.contract import Contract


def test_registering_records_lineage_and_the_model_digest(lab: Lab) -> None:
    """A registered version carries the run's lineage tags and the sha256 of its model bytes;
    registration moves no alias (the register job then moves staging)."""
    run = lab.candidate(lab.commit(1), 100)
    version = lab.register(run)
    assert version.number == 1
    assert version.aliases == ()
    assert version.digest == training.model_digest(lab.settings.train.model.read_bytes())
    assert version.tags["lineage.git_sha"] == lab.commit(1)
    for key in ("lineage.data_md5", "lineage.eval_md5", "lineage.params_hash", "lineage.lock_hash"):
        assert version.tags[key], key
    assert version.tags["lineage.lock_hash"] != "missing"  # the project's uv.lock, read
    # Its bytes live in a run of the registered experiment, which only registration writes.
    assert registry.training_run_of(lab.client(), version) == run.run_id
    kept = lab.client().get_run(version.run_id)
    experiment = lab.client().get_experiment(kept.info.experiment_id)
    assert experiment.name == registry.registered_experiment(lab.name)


def test_same_commit_registers_once(lab: Lab) -> None:
    """Registering the same commit again returns the same version, never a second one."""
    run = lab.candidate(lab.commit(1), 100)
    first = lab.register(run)
    digest = training.model_digest(lab.settings.train.model.read_bytes())
    again, created = registry.register(
        lab.client(), lab.name, run, digest, lab.run_lineage[run.run_id], {}
    )
    assert (again.number, created) == (first.number, False)
    assert [v.number for v in registry.all_versions(lab.client(), lab.name)] == [1]


def test_same_commit_registered_concurrently_leaves_one_version(lab: Lab) -> None:
    """Two simultaneous registrations of one commit end with a single version."""
    run = lab.candidate(lab.commit(1), 100)
    with ThreadPoolExecutor(max_workers=2) as pool:
        numbers = {v.number for v in pool.map(lambda _: lab.register(run), range(2))}
    survivors = registry.all_versions(lab.client(), lab.name)
    assert len(survivors) == 1
    assert numbers == {survivors[0].number}


def test_eight_concurrent_commits_get_eight_versions(lab: Lab) -> None:
    """Eight different commits registered at once become eight distinct versions."""
    runs = [lab.candidate(lab.commit(n + 1), 100 + n, n_estimators=20) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(lab.register, runs))
    assert len({v.number for v in versions}) == 8
    stored = registry.all_versions(lab.client(), lab.name)
    assert sorted(v.git_sha for v in stored) == sorted(lab.commit(n + 1) for n in range(8))


def test_dirty_run_is_not_registered(lab: Lab) -> None:
    """A model trained from uncommitted work cannot be registered."""
    run = lab.candidate(lab.commit(1), 100)
    dirty = {**lab.run_lineage[run.run_id], "lineage.git_dirty": "true"}
    digest = training.model_digest(lab.settings.train.model.read_bytes())
    with pytest.raises(registry.RegistryError, match="clean git commit"):
        registry.register(lab.client(), lab.name, run, digest, dirty, {})


def test_serving_keeps_the_replaced_version_for_rollback(lab: Lab) -> None:
    """Serving v2 moves production and leaves v1 as previous-production, with the approvers."""
    lab.champion(lab.candidate(lab.commit(1), 100))
    second = lab.register(lab.candidate(lab.commit(2), 200), verdict="pass")
    assert lab.stage().number == second.number  # the newest commit's
    served = lab.champion_version(second, approved_by="alice,bob")
    found = registry.aliases(lab.client(), lab.name)
    assert found[registry.PRODUCTION] == 2 and found[registry.PREVIOUS] == 1
    assert served.tags["promotion.production.approved_by"] == "alice,bob"
    assert served.tags["promotion.production.at"]


def test_an_older_commit_never_replaces_a_newer_one(lab: Lab) -> None:
    """A version from an older commit cannot replace a newer one's on an alias."""
    older = lab.register(lab.candidate(lab.commit(1), 100))
    newer = lab.register(lab.candidate(lab.commit(2), 200))
    assert lab.stage().number == newer.number
    with pytest.raises(registry.RegistryError, match="older than staging"):
        lab.stage(older.number)
    assert registry.aliases(lab.client(), lab.name)[registry.STAGING] == newer.number


def overwrite_model_file(lab: Lab, version: registry.Version, content: bytes) -> None:
    """What anyone who may write the artifact store can do: replace a version's model file."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    location = lab.client().get_model_version_download_uri(version.name, str(version.number))
    local = lab.settings.train.model.parent / registry.MODEL_FILE
    local.write_bytes(content)
    get_artifact_repository(location).log_artifact(str(local))


def test_a_changed_artifact_is_never_loaded(lab: Lab) -> None:
    """A version whose stored model bytes were replaced after registration is refused, naming
    the version, instead of being scored or served."""
    champion = lab.champion(lab.candidate(lab.commit(1), 100))
    lab.candidate(lab.commit(2), 200, n_estimators=20)
    overwrite_model_file(lab, champion, lab.settings.train.model.read_bytes())
    with pytest.raises(registry.RegistryError, match=f"{lab.name} version 1: the stored model"):
        production.load(lab.client(), lab.settings)


def test_bytes_and_digest_tag_replaced_together_are_still_refused(lab: Lab) -> None:
    """Anyone who may write the registry can replace production's bytes AND rewrite its
    model.sha256 tag to match: the load checks the bytes against the digest git declares, so
    it still refuses, and names deploy/production.yaml as the source."""
    champion = lab.champion(lab.candidate(lab.commit(1), 100))
    lab.candidate(lab.commit(2), 200, n_estimators=20)
    planted = lab.settings.train.model.read_bytes()
    overwrite_model_file(lab, champion, planted)
    retagged = {vocabulary.MODEL_SHA256: training.model_digest(planted)}
    registry.set_tags(lab.client(), lab.name, champion.number, retagged)
    with pytest.raises(registry.RegistryError, match=r"\.\.\. deploy/production\.yaml holds"):
        production.load(lab.client(), lab.settings)


def test_a_production_alias_git_never_declared_is_refused(lab: Lab) -> None:
    """A credential that moves `production` onto a version while git declares nothing (it
    created the model first, or set the alias by hand) does not make a champion: loading
    production is refused, never compared with or scored."""
    version = lab.register(lab.candidate(lab.commit(1), 100))
    lab.client().set_registered_model_alias(lab.name, registry.PRODUCTION, str(version.number))
    with pytest.raises(registry.RegistryError, match="declares no production version, but"):
        production.load(lab.client(), lab.settings)


def test_loading_never_runs_code_named_by_the_stored_mlmodel(lab: Lab, tmp_path: Path) -> None:
    """An MLmodel rewritten to name code of its own does not matter: the model is loaded from
    its checked bytes by XGBoost, and the code is never imported."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    champion = lab.champion(lab.candidate(lab.commit(1), 100))
    witness = tmp_path / "imported"
    evil = tmp_path / "evil" / "code"
    evil.mkdir(parents=True)
    (evil / "planted.py").write_text(f"open({str(witness)!r}, 'w').write('ran')\n")
    (evil.parent / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: planted\n    code: code\n"
        "  xgboost:\n    code: code\n    data: model.ubj\n    model_class: planted.Model\n"
    )
    location = lab.client().get_model_version_download_uri(champion.name, str(champion.number))
    get_artifact_repository(location).log_artifacts(str(evil.parent))
    model = production.require(lab.client(), lab.settings).model
    assert model.get_booster().num_features() > 0
    assert not witness.exists()


def test_a_look_alike_version_of_the_commit_is_refused(lab: Lab) -> None:
    """A version pre-registered under this commit's sha with other bytes is not "already
    registered": registration refuses it and names it."""
    import mlflow

    sha = lab.commit(1)
    other = lab.candidate(sha, 100, n_estimators=20)
    run_tags = lab.client().get_run(other.run_id).data.tags
    mlflow.register_model(other.model_uri, lab.name, tags={**run_tags, "model.sha256": "0" * 64})
    gated = lab.candidate(sha, 100)
    with pytest.raises(registry.RegistryError, match=r"claims commit .* refusing"):
        lab.register(gated)


def test_newer_is_decided_by_git_not_by_a_commit_time_tag(lab: Lab) -> None:
    """A version whose run claims a commit time in 2100 does not pin staging: the newer
    commit on the branch still moves it, and the 2100 one cannot move production backwards."""
    future = lab.register(lab.candidate(lab.commit(1), 4_102_444_800))
    assert lab.stage().number == future.number
    newer = lab.register(lab.candidate(lab.commit(2), 100))
    assert lab.stage().number == newer.number
    with pytest.raises(registry.RegistryError, match="older than staging"):
        lab.stage(future.number)


def test_a_commit_not_on_the_branch_is_never_staged_or_promoted(lab: Lab) -> None:
    """A version naming a commit the default branch does not hold is never staging's, and a
    promotion over it cannot be ordered, so it is refused."""
    stray = lab.register(lab.candidate("f" * 40, 100))
    with pytest.raises(registry.RegistryError, match="nothing to stage"):
        lab.stage()
    lab.stage(stray.number)  # an empty alias needs no order
    real = lab.register(lab.candidate(lab.commit(1), 100))
    with pytest.raises(registry.RegistryError, match="not on HEAD"):
        lab.stage(real.number)


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


def gate_result(lab: Lab, run: tracking.RunInfo, verdict: Verdict) -> None:
    """Write the gate.json that `register` reads, as a gate with this verdict would."""
    lab.gate_result(run, verdict).write(lab.settings.gate.report)


def test_register_command_needs_a_passing_gate(
    lab: Lab,
    lab_params: Path,
    contract: Contract,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`register` refuses a model whose gate did not pass, and registers one that did, with
    its model card: the JSON record on the registration run, the Markdown rendered from it."""
    run = lab.candidate(lab.commit(1), lab.commit_time(1))
    gate_result(lab, run, "fail")
    assert main(["--params", str(lab_params), "register"]) == 1
    assert "only a passing model is registered" in capsys.readouterr().err
    gate_result(lab, run, "pass")
    assert main(["--params", str(lab_params), "register", "--pr", "7"]) == 0
    version = registry.get_version(lab.client(), lab.name, 1)
    assert version.tags["github.pr"] == "7"
    assert version.tags["gate.verdict"] == "pass"
    card = lab.client().get_model_version(lab.name, "1").description
    assert card.startswith(f"# Model card: {lab.name} version 1")
    learned = [c for c in contract.learned_columns if c not in lab.settings.excluded_from_model]
    lines = card.splitlines()
    sensitive = lab.settings.fairness.sensitive_column
    assert f"- Input: columns: {', '.join(learned)}; not used: {sensitive}." in lines
    saved = lab.client().download_artifacts(version.run_id, "model_card.json", str(tmp_path))
    record = json.loads(Path(saved).read_text(encoding="utf-8"))
    assert record["model_details"]["references"] == [{"reference": f"models:/{lab.name}/1"}]
    assert record["model_details"]["documentation"] in card


@pytest.mark.parametrize(
    "tag",
    [
        "lineage.git_sha",
        "lineage.data_md5",
        "lineage.git_commit_time",  # drift's model age
        "lineage.params_hash",
        "lineage.lock_hash",
        "lineage.version.mlflow",
    ],
)
def test_run_tags_changed_after_the_gate_are_not_registered(
    lab: Lab, lab_params: Path, capsys: pytest.CaptureFixture[str], tag: str
) -> None:
    """Whoever may log runs may rewrite a run's tags: a run whose lineage tag was changed after
    the gate saw the checkout is refused, naming the tag, not registered under a false lineage."""
    run = lab.candidate(lab.commit(1), lab.commit_time(1))
    gate_result(lab, run, "pass")
    lab.client().set_tag(run.run_id, tag, "1")
    assert main(["--params", str(lab_params), "register"]) == 1
    assert f"tag {tag} is '1', not" in capsys.readouterr().err
    assert registry.all_versions(lab.client(), lab.name) == []


def test_a_pull_requests_run_is_never_registered(
    lab: Lab,
    lab_params: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run trained for a pull request goes to the pull requests' own experiment, which their
    credential may write; registration registers only from the training experiment."""
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    run = lab.candidate(lab.commit(1), lab.commit_time(1))
    theirs = tracking.pull_request_experiment(lab.settings.tracking.experiment)
    assert lab.client().get_experiment(run.experiment_id).name == theirs
    gate_result(lab, run, "pass")
    monkeypatch.delenv("GITHUB_EVENT_NAME")
    assert main(["--params", str(lab_params), "register"]) == 1
    assert f"was logged in experiment '{theirs}', not in" in capsys.readouterr().err
    assert registry.all_versions(lab.client(), lab.name) == []


def test_registration_writes_only_the_lineage_it_computed(lab: Lab, lab_params: Path) -> None:
    """A lineage tag added to the run (HTML and an @-mention, say) is not copied onto the
    version: registration writes only the lineage it computed and checked."""
    run = lab.candidate(lab.commit(1), lab.commit_time(1))
    gate_result(lab, run, "pass")
    lab.client().set_tag(run.run_id, "lineage.note", "<img src=x> @everyone")
    assert main(["--params", str(lab_params), "register"]) == 0
    version = registry.get_version(lab.client(), lab.name, 1)
    assert "lineage.note" not in version.tags
    assert version.tags["lineage.git_commit_time"] == str(lab.commit_time(1))


def test_lineage_answers_the_three_questions(
    lab: Lab, lab_params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lineage finds versions by data md5, explains one version with its approvers, and says
    what is in production, as text and as JSON."""
    lab.champion(lab.candidate(lab.commit(1), 100))
    second = lab.champion(lab.candidate(lab.commit(2), 200), approved_by="alice")
    data_md5 = second.tags["lineage.data_md5"]
    capsys.readouterr()  # MLflow's own registration messages

    assert main(["--params", str(lab_params), "lineage", "--data-md5", data_md5, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in found] == [1, 2]

    assert main(["--params", str(lab_params), "lineage", "--version", "2"]) == 0
    text = capsys.readouterr().out
    assert f"trained from commit {lab.commit(2)}" in text
    assert "promotion.production.approved_by: alice" in text

    assert main(["--params", str(lab_params), "lineage", "--json"]) == 0
    (production,) = json.loads(capsys.readouterr().out)
    assert production["version"] == 2
    assert "production" in production["aliases"]

    assert main(["--params", str(lab_params), "lineage", "--data-md5", "0" * 32]) == 0
    assert "no matching version" in capsys.readouterr().out
