"""Against a real MLflow server with authentication on: wrong credentials end the gate red with
one line, never a pass, and the read credential pull requests hold cannot change the registry."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Lab, running_mlflow_server

from {{ cookiecutter.package_name }} import gate, registry, training
from {{ cookiecutter.package_name }}.cli import main
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


def refused(action: Callable[[], object]) -> bool:
    """Whether the server refuses `action` for the credential in use (MLflow's error, or the
    artifact proxy's 403); any other failure is a failure of the test."""
    from mlflow.exceptions import MlflowException
    from requests import HTTPError

    try:
        action()
    except (MlflowException, registry.RegistryError, HTTPError) as error:
        text = f"{getattr(error, 'error_code', '')} {error}"
        said = ("PERMISSION_DENIED", "refused our credentials", "403 Client Error")
        assert any(words in text for words in said), text
        return True
    return False


@pytest.fixture
def set_up(
    auth_server: str, tmp_params: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Lab, dict[str, str]]:
    """A fresh model name on the basic-auth server, its read and write users created by the
    admin, and the admin's credential in the environment, as the README's set-up has it."""
    from mlflow.server.auth.client import AuthServiceClient

    as_user(monkeypatch, auth_server, "admin", ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:8]
    passwords = {f"reader-{tag}": "reader-password-5678", f"writer-{tag}": "writer-password-9012"}
    for user, password in passwords.items():
        AuthServiceClient(auth_server).create_user(user, password)
    base = load_settings(tmp_params)
    name = f"model-{tag}"
    tracked = base.tracking.model_copy(update={"model_name": name, "experiment": name})
    return Lab(base.model_copy(update={"tracking": tracked}), Path.cwd()), passwords


def test_after_registry_setup_the_read_credential_cannot_change_what_serves(
    set_up: tuple[Lab, dict[str, str]],
    auth_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After `make registry-setup`, the read credential (what pull requests and drift hold)
    logs runs and loads production, but the server refuses it everything a registered version
    depends on: a new version, a tag, an alias, and writing, deleting or renaming the run and
    experiment that hold the version's bytes. The write credential registers under exactly
    these grants, model card included, and moves the alias (MLflow cannot separate the two)."""
    lab, passwords = set_up
    reader, writer = passwords
    name = lab.name
    params = lab.params_file(Path("lab-params.yaml"))
    argv = ["--params", str(params), "registry-setup", f"--reader={reader}", f"--writer={writer}"]
    assert main(argv) == 0
    said = capsys.readouterr().out.splitlines()
    assert said == [
        f"experiment {name}: created; {reader} EDIT, {writer} READ",
        f"experiment {registry.registered_experiment(name)}: created; {writer} EDIT, {reader} READ",
        f"registered_model {name}: created; {writer} EDIT, {reader} READ",
    ]

    as_user(monkeypatch, auth_server, reader, passwords[reader])
    run = lab.candidate(lab.commit(1), 100)  # the reader may log training runs
    digest = training.model_digest(registry.logged_model_bytes(registry.connect(), run))
    lineage = lab.run_lineage[run.run_id]
    assert refused(lambda: registry.register(registry.connect(), name, run, digest, lineage, {}))

    as_user(monkeypatch, auth_server, writer, passwords[writer])
    version, created = registry.register(registry.connect(), name, run, digest, lineage, {})
    assert created
    client = registry.connect()
    client.log_text(version.run_id, "the card", "model_card.md")  # registration's card
    kept = client.get_run(version.run_id)

    as_user(monkeypatch, auth_server, reader, passwords[reader])
    client = registry.connect()
    assert registry.load_model(client, version, digest, "the gate").get_booster().num_features()
    attempts = {
        "new version": lambda: client.create_model_version(name, kept.info.artifact_uri),
        "alias": lambda: client.set_registered_model_alias(name, "production", "1"),
        "tag": lambda: client.set_model_version_tag(name, "1", registry.DIGEST_TAG, "0" * 64),
        "overwrite bytes": lambda: client.log_text(version.run_id, "x", "model/model.ubj"),
        "delete run": lambda: client.delete_run(version.run_id),
        "rename experiment": lambda: client.rename_experiment(kept.info.experiment_id, "gone"),
        "delete experiment": lambda: client.delete_experiment(kept.info.experiment_id),
        "delete version": lambda: client.delete_model_version(name, "1"),
        "new model": lambda: client.create_registered_model(f"{name}-mine"),
    }
    allowed = [what for what, action in attempts.items() if not refused(action)]
    assert allowed == ["new model"]  # a model of its own name changes nothing that serves
    assert registry.version_bytes(client, version, digest, "the gate")

    as_user(monkeypatch, auth_server, writer, passwords[writer])
    registry.serve(registry.connect(), name, version, digest, {})
    assert registry.aliases(registry.connect(), name) == {registry.PRODUCTION: version.number}


def test_registry_setup_refuses_a_model_the_read_credential_created_first(
    set_up: tuple[Lab, dict[str, str]],
    auth_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Where a pull request's credential created the registered model before the set-up (and so
    manages it), registry-setup stops naming it and what to do, instead of granting around it."""
    lab, passwords = set_up
    reader, writer = passwords
    as_user(monkeypatch, auth_server, reader, passwords[reader])
    registry.connect().create_registered_model(lab.name)
    as_user(monkeypatch, auth_server, "admin", ADMIN_PASSWORD)
    params = lab.params_file(Path("lab-params.yaml"))
    argv = ["--params", str(params), "registry-setup", f"--reader={reader}", f"--writer={writer}"]
    assert main(argv) == 1
    assert (
        f"registered_model {lab.name} already exists and {reader} manages it (it created it)"
        in capsys.readouterr().err
    )
