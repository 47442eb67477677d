"""The MLflow model registry, our way: aliases named like the GitHub Environments.

- `staging` and `production` are aliases; `production` is the champion. `staging` follows every
  merge; `production` moves only as deploy/production.yaml in git declares (deploy.py).
- `previous-production` is the version `production` last pointed at (for people: a rollback's
  target comes from git's history of deploy/).
- A version is its model's bytes: the sha256 the gate scored is written on it at registration
  (a record for people: a tag any registry writer can rewrite), and every load fetches the
  bytes, checks them against a digest from a trusted source (git's deploy/production.yaml for
  what serves: production.py; the gate's result at registration), and loads them with XGBoost.
- A commit is registered once; an existing version for it counts only if it holds the bytes
  the gate scored.
- Which commit is newer is git's answer (ancestry on the default branch), never a tag's: an
  older commit never replaces a newer one (aliases.py holds the rule; deploy.py applies it).

Every problem is a RegistryError with one line of reason; nothing here passes by default.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProjectError
from ..pipeline import tracking, training
from ..vocabulary import GIT_COMMIT_TIME, GIT_DIRTY, GIT_SHA, MODEL_SHA256, REGISTERED_FROM_RUN

if TYPE_CHECKING:
    from xgboost import XGBClassifier

STAGING = "staging"
PRODUCTION = "production"
PREVIOUS = "previous-production"
CANDIDATE = "candidate"  # a rollout's candidate, applied by deploy beside production
ALIAS_ATTEMPTS = 5
MODEL_FILE = "model.ubj"  # the file MLflow's XGBoost flavour stores the model's bytes in
VERSION_FOLDER = "model"  # where a registered version's copy of the model lives in its run


class RegistryError(ProjectError):
    """The registry cannot answer, refused, or is in a state we must not act on."""


@dataclass(frozen=True)
class Version:
    """A registered model version with what we need to reason about it."""

    name: str
    number: int
    run_id: str
    tags: dict[str, str]
    aliases: tuple[str, ...] = ()

    @property
    def git_sha(self) -> str:
        return self.tags.get(GIT_SHA, "unknown")

    @property
    def commit_time(self) -> int:
        """When its commit was made, as its run recorded it: for a model's age, never for
        deciding which version is newer (a tag anyone with registry access could set)."""
        return int(self.tags.get(GIT_COMMIT_TIME, "0") or 0)

    @property
    def digest(self) -> str:
        return self.tags.get(MODEL_SHA256, "")

    @property
    def label(self) -> str:
        return f"{self.name} version {self.number}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.number,
            "run_id": self.run_id,
            "aliases": list(self.aliases),
            "tags": dict(sorted(self.tags.items())),
        }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def registry_errors(action: str) -> Iterator[None]:
    """Turn MLflow's exceptions into one line that says what we were doing and why it failed."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        code = getattr(error, "error_code", "")
        if code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            reason = "the registry refused our credentials"
        else:
            reason = (str(error).strip().splitlines() or [code])[0]
        raise RegistryError(f"{action}: {reason} ({code})") from None


def _download_model_file(artifact_uri: str, action: str) -> bytes:
    """The model file under an MLflow artifact location (a logged model's or a version's)."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder, registry_errors(action):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{artifact_uri.rstrip('/')}/{MODEL_FILE}", dst_path=folder
        )
        return Path(local).read_bytes()


def logged_model_bytes(client: Any, run: tracking.RunInfo) -> bytes:
    """The model bytes a training run logged to MLflow (what registration would register)."""
    model_id = run.model_uri.removeprefix("models:/")
    with registry_errors(f"reading the model logged by run {run.run_id}"):
        location = client.get_logged_model(model_id).artifact_location
    return _download_model_file(location, f"fetching the model logged by run {run.run_id}")


def version_bytes(client: Any, version: Version, digest: str, source: str) -> bytes:
    """A registered version's model bytes, checked against `digest`, which comes from `source`:
    git's deploy/production.yaml for what serves, the gate's result at registration, never a
    registry tag alone (anyone who may write the registry can rewrite a tag, and anyone who
    may write the artifact store can replace the bytes)."""
    if not digest:
        raise RegistryError(
            f"{source} gives no sha256 for {version.label}: nothing says which bytes are the "
            "model; refusing to load it"
        )
    with registry_errors(f"locating {version.label}"):
        location = client.get_model_version_download_uri(version.name, str(version.number))
    content = _download_model_file(location, f"fetching {version.label}")
    found = training.model_digest(content)
    if found != digest:
        raise RegistryError(
            f"{version.label}: the stored model's sha256 is {found[:16]}..., not the "
            f"{digest[:16]}... {source} holds: its bytes are not the model that was approved; "
            "refusing to load it"
        )
    return content


def load_model(client: Any, version: Version, digest: str, source: str) -> XGBClassifier:
    """The model a registered version holds: its bytes checked against `digest` (from
    `source`), loaded by XGBoost itself."""
    return training.model_from_bytes(version_bytes(client, version, digest, source))


def connect() -> Any:
    """A client for the configured server, after checking that it answers."""
    uri = tracking.configure()
    tracking.check_tracking(uri)
    from mlflow import MlflowClient

    return MlflowClient()


def _as_version(found: Any, name: str, alias_map: dict[str, int]) -> Version:
    """Our Version from MLflow's ModelVersion; aliases come from the registered model, because
    search results carry none."""
    number = int(found.version)
    return Version(
        name=name,
        number=number,
        run_id=found.run_id or "",
        tags=dict(found.tags),
        aliases=tuple(sorted(a for a, n in alias_map.items() if n == number)),
    )


def aliases(client: Any, name: str) -> dict[str, int]:
    """alias -> version number; empty when the model is not registered yet."""
    with registry_errors(f"reading registered model {name!r}"):
        try:
            model = client.get_registered_model(name)
        except Exception as error:
            if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
    return {alias: int(number) for alias, number in model.aliases.items()}


def all_versions(client: Any, name: str) -> list[Version]:
    """Every version of the model, oldest first."""
    by_alias = aliases(client, name)
    with registry_errors(f"listing versions of {name!r}"):
        found = client.search_model_versions(f"name = '{name}'")
    return sorted((_as_version(v, name, by_alias) for v in found), key=lambda v: v.number)


def get_version(client: Any, name: str, number: int) -> Version:
    by_alias = aliases(client, name)
    with registry_errors(f"reading {name} version {number}"):
        return _as_version(client.get_model_version(name, str(number)), name, by_alias)


def by_alias(client: Any, name: str, alias: str) -> Version | None:
    """The version an alias points at, or None when the alias is not set."""
    number = aliases(client, name).get(alias)
    return None if number is None else get_version(client, name, number)


def versions_for_commit(client: Any, name: str, sha: str) -> list[Version]:
    """The versions tagged as trained from this commit, oldest first."""
    return [v for v in all_versions(client, name) if v.git_sha == sha]


def create_registered_model(client: Any, name: str) -> bool:
    """Create the registered model unless it exists (a concurrent caller may win); whether
    this call created it."""
    try:
        client.create_registered_model(name)
    except Exception as error:
        if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise
        return False
    return True


def experiment_id(client: Any, name: str) -> tuple[str, bool]:
    """The experiment's id, created where missing (a concurrent caller may create it first);
    whether this call created it."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id), False
    try:
        return str(client.create_experiment(name)), True
    except Exception as error:
        if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise
    return str(client.get_experiment_by_name(name).experiment_id), False


def _accepted(existing: Version, digest: str) -> Version:
    """An existing version of this commit stands for the gated model only if it holds the
    gated bytes; one with other bytes under this commit's name is a look-alike."""
    if existing.digest != digest:
        raise RegistryError(
            f"{existing.label} claims commit {existing.git_sha[:12]} but holds model "
            f"{existing.digest[:16] or 'with no digest'}, not the gated {digest[:16]}...: "
            "refusing to treat it as this commit's model (who registered it? delete it, "
            "then register again)"
        )
    return existing


def register(
    client: Any,
    name: str,
    run: tracking.RunInfo,
    digest: str,
    lineage: dict[str, str],
    extra_tags: dict[str, str],
) -> tuple[Version, bool]:
    """Register the bytes the gate scored (digest) from the run that logged them, once per
    commit, with the `lineage` the caller computed and checked (never copied from the run's
    tags, which anyone who may log runs can rewrite). Aliases are not touched: `staging`
    moves in the staging job (promote).

    Returns the version and whether it was created now. Concurrent registrations of the same
    commit can both create a version; the later ones are deleted again, so one survives.
    """
    sha = lineage.get(GIT_SHA, "none")
    if sha == "none" or lineage.get(GIT_DIRTY) != "false":
        raise RegistryError(
            f"run {run.run_id} was not trained from a clean git commit (sha {sha}, dirty "
            f"{lineage.get(GIT_DIRTY)}): only committed work can be registered"
        )
    existing = versions_for_commit(client, name, sha)
    if existing:
        accepted = _accepted(existing[0], digest)
        version_bytes(client, accepted, digest, "the gate")  # its bytes, not only its tag
        return accepted, False
    logged = training.model_digest(logged_model_bytes(client, run))
    if logged != digest:
        raise RegistryError(
            f"run {run.run_id} logged a model with sha256 {logged[:16]}..., not the "
            f"{digest[:16]}... the gate scored: refusing to register other bytes"
        )

    tags = {**lineage, **extra_tags, MODEL_SHA256: digest, "registered_at": now()}
    with registry_errors(f"registering {name} from run {run.run_id}"):
        create_registered_model(client, name)
        kept = _keep_for_the_registry(client, name, run, digest, lineage)
        # The client call, not mlflow.register_model: that one also tags the run's logged
        # model, which would need the registering credential to write the experiment too.
        created = client.create_model_version(
            name, f"{kept.info.artifact_uri}/{VERSION_FOLDER}", run_id=kept.info.run_id, tags=tags
        )
    survivor = versions_for_commit(client, name, sha)[0]
    if survivor.number != int(created.version):
        with registry_errors(f"removing duplicate version {created.version}"):
            client.delete_model_version(name, created.version)
        return _accepted(survivor, digest), False
    version = get_version(client, name, int(created.version))
    version_bytes(client, version, digest, "the gate")  # what was registered is what was gated
    return version, True


def registered_experiment(model_name: str) -> str:
    """The experiment that holds the registered versions' bytes. Only registration writes it
    (make registry-setup grants the write credential alone EDIT there), so nobody who may log
    training runs (the pull requests' credential) can replace or delete what a version is."""
    return f"{model_name}-registered"


def _keep_for_the_registry(
    client: Any, name: str, run: tracking.RunInfo, digest: str, lineage: dict[str, str]
) -> Any:
    """A run in the registered experiment holding a copy of the model `run` logged, checked
    against the gate's digest: the version is registered from it, not from the training run,
    whose experiment the pull requests' credential may write."""
    import mlflow

    # Created here only where make registry-setup did not (a server without users).
    kept_in, _ = experiment_id(client, registered_experiment(name))
    location = client.get_logged_model(run.model_uri.removeprefix("models:/")).artifact_location
    with tempfile.TemporaryDirectory() as folder:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=folder))
        copied = training.model_digest((local / MODEL_FILE).read_bytes())
        if copied != digest:
            raise RegistryError(
                f"run {run.run_id}'s model changed while it was copied for registration (sha256 "
                f"{copied[:16]}..., not the gate's {digest[:16]}...): refusing to register it"
            )
        kept = client.create_run(kept_in, tags={**lineage, REGISTERED_FROM_RUN: run.run_id})
        client.log_artifacts(kept.info.run_id, str(local), VERSION_FOLDER)
    client.set_terminated(kept.info.run_id)
    return kept


def training_run_of(client: Any, version: Version) -> str:
    """The training run a version's bytes were copied from, as its registration run records it
    (in the registered experiment, which only registration writes)."""
    with registry_errors(f"reading the registration run of {version.label}"):
        tags = client.get_run(version.run_id).data.tags
    return str(tags.get(REGISTERED_FROM_RUN, ""))


def evaluation_figures(client: Any, name: str, number: int) -> dict[str, float]:
    """A version's metrics on the evaluation split, as the gate measured them: its
    registration run records them (only registration writes there); a version registered
    before that has them on its training run."""
    version = get_version(client, name, number)
    with registry_errors(f"reading the evaluation metrics of {version.label}"):
        figures = dict(client.get_run(version.run_id).data.metrics)
        training = "" if figures else training_run_of(client, version)
        if training:
            figures = dict(client.get_run(training).data.metrics)
    if not figures:
        raise RegistryError(f"{version.label} records no evaluation metrics to judge it against")
    return {metric: float(value) for metric, value in figures.items()}


def set_tags(client: Any, name: str, number: int, tags: dict[str, str]) -> None:
    with registry_errors(f"tagging {name} version {number}"):
        for key, value in tags.items():
            client.set_model_version_tag(name, str(number), key, value)
