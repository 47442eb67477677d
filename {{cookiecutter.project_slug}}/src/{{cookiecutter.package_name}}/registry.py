"""The MLflow model registry, our way: aliases named like the GitHub Environments.

- `staging` and `production` are aliases; `production` is the champion.
- `previous-production` is the version `production` last pointed at: rollback's target.
- A version is identified by the git commit it was trained from: registering the same commit
  twice returns the same version.
- An older commit never replaces a newer champion unless forced.

Every problem is a RegistryError with one line of reason; nothing here passes by default.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import tracking
from .errors import ProjectError

if TYPE_CHECKING:
    from xgboost import XGBClassifier

STAGING = "staging"
PRODUCTION = "production"
PREVIOUS = "previous-production"
ALIAS_ATTEMPTS = 5


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
        return int(self.tags.get("lineage.git_commit_time", "0") or 0)

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


def load_model(version: Version) -> XGBClassifier:
    """The XGBoost model a registered version holds, as MLflow stored it."""
    import mlflow

    with registry_errors(f"loading {version.name} version {version.number}"):
        model: XGBClassifier = mlflow.xgboost.load_model(f"models:/{version.name}/{version.number}")
    return model


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


def champion(client: Any, name: str) -> Version | None:
    """The `production` version. None means there is no model yet: the first model is judged on
    absolute thresholds. Versions without a champion is an inconsistent registry (someone
    deleted the champion's version, which silently drops its alias): we refuse to guess."""
    current = by_alias(client, name, PRODUCTION)
    if current is not None:
        return current
    existing = all_versions(client, name)
    if existing:
        numbers = ", ".join(str(v.number) for v in existing)
        raise RegistryError(
            f"{name} has versions ({numbers}) but no '{PRODUCTION}' alias: the champion is "
            "missing, so there is nothing to compare with (set the alias or roll back first)"
        )
    return None


def version_for_commit(client: Any, name: str, sha: str) -> Version | None:
    """The oldest version trained from this commit, if any."""
    matches = [v for v in all_versions(client, name) if v.git_sha == sha]
    return matches[0] if matches else None


def register(
    client: Any, name: str, run: tracking.RunInfo, extra_tags: dict[str, str]
) -> tuple[Version, bool]:
    """Register the run's model once per commit, then point `staging` at the version of the
    newest commit registered (usually this one; never an older one).

    Returns the version and whether it was created now. Concurrent registrations of the same
    commit can both create a version; the later ones are deleted again, so one survives.
    """
    with registry_errors(f"reading run {run.run_id}"):
        run_tags = dict(client.get_run(run.run_id).data.tags)
    lineage = {k: v for k, v in run_tags.items() if k.startswith("lineage.")}
    sha = lineage.get("lineage.git_sha", "none")
    if sha == "none" or lineage.get("lineage.git_dirty") != "false":
        raise RegistryError(
            f"run {run.run_id} was not trained from a clean git commit (sha {sha}, dirty "
            f"{lineage.get('lineage.git_dirty')}): only committed work can be registered"
        )
    existing = version_for_commit(client, name, sha)
    if existing is not None:
        return existing, False

    import mlflow

    with registry_errors(f"registering {name} from run {run.run_id}"):
        created = mlflow.register_model(
            run.model_uri, name, tags={**lineage, **extra_tags, "registered_at": now()}
        )
    survivor = version_for_commit(client, name, sha)
    if survivor is not None and survivor.number != int(created.version):
        with registry_errors(f"removing duplicate version {created.version}"):
            client.delete_model_version(name, created.version)
        return survivor, False
    advance_staging(client, name)
    return get_version(client, name, int(created.version)), True


def _newest(versions: list[Version]) -> Version:
    """The version of the newest commit. Per commit only its oldest version counts: a newer
    duplicate from a concurrent registration of the same commit is about to be deleted."""
    first_per_commit: dict[str, Version] = {}
    for version in versions:  # oldest first
        first_per_commit.setdefault(version.git_sha, version)
    return max(first_per_commit.values(), key=lambda v: (v.commit_time, v.number))


def advance_staging(client: Any, name: str) -> Version:
    """Point `staging` at the version from the newest commit.

    Concurrent registrations all converge: each one re-reads the versions after its write and
    corrects the alias if a newer commit was registered meanwhile, so a slow run for an old
    commit cannot leave staging behind.
    """
    for _ in range(ALIAS_ATTEMPTS):
        newest = _newest(all_versions(client, name))
        if aliases(client, name).get(STAGING) != newest.number:
            try:
                _set_alias_checked(client, name, STAGING, newest.number)
            except RegistryError:
                continue  # the version vanished (a duplicate being removed): look again
        if _newest(all_versions(client, name)).number == newest.number:
            return newest
    raise RegistryError(f"{STAGING} kept moving under concurrent registrations; run again")


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


def move_alias(client: Any, name: str, alias: str, target: Version, force: bool) -> Version | None:
    """Point `alias` at `target`; return the version it pointed at before.

    An older commit never replaces a newer one unless forced: a slow pipeline run for an old
    commit must not overwrite what a newer run already put there.
    """
    current = by_alias(client, name, alias)
    if current is not None and current.number == target.number:
        return current
    if current is not None and not force and target.commit_time < current.commit_time:
        raise RegistryError(
            f"version {target.number} (commit {target.git_sha[:12]}) is older than "
            f"{alias} version {current.number} (commit {current.git_sha[:12]}): refusing to "
            "move the alias backwards (use --force, or rollback)"
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
) -> tuple[Version, Version | None]:
    """Move alias `to` onto a version (by default the one `staging` points at). For production
    the replaced version keeps the `previous-production` alias, and the approvers and time are
    written on the promoted version. Returns (promoted, replaced)."""
    if number is None:
        candidate = by_alias(client, name, STAGING)
        if candidate is None:
            raise RegistryError(f"{name} has no '{STAGING}' version to promote")
    else:
        candidate = get_version(client, name, number)
    replaced = move_alias(client, name, to, candidate, force=force)
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


def rollback(
    client: Any, name: str, number: int | None, reason: str, actor: str
) -> tuple[Version, Version]:
    """Point `production` back at `previous-production` (or a named version) and record why.
    The version rolled back from becomes `previous-production`, so a rollback can be undone."""
    if not reason.strip():
        raise RegistryError("a rollback needs a reason")
    current = by_alias(client, name, PRODUCTION)
    if current is None:
        raise RegistryError(f"{name} has no '{PRODUCTION}' version to roll back")
    target = (
        by_alias(client, name, PREVIOUS) if number is None else get_version(client, name, number)
    )
    if target is None:
        raise RegistryError(f"{name} has no '{PREVIOUS}' version to roll back to: name one")
    if target.number == current.number:
        raise RegistryError(f"version {target.number} is already in production")
    _set_alias_checked(client, name, PRODUCTION, target.number)
    _set_alias_checked(client, name, PREVIOUS, current.number)
    when = now()
    set_tags(
        client,
        name,
        target.number,
        {
            "rollback.reason": reason,
            "rollback.by": actor,
            "rollback.at": when,
            "rollback.from_version": str(current.number),
        },
    )
    set_tags(client, name, current.number, {"rolled_back.reason": reason, "rolled_back.at": when})
    return get_version(client, name, target.number), current
