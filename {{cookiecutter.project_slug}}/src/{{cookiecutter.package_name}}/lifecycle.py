"""The commands behind the CLI's lifecycle steps: register, promote, roll back and trace a
model, and the GitHub side of a workflow run (the pull request, its comment, the approvals).

Each reads what the pipeline wrote (the run, gate.json), talks to the registry through
registry.py and to GitHub through workflow.py, and returns plain data for the CLI to print.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from . import github_api, registry, report, tracking, workflow
from .gate_result import GateResult
from .lineage import branch_history, git_state
from .settings import Settings, parse_settings

PYPROJECT = Path("pyproject.toml")


def read_gate(settings: Settings) -> GateResult:
    return GateResult.read(settings.gate.report)


def read_gate_or_stopped(settings: Settings) -> GateResult:
    """gate.json, or, when the pipeline stopped before the gate, a result that says so: the
    report must still explain a red check."""
    if settings.gate.report.exists():
        return read_gate(settings)
    gate = settings.gate
    return GateResult(
        model_name=settings.tracking.model_name,
        primary_metric=gate.primary_metric,
        rule=gate.rule,
        margin=gate.margin,
        verdict="error",
        passed=False,
        errors=(
            f"the pipeline stopped before the gate ({gate.report} was not written): "
            "see the failed step in the job log",
        ),
    )


def reviewers_on_default_branch(settings: Settings) -> tuple[str, ...]:
    """github.production_reviewers as the default branch has them: a pull request that adds
    its author to the list in its own params.yaml does not make them a reviewer."""
    ref = f"origin/{settings.github.default_branch}"
    raw = report.base_params(ref)
    if raw is None:
        raise github_api.GithubError(
            f"params.yaml of {ref} cannot be read (fetch-depth: 0?): nobody may override"
        )
    return parse_settings(raw, Path(f"{ref}:params.yaml")).github.production_reviewers


def _override_refusal(
    applied: workflow.Labelling, author: str, pushed_at: str | None, allowed: bool
) -> str | None:
    """Why one application of the override label does not count, or None when it does."""
    if applied.actor.lower() == author.lower():
        return "is the pull request's author"
    if not allowed:
        return "is not a production reviewer on the default branch"
    if pushed_at is None or applied.at <= pushed_at:
        return "applied it before the last push to the pull request (re-apply it to this head)"
    return None


def pull_request_facts(settings: Settings) -> dict[str, Any]:
    """The pull request this GitHub Actions run is about, and whether its override label
    counts. It counts only when applied after the last push to the head (so it binds to what
    was reviewed), by a production reviewer listed in the default branch's params.yaml (a
    user, or a member of a listed team), who is not the pull request's author. Everyone else
    who applied it is named with the reason.

    A GitHub API failure is recorded, not raised: the gate still decides, only without the
    override (so a failing model stays failed) and without the PR number in its lineage.
    """
    label = settings.gate.override_label
    facts: dict[str, Any] = {
        "number": None,
        "override_label": label,
        "label_applied_by": None,
        "override_by": None,
        "override_refused": [],
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
        applications = workflow.label_applications(client, run, facts["number"], label)
        if not applications:
            facts["problem"] = f"the {label} label's history shows nobody applying it: no override"
            return facts
        facts["label_applied_by"] = applications[-1].actor
        reviewers = reviewers_on_default_branch(settings)
        author = str((pull.get("user") or {}).get("login") or "")
        pushed_at = workflow.head_pushed_at(client, run, pull)
        for applied in applications:
            allowed = workflow.is_one_of(client, applied.actor, reviewers)
            refusal = _override_refusal(applied, author, pushed_at, allowed)
            if refusal is None:
                facts["override_by"] = applied.actor
            else:
                facts["override_refused"].append(f"{applied.actor} {refusal}")
        if facts["override_by"] is None:
            facts["problem"] = f"the {label} label does not count: " + "; ".join(
                facts["override_refused"]
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
    from . import drift  # pandas and the contract: only this command needs them

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


def _check_run_tags(client: Any, observed: dict[str, str], run: tracking.RunInfo) -> None:
    """The run's lineage tags, which go on the version, must say what the gate saw in the
    checkout, and the commit must be the one checked out here: run tags can be rewritten by
    anyone who may log runs, between the gate and this registration."""
    here = git_state()[0]
    if not observed or observed.get("lineage.git_sha") != here:
        raise registry.RegistryError(
            f"gate.json was not made from the commit checked out here ({here[:12]}): run the "
            "gate again on this commit"
        )
    with registry.registry_errors(f"reading run {run.run_id}"):
        tags = dict(client.get_run(run.run_id).data.tags)
    changed = sorted(key for key, value in observed.items() if tags.get(key) != value)
    if changed:
        raise registry.RegistryError(
            f"run {run.run_id}'s tags {', '.join(changed)} are not what the gate saw in the "
            "checkout: they were changed after training; refusing to register (retrain)"
        )


def register(
    settings: Settings, pr: str = "", gate: GateResult | None = None
) -> tuple[registry.Version, bool]:
    """Register the model the gate let through, once per commit: the run and the bytes
    gate.json names (`gate`: its text handed over by the job that gated, else the file)."""
    gate = gate if gate is not None else read_gate(settings)
    if not gate.passed:
        raise registry.RegistryError(
            f"the gate's verdict is {gate.verdict!r}: only a passing model is registered"
        )
    challenger = gate.challenger
    if challenger is None or not (challenger.model_sha256 and challenger.model_uri):
        raise registry.RegistryError(
            "gate.json names no run, model or sha256 of the model it scored: run the gate again"
        )
    digest = challenger.model_sha256
    run = tracking.RunInfo(
        run_id=challenger.run_id,
        experiment_id=challenger.experiment_id,
        model_uri=challenger.model_uri,
    )
    trained = settings.train.run_info
    if trained.exists() and tracking.RunInfo.read(trained).run_id != run.run_id:
        raise registry.RegistryError(
            f"gate.json judged run {run.run_id} but the trained model is run "
            f"{tracking.RunInfo.read(trained).run_id}: run the gate again"
        )
    client = registry.connect()
    _check_run_tags(client, challenger.lineage, run)
    extra = {
        "gate.verdict": gate.verdict,
        "gate.override_by": gate.override.requested_by or "",
        "owner.model": settings.tracking.model_owner,
        "owner.risk": settings.tracking.risk_approver,
    }
    pr = pr or str((gate.pull_request.number if gate.pull_request else None) or "")
    if pr:
        extra["github.pr"] = pr
    name = settings.tracking.model_name
    version, created = registry.register(client, name, run, digest, extra)
    if created:
        from . import data  # pandas and the contract: only a new version's model card
        from .contract import load_contract

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
    history = branch_history(settings.github.default_branch)
    return registry.promote(
        client, settings.tracking.model_name, to, number, approvers, force, history
    )


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
