"""GitHub workflows pass the checks a reviewer would run: actionlint, zizmor (offline, zero
findings) and GitHub's schemas; and they are hardened by rule. This holds for the template's own
CI and for the generated project's workflows under every supported option set."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import bake
from test_bake import SUPPORTED

TEMPLATE = Path(__file__).resolve().parents[1]
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+")


def tool(name: str) -> str:
    """A dev tool from the template's own environment (beside this interpreter), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `make install`"
    return found


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def workflows(root: Path) -> list[Path]:
    return sorted((root / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def steps_of(root: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file, job, step) for every step of every workflow and composite action."""
    for path in workflows(root):
        for job_id, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield path.name, job_id, step
    for path in sorted((root / ".github" / "actions").glob("*/action.yml")):
        for step in load(path)["runs"]["steps"]:
            yield str(path.relative_to(root)), "(composite)", step


def baked_repository(tmp_path_factory: pytest.TempPathFactory, answers: dict[str, str]) -> Path:
    """A baked project, as a git repository (actionlint finds the repository root by it)."""
    baked = bake(tmp_path_factory.mktemp("workflows"), **answers)
    assert run("git", "init", "--quiet", cwd=baked).returncode == 0
    return baked


@pytest.fixture(scope="module", params=[pytest.param(None, id="template"), *SUPPORTED])
def root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder whose .github is checked: the template's own, or a baked project's."""
    if request.param is None:
        return TEMPLATE
    return baked_repository(tmp_path_factory, request.param)


@pytest.fixture(scope="module", params=SUPPORTED)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baked project of each supported option set."""
    return baked_repository(tmp_path_factory, request.param)


def test_there_are_workflows(root: Path) -> None:
    """There are workflows to check."""
    assert workflows(root)


def test_actionlint_is_clean(root: Path) -> None:
    """actionlint finds nothing (it also follows the local reusable workflow)."""
    done = run(tool("actionlint"), *map(str, workflows(root)), cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_is_clean(root: Path) -> None:
    """zizmor, offline, reports zero findings on workflows, actions and dependabot."""
    done = run(tool("zizmor"), "--offline", str(root / ".github"), cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_no_secret_is_used_outside_an_environment(root: Path) -> None:
    """zizmor's auditor persona finds no secret referenced by a job outside an environment;
    the one exception, marked in place with its reason, is the read credential (and the
    server's address) in pr.yml's `model` job: what a pull request may hold."""
    done = run(tool("zizmor"), "--offline", "--persona", "auditor", str(root / ".github"), cwd=root)
    assert "secrets-outside-env" not in done.stdout, done.stdout[-3000:]
    ignored = [
        (path.name, line.split(":")[0].strip())
        for path in workflows(root)
        for line in path.read_text(encoding="utf-8").splitlines()
        if "zizmor: ignore" in line
    ]
    assert all(name == "pr.yml" for name, _ in ignored)
    assert sorted(variable for _, variable in ignored) in ([], [
        "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME"
    ])  # fmt: skip


def test_zizmor_as_an_auditor_finds_nothing_of_medium_or_high_severity(root: Path) -> None:
    """zizmor's auditor persona (every audit, however unsure) finds nothing medium or high."""
    audit = ["--offline", "--persona", "auditor", "--min-severity", "medium"]
    done = run(tool("zizmor"), *audit, str(root / ".github"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_files_match_githubs_schemas(root: Path) -> None:
    """Workflows, composite actions and the dependabot config validate against their schemas."""
    checks = {
        "vendor.github-workflows": workflows(root),
        "vendor.github-actions": sorted((root / ".github" / "actions").glob("*/action.yml")),
        "vendor.dependabot": sorted((root / ".github").glob("dependabot.yml")),
    }
    for schema, paths in checks.items():
        if paths:
            done = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths))
            assert done.returncode == 0, done.stdout + done.stderr


def test_no_default_permissions_and_no_pull_request_target(root: Path) -> None:
    """Every workflow starts from `permissions: {}`, every job says what it needs, and none
    runs on pull_request_target."""
    for path in workflows(root):
        workflow = load(path)
        assert workflow["permissions"] == {}, path.name
        assert "pull_request_target" not in path.read_text(encoding="utf-8"), path.name
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {job_id}"


def test_actions_are_pinned_with_a_version_comment(root: Path) -> None:
    """Every third-party action is pinned by full commit SHA and names its version."""
    for path in [*workflows(root), *(root / ".github" / "actions").glob("*/action.yml")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line and "./" not in line:
                reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
                assert PINNED.match(reference), f"{path.name}: {line.strip()}"
                assert VERSION_COMMENT.search(line), f"{path.name}: {line.strip()}"


def test_checkout_keeps_no_token_and_run_steps_take_no_expressions(root: Path) -> None:
    """Checkout never persists the token, and no `run:` pastes an expression into the shell:
    values reach commands through `env:` only."""
    for name, job_id, step in steps_of(root):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{name}: {job_id}"
        assert "${{" not in step.get("run", ""), f"{name}: {job_id}: {step['run']}"


# The generated project's workflows -------------------------------------------------------------


def jobs(project: Path, workflow: str) -> dict[str, Any]:
    return dict(load(project / ".github" / "workflows" / workflow)["jobs"])


def test_every_generated_step_is_one_make_task(project: Path) -> None:
    """Each `run:` is one line calling a Makefile task (the aggregate check only tests the
    results it is given): the logic lives in the package, not in YAML."""
    for name, job_id, step in steps_of(project):
        if "run" not in step:
            continue
        assert "\n" not in step["run"].strip(), f"{name}: {job_id}"
        if (name, job_id) != ("pr.yml", "gate"):
            assert step["run"].startswith("make "), f"{name}: {job_id}: {step['run']}"


def test_write_permissions_go_only_where_something_is_written(project: Path) -> None:
    """`pull-requests: write` only for the report comment and the bots' pull requests
    (promotion, rollback, retraining, template update), `issues: write` only for the drift,
    outcome, reconcile and rollout issues, `contents: write` only to push the bots' branches."""
    writers = {
        (path.name, job_id, scope)
        for path in workflows(project)
        for job_id, job in load(path)["jobs"].items()
        for scope, level in (job.get("permissions") or {}).items()
        if level == "write"
    }
    assert writers == {
        ("pr.yml", "comment", "pull-requests"),
        ("retrain.yml", "propose", "pull-requests"),
        ("retrain.yml", "propose", "contents"),
        ("template.yml", "propose", "pull-requests"),
        ("template.yml", "propose", "contents"),
        ("main.yml", "promotion", "pull-requests"),
        ("main.yml", "promotion", "contents"),
        ("rollback.yml", "propose", "pull-requests"),
        ("rollback.yml", "propose", "contents"),
        ("reconcile.yml", "reconcile", "issues"),
        ("rollout.yml", "progress", "issues"),
        ("drift.yml", "alert", "issues"),
        ("drift.yml", "alert", "actions"),
        ("outcomes.yml", "alert", "issues"),
        ("outcomes.yml", "alert", "actions"),
    }


def test_every_job_runs_on_the_runner_the_repository_names(project: Path) -> None:
    """A repository variable RUNS_ON picks the runner of every job (a self-hosted or larger
    one for bigger data); unset, GitHub's hosted ubuntu-latest."""
    runners = {
        (path.name, job_id): job.get("runs-on")
        for path in workflows(project)
        for job_id, job in load(path)["jobs"].items()
        if "uses" not in job  # a call of the reusable workflow runs where its own jobs say
    }
    assert runners and set(runners.values()) == {"${{ vars.RUNS_ON || 'ubuntu-latest' }}"}


def test_the_aggregate_check_always_runs_after_everything(project: Path) -> None:
    """The required `gate` job needs the project's checks, the model and the comment jobs and
    runs whatever they did."""
    gate = jobs(project, "pr.yml")["gate"]
    assert gate["needs"] == ["checks", "model", "comment"]
    assert gate["if"] == "${{ always() }}"


def test_pull_requests_run_the_projects_own_lint_and_tests(project: Path) -> None:
    """pr.yml runs `make lint` and `make test` in the job the aggregate check needs."""
    runs = [step.get("run") for step in jobs(project, "pr.yml")["checks"]["steps"]]
    assert "make lint" in runs and "make test" in runs


ON_DEFAULT_BRANCH = (
    "${{ github.ref == format('refs/heads/{0}', github.event.repository.default_branch) }}"
)
EMERGENCY = ON_DEFAULT_BRANCH.replace(" }}", " && inputs.emergency }}")  # rollback.yml
DIFFERS = ON_DEFAULT_BRANCH.replace("${{ ", "${{ needs.compare.outputs.differs == 'true' && ")
WRITE_SECRETS = re.compile(r"secrets\.(MLFLOW_WRITE_\w+)")


def test_registry_write_credentials_live_only_in_default_branch_environments(
    project: Path,
) -> None:
    """The credential that can change the registry is read only by jobs in the registry or
    production environment, each limited to the default branch; pull request, pipeline,
    drift and reconcile-compare jobs get the read credential, under its own secret names."""
    holders = set()
    for path in workflows(project):
        for job_id, job in load(path)["jobs"].items():
            if WRITE_SECRETS.search(yaml.safe_dump(job)):
                holders.add((path.name, job_id))
                assert job.get("environment") in {"registry", "production"}
                assert job.get("if") in {ON_DEFAULT_BRANCH, DIFFERS, EMERGENCY}, job_id
    assert holders == {
        ("main.yml", "model"),  # its training step: main's runs, which registration reads
        ("main.yml", "register"),
        ("deploy.yml", "deploy"),
        ("reconcile.yml", "reconcile"),
        ("rollback.yml", "emergency"),
    }
    for name in ("pr.yml", "main.yml"):
        held = jobs(project, name)["model"]["env"]
        assert held["MLFLOW_TRACKING_USERNAME"] == "${{ secrets.MLFLOW_READ_USERNAME }}"
    main = jobs(project, "main.yml")["model"]
    training = [step for step in main["steps"] if step.get("run") == "make rebuild"]
    assert [WRITE_SECRETS.findall(yaml.safe_dump(step)) for step in training] == [
        ["MLFLOW_WRITE_PASSWORD", "MLFLOW_WRITE_USERNAME"]
    ]


def test_write_credentials_are_on_the_steps_that_use_them_never_job_wide(project: Path) -> None:
    """No job puts a write credential in its `env:`: checkout and setup (which builds the
    project from the commit's files) never see one."""
    for path in workflows(project):
        for job_id, job in load(path)["jobs"].items():
            assert not WRITE_SECRETS.search(yaml.safe_dump(job.get("env") or {})), job_id


def test_the_template_is_rendered_where_no_secret_is(project: Path) -> None:
    """template.yml renders the template (cruft runs its hooks: the template's code) in a job
    with no environment, no secret and nothing it may write; the job that holds the update
    token only applies the rendered patch and opens the pull request."""
    found = jobs(project, "template.yml")
    render, propose = found["render"], found["propose"]
    runs = [step.get("run") for step in render["steps"] if "run" in step]
    assert runs == ["make template-render"]
    assert "environment" not in render and render["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(render)
    assert [step.get("run") for step in propose["steps"] if "run" in step] == [
        "make template-propose"
    ]
    assert propose["needs"] == "render" and propose["environment"] == "monitoring"


def test_ci_gates_what_ci_built(project: Path) -> None:
    """The pipeline rebuilds every stage from scratch; `make pull` fetches only the tracked
    data, verified, never pipeline outputs someone pushed."""
    for workflow in ("pr.yml", "main.yml"):
        runs = [step.get("run") for step in jobs(project, workflow)["model"]["steps"]]
        assert runs.index("make pull") < runs.index("make rebuild") < runs.index("make gate")
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    assert "dvc repro --force --no-run-cache" in makefile
    # What `make pull` runs, its variables expanded (`make -n` prints and runs nothing).
    pull = run("make", "--no-print-directory", "-n", "pull", cwd=project).stdout
    assert "verify true" in pull and "dvc pull $(find data -name '*.dvc')" in pull


def test_production_moves_only_through_deploy_in_its_environment(project: Path) -> None:
    """main.yml registers (staging follows) and proposes production in a pull request; only
    deploy.yml, on a push that changes deploy/, and the reconcile's restore job move production,
    both in the `production` environment; the pull request openers hold no registry write."""
    main = jobs(project, "main.yml")
    assert set(main) == {"model", "register", "promotion"}
    assert main["register"]["environment"] == "registry"
    assert main["promotion"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    deploy = load(project / ".github" / "workflows" / "deploy.yml")
    assert deploy[True]["push"] == {"branches": ["main"], "paths": ["deploy/**"]}
    assert deploy["jobs"]["deploy"]["environment"] == "production"
    reconcile = jobs(project, "reconcile.yml")
    assert reconcile["reconcile"]["environment"] == "production"
    assert reconcile["reconcile"]["needs"] == "compare"
    assert reconcile["compare"]["environment"] == "monitoring"  # the read credential
    rollback = jobs(project, "rollback.yml")
    assert rollback["propose"]["permissions"] == main["promotion"]["permissions"]
    assert rollback["emergency"]["environment"] == "production"
    assert rollback["emergency"]["concurrency"] == deploy["concurrency"]


def test_registration_and_promotion_are_never_cancelled(project: Path) -> None:
    """Registration and every move of production (deploy, the reconcile's restore) queue per
    repository and never cancel a running one; a newer push to a pull request cancels the
    older run."""
    main = jobs(project, "main.yml")
    assert main["register"]["concurrency"]["cancel-in-progress"] is False
    deploy = load(project / ".github" / "workflows" / "deploy.yml")["concurrency"]
    restore = jobs(project, "reconcile.yml")["reconcile"]["concurrency"]
    assert deploy == restore and deploy["cancel-in-progress"] is False
    pr = load(project / ".github" / "workflows" / "pr.yml")
    assert pr["concurrency"]["cancel-in-progress"] is True


def test_pull_requests_and_main_run_the_same_pipeline(project: Path) -> None:
    """main.yml's `model` job runs pr.yml's steps (the same actions at the same pins, the same
    Makefile tasks in the same order), then pushes the outputs; only pull requests let a failed
    step through to the verdict. (They are two jobs, not one reusable workflow, because only a
    job that declares an environment gets its secrets: main's training holds the write one.)"""
    pr, main = (jobs(project, name)["model"] for name in ("pr.yml", "main.yml"))

    def steps(job: dict[str, Any]) -> list[str]:
        return [step.get("run") or step["uses"] for step in job["steps"]]

    assert steps(main) == [*steps(pr), "make push"]
    tolerant = [step.get("run") for step in pr["steps"] if step.get("continue-on-error")]
    assert tolerant == ["make rebuild", "make gate"]
    assert not any(step.get("continue-on-error") for step in main["steps"])
    assert main["environment"] == "registry" and "environment" not in pr
    assert main["permissions"] == pr["permissions"]


def test_codeowners_give_the_risk_approver_everything_that_computes_the_verdict(
    project: Path,
) -> None:
    """CODEOWNERS gives every file to the risk approver alone (so a GNUmakefile, a second
    dvc.yaml or a uv.toml is covered too), except deploy/, whose changes need both the model
    owner and the risk approver, and the README, the licence and the tests, which compute no
    verdict and go to the model owner."""
    rules = [
        (line.split()[0], line.split()[1:])
        for line in (project / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == ("*", ["@risk-approver"])
    assert dict(rules[1:]) == {
        "/deploy/": ["@model-owner", "@risk-approver"],
        "/README.md": ["@model-owner"],
        "/LICENSE": ["@model-owner"],
        "/tests/": ["@model-owner"],
    }
