"""The README's first command, `make demo`, runs a model's whole life through the generated
project's real workflow files under `act`: against a real MLflow server on loopback, a real
local DVC remote, and a fake GitHub API that records every request.

The demo runs once for the module (demo/lifecycle.py drives it and records every step in
lifecycle.json); each test checks what one step left behind, as a user would see it: job
results, the PR comment, the registry's versions, aliases and tags.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from baked import TEMPLATE, clean_env
from lifecycle import OVERRIDE_LABEL, PROMOTION_BRANCH, ROLLBACK_BRANCH
from servers import free_port
from simulated_github import HELPER, MODEL_OWNER, RISK_APPROVER

MARKER = "<!-- credit-default-model:gate-report -->"
# The first test waits for the whole demo (its fixture), longer than pytest-timeout's default.
pytestmark = pytest.mark.timeout(3000)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`make demo` run once: its output and every step it recorded, by step name."""
    port = free_port()
    demo_dir = tmp_path_factory.mktemp("demo")
    project = demo_dir / "credit-default-model"
    env = clean_env(DEMO_DIR=str(demo_dir), MLFLOW_PORT=str(port))
    env.pop("MAKEFLAGS", None)
    try:
        done = subprocess.run(
            ["make", "demo"], cwd=TEMPLATE, env=env, capture_output=True, text=True, timeout=2700
        )
        assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
        records = json.loads((demo_dir / "lifecycle.json").read_text(encoding="utf-8"))
        steps = {r["step"]: r for r in records}
        yield {"stdout": done.stdout, "port": port, "project": project, **steps}
    finally:
        subprocess.run(
            ["make", "-C", str(project), "mlflow-stop"],
            env={**os.environ, "MLFLOW_PORT": str(port)},
            capture_output=True,
            check=False,
        )


def comment_bodies(step: dict[str, Any], number: int) -> list[str]:
    return list(step["comments"].get(str(number), []))


def drift_issues(step: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in step["issues"] if "drift-report" in i["body"]]


def test_demo_says_where_to_look(demo: dict[str, Any]) -> None:
    """The demo ends with the MLflow UI address and where each step's log and reports are."""
    assert f"MLflow UI: http://127.0.0.1:{demo['port']}" in demo["stdout"]
    assert "lifecycle-work/steps/" in demo["stdout"]


def test_the_mlflow_admin_sets_the_registry_up_first(demo: dict[str, Any]) -> None:
    """The README's first set-up step, on the demo's basic-auth server: the admin's
    `make registry-setup` creates the experiments and the model and grants the two users the
    workflows' secrets name."""
    step = demo["registry-setup"]
    assert step["jobs"] == {"make registry-setup": "success"}, step["log_tail"]
    granted = [line.split(": ", 1)[1] for line in step["log_tail"] if ": created; " in line]
    assert granted == [
        "created; ci-write EDIT, ci-read READ",  # main's training runs
        "created; ci-read EDIT",  # pull requests' runs
        "created; ci-write EDIT, ci-read READ",  # the registered versions' bytes
        "created; ci-write EDIT, ci-read READ",  # the registered model
    ]


TAKEOVER_ATTEMPTS = {
    "register a version",
    "move production",
    "rewrite model.sha256",
    "overwrite the served bytes",
    "delete the served run",
    "delete the served version",
}


def test_a_pull_requests_code_cannot_take_production(demo: dict[str, Any]) -> None:
    """PR #7's Makefile runs code that tries, with the credential its pull request job holds,
    to register a version, move production, rewrite the served version's sha256, overwrite or
    delete its bytes and delete the version: the server refuses every one as a permission
    matter, and the registry is exactly as the promotion left it."""
    step = demo["pr-takeover"]
    log = (Path(step["folder"]) / "act.log").read_text(encoding="utf-8")
    outcomes = [line.split("takeover: ", 1)[1] for line in log.splitlines() if "takeover: " in line]
    assert not [line for line in outcomes if line.startswith("ALLOWED")], outcomes
    refused = {line.split(": ")[1]: line for line in outcomes if line.startswith("refused: ")}
    assert set(refused) == TAKEOVER_ATTEMPTS, outcomes
    for line in refused.values():
        assert "PERMISSION_DENIED" in line or "403" in line, line
    assert step["registry"] == demo["promote-first"]["registry"]
    assert step["registry"]["aliases"]["production"] == "1"


def test_github_setup_says_what_guards_production_on_a_private_team_repository(
    demo: dict[str, Any],
) -> None:
    """On a private repository of GitHub Team environments hold for nobody: github-setup sends
    no reviewers, reads back what is in force, and says that the code-owner review of deploy/
    is what guards production (the rest of the demo runs on this repository)."""
    step = demo["github-setup"]
    assert step["jobs"] == {"make github-setup": "success"}, step["log_tail"]
    log = step["log_tail"]
    at = log.index("in force (your-org/credit-default-model: private, plan team):")
    assert log[at + 1 : at + 3] == [
        "  required reviewers: production no",
        "  code-owner review on main: yes",
    ]
    assert any("guarded by the code-owner review of deploy/ alone" in line for line in log)


def test_first_pr_passes_on_absolute_thresholds(demo: dict[str, Any]) -> None:
    """On an empty registry the first PR's gate passes on absolute thresholds, the report is
    written as one comment, and every job of pr.yml succeeds; nothing is registered."""
    step = demo["pr-first"]
    assert step["jobs"] == {
        "pr/checks": "success",
        "pr/model": "success",
        "pr/comment": "success",
        "pr/gate": "success",
    }
    assert step["gate"]["verdict"] == "pass" and step["gate"]["first_model"] is True
    [body] = comment_bodies(step, 1)
    assert body.startswith(MARKER) and "Gate passed" in body and "First model" in body
    assert step["registry"]["versions"] == {}


def test_merge_registers_v1_and_proposes_it_for_production(demo: dict[str, Any]) -> None:
    """Merging retrains (with the write credential, into the training experiment) and re-gates;
    the register job registers version 1 (the bytes the gate scored, by digest) with its lineage
    and PR and points staging at it; then ONE pull request proposes it for production, with
    the gate report, the model card and the lineage. Production has not moved."""
    step = demo["merge-first"]
    assert step["jobs"] == {
        "main/model": "success",
        "main/register": "success",
        "main/promotion": "success",
    }
    registry = step["registry"]
    assert registry["aliases"] == {"staging": "1"}
    tags = registry["versions"]["1"]
    assert tags["github.pr"] == "1" and tags["gate.verdict"] == "pass"
    assert tags["lineage.git_dirty"] == "false" and len(tags["lineage.git_sha"]) == 40
    assert tags["model.sha256"] == step["gate"]["challenger"]["model_sha256"]
    [pull] = [p for p in step["pulls"] if p["head"] == PROMOTION_BRANCH]
    assert pull["title"] == "Promote credit-default-model version 1 to production"
    assert (
        "Gate passed" in pull["body"]
        and "# Model card: credit-default-model version 1" in pull["body"]
    )
    assert f"model sha256 `{tags['model.sha256']}`" in pull["body"]


def test_the_promotion_pull_request_passes_its_own_gate(demo: dict[str, Any]) -> None:
    """The promotion pull request needs the required `gate` check like any other: it is judged
    on the version it declares (its bytes against the sha256 it declares, and the verdict the
    gate recorded at registration), not on a retrain of main."""
    step = demo["pr-promotion"]
    assert step["jobs"]["pr/gate"] == "success", step["gate"]
    assert step["gate"]["verdict"] == "pass" and step["gate"]["declared_version"] == 1
    assert step["gate"]["challenger"]["version"] == 1


def test_production_moves_only_when_a_code_owner_approved_the_final_head(
    demo: dict[str, Any],
) -> None:
    """The model owner and the risk approver (production's sign-off) approve the promotion
    PR's head; once merged, deploy.yml moves production and writes who approved, the PR and the
    commit."""
    step = demo["promote-first"]
    assert step["jobs"] == {"deploy/deploy": "success"}
    registry = step["registry"]
    assert registry["aliases"] == {"staging": "1", "production": "1"}
    tags = registry["versions"]["1"]
    [pull] = [p for p in demo["merge-first"]["pulls"] if p["head"] == PROMOTION_BRANCH]
    assert tags["promotion.production.approved_by"] == f"{MODEL_OWNER},{RISK_APPROVER}"
    assert tags["promotion.production.pr"] == str(pull["number"])


def test_worse_pr_is_blocked_and_the_comment_says_why(demo: dict[str, Any]) -> None:
    """Clearly worse parameters fail the gate: the aggregate check is red, the comment names
    the failed comparison, and the registry does not change."""
    step = demo["pr-worse"]
    assert step["jobs"]["pr/gate"] == "failure"
    assert step["gate"]["verdict"] == "fail"
    [body] = comment_bodies(step, 2)
    assert "Gate failed" in body and "may be worse than the champion" in body
    assert step["registry"] == demo["promote-first"]["registry"]


def test_override_label_lets_the_same_pr_pass_and_is_recorded(demo: dict[str, Any]) -> None:
    """With the override label applied by the risk approver, the same PR passes as
    "overridden"; the one comment is updated (not duplicated) and names who overrode."""
    step = demo["pr-worse-override"]
    assert step["jobs"]["pr/gate"] == "success"
    assert step["gate"]["verdict"] == "overridden"
    assert step["gate"]["pull_request"]["override_by"] == RISK_APPROVER
    [body] = comment_bodies(step, 2)
    assert "Gate overridden" in body and f"Override applied by @{RISK_APPROVER}" in body
    assert any(r["method"] == "PATCH" for r in step["requests"])
    assert step["gate"]["pull_request"]["override_label"] == OVERRIDE_LABEL


def test_a_push_after_the_override_label_makes_it_stale(demo: dict[str, Any]) -> None:
    """A commit pushed after the label was applied is not what the reviewer overrode: the gate
    fails again and the comment says the label predates the last push."""
    step = demo["pr-worse-pushed"]
    assert step["jobs"]["pr/gate"] == "failure"
    assert step["gate"]["verdict"] == "fail"
    assert step["gate"]["pull_request"]["override_by"] is None
    [body] = comment_bodies(step, 2)
    assert "Gate failed" in body and "before the last push" in body


def test_better_pr_passes_against_the_champion(demo: dict[str, Any]) -> None:
    """Better parameters pass against champion v1, compared on the same evaluation split."""
    step = demo["pr-better"]
    assert step["jobs"]["pr/gate"] == "success"
    gate = step["gate"]
    assert gate["verdict"] == "pass" and gate["champion"]["version"] == 1
    assert gate["champion"]["eval_md5"] == gate["challenger"]["eval_md5"]
    [body] = comment_bodies(step, 3)
    assert "Gate passed" in body and "champion (v1)" in body


def test_the_next_registration_gets_its_own_promotion(demo: dict[str, Any]) -> None:
    """Merging the better PR registers version 2 and stages it, with a new promotion PR (the
    first was merged). A model server is named now, so the PR proposes a rollout; approved and
    merged, it makes v2 the candidate beside production v1."""
    merged = demo["merge-better"]["registry"]
    assert merged["aliases"] == {"staging": "2", "production": "1"}
    assert merged["versions"]["2"]["github.pr"] == "3"
    [pull] = [p for p in demo["merge-better"]["pulls"] if p["state"] == "open"]
    assert pull["title"] == "Promote credit-default-model version 2 to production"
    assert "beside production version 1: shadow 100%, then 10%, 100% of requests" in pull["body"]
    registry = demo["promote-better"]["registry"]
    assert registry["aliases"] == {"staging": "2", "production": "1", "candidate": "2"}


def test_a_rollout_moves_in_git_as_the_server_judges_it_under_traffic(
    demo: dict[str, Any],
) -> None:
    """rollout.yml records each move the server's analysis allowed, in git: v2 to 10%, to
    100%, then production; deploy.yml then moves the alias, v1 kept for rollback. The
    callers' requests reached v2 in the declared shares, and none failed."""
    assert demo["serve"]["serving"]["ready"]["production"]["version"] == 1
    for name in ("rollout-canary", "rollout-all", "rollout-complete"):
        assert demo[name]["jobs"] == {"rollout/progress": "success"}, demo[name]["log_tail"]
    moves = demo["rollout-complete"]["deploy_log"].splitlines()[:3]
    assert [move.split(":")[0] for move in moves] == [
        "Rollout of credit-default-model version 2 complete",
        "Rollout of credit-default-model version 2 to step 2 of 2 (100%)",
        "Rollout of credit-default-model version 2 to step 1 of 2 (10%)",
    ]
    at_10 = demo["rollout-all"]["serving"]["traffic"]["routes"]  # while v2 answered 10%
    assert 0.03 < at_10.get("canary", 0) / sum(at_10.values()) < 0.2, at_10
    at_100 = demo["rollout-complete"]["serving"]["traffic"]["routes"]
    assert at_100.get("canary", 0) / sum(at_100.values()) > 0.9, at_100
    done = demo["deploy-rollout"]
    assert done["jobs"] == {"deploy/deploy": "success"}
    aliases = done["registry"]["aliases"]  # the candidate alias at rest on production
    assert aliases == {
        "staging": "2",
        "production": "2",
        "previous-production": "1",
        "candidate": "2",
    }
    assert done["serving"]["ready"]["production"]["version"] == 2
    assert done["serving"]["traffic"]["failed"] == 0  # since the callers started


def test_a_candidate_the_server_finds_bad_is_aborted_and_the_abort_is_in_git(
    demo: dict[str, Any],
) -> None:
    """PR #8, merged on the risk approver's override, registers v3; its rollout starts in
    shadow, and the server's analysis takes it out at once (its scores are far from v2's):
    rollout.yml writes the abort to deploy/, deploy.yml rests the candidate alias on
    production. v3 never answered a caller, and no request failed."""
    assert demo["pr-override"]["gate"]["verdict"] == "overridden"
    assert demo["merge-override"]["registry"]["versions"]["3"]["gate.verdict"] == "overridden"
    assert demo["promote-override"]["registry"]["aliases"]["candidate"] == "3"
    step = demo["rollout-abort"]
    assert step["jobs"] == {"rollout/progress": "success"}, step["log_tail"]
    aborted = step["deploy_log"].splitlines()[0]
    assert aborted.startswith(
        "Rollout of credit-default-model version 3 aborted by its analysis: "
        "analysis failed 2 interval(s) in a row: "
    ), aborted
    assert "score_psi" in aborted and "(at most 2): FAILED" in aborted, aborted
    done = demo["deploy-abort"]
    assert done["jobs"] == {"deploy/deploy": "success"}
    aliases = done["registry"]["aliases"]
    assert (aliases["production"], aliases["candidate"]) == ("2", "2")
    answered = [demo[name]["serving"]["traffic"] for name in ("rollout-abort", "deploy-abort")]
    assert all("3" not in seen["versions"] for seen in answered), answered
    assert done["serving"]["ready"]["production"]["version"] == 2
    assert done["serving"]["traffic"]["failed"] == 0


def test_an_approval_that_is_not_a_code_owners_on_the_final_head_moves_nothing(
    demo: dict[str, Any],
) -> None:
    """A change to deploy/ merged past branch protection, approved by the risk approver on an
    earlier head and by a colleague who is no code owner on the final one: deploy.yml fails,
    saying both, and production stays on v2. A reviewed revert then applies as a no-op."""
    step = demo["deploy-unapproved"]
    assert step["jobs"] == {"deploy/deploy": "failure"}
    assert step["registry"]["aliases"]["production"] == "2"
    log = "\n".join(step["log_tail"])
    assert f"{RISK_APPROVER} approved" in log and "not the final head" in log
    assert f"{HELPER} is not a code owner of deploy/production.yaml" in log
    revert = demo["deploy-revert"]
    assert revert["jobs"] == {"deploy/deploy": "success"}
    assert revert["registry"] == step["registry"]


def test_rollback_is_a_pull_request_that_puts_v1_back_with_the_reason(
    demo: dict[str, Any],
) -> None:
    """rollback.yml opens the pull request that declares v1 again, with the reason; approved
    and merged, deploy.yml points production back at v1 and writes why and who on both."""
    opened = demo["rollback-pr"]
    assert opened["jobs"] == {"rollback/propose": "success"}
    [pull] = [p for p in opened["pulls"] if p["head"] == ROLLBACK_BRANCH]
    assert pull["title"] == "Roll back credit-default-model production to version 1"
    assert "v2 misbehaves in production" in pull["body"]
    assert opened["registry"]["aliases"]["production"] == "2"
    step = demo["rollback"]
    registry = step["registry"]
    assert registry["aliases"]["production"] == "1"
    assert registry["aliases"]["previous-production"] == "2"
    assert registry["versions"]["1"]["rollback.reason"] == "v2 misbehaves in production"
    assert registry["versions"]["1"]["rollback.by"] == f"{MODEL_OWNER},{RISK_APPROVER}"
    assert registry["versions"]["2"]["rolled_back.reason"] == "v2 misbehaves in production"


def test_an_alias_moved_by_hand_is_put_back_with_one_issue(demo: dict[str, Any]) -> None:
    """Production moved to v2 by hand: reconcile.yml finds the difference, puts v1 back (what
    deploy/ declares) and opens one issue saying what differed and what was done."""
    step = demo["reconcile"]
    assert step["jobs"] == {"reconcile/compare": "success", "reconcile/reconcile": "success"}
    assert step["registry"]["aliases"]["production"] == "1"
    [issue] = [i for i in step["issues"] if i["title"].startswith("Registry drift")]
    assert "points at credit-default-model version 2" in issue["body"]
    assert "put back: production: credit-default-model version 1" in issue["body"]


def test_bytes_swapped_under_production_with_their_tag_are_caught_by_gits_digest(
    demo: dict[str, Any],
) -> None:
    """Someone who may write the registry puts v2's bytes under v1 (production) and rewrites
    v1's model.sha256 tag to match: the number still matches, but reconcile.yml checks the
    bytes against the sha256 deploy/production.yaml declares, fails, and says so in its one
    issue; nothing is moved."""
    step = demo["swap-bytes"]
    assert step["jobs"] == {"reconcile/compare": "success", "reconcile/reconcile": "failure"}
    assert step["registry"]["aliases"]["production"] == "1"
    [issue] = [i for i in step["issues"] if i["title"].startswith("Registry drift")]
    assert "version 1: the stored model's sha256 is" in issue["body"]
    assert "deploy/production.yaml holds" in issue["body"]
    assert "could not put it back" in issue["body"]


def test_git_log_of_deploy_is_productions_history(demo: dict[str, Any]) -> None:
    """Every production the registry served came from a merged pull request on deploy/, and
    `git log deploy/` lists them, newest first."""
    project = demo["project"]
    done = subprocess.run(
        ["git", "log", "--first-parent", "--format=%s", "--", "deploy/production.yaml"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    merges = [line for line in done.stdout.splitlines() if line.startswith("Merge pull request")]
    assert len(merges) == 6  # v1, v2, v3 (aborted), the refused change, its revert, the rollback


def test_a_fork_pr_without_secrets_fails_closed_with_the_reason(demo: dict[str, Any]) -> None:
    """A fork's PR gets no secrets: the gate ends in error saying so, the check is red, and
    the registry is untouched."""
    step = demo["pr-fork"]
    assert step["jobs"]["pr/gate"] == "failure"
    assert step["gate"]["verdict"] == "error"
    assert any("MLFLOW_TRACKING_URI set but empty" in e for e in step["gate"]["errors"])
    [body] = comment_bodies(step, 4)
    assert "Gate could not decide" in body and "forks" in body
    assert step["registry"] == demo["reconcile"]["registry"]


def test_every_github_request_was_authorised_and_known(demo: dict[str, Any]) -> None:
    """Every call the workflows made to the GitHub API carried the job's token and hit an
    endpoint GitHub documents (the fake answers unknown ones with 404)."""
    requests = [
        r
        for name, step in demo.items()
        if isinstance(step, dict) and name != "github-setup"  # a person's command, not a workflow
        for r in step["requests"]
    ]
    assert requests
    assert all(r["authorized"] for r in requests)
    assert [r for r in requests if r["status"] >= 400] == []


# The monitoring loop -----------------------------------------------------------------------------


def test_a_calm_batch_raises_nothing(demo: dict[str, Any]) -> None:
    """A scheduled drift check on a batch like the training data: no drift, no issue, no
    retraining."""
    step = demo["drift-calm"]
    assert step["jobs"] == {"drift/check": "success"}
    assert step["drift"]["drift"] is False and step["drift"]["retrain"] is False
    assert drift_issues(step) == [] and step["dispatches"] == []


def test_a_shifted_batch_opens_one_issue_and_dispatches_retraining(demo: dict[str, Any]) -> None:
    """A shifted batch: the shifted columns are named, one issue carries the report, and
    retrain.yml is dispatched on main with the reason."""
    step = demo["drift-shifted"]
    assert step["jobs"] == {"drift/check": "success", "drift/alert": "success"}
    assert {"credit_score", "debt_to_income"} <= set(step["drift"]["drifted_columns"])
    [issue] = drift_issues(step)
    assert issue["title"] == "Model drift: credit-default-model needs retraining"
    assert "<!-- credit-default-model:drift-report -->" in issue["body"]
    assert "| credit_score | psi |" in issue["body"]
    [dispatch] = step["dispatches"]
    assert dispatch["workflow"] == "retrain.yml" and dispatch["ref"] == "main"
    assert dispatch["inputs"]["reason"].startswith("drift in ")


def test_outcomes_worse_than_the_evaluation_open_one_issue_and_dispatch_retraining(
    demo: dict[str, Any],
) -> None:
    """Outcomes of three weeks of production's answers arrive, the last two worse than its
    evaluation: outcomes.yml (read credential) raises the performance alert, ONE issue, and
    retrain.yml dispatched with the reason; no fairness issue (the groups fared alike)."""
    step = demo["outcomes"]
    assert step["jobs"] == {"outcomes/check": "success", "outcomes/alert": "success"}
    outcome_issues = [i for i in step["issues"] if ":outcomes-" in i["body"]]
    [issue] = outcome_issues
    assert issue["title"] == (
        "Model performance: credit-default-model is worse on its outcomes than at its evaluation"
    )
    assert "<!-- credit-default-model:outcomes-performance -->" in issue["body"]
    dispatch = step["dispatches"][-1]
    assert len(step["dispatches"]) == 2 and dispatch["workflow"] == "retrain.yml"
    assert dispatch["inputs"]["reason"].startswith("performance: version 1 is worse")


def test_retraining_opens_a_pull_request_with_the_folded_data(demo: dict[str, Any]) -> None:
    """retrain.yml, dispatched by the outcome alert, folds the batch into the training data
    and opens a PR from its branch."""
    step = demo["retrain"]
    assert step["jobs"] == {"retrain/propose": "success"}
    [pull] = [p for p in step["pulls"] if p["head"].startswith("retrain/")]
    assert pull["base"] == "main" and pull["state"] == "open"
    assert pull["title"].startswith("Retrain on batch.csv: performance: version 1 is worse")
    assert "data/raw/loans.csv" in pull["body"]


def test_the_retraining_pull_request_goes_through_the_gate(demo: dict[str, Any]) -> None:
    """The retraining PR is judged by the same gate, on the data with the batch folded in,
    after checking that no training row of the champion is in the evaluation set."""
    step = demo["pr-retrain"]
    number = str(step["pull_request"])
    assert step["gate"]["verdict"] in {"pass", "fail"}, step["gate"]["errors"]
    assert step["gate"]["eval"]["rows"] > demo["pr-better"]["gate"]["eval"]["rows"]
    # The champion's training split, fetched through DVC by its md5: none of its rows moved
    # into the grown evaluation set.
    assert step["gate"]["champion_training_overlap"] == 0
    [body] = step["comments"][number]
    assert body.startswith(MARKER)


def test_a_second_drifted_run_updates_the_same_issue(demo: dict[str, Any]) -> None:
    """Drift again: still one issue (edited, not duplicated), and retraining dispatched again."""
    step = demo["drift-again"]
    [issue] = drift_issues(step)
    number = issue["number"]
    calls = [(r["method"], r["path"]) for r in step["requests"]]
    assert ("PATCH", f"/repos/your-org/credit-default-model/issues/{number}") in calls
    assert ("POST", "/repos/your-org/credit-default-model/issues") not in calls
    assert len(step["dispatches"]) == 3
