"""What a workflow step reads from GitHub and writes back, against a fake GitHub REST API: the
pull request and its override label, the one report comment, deployment approvals, and the
step outputs and job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_github import REPO, FakeGitHub

from {{ cookiecutter.package_name }} import drift, lifecycle, workflow
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.github_api import client_from_env
from {{ cookiecutter.package_name }}.report import MARKER
from {{ cookiecutter.package_name }}.settings import Settings

PR = 7


def actions_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, event_name: str, event: dict[str, Any]
) -> workflow.RunContext:
    """The variables GitHub Actions sets for a run of `event_name`."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_NAME", event_name)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_SHA", "c0ffee")
    return workflow.RunContext.from_env()


def labelled(github: FakeGitHub, *events: tuple[str, str, str]) -> None:
    """Issue events on PR, each (event, label, actor), oldest first."""
    github.issue_events[PR] = [
        {"id": n, "event": kind, "label": {"name": label}, "actor": {"login": actor}}
        for n, (kind, label, actor) in enumerate(events)
    ]


def pull(*labels: str) -> dict[str, Any]:
    return {"number": PR, "labels": [{"name": name} for name in labels]}


def test_a_pull_request_event_names_its_own_pull_request(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """For a pull_request event the PR comes from the payload: no API call is needed."""
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert workflow.pull_request_of(client_from_env(), run) == pull()
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
    found = workflow.pull_request_of(client_from_env(), run)
    assert found is not None and found["number"] == PR
    assert github.calls() == [("GET", f"/repos/{REPO}/commits/c0ffee/pulls")]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("labeled", "gate-override", "risk-approver")], "risk-approver"),
        ([("labeled", "gate-override", "alice"), ("labeled", "gate-override", "bob")], "bob"),
        ([("labeled", "gate-override", "alice"), ("unlabeled", "gate-override", "bob")], None),
        ([("labeled", "other", "mallory")], None),
    ],
    ids=["applied", "last-applier-wins", "removed-again", "another-label"],
)
def test_who_applied_the_override_label(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    events: list[tuple[str, str, str]],
    expected: str | None,
) -> None:
    """The override belongs to whoever applied the label last, unless it was removed since."""
    labelled(github, *events)
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert workflow.label_applied_by(client_from_env(), run, PR, "gate-override") == expected


def test_label_history_is_read_past_the_first_page(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A busy PR has more than 100 events: the applier on page 3 is still found."""
    labelled(github, *[("labeled", "wip", "bot")] * 230, ("labeled", "gate-override", "carol"))
    run = actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    assert workflow.label_applied_by(client_from_env(), run, PR, "gate-override") == "carol"
    assert [r.query for r in github.requests] == [f"per_page=100&page={n}" for n in (1, 2, 3)]


def test_pull_request_facts_carry_the_override(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """With the override label on the PR, the gate learns the PR number and who applied it."""
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "risk-approver"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = lifecycle.pull_request_facts(settings)
    assert facts == {
        "number": PR,
        "override_label": label,
        "label_applied_by": "risk-approver",
        "override_by": "risk-approver",
    }


def test_only_a_production_reviewer_may_override(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """A label applied by someone who is not a production reviewer grants nothing, and the
    report says who tried."""
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "eager-intern"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = lifecycle.pull_request_facts(settings)
    assert facts["label_applied_by"] == "eager-intern"
    assert facts["override_by"] is None
    assert "eager-intern, who is not a production reviewer" in facts["problem"]


@pytest.mark.parametrize(("member", "granted"), [(True, "dana"), (False, None)])
def test_a_team_reviewer_overrides_through_its_members(
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    member: bool,
    granted: str | None,
) -> None:
    """With a team as production reviewer, an active member of it may override; anyone
    else, including someone GitHub will not confirm, may not."""
    team = settings.model_copy(
        update={
            "github": settings.github.model_copy(update={"production_reviewers": ("acme/risk",)})
        }
    )
    if member:
        github.team_members[("acme", "risk")] = {"dana"}
    label = settings.gate.override_label
    labelled(github, ("labeled", label, "dana"))
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    assert lifecycle.pull_request_facts(team)["override_by"] == granted


def test_pull_request_facts_record_an_api_failure_and_grant_no_override(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """When GitHub cannot say who applied the label, nobody did: the problem is recorded."""
    label = settings.gate.override_label
    github.failures[("GET", f"/repos/{REPO}/issues/{PR}/events")] = (500, "Server Error")
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull(label)})
    facts = lifecycle.pull_request_facts(settings)
    assert facts["override_by"] is None
    assert "500" in facts["problem"]


def test_the_report_comment_is_written_once_then_updated(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first run writes the comment; later runs edit it, and other comments are left be."""
    github.comments[PR] = [{"id": 1, "body": "Looks good to me"}]
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    monkeypatch.setenv("REPORT", f"{MARKER}\nfirst")
    assert main(["comment", "--pr", str(PR)]) == 0
    monkeypatch.setenv("REPORT", f"{MARKER}\nsecond")
    assert main(["comment", "--pr", str(PR)]) == 0
    bodies = [comment["body"] for comment in github.comments[PR]]
    assert bodies == ["Looks good to me", f"{MARKER}\nsecond"]
    assert [(r.method, r.path) for r in github.requests if r.method != "GET"] == [
        ("POST", f"/repos/{REPO}/issues/{PR}/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{github.comments[PR][1]['id']}"),
    ]


def test_a_report_without_its_marker_is_refused(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A body the next run could not find again would duplicate comments: nothing is sent."""
    actions_env(monkeypatch, tmp_path, "pull_request", {"pull_request": pull()})
    monkeypatch.setenv("REPORT", "no marker here")
    assert main(["comment", "--pr", str(PR)]) == 1
    assert github.requests == []


def test_approvers_are_those_of_the_environment(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only approvals of this environment count; a rejection or another environment does not."""
    github.approvals["42"] = [
        {"state": "approved", "environments": [{"name": "staging"}], "user": {"login": "owner"}},
        {"state": "rejected", "environments": [{"name": "production"}], "user": {"login": "x"}},
        {"state": "approved", "environments": [{"name": "production"}], "user": {"login": "risk"}},
    ]
    run = actions_env(monkeypatch, tmp_path, "push", {})
    assert workflow.approvers(client_from_env(), run, "42", "production") == ["risk"]
    assert workflow.approvers(client_from_env(), run, "42", "staging") == ["owner"]


def test_no_recorded_approval_stops_a_promotion(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A promotion whose approval cannot be recorded fails before the registry is touched."""
    actions_env(monkeypatch, tmp_path, "push", {})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # never reached
    assert main(["promote", "--to", "production", "--approvals-of-run", "42"]) == 1
    assert github.calls() == [("GET", f"/repos/{REPO}/actions/runs/42/approvals")]


def test_outside_actions_the_run_context_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the GITHUB_* variables nothing is guessed."""
    for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(workflow.GithubError, match="not a GitHub Actions run"):
        workflow.RunContext.from_env()


def test_step_outputs_survive_several_lines(tmp_path: Path) -> None:
    """A multi-line value (the report) is written as one delimited output block."""
    output = tmp_path / "output"
    workflow.set_output("report", "line one\nline two", {"GITHUB_OUTPUT": str(output)})
    workflow.set_output("verdict", "pass", {"GITHUB_OUTPUT": str(output)})
    lines = output.read_text().splitlines()
    assert lines[0].startswith("report<<EOF_") and lines[3] == lines[0].split("<<")[1]
    assert lines[1:3] == ["line one", "line two"]
    assert lines[4].startswith("verdict<<") and lines[5] == "pass"


def test_summary_appends_and_outside_actions_nothing_is_written(tmp_path: Path) -> None:
    """The job summary grows with each call; without GITHUB_STEP_SUMMARY nothing is written."""
    summary = tmp_path / "summary.md"
    workflow.add_summary("# one", {"GITHUB_STEP_SUMMARY": str(summary)})
    workflow.add_summary("# two\n", {"GITHUB_STEP_SUMMARY": str(summary)})
    workflow.add_summary("# three", {})
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
    first = lifecycle.drift_alert(settings, drift.issue_body("## first"), "drift in age", True)
    second = lifecycle.drift_alert(settings, drift.issue_body("## second"), "drift in age", True)
    assert first[0].startswith("opened issue #") and second[0] == first[0].replace(
        "opened", "updated"
    )
    ours = [i for i in github.issues.values() if drift.MARKER in i["body"]]
    assert len(ours) == 1 and ours[0]["body"].endswith("## second")
    assert github.issues[5]["body"] == "hello"
    assert (
        github.dispatches
        == [{"workflow": "retrain.yml", "ref": "main", "inputs": {"reason": "drift in age"}}] * 2
    )


def test_the_retraining_pull_request_is_opened_from_its_branch(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pull request names its branch, the base and why."""
    run = actions_env(monkeypatch, tmp_path, "workflow_dispatch", {})
    said = workflow.open_pull_request(
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
    monkeypatch.setenv("DRIFT_SUMMARY", drift.issue_body("## 10% of rows break the contract"))
    monkeypatch.setenv("REASON", "10% of rows break the data contract")
    assert main(["--params", str(params_path), "drift-alert", "--retrain", "false"]) == 0
    [issue] = github.issues.values()
    assert issue["title"].startswith("Data quality: incoming data for ")
    assert issue["body"].endswith("## 10% of rows break the contract")
    assert github.dispatches == []
    assert capsys.readouterr().out.startswith("opened issue #")
