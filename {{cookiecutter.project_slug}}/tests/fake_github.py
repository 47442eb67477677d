"""A fake GitHub REST API for the tests: a real HTTP server on loopback that records every
request and answers the way GitHub's REST documentation describes, for the calls this project
makes (repository setup, pull request comments, events and reviews)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

TOKEN = "test-token-123"
REPO = "acme/credit-model"
BOT = {"login": "github-actions[bot]", "type": "Bot"}  # the author of a GITHUB_TOKEN's writes
USERS = {"model-owner": 101, "risk-approver": 202}
TEAMS = {("acme", "risk-team"): 303}


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class FakeGitHub:
    """The state of one fake repository, and every request it was sent."""

    url: str = ""
    repository: str = REPO
    # The repository's visibility and its organisation's plan (GitHub's own names), and whether
    # the token may read the plan (GET /orgs/{org} shows it to the organisation's owners only).
    visibility: str = "public"
    plan: str = "free"
    plan_visible: bool = True
    requests: list[Recorded] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=lambda: dict(USERS))
    teams: dict[tuple[str, str], int] = field(default_factory=lambda: dict(TEAMS))
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    branch_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    protection: dict[str, Any] = field(default_factory=dict)
    workflow_permissions: dict[str, Any] = field(default_factory=dict)
    # pull request number -> its comments, and its issue events (oldest first)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issue_events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # commit sha -> the pull requests GitHub associates with it
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # issue number -> the issue; dispatched workflows; pull requests opened through the API
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    next_number: int = 100
    # (org, team slug) -> logins of its active members
    team_members: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # pull request number -> its reviews (oldest first: user, state, commit_id, submitted_at)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # pull request number -> its commits (author and committer logins); branch -> its head
    pull_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    branch_heads: dict[str, str] = field(default_factory=dict)
    # workflow runs (id, event, head_sha, head_branch, pull_requests, created_at), oldest first,
    # as GET .../actions/runs lists them (newest first, filtered by event, branch, head_sha)
    workflow_runs: list[dict[str, Any]] = field(default_factory=list)
    # (method, path) -> (status, message): answer that call with an error
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    next_id: int = 1000

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def bodies(self, method: str, pattern: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def new_number(self) -> int:
        """Issues and pull requests share one numbering, as on GitHub."""
        self.next_number += 1
        return self.next_number

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def reviewers_enforced(self) -> bool:
        """GitHub holds deployments for required reviewers on public repositories, and on
        private and internal ones only with GitHub Enterprise ("About environments")."""
        return self.visibility == "public" or self.plan == "enterprise"

    def environment(self, name: str) -> dict[str, Any]:
        """GET .../environments/{name}: the protection rules GitHub enforces for what was PUT
        (reviewers it does not enforce are not among them)."""
        body = self.environments[name]
        rules: list[dict[str, Any]] = []
        if body.get("reviewers") and self.reviewers_enforced():
            reviewers = [
                {"type": r["type"], "reviewer": {"id": r["id"]}} for r in body["reviewers"]
            ]
            rules.append(
                {
                    "id": 1,
                    "type": "required_reviewers",
                    "reviewers": reviewers,
                    "prevent_self_review": body.get("prevent_self_review", False),
                }
            )
        policy = body.get("deployment_branch_policy")
        if policy:
            rules.append({"id": 2, "type": "branch_policy"})
        return {
            "id": 7,
            "name": name,
            "protection_rules": rules,
            "deployment_branch_policy": policy,
        }

    def answer(self, method: str, path: str, body: Any, query: str = "") -> tuple[int, Any]:
        """GitHub's documented answer to one call: (status, JSON body)."""
        if (method, path) in self.failures:
            status, message = self.failures[(method, path)]
            return status, {"message": message, "documentation_url": "https://docs.github.com"}
        parts = [unquote(part) for part in path.strip("/").split("/")]
        repo = f"repos/{self.repository}".split("/")
        match method, parts:
            case "GET", [*prefix] if prefix == repo:
                owner = {"login": self.repository.split("/")[0], "type": "Organization"}
                private = self.visibility != "public"
                return 200, {"full_name": self.repository, "visibility": self.visibility,
                             "private": private, "owner": owner}  # fmt: skip
            case "GET", ["orgs", org]:
                found: dict[str, Any] = {"login": org, "type": "Organization"}
                if self.plan_visible:
                    found["plan"] = {"name": self.plan, "seats": 5}
                return 200, found
            case "GET", [*prefix, "environments", name] if prefix == repo:
                if name not in self.environments:
                    return 404, {"message": "Not Found"}
                return 200, self.environment(name)
            case "GET", [*prefix, "branches", branch, "protection"] if prefix == repo:
                if branch not in self.protection:
                    return 404, {"message": "Branch not protected"}
                return 200, self.protection[branch]
            case "GET", ["users", login]:
                if login not in self.users:
                    return 404, {"message": "Not Found"}
                return 200, {"login": login, "id": self.users[login], "type": "User"}
            case "GET", ["orgs", org, "teams", slug, "memberships", login]:
                if login not in self.team_members.get((org, slug), set()):
                    return 404, {"message": "Not Found"}
                return 200, {"state": "active", "role": "member"}
            case "GET", ["orgs", org, "teams", slug]:
                if (org, slug) not in self.teams:
                    return 404, {"message": "Not Found"}
                return 200, {"id": self.teams[(org, slug)], "slug": slug, "name": slug}
            case "PUT", [*prefix, "environments", name] if prefix == repo:
                self.environments[name] = body
                return 200, {"id": self.new_id(), "name": name, "protection_rules": []}
            case "GET", [*prefix, "environments", name, "deployment-branch-policies"] if (
                prefix == repo
            ):
                policies = self.branch_policies.get(name, [])
                return 200, {"total_count": len(policies), "branch_policies": policies}
            case "POST", [*prefix, "environments", name, "deployment-branch-policies"] if (
                prefix == repo
            ):
                custom = (self.environments.get(name) or {}).get("deployment_branch_policy") or {}
                if not custom.get("custom_branch_policies"):
                    return 404, {"message": "Not Found"}
                policy = {"id": self.new_id(), "name": body["name"], "type": body["type"]}
                self.branch_policies.setdefault(name, []).append(policy)
                return 200, policy
            case "PUT", [*prefix, "actions", "permissions", "workflow"] if prefix == repo:
                self.workflow_permissions = body
                return 204, None
            case "PUT", [*prefix, "branches", branch, "protection"] if prefix == repo:
                self.protection[branch] = body
                return 200, {"url": f"{self.url}{path}"}
            case "GET", [*prefix, "labels", name] if prefix == repo:
                if name not in self.labels:
                    return 404, {"message": "Not Found"}
                return 200, self.labels[name]
            case "POST", [*prefix, "labels"] if prefix == repo:
                if body["name"] in self.labels:
                    return 422, {"message": "Validation Failed", "errors": [
                        {"resource": "Label", "code": "already_exists", "field": "name"}
                    ]}  # fmt: skip
                self.labels[body["name"]] = {"id": self.new_id(), **body, "default": False}
                return 201, self.labels[body["name"]]
            case "GET", [*prefix, "commits", sha, "pulls"] if prefix == repo:
                return 200, self.commit_pulls.get(sha, [])
            case "GET", [*prefix, "issues", number, "events"] if prefix == repo:
                return 200, self.page(self.issue_events.get(int(number), []), query)
            case "GET", [*prefix, "issues", number, "comments"] if prefix == repo:
                return 200, self.page(self.comments.get(int(number), []), query)
            case "POST", [*prefix, "issues", number, "comments"] if prefix == repo:
                comment = {"id": self.new_id(), "body": body["body"], "user": BOT}
                self.comments.setdefault(int(number), []).append(comment)
                return 201, comment
            case "PATCH", [*prefix, "issues", "comments", comment_id] if prefix == repo:
                for comment in (c for cs in self.comments.values() for c in cs):
                    if comment["id"] == int(comment_id):
                        comment["body"] = body["body"]
                        return 200, comment
                return 404, {"message": "Not Found"}
            case "GET", [*prefix, "issues"] if prefix == repo:
                listed = [i for i in self.issues.values() if i["state"] == "open"]
                return 200, self.page(listed, query)
            case "POST", [*prefix, "issues"] if prefix == repo:
                issue = {"number": self.new_number(), "state": "open", **body, "user": BOT}
                self.issues[issue["number"]] = issue
                return 201, issue
            case "PATCH", [*prefix, "issues", number] if prefix == repo:
                if int(number) not in self.issues:
                    return 404, {"message": "Not Found"}
                self.issues[int(number)].update(body)
                return 200, self.issues[int(number)]
            case "POST", [*prefix, "actions", "workflows", workflow, "dispatches"] if (
                prefix == repo
            ):
                self.dispatches.append({"workflow": workflow, **body})
                return 204, None
            case "POST", [*prefix, "pulls"] if prefix == repo:
                if any(p["head"] == body["head"] and p["state"] == "open" for p in self.pulls):
                    return 422, {"message": "Validation Failed", "errors": [
                        {"resource": "PullRequest", "code": "custom",
                         "message": f"A pull request already exists for {body['head']}."}
                    ]}  # fmt: skip
                pull = {"number": self.new_number(), "state": "open", **body}
                self.pulls.append(pull)
                return 201, pull
            case "GET", [*prefix, "pulls"] if prefix == repo:
                # `head` is user:ref-name (or organization:ref-name); `state` defaults to open.
                pairs = (part.split("=", 1) for part in query.split("&") if "=" in part)
                asked = {key: unquote(value) for key, value in pairs}
                owner = self.repository.split("/")[0]
                listed = [
                    p for p in self.pulls
                    if p["state"] == asked.get("state", "open")
                    and ("head" not in asked or f"{owner}:{p['head']}" == asked["head"])
                    and ("base" not in asked or p["base"] == asked["base"])
                ]  # fmt: skip
                return 200, self.page(listed, query)
            case "PATCH", [*prefix, "pulls", number] if prefix == repo:
                pulls = [p for p in self.pulls if p["number"] == int(number)]
                if not pulls:
                    return 404, {"message": "Not Found"}
                pulls[0].update(body)
                return 200, pulls[0]
            case "GET", [*prefix, "actions", "runs"] if prefix == repo:
                asked = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
                wanted = {key: asked[key] for key in ("event", "head_sha") if key in asked}
                if "branch" in asked:
                    wanted["head_branch"] = unquote(asked["branch"])
                runs = [  # newest first
                    r for r in reversed(self.workflow_runs)
                    if all(r.get(key) == value for key, value in wanted.items())
                ]  # fmt: skip
                listed = self.page(runs, query)
                return 200, {"total_count": len(runs), "workflow_runs": listed}
            case "GET", [*prefix, "pulls", number, "reviews"] if prefix == repo:
                return 200, self.page(self.reviews.get(int(number), []), query)
            case "GET", [*prefix, "pulls", number, "commits"] if prefix == repo:
                return 200, self.page(self.pull_commits.get(int(number), []), query)
            case "GET", [*prefix, "branches", branch] if prefix == repo:
                if branch not in self.branch_heads:
                    return 404, {"message": "Branch not found"}
                return 200, {"name": branch, "commit": {"sha": self.branch_heads[branch]}}
        return 404, {"message": "Not Found"}

    @staticmethod
    def page(items: list[Any], query: str) -> list[Any]:
        """One page of a list, as `per_page` and `page` ask (GitHub's defaults: 30, 1)."""
        asked = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        size, number = int(asked.get("per_page", 30)), int(asked.get("page", 1))
        return items[(number - 1) * size : number * size]


def handler_for(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            # Header names are case-insensitive (urllib sends "X-github-api-version").
            headers = {name.lower(): value for name, value in self.headers.items()}
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, answer = 401, {"message": "Bad credentials"}
            else:
                status, answer = fake.answer(self.command, url.path, body, url.query)
            fake.requests.append(Recorded(self.command, url.path, url.query, body, headers, status))
            data = b"" if status == 204 else json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output clean

    return Handler


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve `fake` on a free loopback port (its `url`) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def running_fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub API on 127.0.0.1, with GITHUB_API_URL and GITHUB_TOKEN pointing at it."""
    with serving(FakeGitHub()) as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield fake
