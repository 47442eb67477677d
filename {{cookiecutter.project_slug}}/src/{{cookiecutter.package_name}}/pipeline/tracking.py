"""MLflow tracking: where runs go, and how a training run and its evaluation are recorded.

By default everything goes to the local server that `make mlflow-server` starts; set
MLFLOW_TRACKING_URI to use any other. An unreachable server fails within seconds instead of
the client's default of several minutes of retries.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingInputError, ProjectError

if TYPE_CHECKING:  # for type hints only: pandas and xgboost cost seconds to import
    import pandas as pd
    from xgboost import XGBClassifier

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
# Fail fast: an unreachable or misconfigured server is reported, never waited out for minutes.
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
# A workflow passes every credential as a secret; an unset secret arrives as an empty string.
# An empty URI (fork and Dependabot pull requests get no secrets) must fail, never fall back to
# the local default server. Empty credentials are dropped: a server without authentication
# needs none, and one with it refuses us, which fails just as closed.
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


class TrackingUnavailable(ProjectError):
    """The tracking server cannot be reached or refused us."""


class ArtifactStoreError(TrackingUnavailable):
    """The tracking server answers, but its artifact store (a bucket, a folder) refused."""


@contextmanager
def artifacts_stored() -> Iterator[None]:
    """An artifact upload the server could not complete is one line saying where to look:
    the client only sees HTTP 500s, the reason (a missing bucket, the server's credentials) is
    in the server's own log."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        if "mlflow-artifacts" not in str(error):
            raise
        import mlflow

        raise ArtifactStoreError(
            f"the MLflow server {public_uri(mlflow.get_tracking_uri())} could not store the run's "
            "artifacts: its artifact store refused them (a bucket that does not exist, or cloud "
            "credentials the server lacks?); the reason is in the server's log (.mlflow/"
            "server.log for `make mlflow-server`, whose store is MLFLOW_ARTIFACTS_DESTINATION)"
        ) from None


@dataclass(frozen=True)
class RunInfo:
    """What evaluate (and later the gate and registry) need to find a training run."""

    run_id: str
    experiment_id: str
    model_uri: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunInfo:
        if not path.exists():
            raise MissingInputError(f"{path}: no training run recorded (run the train stage first)")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def tracking_uri() -> str:
    """The server to use: MLFLOW_TRACKING_URI, or the local default when it is not set."""
    if os.environ.get("MLFLOW_TRACKING_URI") == "":
        raise TrackingUnavailable(
            "MLFLOW_TRACKING_URI set but empty: the registry secrets are missing "
            "(pull requests from forks and Dependabot get no secrets), so nothing can be checked"
        )
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def public_uri(uri: str) -> str:
    """The server's address without what may be secret in it (user:password@, a query)."""
    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit((parts.scheme, f"{host}{port}", parts.path, "", ""))


def without_secrets(text: str) -> str:
    """Text for a report or an artifact: the tracking URI (which may carry credentials) and
    the tracking credentials themselves replaced by what is safe to show."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or ""
    if uri:
        text = text.replace(uri, public_uri(uri))
    secrets = [os.environ.get(name) or "" for name in CREDENTIAL_VARIABLES]
    secrets.append(urllib.parse.urlsplit(uri).password or "")
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def configure() -> str:
    """Point MLflow at the tracking server with fail-fast client settings; return its URI."""
    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    for name in CREDENTIAL_VARIABLES:
        if os.environ.get(name) == "":
            del os.environ[name]
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return uri


def check_tracking(uri: str, wait_seconds: float = 0.0) -> None:
    """Raise TrackingUnavailable unless the server answers its health check, polling for up to
    `wait_seconds`. Non-HTTP URIs (sqlite:, databricks) are checked by their first use."""
    if not uri.startswith(("http://", "https://")):
        return
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            problem = str(getattr(error, "reason", error))
        if time.monotonic() >= deadline:
            raise TrackingUnavailable(
                f"MLflow tracking server {public_uri(uri)} is not reachable: {problem}"
            )
        time.sleep(1)


def check_port_free(host: str, port: int) -> None:
    """Raise TrackingUnavailable when something already listens on host:port: a server
    started there would fail, and the health check would find the other one."""
    with socket.socket() as probe:
        probe.settimeout(2)
        taken = probe.connect_ex((host, port)) == 0
    if taken:
        raise TrackingUnavailable(
            f"port {port} on {host} is taken (another MLflow server?): stop it, or choose "
            f"another port, e.g. MLFLOW_PORT={port + 50} make mlflow-server"
        )


def pull_request_experiment(experiment: str) -> str:
    """Where pull requests' training runs go: their credential may write there, and nothing
    that registration reads or that serves lives there."""
    return f"{experiment}-pull-requests"


def training_experiment(experiment: str) -> str:
    """The experiment a training run is logged to. A run for a pull request (GitHub, and act,
    set GITHUB_EVENT_NAME) goes to the pull requests' own experiment; every other run, the
    default branch's included, to `experiment`, where only the default branch's credential may
    write and from which registration registers."""
    if os.environ.get("GITHUB_EVENT_NAME") == "pull_request":
        return pull_request_experiment(experiment)
    return experiment


def _xgboost_requirement() -> str:
    """The model's serving requirement names the xgboost distribution actually installed."""
    for name in ("xgboost-cpu", "xgboost"):
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    raise RuntimeError("xgboost is not installed")


def model_requirements() -> list[str]:
    """Explicit pip requirements: inferring them costs seconds per logged model."""
    pinned = [f"{name}=={metadata.version(name)}" for name in ("pandas", "numpy", "scikit-learn")]
    return [_xgboost_requirement(), *pinned]


def log_training_run(
    experiment: str,
    model: XGBClassifier,
    params: dict[str, Any],
    tags: dict[str, str],
    example: pd.DataFrame,
    metrics: dict[str, float],
    plots: list[Path],
) -> RunInfo:
    """Record params, lineage tags, the model itself, its evaluation metrics and plots (as data)
    as one MLflow run."""
    import mlflow
    from mlflow.models import infer_signature

    # uv's environments have no pip: MLflow then warns at every train that conda.yaml names pip
    # without a version. The model's requirements are pinned here; that line says nothing.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.set_tags(tags)
        signature = infer_signature(example, model.predict_proba(example)[:, 1])
        with artifacts_stored():
            logged = mlflow.xgboost.log_model(
                model,
                name="model",
                signature=signature,
                pip_requirements=model_requirements(),
            )
            mlflow.log_metrics(metrics)
            for plot in plots:
                mlflow.log_artifact(str(plot), artifact_path="plots")
    return RunInfo(
        run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        model_uri=logged.model_uri,
    )
