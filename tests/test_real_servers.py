"""A baked project against the servers teams run: MLflow on PostgreSQL with its artifacts in
an S3 bucket, and the DVC remote in the same bucket.

One project is baked for the module and set up by the README's settings alone
(MLFLOW_BACKEND_STORE_URI, MLFLOW_ARTIFACTS_DESTINATION, DVC_REMOTE_URL and the object store's
AWS_* settings); then `make pull repro gate register promote predict drift` runs on it. The
MLflow steps run without any AWS_* setting: artifacts are proxied, so only the server and DVC
hold cloud credentials. Each test makes one claim a user would check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from baked import CLI, TEMPLATE, Project
from cookiecutter.main import cookiecutter
from servers import ObjectStore, Postgres, free_port, object_store, postgres

BUCKET = "models"
MODEL_FILE = "model.ubj"


@dataclass
class Deployment:
    """The servers and the project that runs against them."""

    database: Postgres
    store: ObjectStore
    project: Project  # with the object store's credentials: DVC and the MLflow server
    client: Project  # the same project without them: what the MLflow client steps get


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("real-servers")
    with postgres() as database, object_store(base) as store:
        store.client().create_bucket(Bucket=BUCKET)
        root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(base)))
        project = Project(root, free_port(), base / "unused-dvc-remote")
        project.env.update(
            store.environment,
            MLFLOW_BACKEND_STORE_URI=database.uri,
            MLFLOW_ARTIFACTS_DESTINATION=f"s3://{BUCKET}/mlflow",
            DVC_REMOTE_URL=f"s3://{BUCKET}/dvc",
        )
        client = Project(root, project.port, project.remote)
        client.env = {k: v for k, v in project.env.items() if not k.startswith("AWS_")}
        project.make("setup")
        project.run("git", "add", "-A")
        project.run("git", "commit", "--quiet", "-m", "Start from the template")
        project.make("mlflow-server")
        try:
            project.make("pull")
            client.make("repro", "gate", "register")
            client.env["APPROVED_BY"] = "risk-approver"
            client.make("promote", "TO=staging")
            client.make("promote", "TO=production")
            client.make("predict", "INPUT=data/split/eval.csv")
            client.make("drift", "INPUT=data/split/eval.csv")
            project.make("push")
            yield Deployment(database, store, project, client)
        finally:
            project.make("mlflow-stop", check=False)


def test_runs_and_the_registered_version_are_in_postgresql(deployment: Deployment) -> None:
    database = deployment.database
    finished = database.query("SELECT count(*) FROM runs WHERE status = 'FINISHED'")
    assert int(finished[0][0]) >= 1
    versions = database.query("SELECT name, version FROM model_versions")
    assert versions == [[CLI, "1"]]
    aliases = database.query("SELECT alias, version FROM registered_model_aliases ORDER BY alias")
    assert aliases == [["production", "1"], ["staging", "1"]]


def test_the_model_bytes_in_the_bucket_are_the_registered_digest(deployment: Deployment) -> None:
    """Rule 1 across the real stores: the version's digest (in PostgreSQL) is the sha256 of the
    bytes the server put in the bucket (twice: the training run's model, and registration's
    copy in the registered experiment, where the version points), and the runs reach them only
    through the server."""
    digest = deployment.database.query(
        f"SELECT value FROM model_version_tags WHERE name = '{CLI}' AND key = 'model.sha256'"
    )[0][0]
    source = deployment.database.query(f"SELECT source FROM model_versions WHERE name = '{CLI}'")[
        0
    ][0]
    keys = [k for k in deployment.store.keys(BUCKET, "mlflow/") if k.endswith(f"/{MODEL_FILE}")]
    assert len(keys) == 2
    for key in keys:
        body = deployment.store.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest
    registered = source.removeprefix("mlflow-artifacts:/").rstrip("/")
    assert [k for k in keys if k.startswith(f"mlflow/{registered}/")] != []
    roots = deployment.database.query("SELECT DISTINCT artifact_uri FROM runs")
    assert roots and all(uri.startswith("mlflow-artifacts:/") for (uri,) in roots)


def test_dvc_keeps_data_and_outputs_in_the_bucket(deployment: Deployment) -> None:
    keys = set(deployment.store.keys(BUCKET, "dvc/"))
    pointer = yaml.safe_load((deployment.project.root / "data/raw/loans.csv.dvc").read_text())
    md5 = pointer["outs"][0]["md5"]
    assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in keys
    model = (deployment.project.root / "models" / MODEL_FILE).read_bytes()
    model_md5 = hashlib.md5(model).hexdigest()
    assert f"dvc/files/md5/{model_md5[:2]}/{model_md5[2:]}" in keys


def test_a_fresh_clone_pulls_the_data_back_byte_for_byte(
    deployment: Deployment, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    deployment.project.run("git", "clone", "--quiet", ".", str(clone))
    cloned = Project(clone, deployment.project.port, deployment.project.remote)
    cloned.env = dict(deployment.project.env)
    cloned.make("pull")
    original = deployment.project.root / "data/raw/loans.csv"
    assert (clone / "data/raw/loans.csv").read_bytes() == original.read_bytes()


def test_a_restarted_server_still_has_everything(deployment: Deployment) -> None:
    """Everything lives in PostgreSQL and the bucket: a new server process on the same stores
    serves the same registry, and the production model still loads and scores."""
    deployment.project.make("mlflow-stop", "mlflow-server")
    lineage = deployment.client.make("lineage").stdout
    assert "version 1 [production, staging]" in lineage
    assert "promotion.production.approved_by: risk-approver" in lineage
    scored = deployment.client.make("predict", "INPUT=data/split/eval.csv").stdout
    assert f"with {CLI} version 1" in scored


def test_a_missing_artifact_bucket_is_one_line_saying_where_to_look(
    deployment: Deployment,
) -> None:
    """A mistyped MLFLOW_ARTIFACTS_DESTINATION bucket: the server starts, the client only sees
    HTTP 500s on the first upload. Training says so in one line that points at the server's
    log, which names the bucket. (Last in the module: it retrains the project's model.)"""
    broken = Project(deployment.project.root, free_port(), deployment.project.remote)
    broken.env = {
        **deployment.project.env,
        "MLFLOW_PORT": str(broken.port),
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{broken.port}",
        "MLFLOW_DIR": ".mlflow-missing-bucket",
        "MLFLOW_BACKEND_STORE_URI": "sqlite:///.mlflow-missing-bucket/mlflow.db",
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://no-such-bucket/mlflow",
    }
    broken.make("mlflow-server")
    try:
        trained = broken.run("uv", "run", "--locked", CLI, "train", check=False)
    finally:
        broken.make("mlflow-stop")
    assert trained.returncode == 1
    assert (
        trained.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error: the MLflow server http://127.0.0.1:{broken.port} could not store the run's "
            "artifacts"
        )
    )
    log = (deployment.project.root / ".mlflow-missing-bucket/server.log").read_text()
    assert "NoSuchBucket" in log
