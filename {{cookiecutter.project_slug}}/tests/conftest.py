"""Shared fixtures: the project's own settings, contract and sample data, read from the project
root; everything a test writes goes to its tmp_path, never into the project."""

from __future__ import annotations

import copy
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
import yaml
from fake_github import FakeGitHub, running_fake_github

from {{ cookiecutter.package_name }} import data, lineage, registry, stages, tracking, training
from {{ cookiecutter.package_name }}.contract import Contract, load_contract
from {{ cookiecutter.package_name }}.data import read_raw
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _run_from_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """params.yaml holds paths relative to the project root, so every test runs from there."""
    monkeypatch.chdir(PROJECT_ROOT)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def params_path() -> Path:
    return PROJECT_ROOT / "params.yaml"


@pytest.fixture(scope="session")
def settings(params_path: Path) -> Settings:
    """The shipped params.yaml."""
    return load_settings(params_path)


@pytest.fixture(scope="session")
def contract(settings: Settings) -> Contract:
    """The shipped data contract."""
    return load_contract(PROJECT_ROOT / settings.data.contract)


@pytest.fixture(scope="session")
def raw_data_path(settings: Settings) -> Path:
    path = PROJECT_ROOT / settings.data.raw
    if not path.exists():
        pytest.fail(f"{path} is missing: fetch the data first (`dvc pull`)")
    return path


@pytest.fixture(scope="session")
def _sample_frame(raw_data_path: Path) -> pd.DataFrame:
    return read_raw(raw_data_path)


@pytest.fixture
def sample_frame(_sample_frame: pd.DataFrame) -> pd.DataFrame:
    """The sample data read as it is (no types imposed); a fresh copy per test."""
    return _sample_frame.copy()


@pytest.fixture
def tmp_params(params_path: Path, tmp_path: Path) -> Path:
    """A copy of params.yaml that reads the project's data and contract but writes every output
    (splits, model, reports) under tmp_path."""
    raw: dict[str, Any] = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    raw["data"]["raw"] = str(PROJECT_ROOT / raw["data"]["raw"])
    raw["data"]["contract"] = str(PROJECT_ROOT / raw["data"]["contract"])
    outputs = {
        "data": ["validation_report"],
        "split": ["train", "eval"],
        "train": ["model", "run_info"],
        "evaluate": ["metrics", "plots"],
        "gate": ["report"],
        "predict": ["output", "rejected", "log"],
        "drift": ["reference", "report", "html", "summary"],
    }
    for section, keys in outputs.items():
        for key in keys:
            raw[section][key] = str(tmp_path / "out" / raw[section][key])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def patched_params(params_path: Path, patch_path: Path, target: Path) -> Path:
    """Write the shipped params with the fixture's one defect applied."""
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


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    candidates trained from the sample data with chosen parameters and commit facts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        stages.split(settings)

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
        """Train a model (it becomes "this commit's model") and log its run, as if trained
        from commit `sha` at `commit_time`."""
        params = self.settings.train.model_copy(update=train)
        contract = load_contract(self.settings.data.contract)
        frame = data.read_typed(self.settings.split.train, contract)
        features, target = data.features_and_target(frame, contract, params.exclude_columns)
        model = training.train_model(features, target, params)
        training.save_model(model, params.model)
        tags = lineage.lineage_tags(self.settings)
        tags.update(
            {
                "lineage.git_sha": sha,
                "lineage.git_dirty": "false",
                "lineage.git_commit_time": str(commit_time),
            }
        )
        tracking.configure()
        run = tracking.log_training_run(
            self.settings.tracking.experiment, model, {"n_estimators": params.n_estimators},
            tags, features.head(5),
        )  # fmt: skip
        run.write(params.run_info)
        return run

    def client(self) -> Any:
        return registry.connect()

    def register(self, run: tracking.RunInfo) -> registry.Version:
        version, _ = registry.register(self.client(), self.name, run, {})
        return version

    def champion(self, run: tracking.RunInfo) -> registry.Version:
        """Register a run and put it in production."""
        version = self.register(run)
        registry.promote(self.client(), self.name, registry.PRODUCTION, version.number, [], False)
        return version


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
    return Lab(settings)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub REST API on loopback; GITHUB_API_URL and GITHUB_TOKEN point at it."""
    with running_fake_github(monkeypatch) as fake:
        yield fake
