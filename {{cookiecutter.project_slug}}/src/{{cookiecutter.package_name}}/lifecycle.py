"""The commands behind the CLI's lifecycle steps: register, promote, roll back and trace a
model, and the GitHub side of a workflow run (the pull request, its comment, the approvals).

Each reads what the pipeline wrote (the run, gate.json), talks to the registry through
registry.py and to GitHub through workflow.py, and returns plain data for the CLI to print.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from . import data, drift, github_api, registry, report, tracking, workflow
from .contract import load_contract
from .settings import Settings

PYPROJECT = Path("pyproject.toml")


def read_gate(settings: Settings) -> dict[str, Any]:
    path = settings.gate.report
    if not path.exists():
        raise FileNotFoundError(f"{path}: no gate result (run the gate first)")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def read_gate_or_stopped(settings: Settings) -> dict[str, Any]:
    """gate.json, or, when the pipeline stopped before the gate, a result that says so: the
    report must still explain a red check."""
    if settings.gate.report.exists():
        return read_gate(settings)
    return {
        "verdict": "error",
        "passed": False,
        "primary_metric": settings.gate.primary_metric,
        "errors": [
            f"the pipeline stopped before the gate ({settings.gate.report} was not written): "
            "see the failed step in the job log"
        ],
        "risk": None,
        "performance_problems": [],
        "deltas": {},
    }


def pull_request_facts(settings: Settings) -> dict[str, Any]:
    """The pull request this GitHub Actions run is about, who applied the override label, and
    whether that person may override: only a production reviewer (a listed user, or a member of
    a listed team) may, since the override lets a weaker model towards production.

    A GitHub API failure is recorded, not raised: the gate still decides, only without the
    override (so a failing model stays failed) and without the PR number in its lineage.
    """
    label = settings.gate.override_label
    facts: dict[str, Any] = {
        "number": None,
        "override_label": label,
        "label_applied_by": None,
        "override_by": None,
    }
    try:
        run = workflow.RunContext.from_env()
        client = github_api.client_from_env()
        pull = workflow.pull_request_of(client, run)
        if pull is None:
            return facts
        facts["number"] = int(pull["number"])
        if label not in workflow.label_names(pull):
            return facts
        actor = workflow.label_applied_by(client, run, facts["number"], label)
        facts["label_applied_by"] = actor
        reviewers = settings.github.production_reviewers
        if actor and workflow.is_one_of(client, actor, reviewers):
            facts["override_by"] = actor
        elif actor:
            facts["problem"] = (
                f"the {label} label was applied by {actor}, who is not a production reviewer "
                f"({', '.join(reviewers)}): no override"
            )
    except (github_api.GithubError, KeyError, ValueError) as error:
        facts["problem"] = f"pull request not read from GitHub: {error}"
    return facts


def comment(number: int, body: str) -> str:
    """The report as the pull request's one comment (found again by its marker)."""
    run = workflow.RunContext.from_env()
    return workflow.upsert_comment(github_api.client_from_env(), run, number, body, report.MARKER)


def deployment_approvers(run_id: str, environment: str) -> list[str]:
    """Who approved this workflow run's deployment to `environment`. None found is an error:
    an approval that cannot be recorded must not turn into a silent promotion."""
    run = workflow.RunContext.from_env()
    found = workflow.approvers(github_api.client_from_env(), run, run_id, environment)
    if not found:
        raise registry.RegistryError(
            f"no approval of environment {environment!r} is recorded for run {run_id}: give "
            "the environment required reviewers (make github-setup) before promoting"
        )
    return found


def drift_alert(settings: Settings, body: str, why: str, retrain: bool) -> list[str]:
    """The one drift issue (opened, or updated on the next run) and, when retraining is asked
    for (not for a batch that only breaks the contract), a retrain.yml run."""
    run = workflow.RunContext.from_env()
    client = github_api.client_from_env()
    name = settings.tracking.model_name
    title = (
        f"Model drift: {name} needs retraining"
        if retrain
        else f"Data quality: incoming data for {name} breaks the contract"
    )
    done = [workflow.upsert_issue(client, run, title, body, drift.MARKER)]
    if retrain:
        done.append(
            workflow.dispatch(
                client, run, "retrain.yml", settings.github.default_branch, {"reason": why}
            )
        )
    return done


def _description() -> str:
    try:
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    except (FileNotFoundError, KeyError):
        return "(no description)"
    return str(project.get("description", "(no description)"))


def register(settings: Settings, pr: str = "") -> tuple[registry.Version, bool]:
    """Register this commit's model if the gate let it through; once per commit."""
    gate = read_gate(settings)
    if not gate.get("passed"):
        raise registry.RegistryError(
            f"the gate's verdict is {gate.get('verdict')!r}: only a passing model is registered"
        )
    run = tracking.RunInfo.read(settings.train.run_info)
    if gate.get("challenger", {}).get("run_id") != run.run_id:
        raise registry.RegistryError(
            f"gate.json judged run {gate.get('challenger', {}).get('run_id')} but the trained "
            f"model is run {run.run_id}: run the gate again"
        )
    client = registry.connect()
    extra = {
        "gate.verdict": str(gate["verdict"]),
        "gate.override_by": str(gate.get("override", {}).get("requested_by") or ""),
        "owner.model": settings.tracking.model_owner,
        "owner.risk": settings.tracking.risk_approver,
    }
    pr = pr or str((gate.get("pull_request") or {}).get("number") or "")
    if pr:
        extra["github.pr"] = pr
    name = settings.tracking.model_name
    version, created = registry.register(client, name, run, extra)
    if created:
        contract = load_contract(settings.data.contract)
        features = data.feature_names(contract, settings.excluded_from_model)
        card = report.model_card(
            version.as_dict(),
            gate,
            _description(),
            features,
            contract.target.name,
            [name for name in contract.columns if name not in features],
        )
        with registry.registry_errors(f"attaching the model card to version {version.number}"):
            client.log_text(run.run_id, card, "model_card.md")
            client.update_model_version(name, str(version.number), description=card)
    return version, created


def promote(
    settings: Settings, to: str, number: int | None, approvers: list[str], force: bool
) -> tuple[registry.Version, registry.Version | None]:
    client = registry.connect()
    return registry.promote(client, settings.tracking.model_name, to, number, approvers, force)


def rollback(
    settings: Settings, number: int | None, reason: str, actor: str
) -> tuple[registry.Version, registry.Version]:
    client = registry.connect()
    return registry.rollback(client, settings.tracking.model_name, number, reason, actor)


def lineage(
    settings: Settings, data_md5: str | None = None, number: int | None = None
) -> list[dict[str, Any]]:
    """Versions trained on a data md5, one version, or (by default) what is in production."""
    client = registry.connect()
    name = settings.tracking.model_name
    if data_md5:
        return [
            v.as_dict()
            for v in registry.all_versions(client, name)
            if v.tags.get("lineage.data_md5") == data_md5
        ]
    if number is not None:
        return [registry.get_version(client, name, number).as_dict()]
    current = registry.by_alias(client, name, registry.PRODUCTION)
    return [] if current is None else [current.as_dict()]


def describe(version: dict[str, Any]) -> str:
    """A version in a few lines a person reads: what, from where, approved by whom."""
    tags = version["tags"]
    lines = [
        f"{version['name']} version {version['version']}"
        f" [{', '.join(version['aliases']) or 'no alias'}]",
        f"  trained from commit {tags.get('lineage.git_sha', '?')} (run {version['run_id']})",
        f"  data md5 {tags.get('lineage.data_md5', '?')}, "
        f"eval md5 {tags.get('lineage.eval_md5', '?')}",
        f"  params hash {tags.get('lineage.params_hash', '?')[:16]}, "
        f"gate {tags.get('gate.verdict', '?')}",
    ]
    for key, value in sorted(tags.items()):
        if key.startswith(("promotion.", "rollback.", "rolled_back.", "github.")):
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)
