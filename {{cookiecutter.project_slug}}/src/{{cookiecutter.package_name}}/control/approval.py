"""Who approved a change of deploy/: the reviews of the pull request's final head by the code
owners of deploy/, judged against the sign-off production needs (deploy.sign_off in params)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..github import actions, codeowners, github_api, repository
from ..settings import SIGN_OFF_ROLES, parse_settings
from . import report
from .desired_state import DEPLOY_FILE, DeployError


@dataclass(frozen=True)
class Approval:
    """Who approved a change of the desired state: the merged pull request's approving code
    owners (or, without GitHub, the names given), and the commit that made the change."""

    approvers: tuple[str, ...]
    pull_request: int | None
    commit: str

    @property
    def who(self) -> str:
        """The approvers as a person reads them."""
        return ", ".join(self.approvers) or "nobody recorded"


def judge_reviews(
    reviews: list[dict[str, Any]], pull: dict[str, Any], is_owner: Any, pushers: set[str]
) -> tuple[list[str], list[str]]:
    """(the approvers who count, why each other reviewer does not). A reviewer's latest
    decision stands (a later change request or a dismissal withdraws an approval); it counts
    when it approves the pull request's final head, by a code owner who neither opened it nor
    pushed a commit into it (`pushers`: a bot's pull request has a person's commits too)."""
    head = str((pull.get("head") or {}).get("sha") or "")
    if not head:
        raise DeployError(f"pull request #{pull.get('number')} names no head commit")
    author = str((pull.get("user") or {}).get("login") or "").lower()
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:  # oldest first
        if review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[str((review.get("user") or {}).get("login") or "")] = review
    counted: list[str] = []
    refused: list[str] = []
    for login, review in latest.items():
        seen = str(review.get("commit_id") or "")
        if review.get("state") != "APPROVED":
            refused.append(f"{login}'s latest review is {str(review.get('state')).lower()}")
        elif seen != head:
            refused.append(f"{login} approved {seen[:12]}, not the final head {head[:12]}")
        elif login.lower() == author:
            refused.append(f"{login} is the pull request's author")
        elif login.lower() in pushers:
            refused.append(f"{login} pushed a commit into the pull request")
        elif not is_owner(login):
            refused.append(f"{login} is not a code owner of {DEPLOY_FILE}")
        else:
            counted.append(login)
    return counted, refused


def sign_off_at(commit: str) -> dict[str, str]:
    """Whose approvals a change of production needs (role -> GitHub handle), by params.yaml as
    `commit` had it: like CODEOWNERS, the base branch's, so a pull request that names its own
    author an approver gains nothing."""
    raw = report.base_params(commit)
    if raw is None:
        raise DeployError(f"cannot read params.yaml at {commit[:12]} (fetch-depth: 0?)")
    base = parse_settings(raw, Path(f"{commit[:12]}:params.yaml"))
    return {role: getattr(base.tracking, role) for role in base.deploy.sign_off}


def missing_sign_off(
    counted: list[str], sign_off: dict[str, str], is_one_of: Callable[[str, str], bool]
) -> str | None:
    """None when different approvers cover every role in `sign_off` (a handle: a login or an
    org/team); else what is missing. One person counts for one role only, so where the roles
    are two different handles, one approver who is both is not enough; where both roles name
    the same handle, it is one role."""
    roles: dict[str, list[str]] = {}
    for role, handle in sign_off.items():
        roles.setdefault(handle, []).append(SIGN_OFF_ROLES[role])
    handles = list(roles)
    for chosen in itertools.permutations(counted, len(handles)):
        if all(is_one_of(login, handle) for login, handle in zip(chosen, handles, strict=True)):
            return None

    def roles_of(login: str) -> str:
        held = [n for handle, names in roles.items() if is_one_of(login, handle) for n in names]
        return " and ".join(held) or "no role"

    needed = " AND ".join(f"{' and '.join(names)} (@{handle})" for handle, names in roles.items())
    found = ", ".join(f"{login} ({roles_of(login)})" for login in counted)
    return (
        f"production needs an approval of the final head by {needed}, each by a different "
        f"person; counted: {found or 'nobody'}"
    )


def approval_from_github(change: str, branch: str) -> Approval:
    """The approval of the pull request merged into `branch` as commit `change`, read from
    GitHub's reviews API. Code owners are taken from CODEOWNERS as the base branch had it (the
    merge's first parent), so a pull request that names its own author an owner gains nothing."""
    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    pull = repository.merged_pull_request(client, run, change)
    if pull is None:
        raise DeployError(
            f"commit {change[:12]} changed {DEPLOY_FILE} without a merged pull request: only "
            "a reviewed pull request may change production"
        )
    number = int(pull["number"])
    merged_as = str(pull.get("merge_commit_sha") or "")
    base = str((pull.get("base") or {}).get("ref") or "")
    if merged_as != change or base != branch:
        raise DeployError(
            f"pull request #{number} was merged into {base or '?'} as {merged_as[:12] or '?'}, "
            f"not into {branch} as {change[:12]}: merge deploy/ changes with a merge or squash "
            "commit (a rebase merge leaves no one commit that GitHub ties to the review)"
        )
    owners = codeowners.owners_at(f"{change}^1", DEPLOY_FILE.as_posix())
    if not owners:
        raise DeployError(f"CODEOWNERS gives {DEPLOY_FILE} to nobody: nobody's approval counts")
    found = repository.reviews(client, run, number)
    pushers = repository.commit_logins(client, run, number)
    counted, refused = judge_reviews(
        found, pull, lambda login: repository.is_one_of(client, login, owners), pushers
    )
    if not counted:
        reasons = "; ".join(refused) or "nobody reviewed it"
        raise DeployError(
            f"pull request #{number} has no approval of its final head by a code owner of "
            f"{DEPLOY_FILE} ({', '.join(owners)}): {reasons}"
        )
    missing = missing_sign_off(
        counted,
        sign_off_at(f"{change}^1"),
        lambda login, handle: repository.is_one_of(client, login, (handle,)),
    )
    if missing is not None:
        refusals = f" (not counted: {'; '.join(refused)})" if refused else ""
        raise DeployError(f"pull request #{number}: {missing}{refusals}")
    return Approval(tuple(counted), number, change)
