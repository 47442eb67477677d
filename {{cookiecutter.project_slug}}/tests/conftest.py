"""Shared fixtures. The tests bring their own everything: the data set (tests/synthetic.py's loan
population, generated into a temporary folder), the contract (fixtures/contract.yaml) and the
params (fixtures/params.yaml, with every path pointed into a temporary folder). Each test runs
in an empty folder of its own, outside the project and its git repository.

So no test reads or writes the project's data/, its DVC cache or remote, its git repository or
the MLflow server of the project, and replacing the sample data with your own (other columns,
another contract, other params) changes nothing here. The project's own files are only read:
params.yaml (by the one test that it loads), uv.lock and pyproject.toml (lineage, model card).
"""

from __future__ import annotations

import copy
import io
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import synthetic
import yaml
from fake_github import FakeGitHub, running_fake_github

from {{ cookiecutter.package_name }}.control import aliases, deploy, desired_state, registration, registry
from {{ cookiecutter.package_name }}.control.gate_result import GateResult, ScoredModel, Verdict
from {{ cookiecutter.package_name }}.pipeline import data, lineage, stages, tracking, training
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, load_contract, read_csv
from {{ cookiecutter.package_name }}.settings import Settings, load_settings
from {{ cookiecutter.package_name }}.vocabulary import GATE_VERDICT

TESTS = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
# The sample data set the template ships (data/raw/loans.csv, until you bring your own): the
# tests generate the very same rows, so fixtures/golden_predictions.csv holds for both.
SAMPLE_ROWS = 12_000
SAMPLE_SEED = 20261122
# Every path in params that a stage writes (or reads besides the data and the contract): all
# of them go under a temporary folder. write_params refuses params with a path not listed here.
OUTPUTS = {
    "data": ["validation_report"],
    "split": ["train", "eval"],
    "train": ["model", "run_info"],
    "evaluate": ["metrics", "plots"],
    "gate": ["report"],
    "predict": ["output", "rejected", "log"],
    "drift": ["batch", "reference", "report", "html", "summary"],
    "outcomes": ["store", "rejected", "report", "summary", "html"],
}
# Variables that would send a test's git, DVC, MLflow or GitHub calls to the project or to the
# person's real services (a pre-commit hook sets GIT_INDEX_FILE, `make test` sets
# MLFLOW_TRACKING_URI, a workflow sets GITHUB_OUTPUT and GITHUB_TOKEN).
LEAKING_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "DVC_REMOTE",
    "DASK_SCHEDULER_ADDRESS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


def logged(log: Path) -> pd.DataFrame:
    """Every row the inference log's open days hold, typed as pandas reads a CSV."""
    days = sorted(log.glob("day=*/decisions.csv"))
    return pd.concat([pd.read_csv(day) for day in days], ignore_index=True)


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _temporary_folders_outside_the_project(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Everything the tests write goes to pytest's temporary folders: never inside the project
    (as `--basetemp` or TMPDIR could place them), where git and DVC would find its repository."""
    base = tmp_path_factory.getbasetemp().resolve()
    if base == PROJECT_ROOT or PROJECT_ROOT in base.parents:
        pytest.exit(f"the tests' temporary folder {base} is inside the project: choose another")


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in an empty folder of its own, so that a relative path never lands in the
    project and git (lineage, the report's base params) finds no repository above it. MLflow
    points at a port nobody listens on unless a test starts a server, and nothing of the
    person's git, GitHub or MLflow settings reaches the test."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in LEAKING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    # Read, never written: the locked environment (lineage) and the description (model card).
    monkeypatch.setattr(lineage, "LOCKFILE", PROJECT_ROOT / "uv.lock")
    monkeypatch.setattr(registration, "PYPROJECT", PROJECT_ROOT / "pyproject.toml")
    return folder


@pytest.fixture(scope="session")
def project_params_path() -> Path:
    """The project's own params.yaml: only ever read, and only by the test that it loads."""
    return PROJECT_ROOT / "params.yaml"


def loans_csv(rows: int, seed: int, shift: float = 0.0) -> bytes:
    """Loans from the tests' population as CSV bytes (`shift` > 0: a drifted population)."""
    return synthetic.to_csv(synthetic.make_loans(rows, seed, shift)).encode("utf-8")


def loans_frame(contract: Contract, rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Loans read as a CSV file of them is read (contract.read_csv)."""
    return read_csv(io.BytesIO(loans_csv(rows, seed, shift)), contract)


@pytest.fixture(scope="session")
def raw_data_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' data set, written once per session: the rows of the shipped sample."""
    path = tmp_path_factory.mktemp("data") / "loans.csv"
    path.write_bytes(loans_csv(SAMPLE_ROWS, SAMPLE_SEED))
    return path


@pytest.fixture(scope="session")
def contract_path() -> Path:
    """The tests' contract (a copy of the shipped data/contract.yaml, which may be yours now)."""
    return FIXTURES / "contract.yaml"


@pytest.fixture(scope="session")
def contract(contract_path: Path) -> Contract:
    return load_contract(contract_path)


def _paths(settings: Settings) -> dict[str, Path]:
    """Every path in the settings, by its dotted key."""
    return {
        f"{section}.{key}": value
        for section, values in settings
        for key, value in values
        if isinstance(value, Path)
    }


def write_params(folder: Path, raw: Path, contract: Path) -> Path:
    """fixtures/params.yaml as `folder`/params.yaml, reading `raw` through `contract` and
    writing every output under `folder`/out."""
    params: dict[str, Any] = yaml.safe_load((FIXTURES / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["raw"] = str(raw)
    params["data"]["contract"] = str(contract)
    for section, keys in OUTPUTS.items():
        for key in keys:
            params[section][key] = str(folder / "out" / params[section][key])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    relative = [
        key for key, value in _paths(load_settings(path)).items() if not value.is_absolute()
    ]
    if relative:
        raise AssertionError(f"params paths not sent to a temporary folder: {relative} (OUTPUTS)")
    return path


@pytest.fixture(scope="session")
def params_path(
    tmp_path_factory: pytest.TempPathFactory, raw_data_path: Path, contract_path: Path
) -> Path:
    """The tests' params for the session: the tests' data and contract, outputs in a temporary
    folder. Tests that write outputs use tmp_params instead."""
    return write_params(tmp_path_factory.mktemp("params"), raw_data_path, contract_path)


@pytest.fixture(scope="session")
def settings(params_path: Path) -> Settings:
    """The tests' settings (fixtures/params.yaml), never the project's params.yaml."""
    return load_settings(params_path)


@pytest.fixture(scope="session")
def _sample_frame(raw_data_path: Path, contract: Contract) -> pd.DataFrame:
    return data.read_raw(raw_data_path, contract)


@pytest.fixture
def sample_frame(_sample_frame: pd.DataFrame) -> pd.DataFrame:
    """The tests' data set as read from its file (no model types imposed); a fresh copy per
    test."""
    return _sample_frame.copy()


@pytest.fixture
def tmp_params(tmp_path: Path, raw_data_path: Path, contract_path: Path) -> Path:
    """The tests' params reading the tests' data and contract and writing every output (splits,
    model, reports) under tmp_path/out."""
    return write_params(tmp_path, raw_data_path, contract_path)


def patched_params(params_path: Path, patch_path: Path, target: Path) -> Path:
    """Write the params with the fixture's one defect applied."""
    params: dict[str, Any] = copy.deepcopy(yaml.safe_load(params_path.read_text()))
    patch = yaml.safe_load(patch_path.read_text())
    for dotted, value in (patch.get("set") or {}).items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    for dotted in patch.get("remove") or []:
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        del node[leaf]
    target.write_text(yaml.safe_dump(params), encoding="utf-8")
    return target


class DvcRepo:
    """A git repository with DVC and a local DVC remote, both in a temporary folder: where the
    tests run git and DVC, never in the project."""

    def __init__(self, root: Path, remote: Path) -> None:
        self.root = root
        self.remote = remote
        root.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.dvc("init", "--quiet")
        self.dvc("remote", "add", "--default", "store", str(remote))
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", "dvc init")

    def run(self, *command: str) -> str:
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)}: {done.stderr or done.stdout}")
        return done.stdout.strip()

    def git(self, *args: str) -> str:
        return self.run("git", "-c", "commit.gpgsign=false", *args)

    def dvc(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "dvc", *args)

    def commit_data(self, relative: Path, content: bytes) -> str:
        """Write a data file, track it with DVC, push it to the remote, commit the pointer;
        return the commit."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.dvc("add", "--quiet", str(relative))
        self.dvc("push", "--quiet")
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", f"data {relative}")
        return self.git("rev-parse", "HEAD")

    def pointer_md5(self, relative: Path) -> str:
        """The md5 DVC recorded for a tracked file in its .dvc pointer."""
        pointer = yaml.safe_load((self.root / f"{relative}.dvc").read_text(encoding="utf-8"))
        return str(pointer["outs"][0]["md5"])

    def in_remote(self, md5: str) -> bool:
        return (self.remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


@pytest.fixture
def dvc_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DvcRepo:
    """A fresh git + DVC repository with its own local remote, under tmp_path."""
    for name, value in {"NAME": "Test", "EMAIL": "test@localhost"}.items():
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    return DvcRepo(tmp_path / "repo", tmp_path / "dvc-remote")


@contextmanager
def running_mlflow_server(
    root: Path, *options: str, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """A real `mlflow server` on a free loopback port with a sqlite store and proxied artifacts
    under `root`; yields its URI once it answers, and stops it (with its workers) after."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server", *options,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **(extra_env or {}),
    }
    with (root / "server.log").open("w") as log:
        server = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        uri = f"http://127.0.0.1:{port}"
        tracking.check_tracking(uri, wait_seconds=120)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's MLflow server, shared by every registry test."""
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


class Lab:
    """A registry workbench on the real server: its own model name, outputs under tmp_path, and
    candidates trained from the tests' data with chosen parameters and commit facts."""

    def __init__(self, settings: Settings, repository: Path) -> None:
        self.settings = settings
        self.repository = repository
        self.commits: list[str] = []
        self.run_lineage: dict[str, dict[str, str]] = {}  # run id -> the lineage it was logged with
        stages.split(settings)

    def git(self, *args: str) -> str:
        identity = ["-c", "user.name=Lab", "-c", "user.email=lab@localhost"]
        done = subprocess.run(
            ["git", *identity, "-c", "commit.gpgsign=false", *args],
            cwd=self.repository, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, n: int) -> str:
        """The n-th commit (from 1) of a linear history in the test's git repository: a
        larger n is a newer commit, as git's ancestry tells the registry."""
        if not (self.repository / ".git").exists():
            self.git("init", "--quiet", "--initial-branch=main")
        while len(self.commits) < n:
            self.git("commit", "--quiet", "--allow-empty", "-m", f"commit {len(self.commits) + 1}")
            self.commits.append(self.git("rev-parse", "HEAD"))
        return self.commits[n - 1]

    @property
    def name(self) -> str:
        return self.settings.tracking.model_name

    def with_settings(self, **sections: dict[str, Any]) -> None:
        """Change settings, e.g. with_settings(fairness={"min_disparate_impact": 0.99})."""
        updates = {
            section: getattr(self.settings, section).model_copy(update=values)
            for section, values in sections.items()
        }
        self.settings = self.settings.model_copy(update=updates)

    def candidate(self, sha: str, commit_time: int, **train: Any) -> tracking.RunInfo:
        """Train a model from the local train split (it becomes "this commit's model") and log
        its run, as if trained from commit `sha` at `commit_time`. The sensitive column is
        never learned from, as in the train stage."""
        settings = self.settings.model_copy(
            update={"train": self.settings.train.model_copy(update=train)}
        )
        params = settings.train
        contract = load_contract(settings.data.contract)
        frame = data.read_typed(settings.split.train, contract)
        features, target = data.features_and_target(frame, contract, settings.excluded_from_model)
        model = training.train_model(features, target, params)
        training.save_model(model, params.model)
        tags = lineage.lineage_tags(settings)
        tags.update(
            {
                "lineage.git_sha": sha,
                "lineage.git_dirty": "false",
                "lineage.git_commit_time": str(commit_time),
            }
        )
        tracking.configure()
        run = tracking.log_training_run(
            tracking.training_experiment(settings.tracking.experiment),
            model, {"n_estimators": params.n_estimators},
            tags, features.head(5), metrics={}, plots=[],
        )  # fmt: skip
        run.write(params.run_info)
        self.run_lineage[run.run_id] = tags
        return run

    def commit_time(self, n: int) -> int:
        """The committer time of the n-th commit, as git (and so registration) reads it."""
        return int(self.git("show", "-s", "--format=%ct", self.commit(n)))

    def client(self) -> Any:
        return registry.connect()

    def history(self) -> lineage.History:
        return lineage.branch_history("main")

    def register(self, run: tracking.RunInfo, verdict: str = "") -> registry.Version:
        """Register the run's model (the bytes it logged), as the gate would have scored it,
        with the gate's verdict where one is given."""
        digest = training.model_digest(registry.logged_model_bytes(self.client(), run))
        lineage = self.run_lineage[run.run_id]
        extra = {GATE_VERDICT: verdict} if verdict else {}
        version, _ = registry.register(self.client(), self.name, run, digest, lineage, extra)
        return version

    def stage(self, number: int | None = None) -> registry.Version:
        """Point `staging` at a version (by default the newest commit's), as every merge does."""
        staged, _ = aliases.stage(self.client(), self.name, number, self.history())
        return staged

    def gate_result(
        self, run: tracking.RunInfo, verdict: Verdict = "pass", digest: str | None = None
    ) -> GateResult:
        """The gate.json a gate with this verdict writes for `run`, whose scored bytes are the
        model file the run's candidate saved (or `digest`)."""
        scored = digest or training.model_digest(self.settings.train.model.read_bytes())
        return GateResult(
            model_name=self.name,
            primary_metric="roc_auc",
            rule="non_inferiority",
            margin=0.01,
            verdict=verdict,
            challenger=ScoredModel(
                eval_md5="0" * 32,
                metrics={},
                latency_ms_per_row=0.0,
                run_id=run.run_id,
                experiment_id=run.experiment_id,
                model_uri=run.model_uri,
                model_sha256=scored,
                lineage=lineage.lineage_tags(self.settings),
            ),
        )

    def champion(self, run: tracking.RunInfo, approved_by: str = "lab") -> registry.Version:
        """Register a run (as a passing gate's) and put it in production the one way the
        product moves it (champion_version)."""
        return self.champion_version(self.register(run, verdict="pass"), approved_by)

    def champion_version(self, version: registry.Version, approved_by: str) -> registry.Version:
        """Put a registered version in production as `make promote TO=production` does without
        GitHub: declared in deploy/production.yaml (the workspace's, where the person running a
        local project is the reviewer), then deployed with every check deploy makes."""
        self.commit(1)  # a local project is a git repository: deploy reads what HEAD declared
        if not desired_state.DEPLOY_FILE.exists():
            desired_state.write(desired_state.DesiredState(model=self.name))
        deploy.declare_and_deploy(self.settings, version.number, (approved_by,))
        return registry.get_version(self.client(), self.name, version.number)

    def params_file(self, path: Path) -> Path:
        """The lab's settings as a params file, for driving the CLI."""
        path.write_text(yaml.safe_dump(self.settings.model_dump(mode="json")), encoding="utf-8")
        return path


@pytest.fixture
def lab(mlflow_server: str, tmp_params: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    """A Lab with a fresh registered-model name, talking to the session's server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    base = load_settings(tmp_params)
    name = f"model-{uuid.uuid4().hex[:10]}"
    settings = base.model_copy(
        update={
            "tracking": base.tracking.model_copy(update={"model_name": name, "experiment": name}),
            # the minimum the schema allows: enough for a stable interval, quick to compute
            "gate": base.gate.model_copy(update={"resamples": 1000}),
        }
    )
    return Lab(settings, Path.cwd())


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub REST API on loopback; GITHUB_API_URL and GITHUB_TOKEN point at it."""
    with running_fake_github(monkeypatch) as fake:
        yield fake
