"""Configure the GitHub repository the pipeline's governance relies on, idempotently.

- environment `production` (the credential that moves production, used by deploy.yml):
  required reviewers where the plan enforces them (resolved to numeric ids), no self-review,
  deployments only from the default branch (a custom branch policy);
- environments `registry` (the credential that registers, and the token that opens promotion
  pull requests), `monitoring` (drift and retraining) and `rollout` (the token that records a
  rollout's moves in deploy/): no reviewers, deployments only from the default branch;
- branch protection on the default branch: the aggregate check, as reported by the GitHub
  Actions app (no other app or status can stand in for it), and a code-owner review, which is
  what guards production on every plan: deploy/production.yaml changes only by a pull request
  a code owner of deploy/ approved (deploy.yml checks that approval again before it moves);
- workflow tokens read-only by default and unable to approve pull requests (a workflow could
  otherwise approve the very pull request it runs for);
- the PR label that overrides a performance failure of the gate.

Then it reads back what GitHub really enforces and prints it: what a repository gets depends on
its visibility and plan (the repository's `visibility`; the plan from the organisation or the
user, where the token may see it), and GitHub may accept a setting it does not enforce.

Running it again changes nothing that is already right and creates nothing twice. It talks to
the REST API with the standard library only: `GITHUB_TOKEN` (repository administration, and
organisation members read for a team reviewer) and `GITHUB_API_URL` (set by GitHub Actions,
for GitHub Enterprise Server too; default https://api.github.com).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..github.github_api import Client, GithubApiError, GithubError, segment
from ..settings import SIGN_OFF_ROLES, Settings

ENVIRONMENTS = ("production",)
# Environments whose secrets only default-branch jobs may read; nobody approves them.
BRANCH_ONLY_ENVIRONMENTS = ("registry", "monitoring", "rollout")
GITHUB_ACTIONS_APP_ID = 15368  # the app that reports workflow jobs' check runs
LABEL_COLOR = "d93f0b"
LABEL_DESCRIPTION = "Lets a PR merge although the model gate failed on performance (never risk)"


class GithubSetupError(GithubError):
    """The repository could not be configured as asked."""


@dataclass(frozen=True)
class Plan:
    """What GitHub gives the repository's environments and branches ("About environments",
    "About protected branches"): a public repository everything on every plan; a private or
    internal one environments, their secrets and branch policies on Pro and Team but required
    reviewers only on Enterprise; on GitHub Free, a private repository neither environments
    nor branch protection."""

    repository: str
    visibility: str  # public, private or internal
    name: str | None  # free, pro, team, enterprise; None where the token may not see it

    @property
    def reviewers_enforced(self) -> bool | None:
        """Whether required reviewers hold here; None when the plan cannot be read."""
        if self.visibility == "public":
            return True
        return None if self.name is None else self.name == "enterprise"

    def describe(self) -> str:
        return f"{self.repository}: {self.visibility}, plan {self.name or 'unknown to this token'}"


def read_plan(client: Client, repository: str) -> Plan:
    """The repository's visibility, and its owner's plan where the token may read it (an
    organisation's plan only for its owners; a user's only for that user)."""
    found = client.request("GET", f"/repos/{repository}") or {}
    visibility = found.get("visibility") or ("private" if found.get("private") else "public")
    owner = found.get("owner") or {}
    try:
        if owner.get("type") == "Organization":
            account = client.get_or_none(f"/orgs/{segment(owner.get('login', ''))}") or {}
        else:
            account = client.get_or_none("/user") or {}
            if account.get("login") != owner.get("login"):
                account = {}
    except GithubApiError:
        account = {}  # an app's token may not read accounts: the plan stays unknown
    name = (account.get("plan") or {}).get("name")
    return Plan(repository, str(visibility), str(name).lower() if name else None)


@dataclass(frozen=True)
class Reviewer:
    handle: str
    type: str  # "User" or "Team", as the environments API spells it
    id: int

    def describe(self) -> str:
        return f"{self.handle} ({self.type} {self.id})"

    def payload(self) -> dict[str, object]:
        return {"type": self.type, "id": self.id}


def resolve_reviewer(client: Client, handle: str) -> Reviewer:
    """A user name -> GET /users/{username}; org/team-slug -> GET /orgs/{org}/teams/{slug}."""
    if "/" in handle:
        org, slug = handle.split("/", 1)
        path = f"/orgs/{segment(org)}/teams/{segment(slug)}"
        found = client.get_or_none(path)
        if found is None:
            raise GithubSetupError(
                f"reviewer {handle!r}: GET {path} -> 404: no such team, or the token cannot "
                "see the organisation's teams"
            )
        return Reviewer(handle, "Team", int(found["id"]))
    path = f"/users/{segment(handle)}"
    found = client.get_or_none(path)
    if found is None:
        raise GithubSetupError(f"reviewer {handle!r}: GET {path} -> 404: no such GitHub user")
    if found.get("type", "User") != "User":
        raise GithubSetupError(
            f"reviewer {handle!r} is a GitHub {found['type']}, not a user: "
            "name a team as org/team-slug"
        )
    return Reviewer(handle, "User", int(found["id"]))


def configure_environment(
    client: Client, repository: str, name: str, reviewers: list[Reviewer], branch: str
) -> str:
    """Create or update one environment, then make sure `branch` may deploy to it."""
    path = f"/repos/{repository}/environments/{segment(name)}"
    client.request(
        "PUT",
        path,
        {
            "wait_timer": 0,
            "prevent_self_review": True,
            "reviewers": [reviewer.payload() for reviewer in reviewers],
            # Custom policies, not "protected branches": only the names listed may deploy.
            "deployment_branch_policy": {
                "protected_branches": False,
                "custom_branch_policies": True,
            },
        },
    )
    policy = ensure_branch_policy(client, repository, name, branch)
    names = ", ".join(reviewer.describe() for reviewer in reviewers) or "none"
    return (
        f"environment {name}: reviewers {names}; self-review prevented; "
        f"deploys only from {branch} (branch policy {policy})"
    )


def ensure_branch_policy(client: Client, repository: str, environment: str, branch: str) -> str:
    """Add the deployment branch policy for `branch` unless the environment already has it."""
    path = f"/repos/{repository}/environments/{segment(environment)}/deployment-branch-policies"
    listed = client.request("GET", f"{path}?per_page=100") or {}
    for policy in listed.get("branch_policies") or []:
        if policy.get("name") == branch and policy.get("type", "branch") == "branch":
            return "already present"
    client.request("POST", path, {"name": branch, "type": "branch"})
    return "added"


def protect_branch(client: Client, repository: str, branch: str, check: str) -> str:
    """Require the aggregate check (branch up to date) and one code-owner approval, for admins
    too; stale approvals are dismissed by a new push, and the last push must be approved by
    someone other than its pusher (a code owner who pushes onto the bot's promotion branch
    cannot approve it alone). PUT replaces the whole protection."""
    client.request(
        "PUT",
        f"/repos/{repository}/branches/{segment(branch)}/protection",
        {
            "required_status_checks": {
                "strict": True,
                "checks": [{"context": check, "app_id": GITHUB_ACTIONS_APP_ID}],
            },
            "enforce_admins": True,
            "required_pull_request_reviews": {
                "dismiss_stale_reviews": True,
                "require_code_owner_reviews": True,
                "required_approving_review_count": 1,
                "require_last_push_approval": True,
            },
            "restrictions": None,
        },
    )
    return (
        f"branch {branch}: protected; requires check {check!r} from GitHub Actions (up to date), "
        "1 code-owner approval (not by the last pusher), stale approvals dismissed, admins "
        "included"
    )


def restrict_workflow_tokens(client: Client, repository: str) -> str:
    """GITHUB_TOKEN read-only unless a job asks for more, and never a pull request approver."""
    client.request(
        "PUT",
        f"/repos/{repository}/actions/permissions/workflow",
        {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": False},
    )
    return "workflow tokens: read-only by default, cannot approve pull requests"


def ensure_label(client: Client, repository: str, name: str) -> str:
    """Create the override label if the repository does not have it; an existing one is kept
    as it is (its colour and description may have been chosen on purpose)."""
    if client.get_or_none(f"/repos/{repository}/labels/{segment(name)}") is not None:
        return f"label {name}: already exists"
    client.request(
        "POST",
        f"/repos/{repository}/labels",
        {"name": name, "color": LABEL_COLOR, "description": LABEL_DESCRIPTION},
    )
    return f"label {name}: created"


def in_force(client: Client, repository: str, branch: str, plan: Plan) -> list[str]:
    """What GitHub reports as enforced, read back after the writes: per environment its
    required reviewers and branch policy, and the branch's code-owner review."""
    reviewers: dict[str, bool] = {}
    branch_only: dict[str, bool] = {}
    for environment in (*ENVIRONMENTS, *BRANCH_ONLY_ENVIRONMENTS):
        path = f"/repos/{repository}/environments/{segment(environment)}"
        found = client.request("GET", path) or {}
        rules = {rule.get("type") for rule in found.get("protection_rules") or []}
        policy = found.get("deployment_branch_policy") or {}
        branch_only[environment] = policy.get("custom_branch_policies") is True
        if environment in ENVIRONMENTS:
            reviewers[environment] = "required_reviewers" in rules
    protection_path = f"/repos/{repository}/branches/{segment(branch)}/protection"
    reviews = (client.request("GET", protection_path) or {}).get("required_pull_request_reviews")
    code_owners = (reviews or {}).get("require_code_owner_reviews") is True
    lines = [
        f"in force ({plan.describe()}):",
        f"  required reviewers: {_each(reviewers)}",
        f"  code-owner review on {branch}: {_yes(code_owners)}",
        f"  deployments only from {branch}: {_each(branch_only)}",
    ]
    if not code_owners:
        lines.append(
            f"  WARNING: no code-owner review on {branch}: a pull request changing deploy/ "
            "merges without the risk approver, and deploy.yml will refuse to apply it"
        )
    if not all(reviewers.values()):
        lines.append(
            "  note: GitHub does not hold the production environment for a reviewer here (it "
            "enforces required reviewers on public repositories and on GitHub Enterprise "
            "only): production is guarded by the code-owner review of deploy/ alone"
        )
    return lines


def _each(found: dict[str, bool]) -> str:
    return ", ".join(f"{name} {_yes(value)}" for name, value in found.items())


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def setup(settings: Settings, client: Client) -> list[str]:
    """Configure everything; one line per thing done, then what GitHub really enforces. Every
    reviewer is resolved before the first write, so a misspelt handle changes nothing."""
    github = settings.github
    owner, name = github.repository.split("/")
    repository = f"{segment(owner)}/{segment(name)}"
    plan = read_plan(client, repository)
    if plan.visibility != "public" and plan.name == "free":
        raise GithubSetupError(
            f"{github.repository} is a {plan.visibility} repository on GitHub Free, which gives "
            "it neither environments nor branch protection: the control plane needs them; make "
            "it public, or move it to GitHub Pro, Team or Enterprise"
        )
    handles = {"production": github.production_reviewers}
    resolved = {handle: resolve_reviewer(client, handle) for handle in github.production_reviewers}
    # Reviewers GitHub would not enforce are not sent (the environment would look guarded).
    send = plan.reviewers_enforced is not False
    reviewers = {
        env: [resolved[handle] for handle in handles[env]] if send else [] for env in ENVIRONMENTS
    }
    done = [
        configure_environment(
            client, repository, environment, reviewers[environment], github.default_branch
        )
        for environment in ENVIRONMENTS
    ]
    done += [
        configure_environment(client, repository, environment, [], github.default_branch)
        for environment in BRANCH_ONLY_ENVIRONMENTS
    ]
    done.append(protect_branch(client, repository, github.default_branch, github.required_check))
    done.append(restrict_workflow_tokens(client, repository))
    done.append(ensure_label(client, repository, settings.gate.override_label))
    return [*done, *in_force(client, repository, github.default_branch, plan), sign_off(settings)]


def sign_off(settings: Settings) -> str:
    """Who must approve a change of deploy/ before deploy.yml applies it (deploy.sign_off)."""
    who = " AND ".join(
        f"{SIGN_OFF_ROLES[role]} @{getattr(settings.tracking, role)}"
        for role in settings.deploy.sign_off
    )
    return (
        f"  production sign-off (deploy.yml, deploy.sign_off in params.yaml): an approval of "
        f"the final head by {who}, each by a different person; CODEOWNERS must list each on "
        "/deploy/"
    )
