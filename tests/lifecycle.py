"""A model's whole life, run through the generated project's real GitHub workflows with `act`.

`make demo` narrates it; tests/test_lifecycle.py checks what every step left behind. The project
must be baked and set up (`make setup`), committed on main, with its MLflow server up. Only
GitHub is faked: the project's own tests/fake_github.py serves its REST API on loopback and
records every request. Everything else is real: the workflow files, the Makefile, `dvc pull`
from the local remote, training, the gate, and the MLflow registry.

    python tests/lifecycle.py PROJECT --mlflow-uri URI --dvc-remote DIR --record FILE
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

TESTS = Path(__file__).resolve().parent
STANDINS = TESTS / "act_standins"
# Third-party actions the workflows use -> the folder that stands in for each under act.
STANDIN_FOR = {
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
}
HANDLED_BY_ACT = {"actions/checkout"}  # act copies the work tree itself
PINNED_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
TOKEN_NAME = "GITHUB_TOKEN"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Lifecycle Demo",
    "GIT_AUTHOR_EMAIL": "demo@localhost",
    "GIT_COMMITTER_NAME": "Lifecycle Demo",
    "GIT_COMMITTER_EMAIL": "demo@localhost",
}
ACT_TIMEOUT = 900
# Host variables that say how to reach the package index; everything else stays out of the jobs.
NETWORK = (
    "SSL_CERT_",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
)

MODEL_OWNER = "model-owner"
RISK_APPROVER = "risk-approver"
HELPER = "helper"  # a colleague who may review, but is no code owner of deploy/
BOT = "github-actions[bot]"  # the author of the workflows' own pull requests
PROMOTION_BRANCH = "promote/production"  # release.PROMOTION_BRANCH
ROLLBACK_BRANCH = "rollback/production"  # release.ROLLBACK_BRANCH
DEPLOY_FILE = "deploy/production.yaml"
OVERRIDE_LABEL = "gate-override"
# Parameter changes of the scenario's pull requests, as (section, key) -> new value.
# Deep trees at a high learning rate overfit: clearly worse, yet as fair as the champion (the
# risk gate, which no override lifts, must not be what fails).
WORSE_PARAMS = {("train", "max_depth"): "8", ("train", "learning_rate"): "0.3"}
BETTER_PARAMS = {("train", "max_depth"): "2", ("train", "n_estimators"): "600"}
FORK_PARAMS = {("train", "learning_rate"): "0.06"}
BATCH = "data/incoming/batch.csv"  # drift.batch in the generated params.yaml
# What every event payload says of the repository: the jobs that hold a registry credential run
# only when the run's ref is this default branch.
REPOSITORY = {"repository": {"default_branch": "main"}}
# The part of the project's suite its test job runs here: one file, so that pytest does not
# import every test module (and with them MLflow, XGBoost and Great Expectations) to collect,
# in one process (worker processes would cost more than the file).
QUICK_TESTS = "-q -n 0 tests/test_settings.py"
BATCH_ROWS = 2000


def load_fake_github(project: Path) -> ModuleType:
    """The baked project's own fake GitHub API (the one its unit tests use)."""
    spec = importlib.util.spec_from_file_location("fake_github", project / "tests/fake_github.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_github"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def standin_flags(project: Path) -> list[str]:
    """`--local-repository` for every pinned third-party action in the project's .github."""
    pairs: set[tuple[str, str]] = set()
    for path in sorted((project / ".github").rglob("*.yml")):
        for name, sha in PINNED_USES.findall(path.read_text(encoding="utf-8")):
            if name in HANDLED_BY_ACT:
                continue
            if name not in STANDIN_FOR:
                raise SystemExit(f"{path}: no act stand-in for {name} (see {STANDINS})")
            pairs.add((f"{name}@{sha}", STANDIN_FOR[name]))
    flags: list[str] = []
    for reference, folder in sorted(pairs):
        flags += ["--local-repository", f"{reference}={STANDINS / folder}"]
    return flags


def job_path() -> str:
    """PATH for the jobs: the host's without this interpreter's virtual environment (jobs use
    the project's own), but with wherever uv is."""
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not on PATH: install it first (pip install uv)")
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if sys.prefix != sys.base_prefix:
        parts = [part for part in parts if Path(part) != Path(sys.prefix) / "bin"]
    return os.pathsep.join([str(Path(uv).parent), *parts])


def find_act() -> str:
    beside = Path(sys.executable).parent / "act"
    found = str(beside) if beside.exists() else shutil.which("act")
    if not found:
        raise SystemExit("act is not installed: run `make install` in the template")
    return found


def uv_cache_dir() -> str:
    done = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@dataclass
class ActRun:
    """One `act` run: each job's result (by its name in the log), the log, the exit code, and
    how long it took."""

    jobs: dict[str, str]
    log: list[str]
    returncode: int
    seconds: float

    def job(self, suffix: str) -> str:
        """The result of the job whose name ends with `suffix` ("missing" if it never ran)."""
        found = [result for name, result in self.jobs.items() if name.endswith(suffix)]
        return found[0] if found else "missing"


def github_time() -> str:
    """Now, as GitHub writes times (ISO 8601, UTC, seconds); a second apart from the last
    call, so that "after the push" is never a tie."""
    time.sleep(1.1)
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def registry_state(uri: str, name: str) -> dict[str, Any]:
    """Aliases and every version's tags, straight from the MLflow REST API."""

    def get(path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"{uri}/api/2.0/mlflow/{path}", timeout=30) as answer:
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise

    model = get(f"registered-models/get?name={quote(name)}").get("registered_model", {})
    search = quote(f"name = '{name}'")
    found = get(f"model-versions/search?filter={search}&max_results=1000")
    versions = {
        str(v["version"]): {tag["key"]: tag["value"] for tag in v.get("tags", [])}
        for v in found.get("model_versions", [])
    }
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
    return {"aliases": aliases, "versions": dict(sorted(versions.items(), key=lambda i: int(i[0])))}


@dataclass
class Lifecycle:
    """Drives the project through pull requests, merges, promotion, rollback, and the monitoring
    loop (scheduled drift checks, the drift issue, and the retraining pull request)."""

    project: Path
    mlflow_uri: str
    dvc_remote: Path
    github: Any  # the project's FakeGitHub
    token: str
    work: Path
    model_name: str
    on_step: Callable[[dict[str, Any]], None] = lambda entry: None
    records: list[dict[str, Any]] = field(default_factory=list)
    seen_requests: int = 0

    # -- git, as a developer and GitHub's merge button would use it --

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.project,
            env={**os.environ, **GIT_IDENTITY},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def change_params(self, changes: dict[tuple[str, str], str]) -> None:
        """Edit values in params.yaml in place, keeping its comments."""
        path = self.project / "params.yaml"
        lines = path.read_text(encoding="utf-8").splitlines()
        section = ""
        for index, line in enumerate(lines):
            if line and not line.startswith((" ", "#")):
                section = line.split(":", 1)[0]
            key = line.strip().split(":", 1)[0]
            if line.startswith("  ") and (section, key) in changes:
                lines[index] = f"  {key}: {changes[(section, key)]}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def open_pull_request(self, branch: str, message: str, changes: dict[Any, str]) -> str:
        self.git("checkout", "--quiet", "-B", branch, "main")
        if changes:
            self.change_params(changes)
        else:
            with (self.project / "README.md").open("a", encoding="utf-8") as readme:
                readme.write("\nFirst model: trained and gated by the pull request workflow.\n")
        self.git("commit", "--quiet", "-am", message)
        return self.git("rev-parse", "HEAD")

    def push_to(self, branch: str, message: str) -> str:
        """Another commit on a pull request's branch (a README line: the model stays the same)."""
        self.git("checkout", "--quiet", branch)
        with (self.project / "README.md").open("a", encoding="utf-8") as readme:
            readme.write(f"\n{message}\n")
        self.git("commit", "--quiet", "-am", message)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, number: int, author: str = MODEL_OWNER) -> str:
        """Merge like GitHub's merge button; GitHub then knows the PR of the merge commit (its
        final head and author) and lists it as closed."""
        head = self.git("rev-parse", branch)
        self.git("checkout", "--quiet", "main")
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{number}", branch)
        sha = self.git("rev-parse", "HEAD")
        self.github.commit_pulls[sha] = [
            {"number": number, "merged_at": github_time(), "labels": [],
             "head": {"sha": head, "ref": branch}, "user": {"login": author}}
        ]  # fmt: skip
        for pull in self.github.pulls:
            if pull["number"] == number:
                pull["state"] = "closed"
        return sha

    def review(self, number: int, login: str, commit: str) -> None:
        """`login` approves pull request `number` as it stood at `commit`."""
        self.github.reviews.setdefault(number, []).append(
            {"id": self.github.new_id(), "user": {"login": login}, "state": "APPROVED",
             "commit_id": commit, "submitted_at": github_time()}
        )  # fmt: skip

    def fetch(self, branch: str) -> str:
        """A branch a workflow pushed (force-pushed, maybe), fetched from origin."""
        self.git("checkout", "--quiet", "main")
        self.git("fetch", "--quiet", "origin", f"+{branch}:{branch}")
        return self.git("rev-parse", branch)

    def bot_pull(self, branch: str) -> dict[str, Any]:
        """The open pull request a workflow opened from `branch`."""
        return [p for p in self.github.pulls if p["head"] == branch and p["state"] == "open"][-1]

    def move_by_hand(self, alias: str, version: str) -> None:
        """Someone with registry access sets an alias straight through MLflow's REST API."""
        body = json.dumps({"name": self.model_name, "alias": alias, "version": version}).encode()
        request = urllib.request.Request(
            f"{self.mlflow_uri}/api/2.0/mlflow/registered-models/alias",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def publish_main(self) -> None:
        """Push main to origin, as a merge on GitHub would leave it."""
        self.git("push", "--quiet", "origin", "main")

    def set_up_remotes(self) -> None:
        """origin: a bare repository on disk that the workflows' pushes reach; github: the
        address act reads owner/name from, as a runner knows its repository."""
        origin = self.work / "origin.git"
        if "origin" not in self.git("remote").split():
            subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
            self.git("remote", "add", "origin", str(origin))
        if "github" not in self.git("remote").split():
            self.git("remote", "add", "github", f"https://github.com/{self.github.repository}")

    # -- act --

    def step_folder(self) -> Path:
        """Where the current step keeps its act log and its uploaded artifacts."""
        folder = self.work / "steps" / f"{len(self.records) + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def act(
        self,
        event_name: str,
        workflow: str,
        payload: dict[str, Any],
        actor: str,
        from_fork: bool = False,
    ) -> ActRun:
        """Run one workflow. A fork's pull request gets no secrets: they arrive empty. The
        repository variable PYTEST_ADDOPTS, which the project's test job passes on, is
        QUICK_TESTS."""
        mlflow_uri = "" if from_fork else self.mlflow_uri
        event = self.work / "event.json"
        event.write_text(json.dumps(payload), encoding="utf-8")
        folder = self.step_folder()
        artifacts = folder / "artifacts"
        command = [
            find_act(),
            event_name,
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(event),
            "--platform", "ubuntu-latest=-self-hosted",
            "--actor", actor,
            "--remote-name", "github",
            "--json",
            "--secret", f"MLFLOW_TRACKING_URI={mlflow_uri}",
            "--secret", f"{TOKEN_NAME}={self.token}",
            "--var", f"DVC_REMOTE_URL={self.dvc_remote}",
            "--var", f"PYTEST_ADDOPTS={QUICK_TESTS}",
            "--env", f"GITHUB_API_URL={self.github.url}",
            # One mypy cache for every run's lint, as a warm runner cache would be: mypy
            # re-checks whatever changed, so the lint proves the same.
            "--env", f"MYPY_CACHE_DIR={self.work / 'mypy-cache'}",
            "--env", f"ACT_ARTIFACTS={artifacts}",
            *standin_flags(self.project),
        ]  # fmt: skip
        # act leaks the host environment into the jobs: give it only what a runner has (its
        # network settings included: package indexes, proxies, certificate authorities).
        env = {name: value for name, value in os.environ.items() if name.startswith(NETWORK)}
        env.update(
            PATH=job_path(),
            HOME=str(self.work / "home"),
            UV_CACHE_DIR=uv_cache_dir(),
            UV_PYTHON_DOWNLOADS="never",
            LANG="C.UTF-8",
        )
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=ACT_TIMEOUT,
            check=False,
        )
        jobs: dict[str, str] = {}
        log: list[str] = []
        for line in done.stdout.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                log.append(line)
                continue
            log.append(f"[{entry.get('job', '').strip()}] {entry.get('msg', '').rstrip()}")
            if "jobResult" in entry:
                jobs[entry["job"].strip()] = entry["jobResult"]
        log += done.stderr.splitlines()
        (folder / "act.log").write_text("\n".join(log) + "\n", encoding="utf-8")
        return ActRun(jobs, log, done.returncode, round(time.monotonic() - started, 1))

    def pull_request_event(self, number: int, sha: str, branch: str, labels: list[str]) -> Any:
        """The event of a pull request by the model owner, and the workflow run GitHub lists
        for it: the override counts only for a label applied after the head's latest push."""
        pull = {
            "number": number,
            "user": {"login": MODEL_OWNER},
            "head": {"ref": branch, "sha": sha},
            "base": {"ref": "main"},
            "labels": [{"name": name} for name in labels],
        }
        self.github.workflow_runs.append(
            {"id": len(self.github.workflow_runs) + 1, "event": "pull_request", "head_sha": sha,
             "head_branch": branch, "pull_requests": [{"number": number}],
             "created_at": github_time()}
        )  # fmt: skip
        action = "labeled" if labels else "opened"
        return {"action": action, "number": number, "pull_request": pull, **REPOSITORY}

    def record(
        self, step: str, title: str, run: ActRun, pull_request: int | None = None
    ) -> dict[str, Any]:
        """What a person can see after a step: job results, registry, PR comments, API calls."""
        requests = self.github.requests[self.seen_requests :]
        self.seen_requests = len(self.github.requests)
        folder = self.step_folder()
        gate = folder / "artifacts" / "reports" / "reports" / "gate.json"
        entry = {
            "step": step,
            "title": title,
            "pull_request": pull_request,
            "folder": str(folder),
            "jobs": run.jobs,
            "returncode": run.returncode,
            "seconds": run.seconds,
            "registry": registry_state(self.mlflow_uri, self.model_name),
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
        }
        self.records.append(entry)
        self.on_step(entry)
        return entry

    # -- the scenario --

    def pr(
        self, step: str, title: str, number: int, branch: str, labels: list[str], fork: bool = False
    ) -> Any:
        sha = self.git("rev-parse", branch)
        payload = self.pull_request_event(number, sha, branch, labels)
        self.git("checkout", "--quiet", branch)
        # The project's test job runs a quick part of its suite here (the job and its place
        # in the check stay): the whole suite takes minutes, and the template's test_byod
        # runs it on a fresh bake through `make test` already.
        run = self.act("pull_request", "pr.yml", payload, MODEL_OWNER, fork)
        return self.record(step, title, run, pull_request=number)

    def push_run(self, step: str, title: str, workflow: str) -> Any:
        """A workflow that runs on a push to main (main.yml, deploy.yml), on main's head."""
        self.git("checkout", "--quiet", "main")
        self.publish_main()
        sha = self.git("rev-parse", "HEAD")
        payload = {"ref": "refs/heads/main", "after": sha, "head_commit": {"id": sha}, **REPOSITORY}
        return self.record(step, title, self.act("push", workflow, payload, MODEL_OWNER))

    def main_run(self, step: str, title: str) -> Any:
        return self.push_run(step, title, "main.yml")

    def deploy(self, step: str, title: str, branch: str, reviews: list[tuple[str, str]]) -> Any:
        """The workflow's open pull request from `branch`, reviewed as (login, commit), merged;
        then deploy.yml on the push."""
        pull = self.bot_pull(branch)
        self.fetch(branch)
        for login, commit in reviews:
            self.review(pull["number"], login, commit)
        self.merge(branch, pull["number"], author=BOT)
        return self.push_run(step, title, "deploy.yml")

    def dispatch(self, step: str, title: str, workflow: str, inputs: dict[str, str]) -> Any:
        self.git("checkout", "--quiet", "main")
        payload = {"inputs": inputs, **REPOSITORY}
        return self.record(
            step, title, self.act("workflow_dispatch", workflow, payload, RISK_APPROVER)
        )

    def run(self) -> list[dict[str, Any]]:
        self.set_up_remotes()
        self.publish_main()
        self.open_pull_request("first-model", "Train the first model", {})
        self.pr("pr-first", "PR #1: the first model, on an empty registry", 1, "first-model", [])
        self.merge("first-model", 1)
        self.main_run("merge-first", "Merge #1: register v1 (staging), open its promotion PR")
        head = self.fetch(PROMOTION_BRANCH)
        self.deploy(
            "promote-first",
            f"{RISK_APPROVER} approves the promotion PR; merged: deploy.yml moves production",
            PROMOTION_BRANCH,
            [(RISK_APPROVER, head)],
        )

        self.open_pull_request("worse-model", "Deeper trees, faster learning", WORSE_PARAMS)
        self.pr("pr-worse", "PR #2: clearly worse parameters", 2, "worse-model", [])
        self.github.issue_events[2] = [
            {"id": 1, "event": "labeled", "label": {"name": OVERRIDE_LABEL},
             "actor": {"login": RISK_APPROVER}, "created_at": github_time()}
        ]  # fmt: skip
        self.pr(
            "pr-worse-override",
            f"PR #2 again: {RISK_APPROVER} applies the {OVERRIDE_LABEL} label",
            2,
            "worse-model",
            [OVERRIDE_LABEL],
        )

        self.push_to("worse-model", "A commit pushed after the override was given.")
        self.pr(
            "pr-worse-pushed",
            "PR #2 after a new push: the earlier override label no longer counts",
            2,
            "worse-model",
            [OVERRIDE_LABEL],
        )

        self.git("checkout", "--quiet", "main")
        self.open_pull_request("better-model", "Regularise and grow the ensemble", BETTER_PARAMS)
        self.pr("pr-better", "PR #3: better parameters", 3, "better-model", [])
        self.merge("better-model", 3)
        self.main_run("merge-better", "Merge #3: register v2, open its promotion PR")
        head = self.fetch(PROMOTION_BRANCH)
        self.deploy(
            "promote-better",
            f"{RISK_APPROVER} approves; merged: production moves to v2",
            PROMOTION_BRANCH,
            [(RISK_APPROVER, head)],
        )
        self.unapproved_change()
        self.dispatch(
            "rollback-pr",
            "rollback.yml: the pull request that puts production back, with the reason",
            "rollback.yml",
            {"reason": "v2 misbehaves in production", "version": ""},
        )
        head = self.fetch(ROLLBACK_BRANCH)
        self.deploy(
            "rollback",
            f"{RISK_APPROVER} approves the rollback PR; merged: production back on v1",
            ROLLBACK_BRANCH,
            [(RISK_APPROVER, head)],
        )
        self.move_by_hand("production", "2")
        self.record(
            "reconcile",
            "Someone moves production to v2 by hand; reconcile.yml puts it back, in one issue",
            self.act(
                "schedule", "reconcile.yml", {"schedule": "41 * * * *", **REPOSITORY}, "github"
            ),
        )
        self.open_pull_request("from-a-fork", "A contribution from a fork", FORK_PARAMS)
        self.pr("pr-fork", "PR #4 from a fork: no secrets reach it", 4, "from-a-fork", [], True)
        self.monitor()
        return self.records

    def unapproved_change(self) -> None:
        """A change to deploy/ merged past branch protection (an admin's merge) without a code
        owner's approval of its final head: the risk approver approved an earlier head, and
        only a colleague who is no code owner approved the last one. deploy.yml refuses it;
        a reviewed revert then declares v2 again, which production already serves."""
        number = 5
        self.git("checkout", "--quiet", "-B", "back-to-v1", "main")
        v1 = registry_state(self.mlflow_uri, self.model_name)["versions"]["1"]["model.sha256"]
        path = self.project / DEPLOY_FILE
        path.write_text(
            f"model: {self.model_name}\naliases:\n  production:\n    version: 1\n"
            f"    sha256: {v1}\n    rollback: v1 scored better last week\n",
            encoding="utf-8",
        )
        self.git("commit", "--quiet", "-am", "Serve v1 again")
        first = self.git("rev-parse", "HEAD")
        self.review(number, RISK_APPROVER, first)
        with path.open("a", encoding="utf-8") as stream:
            stream.write("# by the scores of the week of 23 November\n")
        self.git("commit", "--quiet", "-am", "Say why")
        self.review(number, HELPER, self.git("rev-parse", "HEAD"))
        self.merge("back-to-v1", number)
        self.push_run(
            "deploy-unapproved",
            f"PR #{number} merged without a code owner's approval of its final head: refused",
            "deploy.yml",
        )
        number = 6
        merged = self.git("rev-parse", "HEAD")
        self.git("checkout", "--quiet", "-B", "revert-back-to-v1", "main")
        self.git("revert", "--no-edit", "-m", "1", merged)
        self.review(number, RISK_APPROVER, self.git("rev-parse", "HEAD"))
        self.merge("revert-back-to-v1", number)
        self.push_run(
            "deploy-revert", f"PR #{number}, a reviewed revert: nothing to move", "deploy.yml"
        )

    def land_batch(self, shift: float, seed: int, message: str) -> None:
        """A new labelled batch arrives: DVC-tracked at drift.batch, pushed, committed on main."""
        import sample_data

        self.git("checkout", "--quiet", "main")
        batch = self.project / BATCH
        batch.parent.mkdir(parents=True, exist_ok=True)
        rows = sample_data.make_loans(BATCH_ROWS, seed, shift)
        batch.write_text(sample_data.to_csv(rows), encoding="utf-8")
        project_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        for command in (["dvc", "add", "--quiet", BATCH], ["dvc", "push", "--quiet"]):
            subprocess.run(
                ["uv", "run", "--locked", *command], cwd=self.project, env=project_env, check=True
            )
        self.git("add", f"{BATCH}.dvc", str(Path(BATCH).parent / ".gitignore"))
        self.git("commit", "--quiet", "-m", message)
        self.publish_main()

    def drift_run(self, step: str, title: str) -> Any:
        payload = {"schedule": "17 5 * * 1", **REPOSITORY}
        return self.record(step, title, self.act("schedule", "drift.yml", payload, "github"))

    def monitor(self) -> None:
        """Drift checks on a calm and a shifted batch; the retraining run they dispatch; its
        pull request through the normal gate; and a second drifted check."""
        self.land_batch(0.0, 301, "New batch: the usual applicants")
        self.drift_run("drift-calm", "drift.yml on a batch like the training data")
        self.land_batch(1.0, 302, "New batch: riskier applicants")
        self.drift_run("drift-shifted", "drift.yml on a shifted batch: issue and retraining")
        dispatched = self.github.dispatches[-1] if self.github.dispatches else {"inputs": {}}
        payload = {"inputs": dispatched["inputs"], **REPOSITORY}
        self.record(
            "retrain",
            "retrain.yml, as dispatched: fold the batch in, open a pull request",
            self.act("workflow_dispatch", "retrain.yml", payload, "github"),
        )
        if self.github.pulls:
            pull = self.github.pulls[-1]
            self.git("fetch", "--quiet", "origin", f"{pull['head']}:{pull['head']}")
            title = "The retraining PR, gated like any other"
            self.pr("pr-retrain", title, pull["number"], pull["head"], [])
        self.git("checkout", "--quiet", "main")
        self.drift_run("drift-again", "drift.yml again: the same issue is updated")


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
    if entry["gate"]:
        lines.append(f"   gate verdict: {entry['gate']['verdict']}")
    if entry["drift"]:
        found = entry["drift"]
        lines.append(f"   drift: {found.get('error') or drift_words(found)}")
    for issue in entry["issues"]:
        lines.append(f"   issue #{issue['number']}: {issue['title']}")
    for pull in entry["pulls"]:
        lines.append(f"   pull request #{pull['number']}: {pull['title']} ({pull['head']})")
    number = entry.get("pull_request")
    for body in entry["comments"].get(str(number), []) if number else []:
        verdict_lines = [line for line in body.splitlines() if line.startswith(("## ", "- "))]
        lines += [f"   PR #{number} comment: {line}" for line in verdict_lines[:4]]
    lines.append(f"   registry: {len(registry['versions'])} version(s); aliases: {aliases}")
    lines.append(f"   act log and artifacts: {entry['folder']}")
    return "\n".join(lines)


def epilogue(last: dict[str, Any]) -> str:
    """The drift issue as GitHub shows it, and the retraining pull request."""
    lines = []
    for issue in last["issues"]:
        lines += ["", f"-- Issue #{issue['number']}: {issue['title']}", issue["body"].rstrip()]
    for pull in last["pulls"]:
        lines += ["", f"-- Pull request #{pull['number']}: {pull['title']}", pull["body"]]
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
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    repository = params_value(project, "repository")
    with fake_github.serving(fake_github.FakeGitHub(repository=repository)) as github:
        records = Lifecycle(
            project=project,
            mlflow_uri=args.mlflow_uri,
            dvc_remote=args.dvc_remote.resolve(),
            github=github,
            token=fake_github.TOKEN,
            work=work,
            model_name=params_value(project, "model_name"),
            on_step=lambda entry: print(narrate(entry), flush=True),
        ).run()
    args.record.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    print(epilogue(records[-1]))
    print(f"\nEvery step, as data: {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
