"""`make registry-setup`: the MLflow server's experiments and registered model, made by the
admin before any other credential exists, with each credential granted exactly what its jobs do.

With MLflow's basic auth, any authenticated user may create a registered model or an experiment
and becomes its MANAGE holder; a grant made beforehand does not stop it. So the admin creates:
- the training experiment (`tracking.experiment`): main's pipeline logs the runs registration
  registers from, with the write credential (EDIT); the read credential reads them (READ);
- the pull requests' experiment (`<experiment>-pull-requests`): the read credential logs pull
  requests' runs there (EDIT); nothing registered depends on it;
- the registered experiment (registry.registered_experiment): registration keeps each version's
  bytes there; only the write credential writes it (EDIT), the read one reads (READ);
- the registered model: the write credential registers and moves aliases (EDIT), the read one
  loads the champion (READ).
A resource that serving depends on and that already exists managed by the read or the write
credential (it created it) is refused: its holder could change what serves. The grants are read
back and printed.
"""

from __future__ import annotations

from typing import Any

from ..control import registry
from ..errors import ProjectError
from ..pipeline import tracking
from ..settings import Settings

READ, EDIT, MANAGE = "READ", "EDIT", "MANAGE"


class RegistrySetupError(ProjectError):
    """The server cannot be set up as the trust model needs."""


def _one_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0]


def _grant(users: Any, user: str, kind: str, resource: str, level: str) -> str:
    """Give `user` exactly `level` on the resource and read it back."""
    try:
        users.grant_user_permission(user, kind, resource, level)
    except Exception as error:
        if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise
        users.revoke_user_permission(user, kind, resource)
        users.grant_user_permission(user, kind, resource, level)
    found = str(users.get_user_permission(user, kind, resource).permission)
    if found != level:
        raise RegistrySetupError(
            f"{kind} {resource}: {user} was granted {level} but the server reports {found}"
        )
    return found


def _existing_user(users: Any, user: str) -> None:
    try:
        users.get_user(user)
    except Exception as error:
        if getattr(error, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise RegistrySetupError(
            f"MLflow user {user!r} does not exist on the server: the admin creates it first "
            "(README: Set up once)"
        ) from None


def _refuse_if_taken(
    users: Any, holders: tuple[str, str], kind: str, resource: str, made: bool
) -> None:
    """A resource that existed before the set-up must not be managed by a workflow credential:
    whoever created it manages it, and could change what serves."""
    if made:
        return
    for user in holders:
        if users.get_user_permission(user, kind, resource).permission == MANAGE:
            raise RegistrySetupError(
                f"{kind} {resource} already exists and {user} manages it (it created it): it "
                "could change what serves; as the admin, delete it (or rename it), then run "
                "make registry-setup again"
            )


def setup(settings: Settings, reader: str, writer: str) -> list[str]:
    """Create the experiments and the model, grant the two credentials, read the grants back.
    Run with the server's admin credential in MLFLOW_TRACKING_USERNAME/PASSWORD."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    if not reader or not writer:
        raise RegistrySetupError(
            "name both MLflow users: MLFLOW_READ_USERNAME and MLFLOW_WRITE_USERNAME (the users "
            "the workflows' secrets hold)"
        )
    if reader == writer:
        raise RegistrySetupError(
            "the read and the write credential are the same user: pull requests would hold "
            "the write one; create two users"
        )
    uri = tracking.configure()
    tracking.check_tracking(uri)
    client, users = MlflowClient(), AuthServiceClient(uri)
    name = settings.tracking.model_name
    try:
        for user in (reader, writer):
            _existing_user(users, user)
        experiment = settings.tracking.experiment
        training, made_training = registry.experiment_id(client, experiment)
        kept_name = registry.registered_experiment(name)
        kept, made_kept = registry.experiment_id(client, kept_name)
        made_model = registry.create_registered_model(client, name)
        serving = {
            ("experiment", training): made_training,
            ("experiment", kept): made_kept,
            ("registered_model", name): made_model,
        }
        for (kind, resource), made in serving.items():
            _refuse_if_taken(users, (reader, writer), kind, resource, made)
        pulls_name = tracking.pull_request_experiment(experiment)
        pulls, made_pulls = registry.experiment_id(client, pulls_name)
        created = {**serving, ("experiment", pulls): made_pulls}
        plan = [
            ("experiment", training, experiment, {writer: EDIT, reader: READ}),
            ("experiment", pulls, pulls_name, {reader: EDIT}),
            ("experiment", kept, kept_name, {writer: EDIT, reader: READ}),
            ("registered_model", name, name, {writer: EDIT, reader: READ}),
        ]
        lines = []
        for kind, resource, label, grants in plan:
            given = {user: _grant(users, user, kind, resource, lvl) for user, lvl in grants.items()}
            what = "created" if created[(kind, resource)] else "existed"
            lines.append(
                f"{kind} {label}: {what}; " + ", ".join(f"{u} {p}" for u, p in given.items())
            )
    except MlflowException as error:
        code = getattr(error, "error_code", "")
        if code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            raise RegistrySetupError(
                "the server refused the credential: run make registry-setup with the admin's "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic-auth server)"
            ) from None
        raise RegistrySetupError(f"registry set-up failed: {_one_line(error)} ({code})") from None
    return lines
