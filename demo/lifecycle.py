"""A model's whole life, run through the generated project's real GitHub workflows with `act`.

`make demo` narrates it; tests/test_lifecycle.py checks what every step left behind. The project
must be baked and set up (`make setup`), committed on main, with its MLflow server up. Only
GitHub is faked: the project's own tests/fake_github.py serves its REST API on loopback and
records every request. Everything else is real: the workflow files, the Makefile, `dvc pull`
from the local remote, training, the gate, and the MLflow registry.

Read it as a story: `Lifecycle.scenario` is the list of steps, each a few lines of what people
do on GitHub (simulated_github.py: branches, labels, reviews, merges) followed by the workflow
GitHub would run for it (act_runner.py).

    python demo/lifecycle.py PROJECT --mlflow-uri URI --dvc-remote DIR --record FILE
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import model_server
from act_runner import ActRun, Runner, warm_uv_cache
from model_server import ModelServer
from simulated_github import (
    BOT,
    HELPER,
    MODEL_OWNER,
    REPOSITORY,
    RISK_APPROVER,
    SimulatedGitHub,
)

OVERRIDE_LABEL = "gate-override"
PROMOTION_BRANCH = "promote/production"  # proposals.PROMOTION_BRANCH
ROLLBACK_BRANCH = "rollback/production"  # proposals.ROLLBACK_BRANCH
DEPLOY_FILE = "deploy/production.yaml"  # desired_state.DEPLOY_FILE
# Parameter changes of the scenario's pull requests, as (section, key) -> new value.
# Deep trees at a high learning rate overfit: clearly worse, yet as fair as the champion (the
# risk gate, which no override lifts, must not be what fails).
WORSE_PARAMS = {("train", "max_depth"): "8", ("train", "learning_rate"): "0.3"}
BETTER_PARAMS = {("train", "max_depth"): "2", ("train", "n_estimators"): "600"}
OVERRIDDEN_BRANCH = "deeper-trees"  # PR #8: merged on the override, aborted by the server
FORK_PARAMS = {("train", "learning_rate"): "0.06"}
# The team's rollout plan, as a reviewed change of params.yaml would set it: the shipped plan
# holds each step for an hour and judges 5 minutes at a time; the demo's holds none and judges
# every 5 s, its latency limit loose: the demo shares two cores with its runners (and, in the
# template's CI, with other tests), and a busy machine's p99 is its own, not the candidate's.
# A 10% canary answers ~100 of the callers' rows in 5 s, where two models that score alike
# differ by a PSI of ~0.1 by chance: a score PSI above 2 is no accident (v3, deep trees
# learned fast, scores the callers' rows at 4 to 6 against v2). Disparate impact, a ratio of
# selection rates (~13%) over the few rows a group sends in 5 s, is mostly noise at this pace
# (it aborted v2, which the gate's fairness check passed): left to the shipped plan.
DEMO_ROLLOUT = {
    "deploy.rollout.shadow_hold_minutes": "0",
    "deploy.rollout.steps": "[{weight: 10, hold_minutes: 0}, {weight: 100, hold_minutes: 0}]",
    "deploy.rollout.analysis.interval_seconds": "5",
    "deploy.rollout.analysis.min_rows": "50",
    "deploy.rollout.analysis.checks": "{error_rate: 0.01, latency_p99_ms: 250, score_psi: 2}",
}
BATCH = "data/incoming/batch.csv"  # drift.batch in the generated params.yaml
BATCH_ROWS = 2000
# The part of the project's suite its test job runs here: one file, so that pytest does not
# import every test module (and with them MLflow, XGBoost and Great Expectations) to collect,
# in one process (worker processes would cost more than the file). The job and its place in
# the check stay; the template's test_byod runs the whole suite on a fresh bake.
QUICK_TESTS = "-q -n 0 tests/test_settings.py"
# The two MLflow users the workflows' secrets name (MLFLOW_READ_*, MLFLOW_WRITE_*).
MLFLOW_USERS = {"READ": "ci-read", "WRITE": "ci-write"}
# Code a pull request could carry: the Makefile's gate first tries, with the credential the
# pull request's job holds, every way to take what serves. Each attempt prints its outcome.
TAKEOVER = """
import sys
from mlflow import MlflowClient
name = sys.argv[1]
client = MlflowClient()
served = client.get_model_version_by_alias(name, "production")
source = client.get_model_version_download_uri(name, served.version)
attempts = {
    "register a version": lambda: client.create_model_version(name, source),
    "move production": lambda: client.set_registered_model_alias(name, "production", "1"),
    "rewrite model.sha256": lambda: client.set_model_version_tag(
        name, served.version, "model.sha256", "0" * 64),
    "overwrite the served bytes": lambda: client.log_text(
        served.run_id, "planted", "model/model.ubj"),
    "delete the served run": lambda: client.delete_run(served.run_id),
    "delete the served version": lambda: client.delete_model_version(name, served.version),
}
for what, attempt in attempts.items():
    try:
        attempt()
    except Exception as error:
        said = (str(error).splitlines() or [""])[0][:100]
        print(f"takeover: refused: {what}: {getattr(error, 'error_code', '')} {said}")
    else:
        print(f"takeover: ALLOWED: {what}")
"""


def load_fake_github(project: Path) -> ModuleType:
    """The baked project's own fake GitHub API (the one its unit tests use)."""
    spec = importlib.util.spec_from_file_location("fake_github", project / "tests/fake_github.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_github"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@dataclass(frozen=True)
class MlflowAdmin:
    """The demo server's admin: MLflow's basic-auth app, as the README has teams run it."""

    uri: str
    password: str
    user: str = "admin"

    def call(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One MLflow REST call as the admin (GET, or POST with a JSON body); {} for a 404."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.uri}/api/2.0/mlflow/{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return dict(json.loads(answer.read() or b"{}"))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise

    def env(self) -> dict[str, str]:
        """The project's environment, as the admin (a registry writer) would have it."""
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env.update(
            MLFLOW_TRACKING_URI=self.uri,
            MLFLOW_TRACKING_USERNAME=self.user,
            MLFLOW_TRACKING_PASSWORD=self.password,
        )
        return env


def registry_state(admin: MlflowAdmin, name: str) -> dict[str, Any]:
    """Aliases and every version's tags, straight from the MLflow REST API."""
    model = admin.call(f"registered-models/get?name={quote(name)}").get("registered_model", {})
    search = quote(f"name = '{name}'")
    found = admin.call(f"model-versions/search?filter={search}&max_results=1000")
    versions = {
        str(v["version"]): {tag["key"]: tag["value"] for tag in v.get("tags", [])}
        for v in found.get("model_versions", [])
    }
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
    return {"aliases": aliases, "versions": dict(sorted(versions.items(), key=lambda i: int(i[0])))}


def move_alias_by_hand(admin: MlflowAdmin, name: str, alias: str, version: str) -> None:
    """What anyone with registry write access can do: set an alias through MLflow's API."""
    admin.call("registered-models/alias", {"name": name, "alias": alias, "version": version})


# What anyone who may write the registry and its artifact store can do: put one version's bytes
# under another version and rewrite its model.sha256 tag to match. Run in the project's
# environment (MLflow), with the version that serves and the one whose bytes are planted.
SWAP_BYTES = """
import hashlib, pathlib, sys, tempfile
from mlflow import MlflowClient, artifacts
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
name, served, planted = sys.argv[1:]
client = MlflowClient()
source = client.get_model_version_download_uri(name, planted)
with tempfile.TemporaryDirectory() as folder:
    local = pathlib.Path(artifacts.download_artifacts(f"{source}/model.ubj", dst_path=folder))
    target = client.get_model_version_download_uri(name, served)
    get_artifact_repository(target).log_artifact(str(local))
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
client.set_model_version_tag(name, served, "model.sha256", digest)
"""


# Outcomes arrive for three closed weeks of production's answers, written with the
# project's own code: the first week's outcomes follow the scores, the next two's do not (the
# relation between inputs and default changed): two counted windows break ROC AUC, the latest
# among them. Both groups of the sensitive column get the same scores and outcomes, so only
# performance breaks. The log and the store are DVC-tracked, as where scoring runs elsewhere.
OUTCOMES_ARRIVE = """
import sys
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path

import numpy as np, pandas as pd, yaml

package, log, labels = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
settings = import_module(package + ".settings").load_settings()
inference_log = import_module(package + ".monitoring.inference_log")
outcome_store = import_module(package + ".monitoring.outcome_store")
contract = import_module(package + ".pipeline.contract").load_contract(settings.data.contract)
version = yaml.safe_load(Path("deploy/production.yaml").read_text())["aliases"]["production"]
rng = np.random.default_rng(27)
now = datetime.now(UTC)
monday = (now - timedelta(days=now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
groups = contract.columns[settings.fairness.sensitive_column].values
decided, outcomes = [], []
for week in (3, 2, 1):
    scores = rng.beta(2, 5, 200).round(6)
    became = rng.random(200) < (scores if week == 3 else np.full(200, 0.3))
    for group in groups:
        keys = [f"w{week}-{group}-{n}" for n in range(200)]
        decided.append(pd.DataFrame({
            "timestamp": (monday - timedelta(weeks=week)).isoformat(), "route": "stable",
            "model_name": settings.tracking.model_name, "model_version": str(version["version"]),
            "request_id": keys, "row": "0", "row_key": "", "input_sha256": "",
            "probability": scores.astype(str), "label": "", "latency_ms": "", "sensitive": group,
        }))
        outcomes.append(pd.DataFrame({"request_id": keys, "row": 0, contract.target.name: np.where(
            became, contract.target.positive, next(c for c in contract.target.classes
                                                   if c != contract.target.positive))}))
inference_log.append_frame(pd.concat(decided), log)
pd.concat(outcomes).assign(known_at=now.isoformat()).to_csv(labels, index=False)
outcome_store.store_outcomes(labels, contract, log, settings.outcomes, now)
"""


@dataclass(frozen=True)
class Step:
    """One step of the story: its name (the tests look it up), what a reader is told, and what
    happens (people's doings on GitHub, then the workflow run they cause)."""

    name: str
    title: str
    happens: Callable[[], ActRun]


@dataclass
class Lifecycle:
    """Drives the project through pull requests, merges, promotion, rollback, reconciliation,
    and the monitoring loop (scheduled drift checks, the drift issue, and the retraining pull
    request)."""

    project: Path
    mlflow: MlflowAdmin
    dvc_remote: Path
    github: Any  # the project's FakeGitHub
    token: str
    work: Path
    model_name: str
    on_step: Callable[[dict[str, Any]], None] = lambda entry: None
    records: list[dict[str, Any]] = field(default_factory=list)
    seen_requests: int = 0
    server: ModelServer | None = None

    def __post_init__(self) -> None:
        self.people = SimulatedGitHub(self.project, self.github, self.work)
        # The repository's secrets and variables. The repository variable PYTEST_ADDOPTS,
        # which the project's test job passes on, is QUICK_TESTS.
        self.runner = Runner(
            project=self.project,
            work=self.work,
            uv_cache=warm_uv_cache(self.project, self.work),
            secrets={
                "MLFLOW_TRACKING_URI": self.mlflow.uri,
                **{
                    f"MLFLOW_{role}_{part}": value
                    for role, user in MLFLOW_USERS.items()
                    for part, value in (("USERNAME", user), ("PASSWORD", f"{user}-password"))
                },
                "GITHUB_TOKEN": self.token,
                "PROMOTION_TOKEN": self.token,  # the bot that opens promotion pull requests
                "ROLLOUT_PUSH_TOKEN": self.token,  # the rollout's moves, past the protection
            },
            variables={"DVC_REMOTE_URL": str(self.dvc_remote), "PYTEST_ADDOPTS": QUICK_TESTS},
            env={"GITHUB_API_URL": self.github.url},
        )

    def scenario(self) -> list[Step]:
        return [
            Step("registry-setup",
                 "make registry-setup by the MLflow admin: experiments, model, two users' grants",
                 self.registry_setup),
            Step("github-setup",
                 "make github-setup on a private repository of GitHub Team: what is in force",
                 self.github_setup),
            Step("pr-first", "PR #1: the first model, on an empty registry", self.first_pr),
            Step("merge-first", "Merge #1: register v1 (staging), open its promotion PR",
                 lambda: self.merge_and_run_main("first-model", 1)),
            Step("pr-promotion",
                 "The promotion PR's own gate: judged on the version it declares, not a retrain",
                 self.promotion_pr),
            Step("promote-first",
                 "model owner and risk approver approve the promotion PR; merged: deploy.yml "
                 "moves production",
                 lambda: self.approve_and_deploy(PROMOTION_BRANCH)),
            Step("pr-takeover",
                 "PR #7's code tries to take production with the pull requests' credential",
                 self.takeover_pr),
            Step("pr-worse", "PR #2: clearly worse parameters", self.worse_pr),
            Step("pr-worse-override",
                 f"PR #2 again: {RISK_APPROVER} applies the {OVERRIDE_LABEL} label",
                 self.override_worse_pr),
            Step("pr-worse-pushed",
                 "PR #2 after a new push: the earlier override label no longer counts",
                 self.push_after_override),
            Step("pr-better", "PR #3: better parameters", self.better_pr),
            Step("serve",
                 "The model server starts in a clean clone, with the read credential; the "
                 "variable MODEL_SERVER_URL names it; callers send it 20 requests (10 rows "
                 "each) a second",
                 self.start_server),
            Step("merge-better",
                 "Merge #3: register v2; a server judges production, so its promotion PR "
                 "proposes a rollout",
                 lambda: self.merge_and_run_main("better-model", 3)),
            Step("promote-better",
                 "both approve; merged: deploy.yml makes v2 the candidate, the server shadows it",
                 lambda: self.approve_and_deploy(PROMOTION_BRANCH)),
            Step("rollout-canary",
                 "rollout.yml: the shadow held with every check green: git moves v2 to 10%",
                 lambda: self.rollout_moves(shadow_only=True)),
            Step("rollout-all", "rollout.yml: 10% held, every check green: git moves v2 to 100%",
                 lambda: self.rollout_moves(weight=10)),
            Step("rollout-complete",
                 "rollout.yml: the last step held: git makes v2 production",
                 lambda: self.rollout_moves(weight=100)),
            Step("deploy-rollout",
                 "deploy.yml on that commit moves the production alias; the callers never failed",
                 self.deploy_rollout),
            Step("pr-override",
                 f"PR #8: deeper trees again, for a campaign; {RISK_APPROVER} overrides the gate",
                 self.override_pr),
            Step("merge-override",
                 "Merge #8: register v3 on the override; its promotion PR proposes a rollout",
                 lambda: self.merge_and_run_main(OVERRIDDEN_BRANCH, 8, (OVERRIDE_LABEL,))),
            Step("promote-override",
                 "both approve; merged: deploy.yml makes v3 the candidate, the server shadows it",
                 lambda: self.approve_and_deploy(PROMOTION_BRANCH)),
            Step("rollout-abort",
                 "The server's analysis aborts v3 in its shadow (scores far from v2's); "
                 "rollout.yml records the abort in git",
                 self.rollout_aborted),
            Step("deploy-abort",
                 "deploy.yml on that commit puts the candidate alias back at rest on production",
                 self.deploy_rollout),
            Step("deploy-unapproved",
                 "PR #5 merged without a code owner's approval of its final head: refused",
                 self.unapproved_change),
            Step("deploy-revert", "PR #6, a reviewed revert: nothing to move", self.revert),
            Step("rollback-pr",
                 "rollback.yml: the pull request that puts production back, with the reason",
                 self.propose_rollback),
            Step("rollback",
                 "both approve the rollback PR; merged: production back on v1",
                 lambda: self.approve_and_deploy(ROLLBACK_BRANCH)),
            Step("reconcile",
                 "Someone moves production to v2 by hand; reconcile.yml puts it back, in one issue",
                 self.reconcile_a_hand_move),
            Step("pr-fork", "PR #4 from a fork: no secrets reach it", self.fork_pr),
            Step("drift-calm", "drift.yml on a batch like the training data",
                 lambda: self.drift_check(0.0, 301, "New batch: the usual applicants")),
            Step("drift-shifted", "drift.yml on a shifted batch: issue and retraining",
                 lambda: self.drift_check(1.0, 302, "New batch: riskier applicants")),
            Step("outcomes",
                 "outcomes.yml: outcomes of three weeks of production's answers, the last two "
                 "worse than at its evaluation: ONE issue, and retraining dispatched",
                 self.outcomes_check),
            Step("retrain", "retrain.yml, as dispatched: fold the batch in, open a pull request",
                 self.dispatched_retraining),
            Step("pr-retrain", "The retraining PR, gated like any other", self.retraining_pr),
            Step("drift-again", "drift.yml again: the same issue is updated", self.drift_again),
            Step("swap-bytes",
                 "A registry writer plants v2's bytes under v1 and rewrites v1's model.sha256 "
                 "tag: reconcile.yml checks the bytes against git's sha256 and says so",
                 self.swap_production_bytes),
        ]  # fmt: skip

    def run(self) -> list[dict[str, Any]]:
        self.people.set_up_remotes()
        self.plan_the_demo_rollout()
        self.people.publish_main()
        try:
            for step in self.scenario():
                self.record(step, step.happens())
        finally:
            if self.server is not None:
                self.server.stop()
        return self.records

    def plan_the_demo_rollout(self) -> None:
        command = str(self.project / ".venv/bin" / self.project.name)
        for key, value in DEMO_ROLLOUT.items():
            subprocess.run([command, "param", "--", key, value], cwd=self.project, check=True,
                           capture_output=True)  # fmt: skip
        message = "The demo's rollout: no holds, judged every 5 s"
        self.people.git("commit", "--quiet", "-am", message)

    # -- the steps --

    def make(self, target: str, env: dict[str, str]) -> ActRun:
        """A person runs `make target` in the project."""
        started = time.monotonic()
        done = subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=self.project, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        result = "success" if done.returncode == 0 else "failure"
        log = done.stdout.splitlines() + done.stderr.splitlines()
        seconds = round(time.monotonic() - started, 1)
        return ActRun({f"make {target}": result}, log, done.returncode, seconds)

    def registry_setup(self) -> ActRun:
        """The MLflow admin creates the workflows' two users, then runs the README's set-up."""
        for user in MLFLOW_USERS.values():
            self.mlflow.call("users/create", {"username": user, "password": f"{user}-password"})
        env = self.mlflow.env()
        env.update(
            MLFLOW_READ_USERNAME=MLFLOW_USERS["READ"], MLFLOW_WRITE_USERNAME=MLFLOW_USERS["WRITE"]
        )
        return self.make("registry-setup", env)

    def github_setup(self) -> ActRun:
        """The repository is private, its organisation on GitHub Team: environments get no
        required reviewers there, and the code-owner review of deploy/ guards production."""
        self.github.visibility, self.github.plan = "private", "team"
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env.update(GITHUB_API_URL=self.github.url, GITHUB_TOKEN=self.token)
        return self.make("github-setup", env)

    def takeover_pr(self) -> ActRun:
        """A pull request whose Makefile tries to take production with the job's credential."""
        self.people.git("checkout", "--quiet", "-B", "takeover", "main")
        (self.project / "takeover.py").write_text(TAKEOVER, encoding="utf-8")
        makefile = self.project / "Makefile"
        lines = makefile.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next(n for n, line in enumerate(lines) if line.startswith("gate:")) + 1
        lines.insert(at, f"\t$(RUN) python takeover.py {self.model_name}\n")
        makefile.write_text("".join(lines), encoding="utf-8")
        self.people.git("add", "takeover.py", "Makefile")
        self.people.git("commit", "--quiet", "-m", "Speed up the gate")
        return self.pr(7, "takeover", [])

    def first_pr(self) -> ActRun:
        self.people.branch("first-model", "Train the first model", {})
        return self.pr(1, "first-model", [])

    def merge_and_run_main(self, branch: str, number: int, labels: tuple[str, ...] = ()) -> ActRun:
        self.people.merge(branch, number, labels=labels)
        return self.on_push("main.yml")

    def promotion_pr(self) -> ActRun:
        """pr.yml on the workflow's promotion pull request, the required check it needs."""
        pull = self.people.bot_pull(PROMOTION_BRANCH)
        self.people.fetch(PROMOTION_BRANCH)
        return self.pr(pull["number"], PROMOTION_BRANCH, [], author=BOT)

    def approve_and_deploy(self, branch: str) -> ActRun:
        """The model owner and the risk approver (production's sign-off, both code owners of
        deploy/) approve the final head of the workflow's open pull request from `branch`; it is
        merged, and deploy.yml runs on the push."""
        pull = self.people.bot_pull(branch)
        head = self.people.fetch(branch)
        self.people.review(pull["number"], MODEL_OWNER, head)
        self.people.review(pull["number"], RISK_APPROVER, head)
        self.people.merge(branch, pull["number"], author=BOT)
        return self.on_push("deploy.yml")

    def start_server(self) -> ActRun:
        """The team starts the server beside its runners and names it in MODEL_SERVER_URL:
        from now on a promotion beside production is a rollout the server judges."""
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env.update(
            MLFLOW_TRACKING_URI=self.mlflow.uri,
            MLFLOW_TRACKING_USERNAME=MLFLOW_USERS["READ"],
            MLFLOW_TRACKING_PASSWORD=f"{MLFLOW_USERS['READ']}-password",
        )
        self.server = model_server.start(
            self.project, self.work / "origin.git", self.work, free_port(), env
        )
        self.runner.variables["MODEL_SERVER_URL"] = self.server.url
        ready = self.server.ready()
        log = [f"{self.server.url}/ready: {json.dumps(ready)}"]
        seconds = round(time.monotonic() - started, 1)
        result = "success" if ready.get("ready") else "failure"
        return ActRun({"serve": result}, log, 0, seconds)

    def rollout_moves(self, weight: int = 0, shadow_only: bool = False) -> ActRun:
        """rollout.yml on its schedule, once the server serves the step git declares and its
        analysis of an interval of it passed every check; then main takes in the move the job
        pushed."""
        assert self.server is not None
        self.server.wait_for(
            lambda ready: (
                ready.get("candidate", {}).get("canary_percent") == weight
                and (not shadow_only or ready["candidate"].get("shadow") == 1.0)
            )
        )
        self.server.traffic.seen()  # from here on, what the callers see of this step
        for _ in range(3):  # a run that found an interval failing holds; the schedule fires again
            self.server.judged_healthy(weight)
            run, moved = self.scheduled_rollout()
            if moved:
                break
        return run

    def scheduled_rollout(self) -> tuple[ActRun, bool]:
        """rollout.yml on its schedule; main takes in what it pushed (and whether it did)."""
        self.people.git("checkout", "--quiet", "main")
        before = self.people.git("rev-parse", "HEAD")
        run = self.schedule("rollout.yml", "7,22,37,52 * * * *")
        self.people.pull_main()
        return run, self.people.git("rev-parse", "HEAD") != before

    def rollout_aborted(self) -> ActRun:
        """rollout.yml on its schedule, once the server's analysis took the candidate out of
        its routes; then main takes in the abort the job pushed."""
        assert self.server is not None
        self.server.wait_for(lambda ready: "analysis failed" in (ready.get("problem") or ""))
        return self.scheduled_rollout()[0]

    def deploy_rollout(self) -> ActRun:
        run = self.on_push("deploy.yml")
        if self.server is not None:
            self.server.wait_for(lambda ready: "candidate" not in ready)
        return run

    def worse_pr(self) -> ActRun:
        self.people.git("checkout", "--quiet", "main")
        self.people.branch("worse-model", "Deeper trees, faster learning", WORSE_PARAMS)
        return self.pr(2, "worse-model", [])

    def override_worse_pr(self) -> ActRun:
        self.people.label(2, OVERRIDE_LABEL, RISK_APPROVER)
        return self.pr(2, "worse-model", [OVERRIDE_LABEL])

    def push_after_override(self) -> ActRun:
        self.people.push_to("worse-model", "A commit pushed after the override was given.")
        return self.pr(2, "worse-model", [OVERRIDE_LABEL])

    def override_pr(self) -> ActRun:
        """The worse parameters again, from main. GitHub ran pr.yml when the pull request was
        opened (its gate failed, as PR #2's did: not shown again); the risk approver then
        applies the override label to that head, and the gate passes on it."""
        number = 8
        self.people.git("checkout", "--quiet", "main")
        self.people.branch(OVERRIDDEN_BRANCH, "Deeper trees for the campaign", WORSE_PARAMS)
        self.people.pull_request_event(number, OVERRIDDEN_BRANCH, [])  # the run on opening
        self.people.label(number, OVERRIDE_LABEL, RISK_APPROVER)
        return self.pr(number, OVERRIDDEN_BRANCH, [OVERRIDE_LABEL])

    def better_pr(self) -> ActRun:
        self.people.git("checkout", "--quiet", "main")
        self.people.branch("better-model", "Regularise and grow the ensemble", BETTER_PARAMS)
        return self.pr(3, "better-model", [])

    def unapproved_change(self) -> ActRun:
        """A change to deploy/ merged past branch protection (an admin's merge) without a code
        owner's approval of its final head: the risk approver approved an earlier head, and
        only a colleague who is no code owner approved the last one."""
        number = 5
        v1 = registry_state(self.mlflow, self.model_name)["versions"]["1"]["model.sha256"]
        self.people.git("checkout", "--quiet", "-B", "back-to-v1", "main")
        path = self.project / DEPLOY_FILE
        path.write_text(
            f"model: {self.model_name}\naliases:\n  production:\n    version: 1\n"
            f"    sha256: {v1}\n    rollback: v1 scored better last week\n",
            encoding="utf-8",
        )
        self.people.git("commit", "--quiet", "-am", "Serve v1 again")
        self.people.review(number, RISK_APPROVER, self.people.git("rev-parse", "HEAD"))
        with path.open("a", encoding="utf-8") as stream:
            stream.write("# by the scores of the week of 23 November\n")
        self.people.git("commit", "--quiet", "-am", "Say why")
        self.people.review(number, HELPER, self.people.git("rev-parse", "HEAD"))
        self.people.merge("back-to-v1", number)
        return self.on_push("deploy.yml")

    def revert(self) -> ActRun:
        """A reviewed revert of the refused change declares v2 again: production serves it."""
        number = 6
        merged = self.people.git("rev-parse", "HEAD")
        self.people.git("checkout", "--quiet", "-B", "revert-back-to-v1", "main")
        self.people.git("revert", "--no-edit", "-m", "1", merged)
        self.people.review(number, RISK_APPROVER, self.people.git("rev-parse", "HEAD"))
        self.people.merge("revert-back-to-v1", number)
        return self.on_push("deploy.yml")

    def propose_rollback(self) -> ActRun:
        inputs = {"reason": "v2 misbehaves in production", "version": "", "emergency": "false"}
        return self.dispatch("rollback.yml", inputs, RISK_APPROVER)

    def reconcile_a_hand_move(self) -> ActRun:
        move_alias_by_hand(self.mlflow, self.model_name, "production", "2")
        return self.schedule("reconcile.yml", "41 * * * *")

    def swap_production_bytes(self) -> ActRun:
        subprocess.run(
            ["uv", "run", "--locked", "python", "-c", SWAP_BYTES, self.model_name, "1", "2"],
            cwd=self.project, env=self.mlflow.env(), check=True, capture_output=True,
        )  # fmt: skip
        return self.schedule("reconcile.yml", "41 * * * *")

    def fork_pr(self) -> ActRun:
        """A fork's pull request gets no secrets: they arrive empty."""
        self.people.git("checkout", "--quiet", "main")
        self.people.branch("from-a-fork", "A contribution from a fork", FORK_PARAMS)
        return self.pr(4, "from-a-fork", [], secrets={"MLFLOW_TRACKING_URI": ""})

    def drift_check(self, shift: float, seed: int, message: str) -> ActRun:
        self.land_batch(shift, seed, message)
        return self.schedule("drift.yml", "17 5 * * 1")

    def outcomes_check(self) -> ActRun:
        """The inference log and outcomes of three weeks land on main, DVC-tracked (the log
        moved to data/, as where scoring runs elsewhere); then the daily outcomes.yml."""
        self.people.git("checkout", "--quiet", "main")
        project_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        package = self.project.name.replace("-", "_")
        log, labels = "data/inference_log", str(self.work / "outcomes.csv")
        for command in (
            ["make", "param", "KEY=predict.log", f"VALUE={log}"],
            ["uv", "run", "--locked", "python", "-c", OUTCOMES_ARRIVE, package, log, labels],
            ["uv", "run", "--locked", "dvc", "add", "--quiet", log, "data/outcomes"],
            ["uv", "run", "--locked", "dvc", "push", "--quiet"],
        ):
            subprocess.run(command, cwd=self.project, env=project_env, check=True)
        self.people.git("add", "params.yaml", f"{log}.dvc", "data/outcomes.dvc", "data/.gitignore")
        self.people.git("commit", "--quiet", "-m", "Outcomes of three weeks of decisions")
        self.people.publish_main()
        return self.schedule("outcomes.yml", "41 5 * * *")

    def dispatched_retraining(self) -> ActRun:
        dispatched = self.github.dispatches[-1] if self.github.dispatches else {"inputs": {}}
        return self.dispatch("retrain.yml", dispatched["inputs"], "github")

    def retraining_pr(self) -> ActRun:
        pull = [p for p in self.github.pulls if p["head"].startswith("retrain/")][-1]
        self.people.fetch(pull["head"])
        return self.pr(pull["number"], pull["head"], [])

    def drift_again(self) -> ActRun:
        self.people.git("checkout", "--quiet", "main")
        return self.schedule("drift.yml", "17 5 * * 1")

    def land_batch(self, shift: float, seed: int, message: str) -> None:
        """A new labelled batch arrives: DVC-tracked at drift.batch, pushed, committed on main."""
        import sample_data

        self.people.git("checkout", "--quiet", "main")
        batch = self.project / BATCH
        batch.parent.mkdir(parents=True, exist_ok=True)
        rows = sample_data.make_loans(BATCH_ROWS, seed, shift)
        batch.write_text(sample_data.to_csv(rows), encoding="utf-8")
        project_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        for command in (["dvc", "add", "--quiet", BATCH], ["dvc", "push", "--quiet"]):
            subprocess.run(
                ["uv", "run", "--locked", *command], cwd=self.project, env=project_env, check=True
            )
        self.people.git("add", f"{BATCH}.dvc", str(Path(BATCH).parent / ".gitignore"))
        self.people.git("commit", "--quiet", "-m", message)
        self.people.publish_main()

    # -- the workflow runs GitHub starts --

    def step_folder(self) -> Path:
        """Where the current step keeps its act log and its uploaded artifacts."""
        folder = self.work / "steps" / f"{len(self.records) + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def pr(
        self,
        number: int,
        branch: str,
        labels: list[str],
        secrets: dict[str, str] | None = None,
        author: str = MODEL_OWNER,
    ) -> ActRun:
        """pr.yml for the pull request's head (the model owner's, unless said)."""
        payload = self.people.pull_request_event(number, branch, labels, author)
        self.people.git("checkout", "--quiet", branch)
        run = self.runner.run(
            "pull_request", "pr.yml", payload, MODEL_OWNER, self.step_folder(), secrets
        )
        run.pull_request = number
        return run

    def on_push(self, workflow: str) -> ActRun:
        """A workflow that runs on a push to main (main.yml, deploy.yml), on main's head."""
        self.people.git("checkout", "--quiet", "main")
        self.people.publish_main()
        sha = self.people.git("rev-parse", "HEAD")
        payload = {"ref": "refs/heads/main", "after": sha, "head_commit": {"id": sha}, **REPOSITORY}
        return self.runner.run("push", workflow, payload, MODEL_OWNER, self.step_folder())

    def dispatch(self, workflow: str, inputs: dict[str, str], actor: str) -> ActRun:
        self.people.git("checkout", "--quiet", "main")
        payload = {"inputs": inputs, **REPOSITORY}
        return self.runner.run("workflow_dispatch", workflow, payload, actor, self.step_folder())

    def schedule(self, workflow: str, cron: str) -> ActRun:
        payload = {"schedule": cron, **REPOSITORY}
        return self.runner.run("schedule", workflow, payload, "github", self.step_folder())

    # -- what a person sees afterwards --

    def serving(self) -> dict[str, Any] | None:
        """What the model server says it serves, and what its callers saw since the last step."""
        if self.server is None:
            return None
        return {"ready": self.server.ready(), "traffic": self.server.traffic.seen()}

    def record(self, step: Step, run: ActRun) -> dict[str, Any]:
        """What a person can see after a step: job results, registry, PR comments, API calls."""
        requests = self.github.requests[self.seen_requests :]
        self.seen_requests = len(self.github.requests)
        folder = self.step_folder()
        gate = folder / "artifacts" / "reports" / "reports" / "gate.json"
        entry = {
            "step": step.name,
            "title": step.title,
            "pull_request": run.pull_request,
            "folder": str(folder),
            "jobs": run.jobs,
            "returncode": run.returncode,
            "seconds": run.seconds,
            "registry": registry_state(self.mlflow, self.model_name),
            "comments": {
                str(number): [comment["body"] for comment in comments]
                for number, comments in sorted(self.github.comments.items())
            },
            "requests": [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "authorized": r.headers.get("authorization") == f"Bearer {self.token}",
                }
                for r in requests
            ],
            "gate": read_json(gate),
            "drift": read_json(folder / "artifacts" / "drift" / "reports" / "drift.json"),
            "issues": [dict(issue) for issue in self.github.issues.values()],
            "dispatches": list(self.github.dispatches),
            "pulls": [dict(pull) for pull in self.github.pulls],
            "log_tail": run.log[-60:],
            "deploy_log": self.people.git("log", "--format=%s", "main", "--", DEPLOY_FILE),
            "serving": self.serving(),
        }
        self.records.append(entry)
        self.on_step(entry)
        return entry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def narrate(entry: dict[str, Any]) -> str:
    """A few lines per step for the demo's reader: jobs, verdict, the comment's verdict lines,
    and the registry's aliases."""
    registry = entry["registry"]
    aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(registry["aliases"].items())) or "none"
    lines = [
        "",
        f"== {entry['title']} ({entry['seconds']:.0f} s)",
        "   jobs: " + ", ".join(f"{job} {result}" for job, result in entry["jobs"].items()),
    ]
    if entry["step"] == "github-setup":
        at = next((n for n, line in enumerate(entry["log_tail"]) if "in force" in line), 0)
        lines += [f"   {line}" for line in entry["log_tail"][at:]]
    for line in [line for line in entry["log_tail"] if "] error: " in line][:2]:
        lines.append(f"   {line.split('] ', 1)[1]}")  # what a failed job said, in one line
    if entry["gate"]:
        lines.append(f"   gate verdict: {entry['gate']['verdict']}")
    if entry["drift"]:
        found = entry["drift"]
        lines.append(f"   drift: {found.get('error') or drift_words(found)}")
    for issue in entry["issues"]:
        lines.append(f"   issue #{issue['number']}: {issue['title']}")
    for pull in entry["pulls"]:
        if pull["state"] == "open":
            lines.append(
                f"   open pull request #{pull['number']}: {pull['title']} ({pull['head']})"
            )
    number = entry.get("pull_request")
    for body in entry["comments"].get(str(number), []) if number else []:
        verdict_lines = [line for line in body.splitlines() if line.startswith(("## ", "- "))]
        lines += [f"   PR #{number} comment: {line}" for line in verdict_lines[:4]]
    lines.append(f"   registry: {len(registry['versions'])} version(s); aliases: {aliases}")
    serving = registry["versions"].get(registry["aliases"].get("production", ""), {})
    if "promotion.production.approved_by" in serving:
        pr = serving.get("promotion.production.pr") or "none"
        lines.append(
            f"   production approved by {serving['promotion.production.approved_by']}"
            f" (pull request #{pr})"
        )
    if entry["serving"]:
        lines.append(f"   model server: {serving_words(entry['serving'])}")
    lines.append(f"   act log and artifacts: {entry['folder']}")
    return "\n".join(lines)


def serving_words(serving: dict[str, Any]) -> str:
    """What the server serves, and what its callers saw during the step."""
    ready, traffic = serving["ready"], serving["traffic"]
    words = f"production v{ready.get('production', {}).get('version')}"
    candidate = ready.get("candidate")
    if candidate:
        words += (
            f", candidate v{candidate['version']} answering {candidate['canary_percent']}%"
            f" (shadow {candidate['shadow']:.0%})"
        )
    routes = ", ".join(f"{route} {count}" for route, count in sorted(traffic["routes"].items()))
    said = f"{traffic['answered']} answers ({routes}); {traffic['failed']} failed in all"
    return f"{words}; callers: {said}"


def epilogue(last: dict[str, Any], project: Path) -> str:
    """The issues as GitHub shows them, the open pull requests (the retraining one), and
    production's history as `git log deploy/` tells it."""
    lines = []
    for issue in last["issues"]:
        lines += ["", f"-- Issue #{issue['number']}: {issue['title']}", issue["body"].rstrip()]
    for pull in last["pulls"]:
        if pull["state"] == "open":
            lines += ["", f"-- Pull request #{pull['number']}: {pull['title']}", pull["body"]]
    history = subprocess.run(
        ["git", "log", "--first-parent", "--format=   %h %s", "--", DEPLOY_FILE],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines += ["", f"-- git log {DEPLOY_FILE} (production's history):", history.rstrip()]
    return "\n".join(lines)


def drift_words(found: dict[str, Any]) -> str:
    drifted = ", ".join(found["drifted_columns"]) or "no column"
    verdict = "retrain" if found["retrain"] else "no retraining needed"
    return f"{drifted} drifted ({found['drifted_share']:.0%}); {verdict}"


def params_value(project: Path, key: str) -> str:
    """A scalar from the project's params.yaml (the template's tools have no YAML parser
    beyond PyYAML, and a line scan is enough for these quoted answers)."""
    for line in (project / "params.yaml").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith(f"{key}:"):
            return line.split(":", 1)[1].split("#", 1)[0].strip().strip("\"'")
    raise SystemExit(f"params.yaml has no {key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--mlflow-uri", required=True)
    parser.add_argument("--dvc-remote", type=Path, required=True)
    parser.add_argument("--record", type=Path, required=True, help="JSON file of every step")
    args = parser.parse_args()
    project = args.project.resolve()
    fake_github = load_fake_github(project)
    work = args.record.resolve().parent / "lifecycle-work"
    for earlier in work.glob("*"):  # a warmed uv cache stays (act_runner.warm_uv_cache)
        if earlier.is_dir() and earlier.name != "uv-cache":
            shutil.rmtree(earlier)
    (work / "home").mkdir(parents=True)
    repository = params_value(project, "repository")
    with fake_github.serving(fake_github.FakeGitHub(repository=repository)) as github:
        records = Lifecycle(
            project=project,
            mlflow=MlflowAdmin(args.mlflow_uri, os.environ["DEMO_MLFLOW_ADMIN_PASSWORD"]),
            dvc_remote=args.dvc_remote.resolve(),
            github=github,
            token=fake_github.TOKEN,
            work=work,
            model_name=params_value(project, "model_name"),
            on_step=lambda entry: print(narrate(entry), flush=True),
        ).run()
    args.record.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    print(epilogue(records[-1], project))
    print(f"\nEvery step, as data: {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
