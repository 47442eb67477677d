"""A baked project's pipeline runs end to end against a real MLflow server on loopback with a
real local DVC remote, on the shipped sample.

One project is baked for the module; each test makes one claim about it. The project's own
tests and lint run in tests/test_byod.py, after it has taken in other data: they must pass
there, on data that looks nothing like the sample.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from baked import CLI, LINEAGE_TAGS, METRICS, PACKAGE, TEMPLATE, Project
from cookiecutter.main import cookiecutter
from servers import free_port


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The default project, set up, committed, with its MLflow server up and `dvc repro` run."""
    base = tmp_path_factory.mktemp("baked")
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(base)))
    baked = Project(root, free_port(), base / "dvc-remote")
    baked.make("setup")
    baked.run("git", "add", "-A")
    baked.run("git", "commit", "--quiet", "-m", "Start from the template")
    baked.make("mlflow-server")
    try:
        baked.first_repro = baked.make("repro")
        yield baked
    finally:
        baked.make("mlflow-stop", check=False)


def test_repro_runs_every_stage(project: Project) -> None:
    """`make repro` runs validate, then train (which splits, fits and evaluates), and writes
    every metric."""
    assert project.first_repro is not None
    output = project.first_repro.stdout
    assert output.count("Running stage") == 2
    assert output.index("Running stage 'validate'") < output.index("Running stage 'train'")
    assert re.search(r"split: \d+ training rows, \d+ evaluation rows", output)
    metrics = json.loads((project.root / "reports/metrics.json").read_text())
    assert METRICS <= metrics.keys()
    assert 0.6 < metrics["roc_auc"] <= 1.0


def test_plots_are_drawn_from_data(project: Project) -> None:
    """The train stage writes the five evaluation plots as data, and DVC draws each of them
    (`make plots`) with the points the stage wrote."""
    folder = project.root / "reports/plots"
    names = ["calibration", "confusion_matrix", "feature_importance", "precision_recall", "roc"]
    assert sorted(p.stem for p in folder.iterdir()) == names
    drawn_by_dvc = project.run("uv", "run", "--locked", "dvc", "plots", "show", "--json")
    shown = json.loads(drawn_by_dvc.stdout)
    for name in names:
        points = json.loads((folder / f"{name}.json").read_text())
        (drawn,) = shown["data"][f"reports/plots/{name}.json"]
        assert drawn["type"] == "vega"
        assert len(drawn["content"]["data"]["values"]) == len(points) > 0
    cells = json.loads((folder / "confusion_matrix.json").read_text())
    evaluated = json.loads((project.root / "reports/metrics.json").read_text())["eval_rows"]
    assert sum(cell["rows"] for cell in cells) == evaluated


def test_run_is_tracked_with_lineage(project: Project) -> None:
    """The MLflow server holds one run with the metrics and lineage of this commit and data."""
    runs = project.runs()
    assert len(runs) == 1
    tags = runs[0]["tags"]
    assert isinstance(tags, dict)
    assert LINEAGE_TAGS <= tags.keys()
    head = project.run("git", "rev-parse", "HEAD").stdout.strip()
    assert tags["lineage.git_sha"] == head
    assert tags["lineage.git_dirty"] == "false"
    pointer = yaml.safe_load((project.root / "data/raw/loans.csv.dvc").read_text())
    assert tags["lineage.data_md5"] == pointer["outs"][0]["md5"]
    lock = yaml.safe_load((project.root / "dvc.lock").read_text())
    split_outs = {out["path"]: out["md5"] for out in lock["stages"]["train"]["outs"]}
    assert tags["lineage.eval_md5"] == split_outs["data/split/eval.csv"]
    assert tags["lineage.train_md5"] == split_outs["data/split/train.csv"]
    assert METRICS <= set(runs[0]["metrics"])  # type: ignore[arg-type]


def test_second_repro_does_nothing(project: Project) -> None:
    """A second `make repro` on unchanged inputs skips every stage and logs no new run."""
    before = len(project.runs())
    output = project.make("repro").stdout
    assert "Running stage" not in output
    assert "Data and pipelines are up to date." in output
    assert len(project.runs()) == before


def test_editing_a_module_reruns_exactly_the_stages_that_run_it(project: Project) -> None:
    """For every module of the package, an edit makes DVC see exactly the stages that run it
    as changed (what `dvc repro` re-runs); the project's own test ties each stage's list to
    the modules its command imports."""
    stages = yaml.safe_load((project.root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    dvc = str(project.root / ".venv" / "bin" / "dvc")
    package = project.root / "src" / PACKAGE
    for module in sorted(package.rglob("*.py")):
        dependency = module.relative_to(project.root).as_posix()
        expected = {name for name, stage in stages.items() if dependency in stage["deps"]}
        original = module.read_bytes()
        module.write_bytes(original + b"\n# an edit\n")
        try:
            changed = set(json.loads(project.run(dvc, "status", "--json").stdout or "{}"))
        finally:
            module.write_bytes(original)
        assert changed == expected, dependency
    assert json.loads(project.run(dvc, "status", "--json").stdout or "{}") == {}


def test_outputs_round_trip_through_the_dvc_remote(project: Project) -> None:
    """`make push` stores data and outputs in the local remote; `make pull` brings back the
    tracked data only (CI builds what it gates), and `dvc pull` the outputs too."""
    project.make("push")
    model = project.root / "models/model.ubj"
    raw = project.root / "data/raw/loans.csv"
    originals = {path: path.read_bytes() for path in (model, raw)}
    for path in originals:
        path.unlink()
    project.run("rm", "-rf", ".dvc/cache")
    project.make("pull")
    assert raw.read_bytes() == originals[raw]
    assert not model.exists()
    project.run(str(project.root / ".venv" / "bin" / "dvc"), "pull")
    assert model.read_bytes() == originals[model]


def test_setup_uses_a_remote_the_team_committed(tmp_path: Path) -> None:
    """A project whose .dvc/config names a shared default remote keeps it: `make setup`
    pushes there (with verify on), and configures no folder of its own."""
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path)))
    folder_remote = tmp_path / "folder-remote"
    baked = Project(root, free_port(), folder_remote)
    shared = tmp_path / "team-remote"
    shared.mkdir()
    baked.run("git", "init", "--quiet", "--initial-branch=main")
    baked.run("uv", "run", "--locked", "dvc", "remote", "add", "--default", "team", str(shared))
    baked.make("setup")
    md5 = yaml.safe_load((root / "data/raw/loans.csv.dvc").read_text())["outs"][0]["md5"]
    assert (shared / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    assert not folder_remote.exists()
    local = (root / ".dvc/config.local").read_text()
    assert "team" in local and "verify = true" in local


def test_a_changed_object_in_the_remote_is_refused(project: Project) -> None:
    """DVC re-hashes what `make pull` downloads: the data file changed inside the remote (a
    label flipped) is not pulled, and the pull fails."""
    raw = project.root / "data/raw/loans.csv"
    original = raw.read_bytes()
    md5 = yaml.safe_load((project.root / "data/raw/loans.csv.dvc").read_text())["outs"][0]["md5"]
    stored = project.remote / "files" / "md5" / md5[:2] / md5[2:]
    stored.chmod(0o644)
    stored.write_bytes(original.replace(b",0\n", b",1\n", 1))
    try:
        raw.unlink()
        project.run("rm", "-rf", ".dvc/cache")
        refused = project.make("pull", check=False)
        assert refused.returncode != 0
        assert not raw.exists()
    finally:
        stored.write_bytes(original)
        project.make("pull")
    assert raw.read_bytes() == original


def test_bad_data_stops_the_pipeline(project: Project, tmp_path: Path) -> None:
    """Data that breaks the contract fails the validate step with the reason, before training."""
    raw = (project.root / "data/raw/loans.csv").read_text().splitlines()
    header = raw[0].split(",")
    age = header.index("age")
    row = raw[1].split(",")
    row[age] = "7"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([raw[0], ",".join(row), *raw[2:]]) + "\n")
    done = project.run("uv", "run", "--locked", CLI, "validate", str(bad), check=False)
    assert done.returncode == 1
    assert "column 'age'" in done.stderr and "age is below 18" in done.stderr


def test_unreachable_server_fails_the_train_step(project: Project) -> None:
    """With the tracking server unreachable, training fails with one line naming the server."""
    closed = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        ["uv", "run", "--locked", CLI, "train"],
        cwd=project.root,
        env={**project.env, "MLFLOW_TRACKING_URI": closed},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"error: MLflow tracking server {closed} is not reachable" in done.stderr


def test_gate_register_promote_and_rollback_through_make(project: Project) -> None:
    """The registry tasks work as a person types them: the first model passes the gate,
    registers once, is declared in deploy/ and promoted with its approver, and rollback needs
    an earlier production version."""
    assert "gate: pass" in project.make("gate").stdout
    gate = json.loads((project.root / "reports/gate.json").read_text())
    assert gate["first_model"] is True
    assert "<!-- credit-default-model:gate-report -->" in project.make("report").stdout
    assert "registered: credit-default-model version 1" in project.make("register").stdout
    assert "already registered" in project.make("register").stdout
    project.env["APPROVED_BY"] = "risk-approver"
    assert "staging: credit-default-model version 1" in project.make("promote", "TO=staging").stdout
    assert "production: credit-default-model version 1" in project.make("promote").stdout
    lineage = project.make("lineage").stdout
    assert "version 1 [production, staging]" in lineage
    assert "promotion.production.approved_by: risk-approver" in lineage
    project.env["REASON"] = "nothing to go back to"
    refused = project.make("rollback", check=False)
    assert refused.returncode != 0
    assert "shows no earlier production version" in refused.stderr
    # Production's record is the desired state in git: the file now declares version 1.
    assert "version: 1" in (project.root / "deploy/production.yaml").read_text()
