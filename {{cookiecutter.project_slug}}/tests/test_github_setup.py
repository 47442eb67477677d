"""`github-setup` against a fake GitHub REST API: a real HTTP server on loopback that records
every request and answers the way GitHub's REST documentation describes."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_github import REPO, TOKEN, FakeGitHub

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.github import github_api
from {{ cookiecutter.package_name }}.github.github_api import API_VERSION
from {{ cookiecutter.package_name }}.project import github_setup
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, parse_settings


def write_params(params_path: Path, tmp_path: Path, **github: Any) -> Path:
    """The tests' params with a known github section (and override label), plus changes."""
    raw: dict[str, Any] = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    raw["gate"]["override_label"] = "gate-override"
    raw["github"] = {
        "repository": REPO,
        "default_branch": "main",
        "required_check": "gate",
        "production_reviewers": ["risk-approver"],
        **github,
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def params(params_path: Path, tmp_path: Path) -> Path:
    return write_params(params_path, tmp_path)


def run(params: Path) -> int:
    return main(["--params", str(params), "github-setup"])


FIRST_RUN = [
    ("GET", f"/repos/{REPO}"),
    ("GET", "/orgs/acme"),
    ("GET", "/users/risk-approver"),
    ("PUT", f"/repos/{REPO}/environments/production"),
    ("GET", f"/repos/{REPO}/environments/production/deployment-branch-policies"),
    ("POST", f"/repos/{REPO}/environments/production/deployment-branch-policies"),
    ("PUT", f"/repos/{REPO}/environments/registry"),
    ("GET", f"/repos/{REPO}/environments/registry/deployment-branch-policies"),
    ("POST", f"/repos/{REPO}/environments/registry/deployment-branch-policies"),
    ("PUT", f"/repos/{REPO}/environments/monitoring"),
    ("GET", f"/repos/{REPO}/environments/monitoring/deployment-branch-policies"),
    ("POST", f"/repos/{REPO}/environments/monitoring/deployment-branch-policies"),
    ("PUT", f"/repos/{REPO}/environments/rollout"),
    ("GET", f"/repos/{REPO}/environments/rollout/deployment-branch-policies"),
    ("POST", f"/repos/{REPO}/environments/rollout/deployment-branch-policies"),
    ("PUT", f"/repos/{REPO}/branches/main/protection"),
    ("PUT", f"/repos/{REPO}/actions/permissions/workflow"),
    ("GET", f"/repos/{REPO}/labels/gate-override"),
    ("POST", f"/repos/{REPO}/labels"),
    ("GET", f"/repos/{REPO}/environments/production"),
    ("GET", f"/repos/{REPO}/environments/registry"),
    ("GET", f"/repos/{REPO}/environments/monitoring"),
    ("GET", f"/repos/{REPO}/environments/rollout"),
    ("GET", f"/repos/{REPO}/branches/main/protection"),
]
IN_FORCE_ON_A_PUBLIC_REPOSITORY = [
    f"in force ({REPO}: public, plan free):",
    "  required reviewers: production yes",
    "  code-owner review on main: yes",
    "  deployments only from main: production yes, registry yes, monitoring yes, rollout yes",
]


def test_first_run_makes_exactly_these_calls(
    github: FakeGitHub, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first run reads the repository's visibility and plan, resolves the reviewers, then
    configures the environments, the branch protection and the label, in that order, prints
    one line per thing done, and then what GitHub reports as enforced."""
    assert run(params) == 0
    assert github.calls() == FIRST_RUN
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "environment production: reviewers risk-approver (User 202); self-review prevented; "
        "deploys only from main (branch policy added)",
        "environment registry: reviewers none; self-review prevented; "
        "deploys only from main (branch policy added)",
        "environment monitoring: reviewers none; self-review prevented; "
        "deploys only from main (branch policy added)",
        "environment rollout: reviewers none; self-review prevented; "
        "deploys only from main (branch policy added)",
        "branch main: protected; requires check 'gate' from GitHub Actions (up to date), "
        "1 code-owner approval (not by the last pusher), stale approvals dismissed, admins "
        "included",
        "workflow tokens: read-only by default, cannot approve pull requests",
        "label gate-override: created",
        *IN_FORCE_ON_A_PUBLIC_REPOSITORY,
        "  production sign-off (deploy.yml, deploy.sign_off in params.yaml): an approval of the "
        "final head by the model owner @model-owner AND the risk approver @risk-approver, each "
        "by a different person; CODEOWNERS must list each on /deploy/",
    ]


@pytest.mark.parametrize(
    ("visibility", "plan", "plan_visible", "sent", "enforced"),
    [
        pytest.param("private", "team", True, False, False, id="private-team"),
        pytest.param("private", "pro", True, False, False, id="private-pro"),
        pytest.param("internal", "enterprise", True, True, True, id="internal-enterprise"),
        pytest.param("private", "enterprise", True, True, True, id="private-enterprise"),
        pytest.param("private", "team", False, True, False, id="private-plan-unseen"),
        pytest.param("public", "team", True, True, True, id="public-team"),
    ],
)
def test_what_is_in_force_is_read_back_per_plan(
    github: FakeGitHub,
    params: Path,
    capsys: pytest.CaptureFixture[str],
    visibility: str,
    plan: str,
    plan_visible: bool,
    sent: bool,
    enforced: bool,
) -> None:
    """Required reviewers hold on public repositories and on Enterprise only (GitHub's "About
    environments"): where the plan is known not to enforce them they are not sent (the
    environment would look guarded); what is printed as in force is what GitHub reports back,
    and where nobody holds the production environment, the note says that the code-owner review
    of deploy/ is what guards production."""
    github.visibility, github.plan, github.plan_visible = visibility, plan, plan_visible
    assert run(params) == 0
    assert github.environments["production"]["reviewers"] == (
        [{"type": "User", "id": 202}] if sent else []
    )
    out = capsys.readouterr().out.splitlines()
    shown = plan if plan_visible else "unknown to this token"
    at = out.index(f"in force ({REPO}: {visibility}, plan {shown}):")
    word = "yes" if enforced else "no"
    assert out[at + 1 : at + 4] == [
        f"  required reviewers: production {word}",
        "  code-owner review on main: yes",
        "  deployments only from main: production yes, registry yes, monitoring yes, rollout yes",
    ]
    assert [line for line in out if "WARNING" in line] == []
    noted = [line for line in out if line.startswith("  note:")]
    assert len(noted) == (0 if enforced else 1)
    if noted:
        assert "guarded by the code-owner review of deploy/ alone" in noted[0]


def test_a_branch_without_code_owner_review_is_a_warning(github: FakeGitHub, params: Path) -> None:
    """Where GitHub reports no code-owner review on the branch (its protection changed by hand
    since), the read-back says so in a warning: deploy/ is then unguarded."""
    assert run(params) == 0
    github.protection["main"]["required_pull_request_reviews"] = None
    client = github_api.client_from_env()
    lines = github_setup.in_force(client, REPO, "main", github_setup.read_plan(client, REPO))
    assert "  code-owner review on main: no" in lines
    [warning] = [line for line in lines if "WARNING" in line]
    assert "a pull request changing deploy/ merges without the risk approver" in warning


def test_a_private_repository_on_github_free_is_refused_before_any_write(
    github: FakeGitHub, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GitHub Free gives a private repository no environments and no branch protection: the
    command says so in one line and changes nothing."""
    github.visibility, github.plan = "private", "free"
    assert run(params) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: {REPO} is a private repository on GitHub Free"
    )
    assert {method for method, _ in github.calls()} == {"GET"}


def test_environment_bodies_have_the_documented_shape(github: FakeGitHub, params: Path) -> None:
    """Each environment gets its reviewers as numeric ids typed User, no self-review, and
    deployments limited to custom branch policies naming only main."""
    assert run(params) == 0
    expected_reviewers = {"production": [202], "registry": [], "monitoring": [], "rollout": []}
    for name, user_ids in expected_reviewers.items():
        assert github.environments[name] == {
            "wait_timer": 0,
            "prevent_self_review": True,
            "reviewers": [{"type": "User", "id": user_id} for user_id in user_ids],
            "deployment_branch_policy": {
                "protected_branches": False,
                "custom_branch_policies": True,
            },
        }
        assert github.bodies("POST", f"/environments/{name}/deployment-branch-policies$") == [
            {"name": "main", "type": "branch"}
        ]


def test_branch_protection_and_label_bodies(github: FakeGitHub, params: Path) -> None:
    """main is protected by the `gate` check and one code-owner approval (stale approvals
    dismissed, no push restrictions), and the override label is created by its name."""
    assert run(params) == 0
    assert github.protection["main"] == {
        # The check by its app (GitHub Actions, 15368): a commit status named "gate" that
        # anyone with write access can post does not satisfy it.
        "required_status_checks": {
            "strict": True,
            "checks": [{"context": "gate", "app_id": 15368}],
        },
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
            "required_approving_review_count": 1,
            "require_last_push_approval": True,
        },
        "restrictions": None,
    }
    assert github.workflow_permissions == {
        "default_workflow_permissions": "read",
        "can_approve_pull_request_reviews": False,
    }
    [label] = github.bodies("POST", r"/labels$")
    assert label["name"] == "gate-override"
    assert re.fullmatch(r"[0-9a-f]{6}", label["color"])
    assert 0 < len(label["description"]) <= 100


def test_every_request_sends_the_token_and_api_headers(github: FakeGitHub, params: Path) -> None:
    """Every request carries the token as a Bearer credential and GitHub's JSON media type and
    API version headers; bodies are sent as JSON."""
    assert run(params) == 0
    assert github.requests
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == API_VERSION == "2022-11-28"
        if request.body is not None:
            assert request.headers["content-type"] == "application/json"


def test_second_run_creates_nothing_twice(
    github: FakeGitHub, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run again against a repository that already has the branch policies and the label, it
    sends no POST, so nothing is duplicated, and says what was already there."""
    assert run(params) == 0
    first = len(github.requests)
    capsys.readouterr()
    assert run(params) == 0
    second = github.requests[first:]
    assert [r for r in second if r.method == "POST"] == []
    assert {r.method for r in second} == {"GET", "PUT"}
    assert {name: len(p) for name, p in github.branch_policies.items()} == {
        "production": 1,
        "registry": 1,
        "monitoring": 1,
        "rollout": 1,
    }
    out = capsys.readouterr().out
    assert out.count("branch policy already present") == 4
    assert "label gate-override: already exists" in out


def test_existing_policy_and_label_are_found_in_a_preconfigured_repository(
    github: FakeGitHub, params: Path
) -> None:
    """A repository set up by hand (a main policy among others, the label present) gets no POST
    at all: the listed policies and the label are recognised."""
    for name in ("production", "registry", "monitoring", "rollout"):
        github.branch_policies[name] = [
            {"id": 1, "node_id": "x", "name": "release/*", "type": "branch"},
            {"id": 2, "node_id": "y", "name": "main", "type": "branch"},
        ]
    github.labels["gate-override"] = {"id": 9, "name": "gate-override", "color": "ededed"}
    assert run(params) == 0
    assert [call for call in github.calls() if call[0] == "POST"] == []
    assert github.labels["gate-override"]["color"] == "ededed"  # left as it was


def test_team_reviewer_resolves_through_the_org_teams_endpoint(
    github: FakeGitHub, params_path: Path, tmp_path: Path
) -> None:
    """An org/team-slug reviewer is looked up with GET /orgs/{org}/teams/{slug} and sent as a
    Team with its numeric id."""
    params = write_params(params_path, tmp_path, production_reviewers=["acme/risk-team"])
    assert run(params) == 0
    assert ("GET", "/orgs/acme/teams/risk-team") in github.calls()
    assert not any(path.startswith("/users/acme") for _, path in github.calls())
    assert github.environments["production"]["reviewers"] == [{"type": "Team", "id": 303}]


@pytest.mark.parametrize("token", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_missing_token_stops_before_any_request(
    github: FakeGitHub,
    params: Path,
    token: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a usable GITHUB_TOKEN the command exits 1 naming the variable and sends nothing."""
    if token is None:
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    assert run(params) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GITHUB_TOKEN is not set")
    assert github.requests == []


def test_forbidden_branch_protection_is_one_line_naming_the_call(
    github: FakeGitHub, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 403 on branch protection exits 1 with one line naming the method, path, status and
    GitHub's message, and the steps after it are not attempted."""
    path = f"/repos/{REPO}/branches/main/protection"
    github.failures[("PUT", path)] = (403, "Resource not accessible by integration")
    assert run(params) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: GitHub API PUT {path} -> 403: Resource not accessible by integration"]
    assert github.calls()[-1] == ("PUT", path)  # the label was not touched


def test_unknown_user_is_named_and_nothing_is_changed(
    github: FakeGitHub, params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer GitHub does not know (404) exits 1 with an error naming the handle, before
    any environment, protection or label is written."""
    params = write_params(params_path, tmp_path, production_reviewers=["no-such-person"])
    assert run(params) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: reviewer 'no-such-person'")
    assert "/users/no-such-person -> 404" in err
    assert {method for method, _ in github.calls()} == {"GET"}


def test_unknown_team_is_named(
    github: FakeGitHub, params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A team GitHub does not show the token (404) exits 1 naming the org/team handle."""
    params = write_params(params_path, tmp_path, production_reviewers=["acme/ghosts"])
    assert run(params) == 1
    assert capsys.readouterr().err.startswith("error: reviewer 'acme/ghosts'")
    assert {method for method, _ in github.calls()} == {"GET"}


def test_wrong_token_is_reported_with_githubs_message(
    github: FakeGitHub,
    params: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A token GitHub refuses (401) exits 1 at the first call, with GitHub's message."""
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    assert run(params) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: GitHub API GET /repos/{REPO} -> 401: Bad credentials"
    ]
    assert len(github.requests) == 1


def test_unreachable_api_is_one_line(
    params: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing listening at GITHUB_API_URL the command exits 1 with one line naming it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("GITHUB_API_URL", url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert run(params) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: GitHub API GET /repos/{REPO}: cannot reach " + url)


def test_shipped_production_reviewer_is_the_risk_approver(settings: Settings) -> None:
    """The template's params (the tests' copy, fixtures/params.yaml) give production to the
    risk approver, and require the `gate` check on main."""
    assert settings.github.production_reviewers == (settings.tracking.risk_approver,)
    assert (settings.github.default_branch, settings.github.required_check) == ("main", "gate")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("repository", "credit-model", "github.repository"),
        ("repository", "acme/..", "github"),
        ("production_reviewers", ["@risk-approver"], "github.production_reviewers.0"),
        ("production_reviewers", [], "github.production_reviewers"),
        ("production_reviewers", [f"user{i}" for i in range(7)], "github.production_reviewers"),
        ("default_branch", "feature/*", "github.default_branch"),
    ],
)
def test_bad_github_settings_are_refused_by_key(
    params_path: Path, key: str, value: Any, problem: str
) -> None:
    """A repository that is not owner/name, a handle with `@`, no reviewers or more than six,
    or a wildcard branch is refused with a line naming the key."""
    raw: dict[str, Any] = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    raw["github"][key] = value
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, params_path)
    assert f": {problem}: " in str(caught.value)
