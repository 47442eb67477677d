"""How an alias of the registered model moves: `staging` onto the newest commit's version,
`production` (by deploy.py, as deploy/ declares) onto a version whose bytes are checked first,
its predecessor kept as `previous-production`. The one rule for every alias: the version of an
older commit never replaces a newer one's (older_problem), unless a reviewed rollback says so.
An alias is set and read back; concurrent writers are retried a bounded number of times."""

from __future__ import annotations

import time
from typing import Any

from ..pipeline.lineage import History
from ..vocabulary import MODEL_SHA256, ROLLBACK_AT, promotion
from .registry import (
    ALIAS_ATTEMPTS,
    CANDIDATE,
    PREVIOUS,
    PRODUCTION,
    STAGING,
    RegistryError,
    Version,
    aliases,
    all_versions,
    by_alias,
    get_version,
    now,
    registry_errors,
    set_tags,
    version_bytes,
)


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
    client: Any, name: str, alias: str, target: Version, history: History
) -> Version | None:
    """Point `alias` at `target`; return the version it pointed at before.

    An older commit never replaces a newer one: a slow pipeline run for an old commit must not
    overwrite what a newer run already put there (older_problem).
    """
    current = by_alias(client, name, alias)
    if current is not None and current.number == target.number:
        return current
    if current is not None:
        problem = older_problem(target, current, f"{alias} version {current.number}", history)
        if problem:
            raise RegistryError(f"{problem}: refusing to move {alias}")
    _set_alias_checked(client, name, alias, target.number)
    return current


def older_problem(target: Version, other: Version, other_is: str, history: History) -> str | None:
    """Why `target` may not replace `other` (`other_is` names it), or None: the one rule for
    every alias. The version of an older commit never replaces a newer one's (older: an
    ancestor on the default branch), and a commit the branch does not hold cannot be ordered."""
    unknown = [v for v in (target, other) if not history.knows(v.git_sha)]
    if unknown:
        return (
            f"{unknown[0].label} names commit {unknown[0].git_sha[:12]}, which is not on "
            f"{history.ref}: cannot tell which version is newer"
        )
    if history.is_older(target.git_sha, other.git_sha):
        return (
            f"version {target.number} (commit {target.git_sha[:12]}) is older than {other_is} "
            f"(commit {other.git_sha[:12]})"
        )
    return None


def stage(
    client: Any, name: str, number: int | None, history: History
) -> tuple[Version, Version | None]:
    """Move `staging` onto a version (by default the newest commit's), after checking its bytes
    against registration's record of them (staging serves nothing). Returns (staged, replaced)."""
    if number is None:
        candidate = _newest(all_versions(client, name), history)
        if candidate is None:
            raise RegistryError(
                f"no version of {name} was trained from a commit of {history.ref}: nothing "
                "to stage (is the history fetched? fetch-depth: 0)"
            )
    else:
        candidate = get_version(client, name, number)
    version_bytes(client, candidate, candidate.digest, f"its {MODEL_SHA256} tag")
    replaced = move_alias(client, name, STAGING, candidate, history)
    set_tags(client, name, candidate.number, {promotion(STAGING, "at"): now()})
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


def set_candidate(client: Any, name: str, target: Version, digest: str) -> None:
    """Point `candidate` at a rollout's candidate (or at production, where it rests between
    rollouts), its bytes checked first against `digest` (what deploy/production.yaml declares).
    Whether it may (approved, passed, not older than production) is the caller's decision,
    made beforehand."""
    version_bytes(client, target, digest, "deploy/production.yaml's rollout")
    _set_alias_checked(client, name, CANDIDATE, target.number)


def was_in_production(version: Version) -> bool:
    """Whether a promotion (or a rollback) once put this version in production."""
    return promotion(PRODUCTION, "at") in version.tags or ROLLBACK_AT in version.tags
