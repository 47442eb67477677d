"""What a workflow step reads from GitHub and writes back, against a fake GitHub REST API: the
pull request and its override label, the one report comment, the one drift issue, and the
step outputs and job summary."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from fake_github import REPO, FakeGitHub

from {{ cookiecutter.package_name }} import vocabulary
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.control import override
from {{ cookiecutter.package_name }}.github import actions, repository
from {{ cookiecutter.package_name }}.github.github_api import client_from_env
from {{ cookiecutter.package_name }}.monitoring import alerts, drift_report
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.vocabulary import GATE_REPORT_MARKER as MARKER

PR = 7


def actions_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, event_name: str, event: dict[str, Any]
) -> actions.RunContext:
    """The variables GitHub Actions sets for a run of `event_name`."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_NAME", event_name)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_SHA", "c0ffee")
    return actions.RunContext.from_env()


PUSHED = "2026-11-23T10:00:00Z"  # when the PR's head was pushed (its first run)
HEAD = "feedface"
BRANCH = "better-model"
AUTHOR = "pr-author"


def labelled(github: FakeGitHub, *events: tuple[str, str, str] | tuple[str, str, str, str]) -> None:
    """Issue events on PR, each (event, label, actor[, when]), oldest first; by default after
    the head was pushed."""
    github.issue_events[PR] = [
        {
            "id": n,
            "event": event[0],
            "label": {"name": event[1]},
            "actor": {"login": event[2]},
            "created_at": event[3]
            if len(event) > 3
            else f"2026-11-23T11:{n // 60:02d}:{n % 60:02d}Z",
        }
        for n, event in enumerate(events)
    ]
    github.workflow_runs = [pr_run(1, HEAD, PUSHED)]


def pr_run(run_id: int, sha: str, created_at: str) -> dict[str, Any]:
    """A pull_request workflow run of PR, as GitHub lists it."""
    return {
        "id": run_id,
        "event": "pull_request",
        "head_sha": sha,
        "head_branch": BRANCH,
        "pull_requests": [{"number": PR}],
        "created_at": created_at,
    }


def pull(*labels: str) -> dict[str, Any]:
    return {
        "number": PR,
        "labels": [{"name": name} for name in labels],
        "user": {"login": AUTHOR},
        "head": {"sha": HEAD, "ref": BRANCH},
    }


@pytest.fixture
def default_branch(settings: Settings) -> Callable[[Settings], None]:
    """Commit params (the tests' settings by default) as origin/main's params.yaml, in a git
    repository in the test's own folder: where the override's reviewers are read from."""

    def commit(params: Settings) -> None:
        git = [
            "git",
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@localhost",
            "-c",
            "commit.gpgsign=false",
        ]
        Path("params.yaml").write_text(
            yaml.safe_dump(params.model_dump(mode="json")), encoding="utf-8"
        )
        for args in (
            ["init", "--quiet", "--initial-branch=main"],
            ["add", "params.yaml"],
            ["commit", "--quiet", "-m", "params"],
            ["update-ref", "refs/remotes/origin/main", "HEAD"],
        ):
            subprocess.run([*git, *args], check=True, capture_output=True)

    commit(settings)
    return commit


def test_a_pull_request_event_names_its_own_pull_request(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """For a pull_request event the PR comes from the payload: no API call is needed."""
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert repository.pull_request_of(client_from_env(), run) == pull()
    assert github.requests == []


def test_a_push_finds_the_merged_pull_request_of_its_commit(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """For a push the merged PR is looked up by commit; an open PR with the commit is not it."""
    github.commit_pulls["c0ffee"] = [
        {"number": 3, "merged_at": None, "labels": []},
        {"number": PR, "merged_at": "2026-11-23T10:00:00Z", "labels": []},
    ]
    run = actions_env(monkeypatch, tmp_path, "push", {"ref": "refs/heads/main"})
    found = repository.pull_request_of(client_from_env(), run)
    assert found is not None and found["number"] == PR
    assert github.calls() == [("GET", f"/repos/{REPO}/commits/c0ffee/pulls")]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("labeled", "gate-override", "risk-approver")], ["risk-approver"]),
        (
            [("labeled", "gate-override", "alice"), ("labeled", "gate-override", "bob")],
            ["alice", "bob"],
        ),
        ([("labeled", "gate-override", "alice"), ("unlabeled", "gate-override", "bob")], []),
        ([("labeled", "other", "mallory")], []),
    ],
    ids=["applied", "both-appliers", "removed-again", "another-label"],
)
def test_who_applied_the_override_label(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    events: list[tuple[str, str, str]],
    expected: list[str],
) -> None:
    """The label's applications in force are those since it was last removed."""
    labelled(github, *events)
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    found = repository.label_applications(client_from_env(), run, PR, "gate-override")
    assert [applied.actor for applied in found] == expected


def test_label_history_is_read_to_its_end(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A PR flooded with 6,000 events still shows who applied the label last."""
    labelled(github, *[("labeled", "wip", "bot")] * 6000, ("labeled", "gate-override", "carol"))
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    found = repository.label_applications(client_from_env(), run, PR, "gate-override")
    assert [applied.actor for applied in found] == ["carol"]


def test_pull_request_facts_carry_the_override(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    default_branch: Callable[[Settings], None],
) -> None:
    """With the override label applied by a production reviewer after the last push, the gate
    learns the PR number and who overrode."""
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "risk-approver"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = override.pull_request_facts(settings)
    assert facts == {
        "number": PR,
        "override_label": label,
        "label_applied_by": "risk-approver",
        "override_by": "risk-approver",
        "override_refused": [],
    }


def with_reviewers(settings: Settings, *handles: str) -> Settings:
    github = settings.github.model_copy(update={"production_reviewers": handles})
    return settings.model_copy(update={"github": github})


@pytest.mark.parametrize(
    ("actor", "when", "reason"),
    [
        ("eager-intern", None, "eager-intern is not a production reviewer on the default branch"),
        ("risk-approver", "2026-11-23T09:59:59Z", "risk-approver applied it before the last push"),
        (AUTHOR, None, f"{AUTHOR} is the pull request's author"),
    ],
    ids=["not-a-reviewer", "stale-label", "own-pull-request"],
)
def test_an_override_that_does_not_bind_to_the_reviewed_head_grants_nothing(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    default_branch: Callable[[Settings], None],
    actor: str,
    when: str | None,
    reason: str,
) -> None:
    """A label from someone who is not a production reviewer, one applied before the last
    push, or one the author applied to their own PR (even as a reviewer) grants nothing, and
    the report says who tried and why."""
    reviewers = with_reviewers(settings, "risk-approver", AUTHOR)
    default_branch(reviewers)
    label = settings.gate.override_label
    labelled(github, ("labeled", label, actor, *([when] if when else [])))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = override.pull_request_facts(reviewers)
    assert facts["override_by"] is None
    assert reason in facts["problem"]


def test_a_label_given_to_another_head_does_not_follow_a_force_push_back(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    default_branch: Callable[[Settings], None],
) -> None:
    """Head X is pushed, replaced by Y, Y is given the label, and X is force-pushed again: X
    was pushed first long ago, but its latest push comes after the label, so it does not
    count."""
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "risk-approver", "2026-11-23T11:00:00Z"))
    github.workflow_runs = [
        pr_run(1, HEAD, "2026-11-23T10:00:00Z"),
        pr_run(2, "0ther", "2026-11-23T10:30:00Z"),
        pr_run(3, "0ther", "2026-11-23T11:00:01Z"),  # the run the label started
        pr_run(4, HEAD, "2026-11-23T11:30:00Z"),
    ]
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = override.pull_request_facts(settings)
    assert facts["override_by"] is None
    assert "before the last push" in facts["problem"]


def test_reviewers_come_from_the_default_branch_not_the_pull_request(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    default_branch: Callable[[Settings], None],
) -> None:
    """A PR whose params.yaml lists its own helper as production reviewer does not make them
    one: the list is read from the default branch."""
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "helper"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = override.pull_request_facts(with_reviewers(settings, "helper"))
    assert facts["override_by"] is None
    assert "helper is not a production reviewer" in facts["problem"]


@pytest.mark.parametrize(("member", "granted"), [(True, "dana"), (False, None)])
def test_a_team_reviewer_overrides_through_its_members(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    default_branch: Callable[[Settings], None],
    member: bool,
    granted: str | None,
) -> None:
    """With a team as production reviewer, an active member of it may override; anyone
    else, including someone GitHub will not confirm, may not."""
    team = with_reviewers(settings, "acme/risk")
    default_branch(team)
    if member:
        github.team_members[("acme", "risk")] = {"dana"}
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "dana"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    assert override.pull_request_facts(team)["override_by"] == granted


def test_pull_request_facts_record_an_api_failure_and_grant_no_override(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """When GitHub cannot say who applied the label, nobody did: the problem is recorded."""
    label = settings.gate.override_label
    github.failures[("GET", f"/repos/{REPO}/issues/{PR}/events")] = (500, "Server Error")
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = override.pull_request_facts(settings)
    assert facts["override_by"] is None
    assert "500" in facts["problem"]


def test_the_report_comment_is_written_once_then_updated(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first run writes the comment; later runs edit it, and other comments are left be."""
    github.comments[PR] = [{"id": 1, "body": "Looks good to me"}]
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert main(["comment", "--pr", str(PR), "--text", f"{MARKER}\nfirst"]) == 0
    assert main(["comment", "--pr", str(PR), "--text", f"{MARKER}\nsecond"]) == 0
    bodies = [comment["body"] for comment in github.comments[PR]]
    assert bodies == ["Looks good to me", f"{MARKER}\nsecond"]
    assert [(r.method, r.path) for r in github.requests if r.method != "GET"] == [
        ("POST", f"/repos/{REPO}/issues/{PR}/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{github.comments[PR][1]['id']}"),
    ]


def test_a_planted_marker_in_someone_elses_comment_is_never_edited(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stranger's comment carrying the report's marker is not "the" report: the bot writes
    its own comment and leaves theirs as it was."""
    planted = {"id": 1, "body": f"{MARKER}\nall green, trust me", "user": {"login": "mallory"}}
    github.comments[PR] = [dict(planted)]
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert main(["comment", "--pr", str(PR), "--text", f"{MARKER}\nthe real report"]) == 0
    assert github.comments[PR][0] == planted
    assert github.comments[PR][1]["body"] == f"{MARKER}\nthe real report"


def test_a_report_without_its_marker_is_refused(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A body the next run could not find again would duplicate comments: nothing is sent."""
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert main(["comment", "--pr", str(PR), "--text", "no marker here"]) == 1
    assert github.requests == []


def test_outside_actions_the_run_context_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the GITHUB_* variables nothing is guessed."""
    for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(repository.GithubError, match="not a GitHub Actions run"):
        actions.RunContext.from_env()


def test_step_outputs_survive_several_lines(tmp_path: Path) -> None:
    """A multi-line value (the report) is written as one delimited output block."""
    output = tmp_path / "output"
    actions.set_output("report", "line one\nline two", {"GITHUB_OUTPUT": str(output)})
    actions.set_output("verdict", "pass", {"GITHUB_OUTPUT": str(output)})
    lines = output.read_text().splitlines()
    assert lines[0].startswith("report<<EOF_") and lines[3] == lines[0].split("<<")[1]
    assert lines[1:3] == ["line one", "line two"]
    assert lines[4].startswith("verdict<<") and lines[5] == "pass"


def test_summary_appends_and_outside_actions_nothing_is_written(tmp_path: Path) -> None:
    """The job summary grows with each call; without GITHUB_STEP_SUMMARY nothing is written."""
    summary = tmp_path / "summary.md"
    actions.add_summary("# one", {"GITHUB_STEP_SUMMARY": str(summary)})
    actions.add_summary("# two\n", {"GITHUB_STEP_SUMMARY": str(summary)})
    actions.add_summary("# three", {})
    assert summary.read_text() == "# one\n# two\n"


def test_a_pipeline_that_stopped_before_the_gate_still_reports(
    tmp_params: Path, tmp_path: Path
) -> None:
    """No gate.json (training failed): the report says the gate could not decide, and why."""
    output = tmp_path / "report.md"
    summary = tmp_path / "summary.md"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        code = main(["--params", str(tmp_params), "report", "--output", str(output)])
    assert code == 0
    text = output.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    assert "Gate could not decide" in text and "stopped before the gate" in text
    assert summary.read_text(encoding="utf-8") == text


def test_the_drift_issue_is_opened_once_then_updated_and_retraining_dispatched(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """Two drifted runs: one issue (its text replaced), and retrain.yml dispatched each time on
    the default branch with the reason."""
    actions_env(monkeypatch, tmp_path, "schedule", {})
    github.issues[5] = {"number": 5, "state": "open", "title": "Unrelated", "body": "hello"}
    body = drift_report.issue_body
    first = alerts.drift_alert(settings, body("## first"), "drift in age", True)
    second = alerts.drift_alert(settings, body("## second"), "drift in age", True)
    assert first[0].startswith("opened issue #") and second[0] == first[0].replace(
        "opened", "updated"
    )
    ours = [i for i in github.issues.values() if vocabulary.DRIFT_REPORT_MARKER in i["body"]]
    assert len(ours) == 1 and ours[0]["body"].endswith("## second")
    assert github.issues[5]["body"] == "hello"
    assert (
        github.dispatches
        == [{"workflow": "retrain.yml", "ref": "main", "inputs": {"reason": "drift in age"}}] * 2
    )


def test_outcome_alerts_open_one_issue_per_kind_and_only_performance_retrains(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """Two runs with a performance alert: one issue, updated, and retrain.yml dispatched each
    time; a fairness alert: its own one issue, addressed to the risk approver, and no
    retraining by itself."""
    actions_env(monkeypatch, tmp_path, "schedule", {})
    first = alerts.outcome_alerts(settings, "## week 1", True, False, "roc_auc fell")
    again = alerts.outcome_alerts(settings, "## week 2", True, False, "roc_auc fell")
    assert first[0].startswith("opened issue #") and again[0] == first[0].replace(
        "opened", "updated"
    )
    fair = alerts.outcome_alerts(settings, "## week 3", False, True, "disparate impact")
    assert len(fair) == 1 and fair[0].startswith("opened issue #")
    performance, fairness = sorted(github.issues.values(), key=lambda issue: issue["number"])
    assert performance["title"].startswith("Model performance: ")
    assert performance["body"].endswith("## week 2")
    approver = settings.tracking.risk_approver
    assert fairness["title"].endswith(f"(for @{approver})")
    assert f"@{approver}" in fairness["body"] and fairness["body"].endswith("## week 3")
    assert (
        github.dispatches
        == [{"workflow": "retrain.yml", "ref": "main", "inputs": {"reason": "roc_auc fell"}}] * 2
    )


def test_the_retraining_pull_request_is_opened_from_its_branch(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pull request names its branch, the base and why; a second run for the same branch
    updates that pull request (GitHub would refuse a second one from the branch)."""
    run = actions_env(monkeypatch, tmp_path, "workflow_dispatch", {})
    said = repository.open_pull_request(
        client_from_env(), run, "retrain/x", "main", "Retrain: drift", "because"
    )
    assert said.startswith("opened pull request #") and said.endswith("from retrain/x")
    assert github.pulls[0] | {"number": 0} == {
        "number": 0,
        "state": "open",
        "title": "Retrain: drift",
        "head": "retrain/x",
        "base": "main",
        "body": "because",
    }
    again = repository.open_pull_request(
        client_from_env(), run, "retrain/x", "main", "Retrain: more drift", "still"
    )
    [pull] = github.pulls
    assert again == f"updated pull request #{pull['number']} from retrain/x"
    assert (pull["title"], pull["body"]) == ("Retrain: more drift", "still")
    owner = REPO.split("/")[0]
    listed = [r for r in github.requests if r.method == "GET" and r.path.endswith("/pulls")]
    assert [unquote(r.query) for r in listed] == [
        f"state=open&head={owner}:retrain/x&base=main"
    ] * 2


def test_a_batch_that_only_breaks_the_contract_opens_the_issue_without_retraining(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    params_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`drift-alert --retrain false` (rows breaking the contract, no drift): the issue is about
    data quality, and no retraining is dispatched: the data, not the model, needs fixing."""
    actions_env(monkeypatch, tmp_path, "schedule", {})
    summary = drift_report.issue_body("## 10% of rows break the contract")
    reason = "10% of rows break the data contract"
    alert = ["drift-alert", "--retrain", "false", "--reason", reason, "--summary", summary]
    assert main(["--params", str(params_path), *alert]) == 0
    [issue] = github.issues.values()
    assert issue["title"].startswith("Data quality: incoming data for ")
    assert issue["body"].endswith("## 10% of rows break the contract")
    assert github.dispatches == []
    assert capsys.readouterr().out.startswith("opened issue #")


def test_the_token_is_not_sent_on_a_redirect_to_another_host(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub may redirect (a renamed repository); a redirect to another host gets the
    request without the token."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", f"http://localhost:{other.server_address[1]}/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    first = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for server in (other, first):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{first.server_address[1]}")
        assert client_from_env().request("GET", "/repos/acme/old-name/issues") == []
    finally:
        for server in (other, first):
            server.shutdown()
            server.server_close()
    assert seen == [None]
