"""Against a real MLflow server with authentication on: wrong credentials end the gate red with
one line, never a pass, and the read credential pull requests hold cannot change the registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Lab, running_mlflow_server

from {{ cookiecutter.package_name }} import gate, registry, training
from {{ cookiecutter.package_name }}.settings import load_settings

ADMIN_PASSWORD = "the-right-password-1234"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server --app-name basic-auth`: MLflow's own user/password authentication."""
    root = tmp_path_factory.mktemp("mlflow-auth")
    # The server checks the password's scrypt hash on every request (0.1-0.4 s each) unless
    # its credential cache is on: its own opt-in setting, which changes no permission check.
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root / 'basic_auth.db'}\nadmin_username = admin\n"
        "auth_cache_ttl_seconds = 600\n",
        encoding="utf-8",
    )
    secrets = {
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,  # MLflow ships no default admin password
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,  # required for its CSRF protection
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
    }
    with running_mlflow_server(root, "--app-name", "basic-auth", extra_env=secrets) as uri:
        yield uri


def test_wrong_credentials_fail_the_gate_in_one_line(
    lab: Lab, auth_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry that refuses our credentials gives verdict error with the reason."""
    lab.candidate("a" * 40, 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    result = gate.run_gate(lab.settings)
    assert result.verdict == "error"
    (reason,) = result.errors
    assert "refused our credentials" in reason
    assert "\n" not in reason


def test_right_credentials_are_accepted(auth_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same server answers registry questions with the right password, so the failure
    above is about credentials, not a broken server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    assert registry.aliases(registry.connect(), "nothing-registered-yet") == {}


def as_user(monkeypatch: pytest.MonkeyPatch, uri: str, user: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def test_the_read_credential_cannot_register_or_move_an_alias(
    auth_server: str, tmp_params: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the README's credentials on a basic-auth server, the read one (what pull requests
    and drift checks hold) logs runs and loads the champion, but the server refuses it a new
    version and any alias move; the write one (only in the default branch's environments) may
    do both, since MLflow cannot separate them."""
    from mlflow.server.auth.client import AuthServiceClient

    as_user(monkeypatch, auth_server, "admin", ADMIN_PASSWORD)
    users = AuthServiceClient(auth_server)
    passwords = {"reader": "reader-password-5678", "writer": "writer-password-9012"}
    for user, password in passwords.items():
        users.create_user(user, password)
    base = load_settings(tmp_params)
    name = f"model-{uuid.uuid4().hex[:10]}"
    tracked = base.tracking.model_copy(update={"model_name": name, "experiment": name})
    lab = Lab(base.model_copy(update={"tracking": tracked}), Path.cwd())

    registry.connect().create_registered_model(name)
    as_user(monkeypatch, auth_server, "reader", passwords["reader"])
    run = lab.candidate(lab.commit(1), 100)  # the reader may log runs
    # The grants the README's table names: the writer edits the model and reads the runs it
    # registers from, the reader reads the model (the champion it scores).
    as_user(monkeypatch, auth_server, "admin", ADMIN_PASSWORD)
    users.grant_user_permission("writer", "registered_model", name, "EDIT")
    users.grant_user_permission("writer", "experiment", run.experiment_id, "READ")
    users.grant_user_permission("reader", "registered_model", name, "READ")
    as_user(monkeypatch, auth_server, "reader", passwords["reader"])
    client = registry.connect()
    digest = training.model_digest(registry.logged_model_bytes(client, run))
    with pytest.raises(registry.RegistryError, match="refused our credentials"):
        registry.register(client, name, run, digest, lab.run_lineage[run.run_id], {})

    as_user(monkeypatch, auth_server, "writer", passwords["writer"])
    lineage = lab.run_lineage[run.run_id]
    version, created = registry.register(registry.connect(), name, run, digest, lineage, {})
    assert created
    as_user(monkeypatch, auth_server, "reader", passwords["reader"])
    with pytest.raises(registry.RegistryError, match="refused our credentials"):
        registry.serve(registry.connect(), name, version, digest, {})
    assert registry.aliases(registry.connect(), name) == {}
    model = registry.load_model(registry.connect(), version, digest, "the gate")
    assert model.get_booster().num_features() > 0

    as_user(monkeypatch, auth_server, "writer", passwords["writer"])
    registry.serve(registry.connect(), name, version, digest, {})
    assert registry.aliases(registry.connect(), name) == {registry.PRODUCTION: version.number}
