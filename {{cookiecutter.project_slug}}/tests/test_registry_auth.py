"""Against a real MLflow server with authentication on: wrong credentials end the gate red with
one line, never a pass, and the read credential pull requests hold cannot change the registry."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, Lab, running_mlflow_server
from fake_github import TOKEN, FakeGitHub, serving

from {{ cookiecutter.package_name }} import vocabulary
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.control import aliases, gate, registry
from {{ cookiecutter.package_name }}.pipeline import tracking, training
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
    logs pull requests' runs in their own experiment and loads production, but the server
    refuses it everything a registered version depends on: a run in the training experiment,
    a new version, a tag, an alias, and writing, deleting or renaming the runs and experiments
    that registration reads or that hold the version's bytes. The write credential trains
    (main's pipeline), registers under exactly these grants, model card included, and moves the
    alias (MLflow cannot separate the two)."""
    lab, passwords = set_up
    reader, writer = passwords
    name = lab.name
    pulls = tracking.pull_request_experiment(name)
    params = lab.params_file(Path("lab-params.yaml"))
    argv = ["--params", str(params), "registry-setup", f"--reader={reader}", f"--writer={writer}"]
    assert main(argv) == 0
    said = capsys.readouterr().out.splitlines()
    assert said == [
        f"experiment {name}: created; {writer} EDIT, {reader} READ",
        f"experiment {pulls}: created; {reader} EDIT",
        f"experiment {registry.registered_experiment(name)}: created; {writer} EDIT, {reader} READ",
        f"registered_model {name}: created; {writer} EDIT, {reader} READ",
    ]

    as_user(monkeypatch, auth_server, reader, passwords[reader])
    assert refused(lambda: lab.candidate(lab.commit(1), 100))  # main's experiment: not its own
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    theirs = lab.candidate(lab.commit(1), 100)  # a pull request's run
    assert registry.connect().get_experiment(theirs.experiment_id).name == pulls
    monkeypatch.delenv("GITHUB_EVENT_NAME")

    as_user(monkeypatch, auth_server, writer, passwords[writer])
    run = lab.candidate(lab.commit(1), 100)  # main's pipeline
    digest = training.model_digest(registry.logged_model_bytes(registry.connect(), run))
    lineage = lab.run_lineage[run.run_id]

    as_user(monkeypatch, auth_server, reader, passwords[reader])
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
        "tag": lambda: client.set_model_version_tag(name, "1", vocabulary.MODEL_SHA256, "0" * 64),
        "overwrite bytes": lambda: client.log_text(version.run_id, "x", "model/model.ubj"),
        "delete run": lambda: client.delete_run(version.run_id),
        "rename experiment": lambda: client.rename_experiment(kept.info.experiment_id, "gone"),
        "delete experiment": lambda: client.delete_experiment(kept.info.experiment_id),
        "delete version": lambda: client.delete_model_version(name, "1"),
        "retag main's run": lambda: client.set_tag(run.run_id, "lineage.git_sha", "0" * 40),
        "overwrite main's model": lambda: client.log_text(run.run_id, "x", "model/model.ubj"),
        "delete main's run": lambda: client.delete_run(run.run_id),
        "delete main's experiment": lambda: client.delete_experiment(run.experiment_id),
        "new model": lambda: client.create_registered_model(f"{name}-mine"),
    }
    allowed = [what for what, action in attempts.items() if not refused(action)]
    assert allowed == ["new model"]  # a model of its own name changes nothing that serves
    assert registry.version_bytes(client, version, digest, "the gate")

    as_user(monkeypatch, auth_server, writer, passwords[writer])
    aliases.serve(registry.connect(), name, version, digest, {})
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


def readme_setup_commands(readme: str) -> list[str]:
    """The shell commands of the README's "Set up once" list, in the order a person meets them:
    its fenced bash blocks (continued lines joined) and the `make` commands that are a step."""
    section = readme[readme.index("Set up once") : readme.index("| secret |")]
    pattern = r"```bash\n(.*?)```|^\d+\. `([^`\n]*make [^`\n]*)`"
    found = re.finditer(pattern, section, re.DOTALL | re.MULTILINE)
    return [
        re.sub(r"\\\n\s*", "", block or inline).strip()
        for block, inline in (match.groups() for match in found)
    ]


def test_the_readmes_set_up_runs_as_written(
    auth_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's set-up commands, copied literally with its placeholders filled in, run in
    order in this project against a basic-auth MLflow server (the admin made the two users) and
    GitHub: the experiments and the model exist with the grants the README's table gives, and
    GitHub's environments are in force."""
    from mlflow.server.auth.client import AuthServiceClient

    settings = load_settings(PROJECT_ROOT / "params.yaml")
    tag = uuid.uuid4().hex[:8]
    reader, writer = f"reader-{tag}", f"writer-{tag}"
    as_user(monkeypatch, auth_server, "admin", ADMIN_PASSWORD)
    for user in (reader, writer):
        AuthServiceClient(auth_server).create_user(user, f"{user}-password-5678")
    filled = {
        "<server>": auth_server,
        "<admin>": "admin",
        "<admin password>": ADMIN_PASSWORD,
        "<read user>": reader,
        "<write user>": writer,
        "<admin token>": TOKEN,
    }
    commands = readme_setup_commands((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert [command.split("make ")[1].split()[0] for command in commands] == [
        "registry-setup",
        "github-setup",
    ]
    people = [settings.tracking.model_owner, *settings.github.production_reviewers]
    github = FakeGitHub(repository=settings.github.repository)
    github.users.update({login: 500 + n for n, login in enumerate(people) if "/" not in login})
    for n, team in enumerate(login for login in people if "/" in login):
        github.teams[tuple(team.split("/", 1))] = 600 + n  # type: ignore[index]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    said = []
    with serving(github):
        for command in commands:
            for placeholder, value in filled.items():
                command = command.replace(placeholder, value)
            assert "<" not in command, f"a placeholder nobody fills: {command}"
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=PROJECT_ROOT,
                env={**env, "GITHUB_API_URL": github.url},
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            said.append(done.stdout)
    experiment, name = settings.tracking.experiment, settings.tracking.model_name
    assert f"experiment {experiment}: created; {writer} EDIT, {reader} READ" in said[0]
    pulls = tracking.pull_request_experiment(experiment)
    assert f"experiment {pulls}: created; {reader} EDIT" in said[0]
    assert f"registered_model {name}: created; {writer} EDIT, {reader} READ" in said[0]
    assert {"production", "registry", "monitoring"} <= set(github.environments)
