"""What production is: the version AND the sha256 of its bytes that deploy/production.yaml
declares on the default branch, approved in review.

Every load of a model that serves or judges (the gate's champion, predict, drift, deploy,
reconcile, lineage) goes through this module: the version is the one git declares, and its bytes
are checked against git's digest, never against a registry tag or alias alone (anyone who may
write the registry can rewrite a tag or move an alias; anyone who may write the artifact store
can replace the bytes). Where git and the registry disagree, nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..settings import Settings
from . import aliases, desired_state, registry
from .desired_state import Declared

if TYPE_CHECKING:
    from xgboost import XGBClassifier


@dataclass(frozen=True)
class Production:
    """The served model: its registry record, git's declaration of it, and its checked model."""

    version: registry.Version
    declared: Declared
    source: str  # where the declaration was read, e.g. "deploy/production.yaml on origin/main"
    model: XGBClassifier


def _first_model_or_refuse(client: Any, name: str, source: str) -> None:
    """Git declares nothing: that is a first model only where the registry agrees that nothing
    ever served. A production alias nobody declared (set by hand, or by a credential that
    created the model first) is refused, never compared with or scored."""
    current = registry.by_alias(client, name, registry.PRODUCTION)
    versions = registry.all_versions(client, name)
    served = [v.number for v in versions if aliases.was_in_production(v)]
    if current is not None or served:
        found = (
            f"its '{registry.PRODUCTION}' alias points at version {current.number}"
            if current is not None
            else f"versions {', '.join(map(str, served))} served production before"
        )
        raise registry.RegistryError(
            f"{source} declares no production version, but in the registry {found}: git is the "
            "record of what serves, and it holds no digest for that version; refusing to use it "
            "(declare it in deploy/ by a reviewed pull request, or remove the alias)"
        )


def load_declared(client: Any, name: str, declared: Declared, source: str) -> Production:
    """The version `declared` names, with its bytes checked against the declared sha256."""
    try:
        version = registry.get_version(client, name, declared.version)
    except registry.RegistryError as error:  # e.g. the declared version was deleted
        raise registry.RegistryError(
            f"{source} declares version {declared.version}, but the registry cannot give it: "
            f"{error}"
        ) from None
    model = registry.load_model(client, version, declared.sha256, source)
    return Production(version, declared, source, model)


def load(client: Any, settings: Settings) -> Production | None:
    """What serves production, checked against git. None only where git declares nothing and
    no version ever served: the first model, judged on absolute thresholds."""
    name = settings.tracking.model_name
    declared, source = desired_state.declared_on(
        settings.github.default_branch, registry.PRODUCTION
    )
    if declared is None:
        _first_model_or_refuse(client, name, source)
        return None
    return load_declared(client, name, declared, source)


def declared_change(settings: Settings) -> Declared | None:
    """The version this checkout brings in, where it differs from the default branch's: the
    production of a promotion or rollback pull request, or the candidate of a rollout's. None
    where this checkout changes neither (and in a local project, where both are the working
    tree's file)."""
    if not desired_state.DEPLOY_FILE.exists():
        return None
    here = desired_state.read()
    base, _ = desired_state.state_on(settings.github.default_branch)
    for brought_in in (_production, _candidate):
        declared = brought_in(here)
        if declared is not None and declared != (brought_in(base) if base else None):
            return declared
    return None


def _production(state: desired_state.DesiredState) -> Declared | None:
    return state.declared(registry.PRODUCTION)


def _candidate(state: desired_state.DesiredState) -> Declared | None:
    rollout = state.rollout_under_way
    return rollout.candidate if rollout is not None else None


def require(client: Any, settings: Settings) -> Production:
    """What serves production; an error where nothing does."""
    found = load(client, settings)
    if found is None:
        raise registry.RegistryError(
            f"{desired_state.DEPLOY_FILE} declares no production version of "
            f"{settings.tracking.model_name} yet: nothing serves"
        )
    return found


def load_version(client: Any, settings: Settings, number: int) -> Production:
    """A version git once declared for production, checked against the digest it declared
    then. A version git never declared has no digest in git, so it is not loaded."""
    branch = settings.github.default_branch
    for declared in desired_state.declarations(branch, registry.PRODUCTION):
        if declared.version == number:
            source = f"{desired_state.DEPLOY_FILE}'s history on {branch}"
            return load_declared(client, settings.tracking.model_name, declared, source)
    raise registry.RegistryError(
        f"version {number} was never declared in {desired_state.DEPLOY_FILE} on {branch}: git "
        "holds no digest for it, so its bytes cannot be checked; refusing to load it"
    )
