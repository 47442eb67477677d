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
  older commit never replaces a newer one (staging's rule; production's is in deploy.py).

Every problem is a RegistryError with one line of reason; nothing here passes by default.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProjectError
from ..pipeline import tracking, training
from ..pipeline.lineage import History

if TYPE_CHECKING:
    from xgboost import XGBClassifier

STAGING = "staging"
PRODUCTION = "production"
PREVIOUS = "previous-production"
ALIAS_ATTEMPTS = 5
DIGEST_TAG = "model.sha256"
MODEL_FILE = "model.ubj"  # the file MLflow's XGBoost flavour stores the model's bytes in
VERSION_FOLDER = "model"  # where a registered version's copy of the model lives in its run
FROM_RUN_TAG = "registered_from_run"  # on that run: the training run the copy came from


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
        return self.tags.get("lineage.git_sha", "unknown")

    @property
    def commit_time(self) -> int:
        """When its commit was made, as its run recorded it: for a model's age, never for
        deciding which version is newer (a tag anyone with registry access could set)."""
        return int(self.tags.get("lineage.git_commit_time", "0") or 0)

    @property
    def digest(self) -> str:
        return self.tags.get(DIGEST_TAG, "")

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
    sha = lineage.get("lineage.git_sha", "none")
    if sha == "none" or lineage.get("lineage.git_dirty") != "false":
        raise RegistryError(
            f"run {run.run_id} was not trained from a clean git commit (sha {sha}, dirty "
            f"{lineage.get('lineage.git_dirty')}): only committed work can be registered"
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

    tags = {**lineage, **extra_tags, DIGEST_TAG: digest, "registered_at": now()}
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
        kept = client.create_run(kept_in, tags={**lineage, FROM_RUN_TAG: run.run_id})
        client.log_artifacts(kept.info.run_id, str(local), VERSION_FOLDER)
    client.set_terminated(kept.info.run_id)
    return kept


def training_run_of(client: Any, version: Version) -> str:
    """The training run a version's bytes were copied from, as its registration run records it
    (in the registered experiment, which only registration writes)."""
    with registry_errors(f"reading the registration run of {version.label}"):
        tags = client.get_run(version.run_id).data.tags
    return str(tags.get(FROM_RUN_TAG, ""))


def _newest(versions: list[Version], history: History) -> Version | None:
    """The version of the newest commit on the default branch. Per commit only its oldest
    version counts (a newer duplicate from a concurrent registration is about to be deleted);
    a version whose commit is not on the branch is never staging's."""
    first_per_commit: dict[str, Version] = {}
    for version in versions:  # oldest first
        if history.knows(version.git_sha):
            first_per_commit.setdefault(version.git_sha, version)
    if not first_per_commit:
        return None
    return min(first_per_commit.values(), key=lambda v: history.positions[v.git_sha])


def _set_alias_checked(client: Any, name: str, alias: str, number: int) -> None:
    """Set an alias and read it back; concurrent writers are last-writer-wins and sometimes
    fail outright, so retry a bounded number of times."""
    last_problem = ""
    for attempt in range(1, ALIAS_ATTEMPTS + 1):
        try:
            with registry_errors(f"setting alias {alias}"):
                client.set_registered_model_alias(name, alias, str(number))
            if aliases(client, name).get(alias) == number:
                return
            last_problem = f"read back as version {aliases(client, name).get(alias)}"
        except RegistryError as error:
            last_problem = str(error)
        time.sleep(0.2 * attempt)
    raise RegistryError(
        f"alias {alias} could not be set to version {number} after {ALIAS_ATTEMPTS} attempts: "
        f"{last_problem}"
    )


def move_alias(
    client: Any, name: str, alias: str, target: Version, force: bool, history: History
) -> Version | None:
    """Point `alias` at `target`; return the version it pointed at before.

    An older commit never replaces a newer one unless forced: a slow pipeline run for an old
    commit must not overwrite what a newer run already put there. Older means an ancestor on
    the default branch; a commit the branch does not hold cannot be ordered, and is refused.
    """
    current = by_alias(client, name, alias)
    if current is not None and current.number == target.number:
        return current
    if current is not None and not force:
        unknown = [v for v in (target, current) if not history.knows(v.git_sha)]
        if unknown:
            raise RegistryError(
                f"{unknown[0].label} names commit {unknown[0].git_sha[:12]}, which is not on "
                f"{history.ref}: cannot tell whether it is newer than the other; refusing to "
                f"move {alias}"
            )
        if history.is_older(target.git_sha, current.git_sha):
            raise RegistryError(
                f"version {target.number} (commit {target.git_sha[:12]}) is older than "
                f"{alias} version {current.number} (commit {current.git_sha[:12]}): refusing "
                "to move the alias backwards"
            )
    _set_alias_checked(client, name, alias, target.number)
    return current


def set_tags(client: Any, name: str, number: int, tags: dict[str, str]) -> None:
    with registry_errors(f"tagging {name} version {number}"):
        for key, value in tags.items():
            client.set_model_version_tag(name, str(number), key, value)


def promote(
    client: Any,
    name: str,
    to: str,
    number: int | None,
    approvers: list[str],
    force: bool,
    history: History,
) -> tuple[Version, Version | None]:
    """Move alias `to` onto a version (by default: for staging the newest commit's version, for
    production the one `staging` points at), after checking its bytes. For production
    the replaced version keeps the `previous-production` alias, and the approvers and time are
    written on the promoted version. Returns (promoted, replaced)."""
    if number is None and to == STAGING:
        candidate = _newest(all_versions(client, name), history)
        if candidate is None:
            raise RegistryError(
                f"no version of {name} was trained from a commit of {history.ref}: nothing "
                "to stage (is the history fetched? fetch-depth: 0)"
            )
    elif number is None:
        candidate = by_alias(client, name, STAGING)
        if candidate is None:
            raise RegistryError(f"{name} has no '{STAGING}' version to promote")
    else:
        candidate = get_version(client, name, number)
    # staging serves nothing: its bytes are checked against registration's record of them.
    version_bytes(client, candidate, candidate.digest, f"its {DIGEST_TAG} tag")
    replaced = move_alias(client, name, to, candidate, force, history)
    if to == PRODUCTION and replaced is not None and replaced.number != candidate.number:
        _set_alias_checked(client, name, PREVIOUS, replaced.number)
    set_tags(
        client,
        name,
        candidate.number,
        {
            f"promotion.{to}.approved_by": ",".join(approvers) or "nobody recorded",
            f"promotion.{to}.at": now(),
        },
    )
    return get_version(client, name, candidate.number), replaced


def serve(
    client: Any, name: str, target: Version, digest: str, tags: dict[str, str]
) -> Version | None:
    """Point `production` at `target`, whose bytes are checked first against `digest` (what
    deploy/production.yaml declares), and write `tags` on it;
    the version it replaces becomes `previous-production`. Whether the move is allowed
    (approved, not older unless a rollback) is the caller's decision, made beforehand.
    Returns the replaced version, or None."""
    version_bytes(client, target, digest, "deploy/production.yaml")  # only what git declares
    replaced = by_alias(client, name, PRODUCTION)
    if replaced is not None and replaced.number == target.number:
        return None
    # The record first: a move that then fails leaves a record to re-apply, never a
    # production nobody approved on paper.
    set_tags(client, name, target.number, tags)
    _set_alias_checked(client, name, PRODUCTION, target.number)
    if replaced is not None:
        _set_alias_checked(client, name, PREVIOUS, replaced.number)
    return replaced


def was_in_production(version: Version) -> bool:
    """Whether a promotion (or a rollback) once put this version in production."""
    return f"promotion.{PRODUCTION}.at" in version.tags or "rollback.at" in version.tags
