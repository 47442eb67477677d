"""The README's first command: `make demo` bakes the default project and runs its pipeline on
a local MLflow server, printing where to look."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from test_baked_project import TEMPLATE, clean_env, free_port


def test_make_demo_runs_the_pipeline_and_says_where_to_look(tmp_path: Path) -> None:
    """`make demo` ends with the project path, the MLflow UI address and the metrics file, and
    the metrics it points at exist."""
    port = free_port()
    demo_dir = tmp_path / "demo"
    project = demo_dir / "credit-default-model"
    env = clean_env(DEMO_DIR=str(demo_dir), MLFLOW_PORT=str(port))
    env.pop("MAKEFLAGS", None)
    try:
        done = subprocess.run(
            ["make", "demo"], cwd=TEMPLATE, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"Project:   {project}" in done.stdout
        assert f"MLflow UI: http://127.0.0.1:{port}" in done.stdout
        metrics = json.loads((project / "reports/metrics.json").read_text())
        assert metrics["roc_auc"] > 0.6
    finally:
        subprocess.run(
            ["make", "-C", str(project), "mlflow-stop"],
            env={**os.environ, "MLFLOW_PORT": str(port)},
            capture_output=True,
            check=False,
        )
