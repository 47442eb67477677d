"""What the project asks of a GitHub repository and tells it, through GitHub's REST API.

Asked: the pull request a run is about, who applied the override label, the reviews of a merged
pull request, whether a login is one of a list of users and teams. Told: the one PR comment and
the one issue of each kind (each found again by its hidden marker and edited, never
duplicated), a workflow dispatch, and the one pull request from a bot's branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .actions import RunContext
from .github_api import MAX_PAGES, PAGE_SIZE, Client, GithubError, segment


def pull_request_of(client: Client, run: RunContext) -> dict[str, Any] | None:
    """The pull request a run is about: the event's own for pull_request events; for a push,
    the merged pull request that brought the commit in (None for a direct push)."""
    if run.event_name == "pull_request":
        found = run.event.get("pull_request")
        return found if isinstance(found, dict) else None
    return merged_pull_request(client, run, run.sha) if run.sha else None


def merged_pull_request(client: Client, run: RunContext, sha: str) -> dict[str, Any] | None:
    """The merged pull request that brought commit `sha` into the branch (None: pushed)."""
    pulls = client.request("GET", f"{run.repo_path}/commits/{segment(sha)}/pulls") or []
    merged = [pull for pull in pulls if pull.get("merged_at")]
    return merged[0] if merged else None


def branch_head(client: Client, run: RunContext, branch: str) -> str:
    """The commit a branch points at on GitHub now."""
    found = client.request("GET", f"{run.repo_path}/branches/{segment(branch)}") or {}
    return str((found.get("commit") or {}).get("sha") or "")


def commit_logins(client: Client, run: RunContext, number: int) -> set[str]:
    """The accounts that authored or committed a pull request's commits (GitHub's own
    committer of web edits, web-flow, left out): whoever pushed a change into it."""
    logins: set[str] = set()
    for commit in client.get_all(f"{run.repo_path}/pulls/{number}/commits"):
        for role in ("author", "committer"):
            login = str((commit.get(role) or {}).get("login") or "")
            if login and login != "web-flow":
                logins.add(login.lower())
    return logins


def reviews(client: Client, run: RunContext, number: int) -> list[dict[str, Any]]:
    """A pull request's reviews, oldest first, each with its state and the commit it saw."""
    return client.get_all(f"{run.repo_path}/pulls/{number}/reviews")


def label_names(pull: Mapping[str, Any]) -> list[str]:
    return [str(label.get("name")) for label in pull.get("labels") or []]


@dataclass(frozen=True)
class Labelling:
    """One application of a label: who applied it, and when (GitHub's time, ISO 8601 UTC)."""

    actor: str
    at: str


def label_applications(client: Client, run: RunContext, number: int, label: str) -> list[Labelling]:
    """The applications of `label` still in force on the pull request: the `labeled` events
    since it was last removed, oldest first."""
    events = client.get_all(f"{run.repo_path}/issues/{number}/events")
    applied: list[Labelling] = []
    for event in events:  # oldest first
        if (event.get("label") or {}).get("name") != label:
            continue
        if event.get("event") == "labeled":
            actor = str((event.get("actor") or {}).get("login") or "")
            applied.append(Labelling(actor, str(event.get("created_at") or "")))
        elif event.get("event") == "unlabeled":
            applied = []
    return applied


def head_pushed_at(client: Client, run: RunContext, pull: Mapping[str, Any]) -> str | None:
    """When the pull request's head commit was last pushed onto its branch, in GitHub's own
    clock (a committer's date can be set to anything): the first of the newest unbroken series
    of the pull request's runs for this head. A push of any other commit in between, even one
    force-pushed away again, starts the series anew. None when GitHub lists no run for it."""
    head = str((pull.get("head") or {}).get("sha") or "")
    branch = str((pull.get("head") or {}).get("ref") or "")
    number = pull.get("number")
    path = f"{run.repo_path}/actions/runs?event=pull_request&branch={segment(branch)}&per_page=100"
    since = None
    for page in range(1, MAX_PAGES + 1):
        runs = (client.request("GET", f"{path}&page={page}") or {}).get("workflow_runs") or []
        for found in runs:  # newest first
            numbers = [p.get("number") for p in found.get("pull_requests") or []]
            if numbers and number not in numbers:
                continue  # another pull request from a branch of the same name
            if found.get("head_sha") != head:
                return since
            since = str(found.get("created_at") or since)
        if len(runs) < PAGE_SIZE:
            break
    return since


def is_one_of(client: Client, login: str, handles: tuple[str, ...]) -> bool:
    """Whether `login` is one of these handles: a user by name, or an active member of an
    org/team. Membership GitHub will not show (the token may not read the organisation) counts
    as no: an override nobody can verify is not granted."""
    for handle in handles:
        if "/" not in handle:
            if handle.lower() == login.lower():
                return True
            continue
        org, team = handle.split("/", 1)
        path = f"/orgs/{segment(org)}/teams/{segment(team)}/memberships/{segment(login)}"
        try:
            membership = client.get_or_none(path)
        except GithubError:
            continue
        if membership is not None and membership.get("state") == "active":
            return True
    return False


BOT_LOGIN = "github-actions[bot]"  # who writes with a workflow's GITHUB_TOKEN


def _ours(item: Mapping[str, Any], marker: str) -> bool:
    """A comment or issue this project's workflows wrote: the marker alone is not enough, since
    anyone can paste it into a comment of their own."""
    return marker in (item.get("body") or "") and (item.get("user") or {}).get("login") == BOT_LOGIN


def upsert_comment(client: Client, run: RunContext, number: int, body: str, marker: str) -> str:
    """Edit the pull request's comment that the bot wrote with `marker`, or write it."""
    if marker not in body:
        raise GithubError("the report has no marker: the next run could not find this comment")
    comments = client.get_all(f"{run.repo_path}/issues/{number}/comments")
    ours = [comment for comment in comments if _ours(comment, marker)]
    if ours:
        comment_id = ours[0]["id"]
        client.request("PATCH", f"{run.repo_path}/issues/comments/{comment_id}", {"body": body})
        return f"updated comment {comment_id} on pull request #{number}"
    created = client.request("POST", f"{run.repo_path}/issues/{number}/comments", {"body": body})
    return f"wrote comment {(created or {}).get('id')} on pull request #{number}"


def upsert_issue(client: Client, run: RunContext, title: str, body: str, marker: str) -> str:
    """Edit the open issue that the bot opened with `marker`, or open it the first time."""
    if marker not in body:
        raise GithubError("the issue text has no marker: the next run could not find it")
    issues = client.get_all(f"{run.repo_path}/issues?state=open")
    ours = [i for i in issues if _ours(i, marker) and "pull_request" not in i]
    if ours:
        number = ours[0]["number"]
        client.request("PATCH", f"{run.repo_path}/issues/{number}", {"title": title, "body": body})
        return f"updated issue #{number}"
    created = client.request("POST", f"{run.repo_path}/issues", {"title": title, "body": body})
    return f"opened issue #{(created or {}).get('number')}"


def dispatch(
    client: Client, run: RunContext, workflow: str, ref: str, inputs: dict[str, str]
) -> str:
    """Start another workflow (workflow_dispatch) on `ref`."""
    path = f"{run.repo_path}/actions/workflows/{segment(workflow)}/dispatches"
    client.request("POST", path, {"ref": ref, "inputs": inputs})
    return f"dispatched {workflow} on {ref}"


def open_pull_request_from(
    client: Client, run: RunContext, head: str, base: str
) -> dict[str, Any] | None:
    """The open pull request from branch `head` into `base`, if there is one."""
    owner = run.repository.split("/")[0]
    query = f"state=open&head={segment(f'{owner}:{head}')}&base={segment(base)}"
    found = client.request("GET", f"{run.repo_path}/pulls?{query}") or []
    return found[0] if found else None


def open_pull_request(
    client: Client, run: RunContext, head: str, base: str, title: str, body: str
) -> str:
    """The ONE open pull request from branch `head` into `base`: opened, or, where one is
    already open from that branch (a second run), its title and body updated."""
    found = open_pull_request_from(client, run, head, base)
    if found:
        number = found["number"]
        client.request("PATCH", f"{run.repo_path}/pulls/{number}", {"title": title, "body": body})
        return f"updated pull request #{number} from {head}"
    created = client.request(
        "POST", f"{run.repo_path}/pulls", {"title": title, "head": head, "base": base, "body": body}
    )
    return f"opened pull request #{(created or {}).get('number')} from {head}"
