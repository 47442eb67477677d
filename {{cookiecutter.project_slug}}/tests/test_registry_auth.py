"""Against a real MLflow server with authentication on, wrong credentials end the gate red with
one line, never a pass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from conftest import Lab, running_mlflow_server

from {{ cookiecutter.package_name }} import gate, registry

ADMIN_PASSWORD = "the-right-password-1234"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server --app-name basic-auth`: MLflow's own user/password authentication."""
    root = tmp_path_factory.mktemp("mlflow-auth")
    secrets = {
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,  # MLflow ships no default admin password
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,  # required for its CSRF protection
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
    assert result["verdict"] == "error"
    (reason,) = result["errors"]
    assert "refused our credentials" in reason
    assert "\n" not in reason


def test_right_credentials_are_accepted(auth_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same server answers registry questions with the right password, so the failure
    above is about credentials, not a broken server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    assert registry.champion(registry.connect(), "nothing-registered-yet") is None
