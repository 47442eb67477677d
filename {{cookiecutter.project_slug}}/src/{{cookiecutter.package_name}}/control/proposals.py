"""Proposing a change to the desired state: the ONE pull request that sets production to a
registered version (promotion), or back to an earlier one (rollback), in deploy/production.yaml.
Production moves only when that pull request is approved and merged (deploy.py)."""

from __future__ import annotations

import os
from typing import Any

from ..github import actions, branches, github_api, repository
from ..settings import Settings
from ..vocabulary import DATA_MD5, EVAL_MD5, GATE_REPORT_MARKER, GATE_VERDICT, GIT_SHA, GITHUB_PR
from . import aliases, desired_state, registry, report
from .desired_state import DEPLOY_FILE, Declared, DeployError, DesiredState, Rollout
from .gate_result import GateResult

PROMOTION_BRANCH = "promote/production"
ROLLBACK_BRANCH = "rollback/production"


def _propose(settings: Settings, branch: str, state: DesiredState, title: str, body: str) -> str:
    """Write the desired state, commit it on `branch`, and open or update its ONE pull request.
    An open one from the branch that proposed something else is updated, and says so."""
    if not os.environ.get("GITHUB_TOKEN"):
        raise DeployError(
            "no token to open the pull request with: give the registry environment a "
            "PROMOTION_TOKEN secret (the job's own token may not open pull requests once "
            "make github-setup ran, and its pull requests would start no gate)"
        )
    run = actions.RunContext.from_env()
    base = settings.github.default_branch
    existing = repository.open_pull_request_from(github_api.client_from_env(), run, branch, base)
    if existing is not None and existing.get("title") != title:
        body = (
            f"> Superseded: this pull request proposed *{report.text(existing.get('title'))}*; "
            "a newer change replaced it.\n\n" + body
        )
    desired_state.write(state)
    return branches.propose(branch, [str(DEPLOY_FILE)], title, body, base)


def _lineage_lines(version: registry.Version, digest: str) -> list[str]:
    tags = version.tags
    return [
        "## Lineage",
        "",
        f"- commit `{report.text(tags.get(GIT_SHA, '?'))}`",
        f"- data md5 `{report.text(tags.get(DATA_MD5, '?'))}`, evaluation md5 "
        f"`{report.text(tags.get(EVAL_MD5, '?'))}`",
        f"- model sha256 `{report.text(digest)}` (declared here: only these bytes will serve)",
        f"- gate verdict `{report.text(tags.get(GATE_VERDICT, '?'))}`, pull request "
        f"#{report.text(tags.get(GITHUB_PR, '?'))}",
    ]


def _gated_digest(client: Any, version: registry.Version, gate: GateResult | None) -> str:
    """The sha256 the promotion declares, and its review approves: the one the gate computed
    from the bytes it scored, for the run this version was registered from (a registry tag is
    no source: any registry writer can rewrite it). The stored bytes must match it."""
    challenger = gate.challenger if gate is not None else None
    trained = registry.training_run_of(client, version)
    if challenger is None or challenger.run_id != trained or not challenger.model_sha256:
        raise DeployError(
            f"the gate result handed over does not name the run {version.label} was trained "
            f"in ({trained or 'unknown'}): no digest to declare (run main.yml again)"
        )
    registry.version_bytes(client, version, challenger.model_sha256, "the gate")
    return challenger.model_sha256


def propose_promotion(settings: Settings, number: int, gate: GateResult | None) -> str:
    """The ONE promotion pull request: deploy/production.yaml set to version `number`, with
    the gate report against the current champion, the model card and the lineage."""
    client = registry.connect()
    name = settings.tracking.model_name
    version = registry.get_version(client, name, number)
    digest = _gated_digest(client, version, gate)
    state = desired_state.read()
    declared = state.declared(registry.PRODUCTION)
    rolling = state.rollout.candidate.version if state.rollout else None
    if number in (rolling, declared.version if declared else None):
        return f"{DEPLOY_FILE} already declares version {number}: no pull request"
    with registry.registry_errors(f"reading the model card of {version.label}"):
        card = client.get_model_version(name, str(number)).description or "(no model card)"
    gate_text = (
        report.render_report(gate, None, None, "").replace(GATE_REPORT_MARKER + "\n", "")
        if gate is not None
        else "(the gate report was not handed over)"
    )
    new, how = promotion_state(settings, state, Declared(version=number, sha256=digest), version)
    body = "\n".join(
        [
            how,
            "",
            f"Merging it needs a code owner of `{DEPLOY_FILE.parent}/` to approve this pull "
            "request's final head; deploy.yml then checks the version, moves the alias and "
            "writes the approvers on it.",
            "",
            gate_text,
            *_lineage_lines(version, digest),
            "",
            "<details><summary>Model card</summary>",
            "",
            card,
            "",
            "</details>",
        ]
    )
    title = f"Promote {name} version {number} to production"
    return _propose(settings, PROMOTION_BRANCH, new, title, body)


def promotion_state(
    settings: Settings, state: DesiredState, candidate: Declared, version: registry.Version
) -> tuple[DesiredState, str]:
    """The state a promotion of `version` proposes, and the sentence that says how it moves:
    through the rollout params.yaml plans (deploy.promotion: rollout), where a
    production version serves beside it and a model server judges it; else all at once."""
    production = state.declared(registry.PRODUCTION)
    all_at_once = state.with_alias(registry.PRODUCTION, candidate).model_copy(
        update={"rollout": None}
    )
    if production is None:
        why = "the first production version: nothing to roll out beside"
    elif settings.deploy.promotion == "all_at_once":
        why = "deploy.promotion: all_at_once in params.yaml"
    elif not os.environ.get("MODEL_SERVER_URL"):
        why = "no model server named to judge a rollout: MODEL_SERVER_URL"
    else:
        plan = settings.deploy.rollout
        rollout = Rollout(candidate=candidate, **plan.model_dump())
        steps = ", ".join(f"{step.weight}%" for step in plan.steps)
        return state.model_copy(update={"rollout": rollout}), (
            f"Rolls {version.label} out beside production version {production.version}: "
            f"shadow {plan.shadow:.0%}, then {steps} of requests, each step held as declared "
            "while the model server's analysis passes; make rollout-progress (rollout.yml) "
            f"records each step, an abort, and production after the last, in {DEPLOY_FILE}. "
            "To move all at once instead, set `production:` to this version and remove "
            "`rollout:` there."
        )
    return all_at_once, f"Sets production to {version.label}, all at once ({why})."


def production_history() -> list[int]:
    """The versions deploy/production.yaml declared for production, newest first, from git."""
    done = branches.git(
        "log", "--first-parent", "--format=%H", "--", DEPLOY_FILE.as_posix()
    ).split()
    found: list[int] = []
    for sha in done:
        state = desired_state.read_at(sha)
        declared = state.declared(registry.PRODUCTION) if state else None
        if declared is not None and declared.version not in found:
            found.append(declared.version)
    return found


def rollback_state(settings: Settings, number: int | None, reason: str) -> DesiredState:
    """The desired state that returns production to `number` (default: the version git
    declared before the current one), marked as a rollback with its reason."""
    if not reason.strip():
        raise DeployError("a rollback needs a reason")
    state = desired_state.read()
    current = state.declared(registry.PRODUCTION)
    if current is None:
        raise DeployError(f"{DEPLOY_FILE} declares no production version to roll back from")
    if number is None:
        earlier = [n for n in production_history() if n != current.version]
        if not earlier:
            raise DeployError(
                f"git log {DEPLOY_FILE} shows no earlier production version: name one"
            )
        number = earlier[0]
    if number == current.version:
        raise DeployError(f"version {number} is already declared for production")
    client = registry.connect()
    target = registry.get_version(client, settings.tracking.model_name, number)
    if not aliases.was_in_production(target):
        raise DeployError(
            f"{target.label} was never in production: a rollback only returns to a version "
            "that was (promote a new one through the gate instead)"
        )
    declared = Declared(version=number, sha256=target.digest, rollback=reason.strip())
    return state.with_alias(registry.PRODUCTION, declared)


def propose_rollback(settings: Settings, number: int | None, reason: str) -> str:
    """The rollback pull request: production back to an earlier version, with the reason."""
    state = rollback_state(settings, number, reason)
    declared = state.declared(registry.PRODUCTION)
    assert declared is not None
    title = f"Roll back {settings.tracking.model_name} production to version {declared.version}"
    body = (
        f"Returns production to version {declared.version}, which served it before.\n\n"
        f"Reason: {report.text(reason)}\n\nMerging it needs a code owner of "
        f"`{DEPLOY_FILE.parent}/` to approve this pull request's final head."
    )
    return _propose(settings, ROLLBACK_BRANCH, state, title, body)
