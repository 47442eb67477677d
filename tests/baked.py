"""Driving a baked project as a person would: its make targets, its one command, its own
interpreter, with nothing of this machine's settings leaking in. Shared by the tests that bake
one (test_baked_project.py, test_byod.py, test_columns_change.py, ...) and by benchmark.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
CLI = "credit-default-model"
PACKAGE = "credit_default_model"
METRICS = {"roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier"}
LINEAGE_TAGS = {
    "lineage.git_sha",
    "lineage.git_dirty",
    "lineage.data_md5",
    "lineage.train_md5",
    "lineage.eval_md5",
    "lineage.params_hash",
    "lineage.lock_hash",
    "lineage.version.python",
    "lineage.version.xgboost",
    "lineage.version.mlflow",
    "lineage.version.pandas",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The host's environment without anything that would point the project elsewhere, nor
    stop it keeping bytecode: without it, every process compiles each module it imports."""
    leaks = (
        "MLFLOW_", "VIRTUAL_ENV", "UV_PROJECT", "DVC_", "GIT_DIR", "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    env.update(
        GIT_AUTHOR_NAME="Template Test",
        GIT_AUTHOR_EMAIL="test@localhost",
        GIT_COMMITTER_NAME="Template Test",
        GIT_COMMITTER_EMAIL="test@localhost",
        UV_PYTHON_DOWNLOADS="never",
    )
    env.update(extra)
    return env


def run_in(
    folder: Path, env: dict[str, str], *command: str, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command in `folder`; a failure (where checked) shows what it printed."""
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


class Project:
    """A baked project and the way a person drives it: make targets and its one command."""

    def __init__(self, root: Path, port: int, remote: Path) -> None:
        self.root = root
        self.port = port
        self.remote = remote
        self.env = clean_env(MLFLOW_PORT=str(port), DVC_REMOTE=str(remote))
        self.first_repro: subprocess.CompletedProcess[str] | None = None

    def run(
        self, *command: str, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        return run_in(self.root, self.env, *command, check=check, timeout=timeout)

    def make(
        self, *targets: str, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        return self.run("make", *targets, check=check, timeout=timeout)

    def python(self, code: str) -> str:
        """Run code with the project's own interpreter, against its MLflow server."""
        uri = f"http://127.0.0.1:{self.port}"
        done = subprocess.run(
            ["uv", "run", "--locked", "python", "-c", code],
            cwd=self.root,
            env={**self.env, "MLFLOW_TRACKING_URI": uri},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    def runs(self) -> list[dict[str, object]]:
        """Every run of the project's experiment, as the MLflow server reports them."""
        code = (
            "import json, mlflow\n"
            f"runs = mlflow.search_runs(experiment_names=['{CLI}'], output_format='list')\n"
            "print(json.dumps([{'id': r.info.run_id, 'tags': r.data.tags,"
            " 'metrics': r.data.metrics} for r in runs]))"
        )
        return list(json.loads(self.python(code)))
