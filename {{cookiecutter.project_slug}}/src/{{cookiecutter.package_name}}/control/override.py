"""Whether a pull request's override label counts, and the facts of the pull request a gate
run is about.

The label lifts a performance failure only when applied after the last push to the head (so it
binds to what was reviewed), by a production reviewer listed in the default branch's
params.yaml (a user, or a member of a listed team), who is not the pull request's author.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..github import actions, github_api, repository
from ..settings import Settings, parse_settings
from . import report


def reviewers_on_default_branch(settings: Settings) -> tuple[str, ...]:
    """github.production_reviewers as the default branch has them: a pull request that adds
    its author to the list in its own params.yaml does not make them a reviewer."""
    ref = f"origin/{settings.github.default_branch}"
    raw = report.base_params(ref)
    if raw is None:
        raise github_api.GithubError(
            f"params.yaml of {ref} cannot be read (fetch-depth: 0?): nobody may override"
        )
    return parse_settings(raw, Path(f"{ref}:params.yaml")).github.production_reviewers


def _override_refusal(
    applied: repository.Labelling, author: str, pushed_at: str | None, allowed: bool
) -> str | None:
    """Why one application of the override label does not count, or None when it does."""
    if applied.actor.lower() == author.lower():
        return "is the pull request's author"
    if not allowed:
        return "is not a production reviewer on the default branch"
    if pushed_at is None or applied.at <= pushed_at:
        return "applied it before the last push to the pull request (re-apply it to this head)"
    return None


def pull_request_facts(settings: Settings) -> dict[str, Any]:
    """The pull request this GitHub Actions run is about, and whether its override label
    counts. It counts only when applied after the last push to the head (so it binds to what
    was reviewed), by a production reviewer listed in the default branch's params.yaml (a
    user, or a member of a listed team), who is not the pull request's author. Everyone else
    who applied it is named with the reason.

    A GitHub API failure is recorded, not raised: the gate still decides, only without the
    override (so a failing model stays failed) and without the PR number in its lineage.
    """
    label = settings.gate.override_label
    facts: dict[str, Any] = {
        "number": None,
        "override_label": label,
        "label_applied_by": None,
        "override_by": None,
        "override_refused": [],
    }
    try:
        run = actions.RunContext.from_env()
        client = github_api.client_from_env()
        pull = repository.pull_request_of(client, run)
        if pull is None:
            return facts
        facts["number"] = int(pull["number"])
        if label not in repository.label_names(pull):
            return facts
        applications = repository.label_applications(client, run, facts["number"], label)
        if not applications:
            facts["problem"] = f"the {label} label's history shows nobody applying it: no override"
            return facts
        facts["label_applied_by"] = applications[-1].actor
        reviewers = reviewers_on_default_branch(settings)
        author = str((pull.get("user") or {}).get("login") or "")
        pushed_at = repository.head_pushed_at(client, run, pull)
        for applied in applications:
            allowed = repository.is_one_of(client, applied.actor, reviewers)
            refusal = _override_refusal(applied, author, pushed_at, allowed)
            if refusal is None:
                facts["override_by"] = applied.actor
            else:
                facts["override_refused"].append(f"{applied.actor} {refusal}")
        if facts["override_by"] is None:
            facts["problem"] = f"the {label} label does not count: " + "; ".join(
                facts["override_refused"]
            )
    except (github_api.GithubError, KeyError, ValueError) as error:
        facts["problem"] = f"pull request not read from GitHub: {error}"
    return facts
