"""Production follows git: deploy/production.yaml is the desired state, a merged pull request
changes it, and deploy applies it only after a code owner approved the pull request's final
head; reconcile puts back an alias moved by hand. Against the real MLflow server and the fake
GitHub API, in a git repository of the test's own."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, Lab
from fake_github import REPO, FakeGitHub

from {{ cookiecutter.package_name }} import vocabulary
from {{ cookiecutter.package_name }}.control import (
    approval,
    deploy,
    desired_state,
    proposals,
    reconcile,
    registry,
)
from {{ cookiecutter.package_name }}.control.desired_state import Declared, DesiredStateError, Rollout
from {{ cookiecutter.package_name }}.control.gate_result import GateResult
from {{ cookiecutter.package_name }}.control.production import declared_change
from {{ cookiecutter.package_name }}.github import codeowners
from {{ cookiecutter.package_name }}.pipeline import tracking
from {{ cookiecutter.package_name }}.settings import Step

OWNERS = (
    "* @risk-approver\n/deploy/ @model-owner @risk-approver @acme/risk-team\n/tests/ @model-owner\n"
)
# Production's sign-off (deploy.sign_off in the tests' params): both approve the final head.
SIGNED = [("model-owner", "final"), ("risk-approver", "final")]
BOT = "github-actions[bot]"


def test_the_desired_state_round_trips_and_names_every_problem() -> None:
    """What render writes, parse reads back; a bad file is one line naming the file and key."""
    state = desired_state.DesiredState(model="m").with_alias(
        "production", Declared(version=3, sha256="a" * 64, rollback="v4 misbehaves")
    )
    assert desired_state.parse(desired_state.render(state), "f") == state
    with pytest.raises(DesiredStateError, match=r"^deploy.yaml: aliases.production.version"):
        desired_state.parse(
            "model: m\naliases: {production: {version: 0, sha256: x}}", "deploy.yaml"
        )
    with pytest.raises(DesiredStateError, match="aliases staging are not declared in git"):
        desired_state.parse(
            f"model: m\naliases:\n  staging:\n    version: 1\n    sha256: {'a' * 64}\n", "f"
        )
    with pytest.raises(DesiredStateError, match="f: not valid YAML"):
        desired_state.parse("model: [", "f")


def test_the_projects_desired_state_is_valid_and_deploy_belongs_to_the_risk_approver() -> None:
    """The project's deploy/production.yaml reads (a new project declares nothing; promotions
    since then declare a version) for this model, and CODEOWNERS gives deploy/ to the model
    owner and the risk approver (the last matching line wins), whose sign-off it needs."""
    declared = desired_state.read(PROJECT_ROOT / desired_state.DEPLOY_FILE)
    assert declared.model == "{{ cookiecutter.model_name }}"
    shipped = (PROJECT_ROOT / desired_state.DEPLOY_FILE).read_text(encoding="utf-8")
    assert shipped.startswith(desired_state.HEADER)  # how to read it, as every rewrite says
    text = (PROJECT_ROOT / ".github" / "CODEOWNERS").read_text(encoding="utf-8")
    assert codeowners.owners_in(text, "deploy/production.yaml") == (
        "{{ cookiecutter.model_owner }}",
        "{{ cookiecutter.risk_approver }}",
    )
    assert codeowners.owners_in(OWNERS, "tests/test_x.py") == ("model-owner",)
    assert codeowners.owners_in(OWNERS, "src/deploy/x.py") == ("risk-approver",)


def review(login: str, state: str, commit: str) -> dict[str, Any]:
    return {"user": {"login": login}, "state": state, "commit_id": commit}


def test_only_a_code_owner_approving_the_final_head_counts() -> None:
    """An approval counts only for the final head, by a code owner who neither opened the pull
    request nor pushed into it; a later change request withdraws a reviewer's approval."""
    pull = {"number": 9, "head": {"sha": "head2"}, "user": {"login": "model-owner"}}
    owners = {"risk-approver", "model-owner", "second-risk", "third-risk"}
    counted, refused = approval.judge_reviews(
        [
            review("risk-approver", "APPROVED", "head1"),
            review("helper", "APPROVED", "head2"),
            review("model-owner", "APPROVED", "head2"),
            review("second-risk", "APPROVED", "head2"),
            review("second-risk", "CHANGES_REQUESTED", "head2"),
            review("risk-approver", "COMMENTED", "head2"),
            review("third-risk", "APPROVED", "head2"),
        ],
        pull,
        lambda login: login in owners,
        {"third-risk"},
    )
    assert counted == []
    assert refused == [
        "risk-approver approved head1, not the final head head2",
        f"helper is not a code owner of {desired_state.DEPLOY_FILE}",
        "model-owner is the pull request's author",
        "second-risk's latest review is changes_requested",
        "third-risk pushed a commit into the pull request",
    ]
    ok, _ = approval.judge_reviews(
        [review("risk-approver", "APPROVED", "head2")], pull, owners.__contains__, set()
    )
    assert ok == ["risk-approver"]
    with pytest.raises(desired_state.DeployError, match="names no head commit"):
        approval.judge_reviews(
            [review("risk-approver", "APPROVED", "")], {"number": 9}, owners.__contains__, set()
        )


class Repository:
    """The test's git repository as GitHub would hold it: main, CODEOWNERS, deploy/, and merged
    pull requests that GitHub knows by their merge commit."""

    def __init__(self, lab: Lab, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lab, self.github = lab, github
        self.number = 0
        event = Path.cwd().parent / "event.json"
        event.write_text(json.dumps({}), encoding="utf-8")
        for name, value in {
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": str(event),
        }.items():
            monkeypatch.setenv(name, value)

    def start(self, versions: int) -> list[registry.Version]:
        """`versions` registered versions, from commits 1..n of main, then CODEOWNERS and an
        empty desired state committed on main."""
        made = [
            self.lab.register(self.lab.candidate(self.lab.commit(n), n, max_depth=n + 1))
            for n in range(1, versions + 1)
        ]
        for number, version in enumerate(made, 1):
            registry.set_tags(
                self.lab.client(), self.lab.name, version.number, {"gate.verdict": "pass"}
            )
            made[number - 1] = registry.get_version(
                self.lab.client(), self.lab.name, version.number
            )
        Path(".github").mkdir(exist_ok=True)
        Path(".github/CODEOWNERS").write_text(OWNERS, encoding="utf-8")
        desired_state.write(desired_state.DesiredState(model=self.lab.name))
        self.lab.params_file(Path("params.yaml"))  # deploy reads the sign-off from the base's
        self.lab.git("add", ".github", "deploy", "params.yaml")
        self.lab.git("commit", "--quiet", "-m", "desired state")
        return made

    def merge(
        self,
        change: Declared | desired_state.DesiredState,
        reviews: list[tuple[str, str]],
        author: str = BOT,
        note: str = "",
    ) -> str:
        """A pull request setting production to `change` (or declaring the whole state),
        reviewed as (login, which head: "final" or "first"), merged into main. Returns the
        merge commit."""
        self.number += 1
        branch = f"change-{self.number}"
        self.lab.git("checkout", "--quiet", "-b", branch)
        self.lab.git("commit", "--quiet", "--allow-empty", "-m", "first head")
        first = self.lab.git("rev-parse", "HEAD")
        if isinstance(change, Declared):
            change = desired_state.read().with_alias("production", change)
        desired_state.write(change)
        if note:
            with desired_state.DEPLOY_FILE.open("a", encoding="utf-8") as stream:
                stream.write(f"# {note}\n")
        self.lab.git("commit", "--quiet", "-am", "declare")
        final = self.lab.git("rev-parse", "HEAD")
        self.lab.git("checkout", "--quiet", "main")
        self.lab.git("merge", "--quiet", "--no-ff", "-m", f"Merge #{self.number}", branch)
        merge = self.lab.git("rev-parse", "HEAD")
        self.github.commit_pulls[merge] = [
            {"number": self.number, "merged_at": "2026-12-01T10:00:00Z", "merge_commit_sha": merge,
             "base": {"ref": "main"}, "head": {"sha": final}, "user": {"login": author}}
        ]  # fmt: skip
        self.github.pull_commits[self.number] = [
            {"author": {"login": author}, "committer": {"login": author}}
        ]
        self.github.branch_heads["main"] = merge
        heads = {"final": final, "first": first}
        self.github.reviews[self.number] = [
            review(login, "APPROVED", heads[head]) for login, head in reviews
        ]
        return merge


@pytest.fixture
def repo(lab: Lab, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Repository:
    return Repository(lab, github, monkeypatch)


def declared(version: registry.Version, rollback: str | None = None) -> Declared:
    return Declared(version=version.number, sha256=version.digest, rollback=rollback)


def production(lab: Lab) -> int | None:
    return registry.aliases(lab.client(), lab.name).get(registry.PRODUCTION)


def test_a_merged_declaration_approved_by_a_code_owner_moves_production(
    repo: Repository, lab: Lab
) -> None:
    """deploy moves production to the declared version and writes the approvers, the pull
    request and the commit on it; applying the same state again changes nothing."""
    [v1] = repo.start(1)
    merge = repo.merge(declared(v1), SIGNED)
    assert deploy.deploy(lab.settings, github=True) == [
        f"production: {v1.label}; approved by model-owner, risk-approver, pull request #1"
    ]
    tags = registry.get_version(lab.client(), lab.name, v1.number).tags
    assert tags["promotion.production.approved_by"] == "model-owner,risk-approver"
    assert (tags["promotion.production.pr"], tags["promotion.production.commit"]) == ("1", merge)
    assert deploy.deploy(lab.settings, github=True) == [f"production already serves {v1.label}"]


@pytest.mark.parametrize(
    ("reviews", "problem"),
    [
        pytest.param([("helper", "final")], "helper is not a code owner", id="not-an-owner"),
        pytest.param([("risk-approver", "first")], "risk-approver approved", id="older-head"),
        pytest.param([], "nobody reviewed it", id="no-review"),
    ],
)
def test_a_declaration_without_a_code_owners_approval_moves_nothing(
    repo: Repository, lab: Lab, reviews: list[tuple[str, str]], problem: str
) -> None:
    """Merged without a code owner's approval of its final head (branch protection bypassed),
    the change is refused with the reason and production stays where it was."""
    [v1] = repo.start(1)
    repo.merge(declared(v1), reviews)
    with pytest.raises(desired_state.DeployError, match=problem):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) is None


@pytest.mark.parametrize(
    ("reviews", "problem"),
    [
        pytest.param(
            [("risk-approver", "final")],
            "needs an approval of the final head by the model owner (@model-owner) AND the risk "
            "approver (@risk-approver), each by a different person; counted: risk-approver "
            "(the risk approver)",
            id="risk-approver-alone",
        ),
        pytest.param(
            [("model-owner", "final"), ("risk-approver", "first")],
            "counted: model-owner (the model owner) (not counted: risk-approver approved",
            id="one-on-an-older-head",
        ),
    ],
)
def test_production_needs_the_model_owner_and_the_risk_approver(
    repo: Repository, lab: Lab, reviews: list[tuple[str, str]], problem: str
) -> None:
    """A change of production applies only with approvals of its final head by the model
    owner AND the risk approver; either alone moves nothing, and the refusal says who is
    missing."""
    [v1] = repo.start(1)
    repo.merge(declared(v1), reviews)
    with pytest.raises(desired_state.DeployError, match=re.escape(problem)):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) is None


def test_one_person_who_holds_both_roles_is_not_enough(
    repo: Repository, lab: Lab, github: FakeGitHub
) -> None:
    """Where the risk approver is a team and the model owner a member of it, the model owner's
    approval counts for one role only: a second person must approve."""
    lab.with_settings(tracking={"risk_approver": "acme/risk-team"})
    github.team_members[("acme", "risk-team")] = {"model-owner", "analyst"}
    [v1] = repo.start(1)
    repo.merge(declared(v1), [("model-owner", "final")])
    with pytest.raises(desired_state.DeployError, match="each by a different person"):
        deploy.deploy(lab.settings, github=True)
    repo.merge(declared(v1), [("model-owner", "final"), ("analyst", "final")], note="again")
    assert deploy.deploy(lab.settings, github=True)[0].endswith(
        "approved by model-owner, analyst, pull request #2"
    )


def test_a_team_that_wants_one_approver_says_so_in_params(repo: Repository, lab: Lab) -> None:
    """deploy.sign_off: [risk_approver] (params.yaml, which the risk approver owns) makes the
    risk approver's approval enough."""
    lab.with_settings(deploy={"sign_off": ["risk_approver"]})
    [v1] = repo.start(1)
    repo.merge(declared(v1), [("risk-approver", "final")])
    assert deploy.deploy(lab.settings, github=True) == [
        f"production: {v1.label}; approved by risk-approver, pull request #1"
    ]


def test_a_direct_push_to_deploy_is_refused(repo: Repository, lab: Lab) -> None:
    """A commit on main that changes deploy/ without a pull request moves nothing."""
    [v1] = repo.start(1)
    desired_state.write(desired_state.read().with_alias("production", declared(v1)))
    lab.git("commit", "--quiet", "-am", "pushed straight to main")
    repo.github.branch_heads["main"] = lab.git("rev-parse", "HEAD")
    with pytest.raises(desired_state.DeployError, match="without a merged pull request"):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) is None


def test_a_rollout_s_own_moves_carry_the_approval_of_its_pull_request(
    repo: Repository, lab: Lab
) -> None:
    """rollout.yml's commits on main (a step, then the completion after the last step) need
    no review of their own: deploy finds the approval of the pull request that declared the
    rollout, and records it on the new production. A commit that is not one of its moves
    (production set to the candidate before its last step) is refused like any direct push."""
    v1, v2 = repo.start(2)
    repo.merge(declared(v1), SIGNED)
    deploy.deploy(lab.settings, github=True)
    steps = [Step(weight=10, hold_minutes=0), Step(weight=100, hold_minutes=0)]
    rollout = Rollout(candidate=declared(v2), steps=steps)
    repo.merge(desired_state.read().model_copy(update={"rollout": rollout}), SIGNED)
    assert deploy.deploy(lab.settings, github=True)[-1] == (
        f"rollout: candidate {v2.label} beside production; approved by model-owner, risk-approver"
    )

    def pushed(state: desired_state.DesiredState, message: str) -> None:
        desired_state.write(state)
        lab.git("commit", "--quiet", "-am", message)
        repo.github.branch_heads["main"] = lab.git("rev-parse", "HEAD")

    started = desired_state.read()
    pushed(started.with_alias("production", declared(v2)).model_copy(update={"rollout": None}),
           "production set straight to the candidate")  # fmt: skip
    with pytest.raises(desired_state.DeployError, match="without a merged pull request"):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) == v1.number
    lab.git("reset", "--quiet", "--hard", "HEAD~1")  # the branch put back
    pushed(started.rollout_advanced(), "step 1")
    applied = deploy.deploy(lab.settings, github=True)
    assert applied[-1] == f"rollout: {v2.label} is the candidate already"
    pushed(desired_state.read().rollout_advanced(), "step 2")
    pushed(desired_state.read().rollout_completed(), "complete")
    assert deploy.deploy(lab.settings, github=True) == [
        f"production: {v2.label} (was version 1); approved by model-owner, risk-approver, "
        "pull request #2",
    ]  # the candidate alias already rests where production now is
    aliases = registry.aliases(lab.client(), lab.name)
    assert aliases == {"production": 2, "previous-production": 1, "candidate": 2}


def test_going_back_is_a_rollback_and_records_why(repo: Repository, lab: Lab) -> None:
    """A version older than the one git declared before is refused unless the change says
    rollback; the rollback then records why and who on both versions."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        repo.merge(declared(version), SIGNED)
        deploy.deploy(lab.settings, github=True)
    repo.merge(declared(v1), SIGNED)
    with pytest.raises(
        desired_state.DeployError,
        match=r"older than version 2, which deploy/production\.yaml declared",
    ):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) == v2.number
    repo.merge(declared(v1, rollback="v2 misbehaves"), SIGNED)
    deploy.deploy(lab.settings, github=True)
    assert registry.aliases(lab.client(), lab.name) == {"production": 1, "previous-production": 2}
    back = registry.get_version(lab.client(), lab.name, v1.number).tags
    assert (back["rollback.reason"], back["rollback.by"], back["rollback.from_version"]) == (
        "v2 misbehaves",
        "model-owner,risk-approver",
        "2",
    )
    assert (
        registry.get_version(lab.client(), lab.name, v2.number).tags["rolled_back.reason"]
        == "v2 misbehaves"
    )


def test_a_wrong_digest_is_refused(repo: Repository, lab: Lab) -> None:
    """A declaration whose sha256 is not the version's bytes moves nothing."""
    [v1] = repo.start(1)
    repo.merge(Declared(version=v1.number, sha256="0" * 64), SIGNED)
    with pytest.raises(registry.RegistryError, match=r"sha256 is \w+\.\.\., not the 0000"):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) is None


def test_reconcile_puts_a_hand_moved_alias_back_with_one_issue(
    repo: Repository, lab: Lab, github: FakeGitHub
) -> None:
    """An alias moved by hand is put back to what deploy/ declares, and one issue says what
    differed and what was done; the next difference updates the same issue."""
    v1, v2 = repo.start(2)
    repo.merge(declared(v1), SIGNED)
    deploy.deploy(lab.settings, github=True)
    for _ in range(2):
        lab.client().set_registered_model_alias(lab.name, registry.PRODUCTION, str(v2.number))
        assert deploy.compare(lab.settings) is not None
        lines, matches = reconcile.reconcile(lab.settings)
        assert matches and production(lab) == v1.number
    [issue] = github.issues.values()
    assert f"points at {v2.label}, but deploy/production.yaml declares version 1" in issue["body"]
    assert "put back: production" in issue["body"]
    assert lines[-1] == f"updated issue #{issue['number']}"
    assert reconcile.reconcile(lab.settings) == (
        ["the registry serves what deploy/ declares: nothing to do"],
        True,
    )


def test_reconcile_puts_a_rollout_s_candidate_alias_back(repo: Repository, lab: Lab) -> None:
    """The `candidate` alias the server requires is compared like production: moved by hand
    to another version it is put back to the declared candidate; left behind after the
    rollout's abort, it comes to rest on production."""
    v1, v2, v3 = repo.start(3)
    repo.merge(declared(v1), SIGNED)
    steps = [Step(weight=100, hold_minutes=0)]
    rolling = desired_state.read().model_copy(
        update={"rollout": Rollout(candidate=declared(v2), steps=steps, step=0)}
    )
    repo.merge(rolling, SIGNED)
    deploy.deploy(lab.settings, github=True)
    lab.client().set_registered_model_alias(lab.name, registry.CANDIDATE, str(v3.number))
    assert deploy.differences(lab.settings) == [
        "the registry's candidate alias points at version 3, but deploy/production.yaml "
        "declares version 2 as the rollout's candidate"
    ]
    _, matches = reconcile.reconcile(lab.settings)
    assert matches and registry.aliases(lab.client(), lab.name)[registry.CANDIDATE] == 2
    repo.merge(rolling.rollout_aborted("slow"), SIGNED)
    assert deploy.differences(lab.settings) == [
        "the registry's candidate alias points at version 2, but deploy/production.yaml "
        "declares no rollout under way"
    ]
    _, matches = reconcile.reconcile(lab.settings)  # at rest on production (see _apply_rollout)
    assert matches and registry.aliases(lab.client(), lab.name)[registry.CANDIDATE] == 1


def test_reconcile_in_report_mode_moves_nothing(
    repo: Repository, lab: Lab, github: FakeGitHub
) -> None:
    """With deploy.reconcile: report the difference is only said, in the one issue."""
    v1, v2 = repo.start(2)
    repo.merge(declared(v1), SIGNED)
    deploy.deploy(lab.settings, github=True)
    lab.with_settings(deploy={"reconcile": "report"})
    lab.client().set_registered_model_alias(lab.name, registry.PRODUCTION, str(v2.number))
    _, matches = reconcile.reconcile(lab.settings)
    assert not matches and production(lab) == v2.number
    [issue] = github.issues.values()
    assert "reported only" in issue["body"]


def test_one_promotion_pull_request_is_updated_by_a_newer_registration(
    repo: Repository, lab: Lab, github: FakeGitHub, tmp_path: Path
) -> None:
    """Each registration proposes production in ONE pull request from promote/production: the
    branch holds the declaration, and a newer version updates the same pull request, saying
    whom it supersedes."""
    v1, v2 = repo.start(2)
    subprocess.run(["git", "init", "--quiet", "--bare", str(tmp_path / "origin.git")], check=True)
    lab.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    assert proposals.propose_promotion(lab.settings, v1.number, gated(lab, v1)).startswith(
        "opened pull request"
    )
    lab.git("checkout", "--quiet", "main")
    assert proposals.propose_promotion(lab.settings, v2.number, gated(lab, v2)).startswith(
        "updated pull request"
    )
    [pull] = github.pulls
    assert pull["head"] == proposals.PROMOTION_BRANCH and pull["title"].endswith(
        "version 2 to production"
    )
    assert "Superseded: this pull request proposed *Promote" in pull["body"]
    assert f"model sha256 `{v2.digest}`" in pull["body"]
    pushed = lab.git(
        "--git-dir",
        str(tmp_path / "origin.git"),
        "show",
        f"{proposals.PROMOTION_BRANCH}:deploy/production.yaml",
    )
    assert desired_state.parse(pushed, "pushed").aliases["production"] == declared(v2)


def test_a_promotion_beside_production_proposes_the_planned_rollout(
    repo: Repository, lab: Lab, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a version serves production and a model server is named to judge it, the
    promotion declares params.yaml's rollout for the new version beside production, and the
    pull request's gate judges that candidate; without a server it moves all at once and
    says why."""
    v1, v2 = repo.start(2)
    repo.merge(declared(v1), SIGNED)
    deploy.deploy(lab.settings, github=True)
    bare = origin(lab, tmp_path)
    proposals.propose_promotion(lab.settings, v2.number, gated(lab, v2))
    [pull] = github.pulls
    assert pull["body"].startswith(
        f"Sets production to {v2.label}, all at once (no model server named to judge a rollout"
    )
    lab.git("checkout", "--quiet", "main")
    monkeypatch.setenv("MODEL_SERVER_URL", "http://127.0.0.1:1")
    proposals.propose_promotion(lab.settings, v2.number, gated(lab, v2))
    [pull] = github.pulls
    rolls = f"Rolls {v2.label} out beside production version 1: shadow 100%, then 10%, 50%"
    assert pull["body"].startswith(rolls)
    branch = f"{proposals.PROMOTION_BRANCH}:deploy/production.yaml"
    proposed = desired_state.parse(lab.git("--git-dir", str(bare), "show", branch), "branch")
    assert proposed.aliases == {"production": declared(v1)}
    plan = lab.settings.deploy.rollout.model_dump()
    assert proposed.rollout == Rollout(candidate=declared(v2), **plan)
    lab.git("checkout", "--quiet", proposals.PROMOTION_BRANCH)
    lab.git("update-ref", "refs/remotes/origin/main", "main")  # a pull request's checkout
    assert declared_change(lab.settings) == declared(v2)


def gated(lab: Lab, version: registry.Version, digest: str | None = None) -> GateResult:
    """The gate result main.yml hands to the promotion job for `version` (its run, the sha256
    of the bytes it scored)."""
    trained = registry.training_run_of(lab.client(), version)
    run = tracking.RunInfo(run_id=trained, experiment_id="", model_uri="")
    return lab.gate_result(run, "pass", digest or version.digest)


def test_the_promotion_declares_the_gates_digest_not_a_tag(
    repo: Repository, lab: Lab, github: FakeGitHub
) -> None:
    """The promotion pull request declares the sha256 the gate computed: a gate result for
    another run gives no digest, and a version whose bytes differ from the gate's (its tag
    rewritten to match) is refused; no pull request is opened."""
    v1, v2 = repo.start(2)
    with pytest.raises(desired_state.DeployError, match="does not name"):
        proposals.propose_promotion(lab.settings, v2.number, gated(lab, v1))
    registry.set_tags(lab.client(), lab.name, v2.number, {vocabulary.MODEL_SHA256: "1" * 64})
    with pytest.raises(registry.RegistryError, match="not the 1111"):
        proposals.propose_promotion(lab.settings, v2.number, gated(lab, v2, "1" * 64))
    assert github.pulls == []


def test_a_served_version_whose_bytes_changed_is_not_already_served(
    repo: Repository, lab: Lab, github: FakeGitHub
) -> None:
    """Production serves the declared version number, but its bytes were replaced: deploy does
    not say "already serves", and reconcile reports the difference in its issue instead of
    "nothing to do"."""
    from test_registry import overwrite_model_file

    v1, _ = repo.start(2)
    repo.merge(declared(v1), SIGNED)
    deploy.deploy(lab.settings, github=True)
    overwrite_model_file(lab, v1, lab.settings.train.model.read_bytes())  # v2's bytes
    with pytest.raises(registry.RegistryError, match="the stored model's sha256"):
        deploy.deploy(lab.settings, github=True)
    said, matches = reconcile.reconcile(lab.settings)
    assert not matches
    assert "the stored model's sha256" in said[0]
    [issue] = github.issues.values()
    assert "could not put it back" in issue["body"]


def test_a_rollback_only_returns_to_a_version_that_served(repo: Repository, lab: Lab) -> None:
    """A version that never served production is refused as a rollback target, when the pull
    request is proposed and again when such a change is merged anyway."""
    v1, v2 = repo.start(2)
    repo.merge(declared(v2), SIGNED)
    deploy.deploy(lab.settings, github=True)
    with pytest.raises(desired_state.DeployError, match="was never in production"):
        proposals.rollback_state(lab.settings, v1.number, "try it")
    repo.merge(declared(v1, rollback="try it"), SIGNED)
    with pytest.raises(desired_state.DeployError, match="was never in production"):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) == v2.number


def origin(lab: Lab, tmp_path: Path, refuse: bool = False) -> Path:
    """A bare repository as the remote `origin`, holding main; `refuse`: a server that turns
    every push away, as branch protection does."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    lab.git("remote", "add", "origin", str(bare))
    lab.git("push", "--quiet", "origin", "main")
    if refuse:
        hook = bare / "hooks" / "pre-receive"
        hook.write_text("#!/bin/sh\necho 'protected branch hook declined' >&2\nexit 1\n")
        hook.chmod(0o755)
    return bare


def test_an_emergency_rollback_is_committed_to_git_then_applied(
    repo: Repository, lab: Lab, tmp_path: Path
) -> None:
    """The emergency path commits the rollback to deploy/ on main first, then moves production
    at once, naming who asked and why; git's record and the registry agree."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        repo.merge(declared(version), SIGNED)
        deploy.deploy(lab.settings, github=True)
    bare = origin(lab, tmp_path)
    said = deploy.emergency_rollback(lab.settings, None, "outage", "oncall", token="")
    assert said[-1] == f"production: {v1.label} (was version 2)"
    pushed = lab.git("--git-dir", str(bare), "show", "main:deploy/production.yaml")
    assert desired_state.parse(pushed, "main").aliases["production"] == declared(v1, "outage")
    tags = registry.get_version(lab.client(), lab.name, v1.number).tags
    assert (tags["rollback.by"], tags["rollback.emergency"]) == ("oncall", "true")
    assert deploy.compare(lab.settings) is None


def test_an_emergency_rollback_that_git_refuses_moves_nothing(
    repo: Repository, lab: Lab, tmp_path: Path
) -> None:
    """Where the push to main is refused (branch protection), the registry stays as it was
    and the error says why and what to do."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        repo.merge(declared(version), SIGNED)
        deploy.deploy(lab.settings, github=True)
    origin(lab, tmp_path, refuse=True)
    with pytest.raises(
        desired_state.DeployError, match="could not be committed to main, so nothing moved"
    ):
        deploy.emergency_rollback(lab.settings, None, "outage", "oncall", token="")
    assert production(lab) == v2.number


def test_a_declaration_refused_as_older_is_not_applied_by_a_later_edit(
    repo: Repository, lab: Lab
) -> None:
    """An older version refused stays on main; a later approved change that only touches the
    file (the version git declared before is then the same) still may not go back: what serves
    now, declared by git before, counts too. A rollback reason kept from before is no new one."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        repo.merge(declared(version), SIGNED)
        deploy.deploy(lab.settings, github=True)
    repo.merge(declared(v1), SIGNED)
    with pytest.raises(desired_state.DeployError, match="older than version 2"):
        deploy.deploy(lab.settings, github=True)
    repo.merge(declared(v1), SIGNED, note="an edit keeping the declaration")
    with pytest.raises(desired_state.DeployError, match="older than version 2"):
        deploy.deploy(lab.settings, github=True)
    assert deploy.rollback_reason(declared(v1, "again"), declared(v1, "again")) is None
    assert production(lab) == v2.number


def test_an_old_checkout_applies_nothing(repo: Repository, lab: Lab, github: FakeGitHub) -> None:
    """A run whose checkout is not the default branch's tip (a re-run of an old deploy, a
    reconcile that started before a merge) moves nothing: the newer declaration's own run
    applies it."""
    [v1] = repo.start(1)
    repo.merge(declared(v1), SIGNED)
    github.branch_heads["main"] = "f" * 40
    with pytest.raises(
        desired_state.DeployError, match="the newer declaration is applied by its own run"
    ):
        deploy.deploy(lab.settings, github=True)
    assert production(lab) is None


def test_the_local_path_is_refused_inside_github_actions(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside GitHub Actions neither `make promote` nor `make deploy` without --github may
    move production: they take no approval from GitHub."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(desired_state.DeployError, match="only through"):
        deploy.declare_and_deploy(lab.settings, 1, ("someone",))
    with pytest.raises(desired_state.DeployError, match=r"only through deploy\.yml"):
        deploy.deploy(lab.settings, github=False)


def test_an_emergency_rollback_refuses_while_git_and_the_registry_differ(
    repo: Repository, lab: Lab, tmp_path: Path
) -> None:
    """Where what git declares is not what serves (an earlier emergency pushed but never
    applied, say), a second emergency run would count back one version too far: it refuses,
    saying what differs, and moves nothing."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        repo.merge(declared(version), SIGNED)
        deploy.deploy(lab.settings, github=True)
    origin(lab, tmp_path)
    desired_state.write(desired_state.read().with_alias("production", declared(v1, "outage")))
    lab.git("commit", "--quiet", "-am", "an emergency rollback pushed, never applied")
    with pytest.raises(desired_state.DeployError, match="finish or undo that change first"):
        deploy.emergency_rollback(lab.settings, None, "outage again", "oncall", token="")
    assert production(lab) == v2.number


def test_without_github_promote_and_rollback_declare_in_git_then_apply(
    repo: Repository, lab: Lab
) -> None:
    """The local path (`make promote`, `make rollback`): each declares in deploy/ and applies
    it with the approvers given; committed, the rollback's default target is the version git
    declared before."""
    v1, v2 = repo.start(2)
    for version in (v1, v2):
        deploy.declare_and_deploy(lab.settings, version.number, ("risk-approver",))
        lab.git("commit", "--quiet", "-am", f"serve version {version.number}")
    said = deploy.declare_and_deploy(lab.settings, None, ("oncall",), reason="outage")
    assert said[-1] == f"production: {v1.label} (was version 2); approved by oncall"
    assert desired_state.read().aliases["production"] == declared(v1, "outage")
    assert registry.get_version(lab.client(), lab.name, v1.number).tags["rollback.by"] == "oncall"
