"""Applying the desired state: the registry serves what deploy/production.yaml declares on the
default branch (production, and a rollout's candidate as the `candidate` alias), after every
check passed (the version exists, holds the declared bytes, passed
the gate, is not older than what git declared before unless the change says it is a rollback,
and the sign-off approved the pull request's final head). Every check runs before the first
alias moves: a declared state that cannot be applied leaves the registry as it was."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import ProjectError
from ..github import actions, branches, github_api, repository
from ..pipeline.lineage import History, branch_history, git_state
from ..settings import Settings
from ..vocabulary import (
    GATE_VERDICT,
    MODEL_SHA256,
    ROLLBACK_AT,
    ROLLBACK_BY,
    ROLLBACK_EMERGENCY,
    ROLLBACK_FROM_VERSION,
    ROLLBACK_REASON,
    ROLLED_BACK_AT,
    ROLLED_BACK_REASON,
    promotion,
)
from . import aliases, desired_state, registry
from .approval import Approval, approval_from_github
from .desired_state import DEPLOY_FILE, Declared, DeployError, DesiredState
from .gate_result import PASSING
from .proposals import production_history, promotion_state, rollback_state


def rollback_reason(declared: Declared, before: Declared | None) -> str | None:
    """The declaration's rollback reason, when this change makes it: a reason kept from an
    earlier rollback does not let a later change go back further."""
    if declared.rollback is None or (before is not None and before.rollback == declared.rollback):
        return None
    return declared.rollback


def _checked_target(
    client: Any,
    name: str,
    declared: Declared,
    references: list[int],
    is_rollback: bool,
    history: History,
) -> registry.Version:
    """The version a declaration names, after every check that it may serve production: its
    digest and gate verdict, and that it is not older than any of `references` (what git
    declared before, what legitimately serves now) unless this change is a rollback, which
    only returns to a version that served before."""
    target = registry.get_version(client, name, declared.version)
    registry.version_bytes(client, target, declared.sha256, str(DEPLOY_FILE))
    verdict = target.tags.get(GATE_VERDICT, "")
    if verdict not in PASSING:
        raise DeployError(f"{target.label} did not pass the gate (verdict {verdict or 'none'})")
    if is_rollback and not aliases.was_in_production(target):
        raise DeployError(
            f"{target.label} was never in production: a rollback only returns to a version that was"
        )
    for number in [] if is_rollback else sorted(set(references) - {declared.version}):
        previous = registry.get_version(client, name, number)
        problem = aliases.older_problem(
            target, previous, f"version {number}, which {DEPLOY_FILE} declared before", history
        )
        if problem:
            raise DeployError(f"{problem}: add a new `rollback: <reason>` to go back")
    return target


def _served_tags(approval: Approval, replaced: int | None, rollback: str | None) -> dict[str, str]:
    when = registry.now()
    tags = {
        promotion("production", "approved_by"): ",".join(approval.approvers) or "nobody recorded",
        promotion("production", "pr"): str(approval.pull_request or ""),
        promotion("production", "commit"): approval.commit,
        promotion("production", "at"): when,
    }
    if rollback is not None:
        tags.update(
            {
                ROLLBACK_REASON: rollback,
                ROLLBACK_BY: ",".join(approval.approvers) or "nobody recorded",
                ROLLBACK_AT: when,
                ROLLBACK_FROM_VERSION: str(replaced or ""),
            }
        )
    return tags


def _serve(
    client: Any,
    name: str,
    target: registry.Version,
    declared: Declared,
    approval: Approval,
    current: registry.Version | None,
    rollback: str | None,
    extra: dict[str, str],
) -> registry.Version | None:
    """Move production onto the checked target with its record (who approved, which pull
    request and commit, and for a rollback why, on both versions). Returns the replaced one."""
    replaced_number = current.number if current else None
    tags = {**_served_tags(approval, replaced_number, rollback), **extra}
    replaced = aliases.serve(client, name, target, declared.sha256, tags)
    if replaced is not None and rollback is not None:
        registry.set_tags(
            client,
            name,
            replaced.number,
            {ROLLED_BACK_REASON: rollback, ROLLED_BACK_AT: tags[ROLLBACK_AT]},
        )
    return replaced


def _check_checkout_is_the_tip(branch: str) -> None:
    """A run applies only the newest declaration: a re-run of an old deploy.yml run, or a
    reconcile that started before a merge, checks out an older commit, whose declaration a
    newer one has replaced (and the newer one's own run applies it)."""
    run = actions.RunContext.from_env()
    tip = repository.branch_head(github_api.client_from_env(), run, branch)
    here = git_state()[0]
    if tip != here:
        raise DeployError(
            f"this run checked out {here[:12]}, but {branch} is at {tip[:12] or '?'} now: "
            "the newer declaration is applied by its own run; nothing moved here"
        )


def references(before: Declared | None, current: registry.Version | None) -> list[int]:
    """The versions a declaration must not be older than: what git declared before it, and
    what serves now where git once declared it (a version moved in by hand counts for
    nothing: reconcile puts the declared one back over it)."""
    found = [before.version] if before is not None else []
    if current is not None and current.number in production_history():
        found.append(current.number)
    return found


# Who approved the file's last change, and what it declared before: asked only when something moves.
Approve = Callable[[], tuple[Approval, DesiredState | None]]


def _approval(
    github: bool, branch: str, approved_by: tuple[str, ...]
) -> tuple[Approval, DesiredState | None]:
    """Who approved the change that declared the file as it is, and what it declared before.
    In GitHub Actions: the pull request merged into the default branch's tip, approved on its
    final head (this checkout must be that tip), or the one that declared the rollout whose
    own move the last change is; locally: `approved_by`, against HEAD."""
    if github:
        _check_checkout_is_the_tip(branch)
        change = desired_state.last_change()
        reviewed = desired_state.reviewed_change()
        return approval_from_github(reviewed, branch), desired_state.read_at(f"{change}^1")
    return Approval(approved_by, None, git_state()[0]), desired_state.read_at("HEAD")


def deploy(settings: Settings, github: bool, approved_by: tuple[str, ...] = ()) -> list[str]:
    """Make the registry serve what deploy/production.yaml declares: production, and a
    rollout's candidate beside it. In GitHub Actions (`github`), the checkout must be the
    default branch's tip, and the change that declared it must come from a pull request merged
    into it that the sign-off approved on its final head; without GitHub (a local registry),
    `approved_by` names who approved."""
    if not github and os.environ.get("GITHUB_ACTIONS") == "true":
        raise DeployError(
            "in GitHub Actions production moves only through deploy.yml (make deploy there "
            "passes --github); the local path takes no approval from GitHub"
        )
    name = settings.tracking.model_name
    branch = settings.github.default_branch
    state = desired_state.read()
    if state.model != name:
        raise DeployError(f"{DEPLOY_FILE} is for model {state.model!r}, not {name!r}")
    declared = state.declared(registry.PRODUCTION)
    if declared is None:
        return [f"{DEPLOY_FILE} declares no production version: nothing to do"]
    client = registry.connect()
    approved: list[tuple[Approval, DesiredState | None]] = []

    def approval() -> tuple[Approval, DesiredState | None]:
        if not approved:  # asked once, and only when something moves
            approved.append(_approval(github, branch, approved_by))
        return approved[0]

    history = branch_history(branch)
    lines = _deploy_production(client, name, declared, approval, history)
    return lines + _apply_rollout(client, name, state, approval, history)


def _deploy_production(
    client: Any, name: str, declared: Declared, approval: Approve, history: History
) -> list[str]:
    current = registry.by_alias(client, name, registry.PRODUCTION)
    if current is not None and current.number == declared.version:
        # The same number is not enough: the bytes must be the ones git declares.
        registry.version_bytes(client, current, declared.sha256, str(DEPLOY_FILE))
        return [f"production already serves {current.label}"]
    approved, before_state = approval()
    before = before_state.declared(registry.PRODUCTION) if before_state else None
    rollback = rollback_reason(declared, before)
    target = _checked_target(
        client, name, declared, references(before, current), rollback is not None, history
    )
    replaced = _serve(client, name, target, declared, approved, current, rollback, {})
    was = f" (was version {replaced.number})" if replaced else ""
    pr = f", pull request #{approved.pull_request}" if approved.pull_request else ""
    return [f"production: {target.label}{was}; approved by {approved.who}{pr}"]


def _apply_rollout(
    client: Any, name: str, state: DesiredState, approval: Approve, history: History
) -> list[str]:
    """The rollout's candidate as the `candidate` alias, which the model server requires before
    it routes a request there: set after the same checks as production (approved, the declared
    bytes, a passing gate, not older than production). When the rollout ends or is aborted
    the alias comes to rest on production (going back to what served needs nobody's
    approval): MLflow asks MANAGE of whoever deletes an alias, a level that may also delete
    versions, which no workflow's credential holds."""
    rollout = state.rollout
    applied = registry.aliases(client, name).get(registry.CANDIDATE)
    if rollout is None or rollout.aborted is not None:
        production = state.declared(registry.PRODUCTION)
        if applied is None or production is None or applied == production.version:
            return []
        resting = registry.get_version(client, name, production.version)
        aliases.set_candidate(client, name, resting, production.sha256)
        why = f"aborted: {rollout.aborted}" if rollout else "no rollout declared"
        return [
            f"rollout: version {applied} is no longer a candidate ({why}); the "
            f"{registry.CANDIDATE} alias rests on production, version {production.version}"
        ]
    declared = rollout.candidate
    if applied == declared.version:
        current = registry.get_version(client, name, applied)
        registry.version_bytes(client, current, declared.sha256, str(DEPLOY_FILE))
        return [f"rollout: {current.label} is the candidate already"]
    approved, _ = approval()
    production = state.declared(registry.PRODUCTION)
    references = [production.version] if production else []
    target = _checked_target(client, name, declared, references, False, history)
    aliases.set_candidate(client, name, target, declared.sha256)
    return [f"rollout: candidate {target.label} beside production; approved by {approved.who}"]


def emergency_rollback(
    settings: Settings, number: int | None, reason: str, actor: str, token: str
) -> list[str]:
    """rollback.yml's emergency path, behind the `production` environment: the rollback is
    committed to deploy/ on the default branch first (git stays the record; a push that branch
    protection refuses moves nothing), then applied at once, without waiting for a review.
    Where the registry does not serve what git declares (an earlier change half done), it
    refuses: counting back from a declaration that never applied would go a step too far."""
    unapplied = compare(settings)
    if unapplied is not None:
        raise DeployError(
            f"{unapplied}: finish or undo that change first (deploy.yml, or by hand); an "
            "emergency rollback from here could go back further than meant"
        )
    state = rollback_state(settings, number, reason)
    declared = state.declared(registry.PRODUCTION)
    assert declared is not None
    client = registry.connect()
    name = settings.tracking.model_name
    history = branch_history(settings.github.default_branch)
    target = _checked_target(client, name, declared, [], True, history)
    current = registry.by_alias(client, name, registry.PRODUCTION)
    desired_state.write(state)
    branch = settings.github.default_branch
    message = f"Emergency rollback of {name} production to version {target.number}: {reason}"
    branches.git("add", "--", DEPLOY_FILE.as_posix())
    branches.git("commit", "--quiet", "-m", message)
    try:
        branches.push(branch, token, force=False)
    except ProjectError as error:
        raise DeployError(
            f"the emergency rollback could not be committed to {branch}, so nothing moved: "
            f"{error} (DEPLOY_PUSH_TOKEN must be allowed past the branch protection; or "
            "propose the rollback as a pull request)"
        ) from None
    approval = Approval((actor,), None, git_state()[0])
    emergency = {ROLLBACK_EMERGENCY: "true"}
    replaced = _serve(
        client, name, target, declared, approval, current, declared.rollback, emergency
    )
    return [
        f"committed to {branch}: {message}",
        f"production: {target.label}" + (f" (was version {replaced.number})" if replaced else ""),
    ]


def declare_and_deploy(
    settings: Settings, number: int | None, approved_by: tuple[str, ...], reason: str = ""
) -> list[str]:
    """Without GitHub (a local registry): declare a version for production in
    deploy/production.yaml (default: staging's; with `reason`, a rollback) and apply it: all
    at once, or as the promotion pull request would, through a rollout where
    MODEL_SERVER_URL names a server to judge it."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        raise DeployError(
            "in GitHub Actions production moves only through a pull request on deploy/ "
            "(rollback.yml opens one); make promote and make rollback are for a local registry"
        )
    if reason:
        state = rollback_state(settings, number, reason)
    else:
        client = registry.connect()
        name = settings.tracking.model_name
        if number is None:
            staged = registry.by_alias(client, name, registry.STAGING)
            if staged is None:
                raise DeployError(f"{name} has no '{registry.STAGING}' version to promote")
            number = staged.number
        target = registry.get_version(client, name, number)
        if not target.digest:
            raise DeployError(f"{target.label} records no {MODEL_SHA256}: not gated")
        declared = Declared(version=number, sha256=target.digest)
        state, how = promotion_state(settings, desired_state.read(), declared, target)
        desired_state.write(state)
        return [f"{DEPLOY_FILE}: {how}", *deploy(settings, github=False, approved_by=approved_by)]
    desired_state.write(state)
    number = state.aliases[registry.PRODUCTION].version
    return [
        f"{DEPLOY_FILE}: production version {number}",
        *deploy(settings, github=False, approved_by=approved_by),
    ]


def compare(settings: Settings) -> str | None:
    """How the registry's production differs from the desired state on this checkout, or None."""
    state = desired_state.read()
    if state.declared(registry.PRODUCTION) is None:
        return None
    return _production_difference(registry.connect(), settings.tracking.model_name, state)


def differences(settings: Settings) -> list[str]:
    """Every way the registry differs from deploy/ on this checkout: production, the rollout's
    candidate (the file read once, the registry asked through one client)."""
    state = desired_state.read()
    client = registry.connect()
    name = settings.tracking.model_name
    found = [
        _production_difference(client, name, state),
        _candidate_difference(client, name, state),
    ]
    return [difference for difference in found if difference is not None]


def _production_difference(client: Any, name: str, state: DesiredState) -> str | None:
    declared = state.declared(registry.PRODUCTION)
    if declared is None:
        return None
    current = registry.by_alias(client, name, registry.PRODUCTION)
    if current is not None and current.number == declared.version:
        try:
            registry.version_bytes(client, current, declared.sha256, str(DEPLOY_FILE))
        except registry.RegistryError as error:
            return str(error)
        return None
    serving = current.label if current is not None else "no version"
    return (
        f"the registry's production alias points at {serving}, but {DEPLOY_FILE} declares "
        f"version {declared.version}"
    )


def _candidate_difference(client: Any, name: str, state: DesiredState) -> str | None:
    """How the registry's `candidate` alias differs from the rollout declared (its candidate's
    version and bytes while the rollout is under way; else unset, or at rest on production,
    whose bytes production's own comparison checks), or None."""
    rollout = state.rollout_under_way
    applied = registry.aliases(client, name).get(registry.CANDIDATE)
    if rollout is None:
        production = state.declared(registry.PRODUCTION)
        if applied is None or (production is not None and applied == production.version):
            return None
        return (
            f"the registry's {registry.CANDIDATE} alias points at version {applied}, but "
            f"{DEPLOY_FILE} declares no rollout under way"
        )
    wanted = rollout.candidate
    if applied != wanted.version:
        return (
            f"the registry's {registry.CANDIDATE} alias points at "
            f"{f'version {applied}' if applied else 'no version'}, but {DEPLOY_FILE} declares "
            f"version {wanted.version} as the rollout's candidate"
        )
    try:
        registry.version_bytes(
            client, registry.get_version(client, name, applied), wanted.sha256, str(DEPLOY_FILE)
        )
    except registry.RegistryError as error:
        return str(error)
    return None
