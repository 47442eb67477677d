"""Releasing a model: register it, propose it for production, make the registry follow the
desired state in git (deploy, reconcile), roll back, and say how a version was made.

Production's version is declared in deploy/production.yaml (desired_state.py). A promotion or
a rollback is a pull request changing that file; deploy.yml applies a merged change only after
checking it (the version exists, holds the declared bytes, passed the gate, is not older than
what git declared before unless the change says it is a rollback) and that a code owner of the
file approved the pull request's final head. Every check runs before the first alias moves: a
declared state that cannot be applied leaves the registry as it was.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import (
    actions,
    branches,
    codeowners,
    desired_state,
    github_api,
    production,
    registry,
    report,
    repository,
    tracking,
)
from .desired_state import DEPLOY_FILE, Declared, DesiredState
from .errors import ProjectError
from .gate_result import GateResult
from .lifecycle import read_gate
from .lineage import DATA_KEYS, History, branch_history, checkout_facts, git_state
from .settings import SIGN_OFF_ROLES, Settings, parse_settings

PYPROJECT = Path("pyproject.toml")
PROMOTION_BRANCH = "promote/production"
ROLLBACK_BRANCH = "rollback/production"
PASSED = ("pass", "overridden")  # gate verdicts a registered version may carry into production
RECONCILE_MARKER = "<!-- {{ cookiecutter.project_slug }}:reconcile-report -->"


class DeployError(ProjectError):
    """A declared state that must not be applied: the registry stays as it was."""


# -- registration ---------------------------------------------------------------------------


def _description() -> str:
    try:
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    except (FileNotFoundError, KeyError):
        return "(no description)"
    return str(project.get("description", "(no description)"))


def _lineage_to_register(
    settings: Settings, client: Any, gated: dict[str, str], run: tracking.RunInfo
) -> dict[str, str]:
    """The lineage written on the version, computed here, never copied from the run: the
    commit, its time, the parameters, the lock and the libraries from this checkout; the data's
    md5s from the gate's result (the job that gated held the data). The gate must have seen the
    same checkout, the run must be in the training experiment (never the pull requests' one),
    and its tags must say the same: where a server gives other users EDIT on the experiment,
    they may rewrite them between training and this registration."""
    here = checkout_facts(settings)
    missing = [key for key in (*here, *DATA_KEYS) if key not in gated]
    if missing:
        raise registry.RegistryError(
            f"gate.json records no {missing[0]}: it was made by other code; run the gate again"
        )
    differ = sorted(key for key, value in here.items() if gated[key] != value)
    if differ:
        raise registry.RegistryError(
            f"gate.json was not made from this checkout ({here['lineage.git_sha'][:12]}): "
            f"{', '.join(differ)} differ; run the gate again on this commit"
        )
    computed = {**here, **{key: gated[key] for key in DATA_KEYS}}
    with registry.registry_errors(f"reading run {run.run_id}"):
        logged = client.get_run(run.run_id)
        experiment = client.get_experiment(logged.info.experiment_id).name
    if experiment != settings.tracking.experiment:
        raise registry.RegistryError(
            f"run {run.run_id} was logged in experiment {experiment!r}, not in "
            f"{settings.tracking.experiment!r} where only the default branch's credential "
            "writes: refusing to register it (run the pipeline on the default branch)"
        )
    tags = dict(logged.data.tags)
    changed = sorted(key for key, value in computed.items() if tags.get(key) != value)
    if changed:
        raise registry.RegistryError(
            f"run {run.run_id}'s tag {changed[0]} is {tags.get(changed[0])!r}, not "
            f"{computed[changed[0]]!r} as this checkout and the gate show: it was changed "
            "after training; refusing to register (retrain)"
        )
    return computed


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
    computed = _lineage_to_register(settings, client, challenger.lineage, run)
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
    version, created = registry.register(client, name, run, digest, computed, extra)
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
            client.log_text(version.run_id, card, "model_card.md")  # the run registration made
            client.update_model_version(name, str(version.number), description=card)
    return version, created


def stage(
    settings: Settings, number: int | None
) -> tuple[registry.Version, registry.Version | None]:
    """Point `staging` at a version (by default the newest commit's): it follows every merge,
    and is not declared in git."""
    client = registry.connect()
    history = branch_history(settings.github.default_branch)
    return registry.promote(
        client, settings.tracking.model_name, registry.STAGING, number, [], False, history
    )


# -- proposing a change to the desired state ------------------------------------------------


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
        f"- commit `{report.text(tags.get('lineage.git_sha', '?'))}`",
        f"- data md5 `{report.text(tags.get('lineage.data_md5', '?'))}`, evaluation md5 "
        f"`{report.text(tags.get('lineage.eval_md5', '?'))}`",
        f"- model sha256 `{report.text(digest)}` (declared here: only these bytes will serve)",
        f"- gate verdict `{report.text(tags.get('gate.verdict', '?'))}`, pull request "
        f"#{report.text(tags.get('github.pr', '?'))}",
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
    if declared is not None and declared.version == number:
        return f"{DEPLOY_FILE} already declares version {number}: no pull request"
    with registry.registry_errors(f"reading the model card of {version.label}"):
        card = client.get_model_version(name, str(number)).description or "(no model card)"
    gate_text = (
        report.render_report(gate, None, None, "").replace(report.MARKER + "\n", "")
        if gate is not None
        else "(the gate report was not handed over)"
    )
    body = "\n".join(
        [
            f"Sets production to **{version.label}**. Merging it needs a code owner of "
            f"`{DEPLOY_FILE.parent}/` to approve this pull request's final head; deploy.yml "
            "then checks the version and moves the alias, and writes the approvers on it.",
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
    new = state.with_alias(registry.PRODUCTION, Declared(version=number, sha256=digest))
    title = f"Promote {name} version {number} to production"
    return _propose(settings, PROMOTION_BRANCH, new, title, body)


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
    if not registry.was_in_production(target):
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


# -- applying the desired state -------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    """Who approved a change of the desired state: the merged pull request's approving code
    owners (or, without GitHub, the names given), and the commit that made the change."""

    approvers: tuple[str, ...]
    pull_request: int | None
    commit: str


def judge_reviews(
    reviews: list[dict[str, Any]], pull: dict[str, Any], is_owner: Any, pushers: set[str]
) -> tuple[list[str], list[str]]:
    """(the approvers who count, why each other reviewer does not). A reviewer's latest
    decision stands (a later change request or a dismissal withdraws an approval); it counts
    when it approves the pull request's final head, by a code owner who neither opened it nor
    pushed a commit into it (`pushers`: a bot's pull request has a person's commits too)."""
    head = str((pull.get("head") or {}).get("sha") or "")
    if not head:
        raise DeployError(f"pull request #{pull.get('number')} names no head commit")
    author = str((pull.get("user") or {}).get("login") or "").lower()
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:  # oldest first
        if review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[str((review.get("user") or {}).get("login") or "")] = review
    counted: list[str] = []
    refused: list[str] = []
    for login, review in latest.items():
        seen = str(review.get("commit_id") or "")
        if review.get("state") != "APPROVED":
            refused.append(f"{login}'s latest review is {str(review.get('state')).lower()}")
        elif seen != head:
            refused.append(f"{login} approved {seen[:12]}, not the final head {head[:12]}")
        elif login.lower() == author:
            refused.append(f"{login} is the pull request's author")
        elif login.lower() in pushers:
            refused.append(f"{login} pushed a commit into the pull request")
        elif not is_owner(login):
            refused.append(f"{login} is not a code owner of {DEPLOY_FILE}")
        else:
            counted.append(login)
    return counted, refused


def sign_off_at(commit: str) -> dict[str, str]:
    """Whose approvals a change of production needs (role -> GitHub handle), by params.yaml as
    `commit` had it: like CODEOWNERS, the base branch's, so a pull request that names its own
    author an approver gains nothing."""
    raw = report.base_params(commit)
    if raw is None:
        raise DeployError(f"cannot read params.yaml at {commit[:12]} (fetch-depth: 0?)")
    base = parse_settings(raw, Path(f"{commit[:12]}:params.yaml"))
    return {role: getattr(base.tracking, role) for role in base.deploy.sign_off}


def missing_sign_off(
    counted: list[str], sign_off: dict[str, str], is_one_of: Callable[[str, str], bool]
) -> str | None:
    """None when different approvers cover every role in `sign_off` (a handle: a login or an
    org/team); else what is missing. One person counts for one role only, so where the roles
    are two different handles, one approver who is both is not enough; where both roles name
    the same handle, it is one role."""
    roles: dict[str, list[str]] = {}
    for role, handle in sign_off.items():
        roles.setdefault(handle, []).append(SIGN_OFF_ROLES[role])
    handles = list(roles)
    for chosen in itertools.permutations(counted, len(handles)):
        if all(is_one_of(login, handle) for login, handle in zip(chosen, handles, strict=True)):
            return None

    def roles_of(login: str) -> str:
        held = [n for handle, names in roles.items() if is_one_of(login, handle) for n in names]
        return " and ".join(held) or "no role"

    needed = " AND ".join(f"{' and '.join(names)} (@{handle})" for handle, names in roles.items())
    found = ", ".join(f"{login} ({roles_of(login)})" for login in counted)
    return (
        f"production needs an approval of the final head by {needed}, each by a different "
        f"person; counted: {found or 'nobody'}"
    )


def approval_from_github(change: str, branch: str) -> Approval:
    """The approval of the pull request merged into `branch` as commit `change`, read from
    GitHub's reviews API. Code owners are taken from CODEOWNERS as the base branch had it (the
    merge's first parent), so a pull request that names its own author an owner gains nothing."""
    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    pull = repository.merged_pull_request(client, run, change)
    if pull is None:
        raise DeployError(
            f"commit {change[:12]} changed {DEPLOY_FILE} without a merged pull request: only "
            "a reviewed pull request may change production"
        )
    number = int(pull["number"])
    merged_as = str(pull.get("merge_commit_sha") or "")
    base = str((pull.get("base") or {}).get("ref") or "")
    if merged_as != change or base != branch:
        raise DeployError(
            f"pull request #{number} was merged into {base or '?'} as {merged_as[:12] or '?'}, "
            f"not into {branch} as {change[:12]}: merge deploy/ changes with a merge or squash "
            "commit (a rebase merge leaves no one commit that GitHub ties to the review)"
        )
    owners = codeowners.owners_at(f"{change}^1", DEPLOY_FILE.as_posix())
    if not owners:
        raise DeployError(f"CODEOWNERS gives {DEPLOY_FILE} to nobody: nobody's approval counts")
    found = repository.reviews(client, run, number)
    pushers = repository.commit_logins(client, run, number)
    counted, refused = judge_reviews(
        found, pull, lambda login: repository.is_one_of(client, login, owners), pushers
    )
    if not counted:
        reasons = "; ".join(refused) or "nobody reviewed it"
        raise DeployError(
            f"pull request #{number} has no approval of its final head by a code owner of "
            f"{DEPLOY_FILE} ({', '.join(owners)}): {reasons}"
        )
    missing = missing_sign_off(
        counted,
        sign_off_at(f"{change}^1"),
        lambda login, handle: repository.is_one_of(client, login, (handle,)),
    )
    if missing is not None:
        refusals = f" (not counted: {'; '.join(refused)})" if refused else ""
        raise DeployError(f"pull request #{number}: {missing}{refusals}")
    return Approval(tuple(counted), number, change)


def rollback_reason(declared: Declared, before: Declared | None) -> str | None:
    """The declaration's rollback reason, when this change makes it: a reason kept from an
    earlier rollback does not let a later change go back further."""
    if declared.rollback is None or (before is not None and before.rollback == declared.rollback):
        return None
    return declared.rollback


def _checked_target(
    client: Any,
    name: str,
    declared: Declared,
    references: list[int],
    is_rollback: bool,
    history: History,
) -> registry.Version:
    """The version a declaration names, after every check that it may serve production: its
    digest and gate verdict, and that it is not older than any of `references` (what git
    declared before, what legitimately serves now) unless this change is a rollback, which
    only returns to a version that served before."""
    target = registry.get_version(client, name, declared.version)
    registry.version_bytes(client, target, declared.sha256, str(DEPLOY_FILE))
    verdict = target.tags.get("gate.verdict", "")
    if verdict not in PASSED:
        raise DeployError(f"{target.label} did not pass the gate (verdict {verdict or 'none'})")
    if is_rollback and not registry.was_in_production(target):
        raise DeployError(
            f"{target.label} was never in production: a rollback only returns to a version that was"
        )
    for number in [] if is_rollback else sorted(set(references) - {declared.version}):
        previous = registry.get_version(client, name, number)
        unknown = [v for v in (target, previous) if not history.knows(v.git_sha)]
        if unknown:
            raise DeployError(
                f"{unknown[0].label} names commit {unknown[0].git_sha[:12]}, which is not on "
                f"{history.ref}: cannot tell which version is newer"
            )
        if history.is_older(target.git_sha, previous.git_sha):
            raise DeployError(
                f"version {target.number} is older than version {previous.number}, which "
                f"{DEPLOY_FILE} declared before: add a new `rollback: <reason>` to go back"
            )
    return target


def _served_tags(approval: Approval, replaced: int | None, rollback: str | None) -> dict[str, str]:
    when = registry.now()
    tags = {
        "promotion.production.approved_by": ",".join(approval.approvers) or "nobody recorded",
        "promotion.production.pr": str(approval.pull_request or ""),
        "promotion.production.commit": approval.commit,
        "promotion.production.at": when,
    }
    if rollback is not None:
        tags.update(
            {
                "rollback.reason": rollback,
                "rollback.by": ",".join(approval.approvers) or "nobody recorded",
                "rollback.at": when,
                "rollback.from_version": str(replaced or ""),
            }
        )
    return tags


def _serve(
    client: Any,
    name: str,
    target: registry.Version,
    declared: Declared,
    approval: Approval,
    current: registry.Version | None,
    rollback: str | None,
    extra: dict[str, str],
) -> registry.Version | None:
    """Move production onto the checked target with its record (who approved, which pull
    request and commit, and for a rollback why, on both versions). Returns the replaced one."""
    replaced_number = current.number if current else None
    tags = {**_served_tags(approval, replaced_number, rollback), **extra}
    replaced = registry.serve(client, name, target, declared.sha256, tags)
    if replaced is not None and rollback is not None:
        registry.set_tags(
            client,
            name,
            replaced.number,
            {"rolled_back.reason": rollback, "rolled_back.at": tags["rollback.at"]},
        )
    return replaced


def _check_checkout_is_the_tip(branch: str) -> None:
    """A run applies only the newest declaration: a re-run of an old deploy.yml run, or a
    reconcile that started before a merge, checks out an older commit, whose declaration a
    newer one has replaced (and the newer one's own run applies it)."""
    run = actions.RunContext.from_env()
    tip = repository.branch_head(github_api.client_from_env(), run, branch)
    here = git_state()[0]
    if tip != here:
        raise DeployError(
            f"this run checked out {here[:12]}, but {branch} is at {tip[:12] or '?'} now: "
            "the newer declaration is applied by its own run; nothing moved here"
        )


def references(before: Declared | None, current: registry.Version | None) -> list[int]:
    """The versions a declaration must not be older than: what git declared before it, and
    what serves now where git once declared it (a version moved in by hand counts for
    nothing: reconcile puts the declared one back over it)."""
    found = [before.version] if before is not None else []
    if current is not None and current.number in production_history():
        found.append(current.number)
    return found


def deploy(settings: Settings, github: bool, approved_by: tuple[str, ...] = ()) -> list[str]:
    """Make the registry serve what deploy/production.yaml declares. In GitHub Actions
    (`github`), the checkout must be the default branch's tip, and the change that declared
    it must come from a pull request merged into it that a code owner approved on its final
    head; without GitHub (a local registry), `approved_by` names who approved."""
    if not github and os.environ.get("GITHUB_ACTIONS") == "true":
        raise DeployError(
            "in GitHub Actions production moves only through deploy.yml (make deploy there "
            "passes --github); the local path takes no approval from GitHub"
        )
    name = settings.tracking.model_name
    branch = settings.github.default_branch
    state = desired_state.read()
    if state.model != name:
        raise DeployError(f"{DEPLOY_FILE} is for model {state.model!r}, not {name!r}")
    declared = state.declared(registry.PRODUCTION)
    if declared is None:
        return [f"{DEPLOY_FILE} declares no production version: nothing to do"]
    client = registry.connect()
    current = registry.by_alias(client, name, registry.PRODUCTION)
    if current is not None and current.number == declared.version:
        # The same number is not enough: the bytes must be the ones git declares.
        registry.version_bytes(client, current, declared.sha256, str(DEPLOY_FILE))
        return [f"production already serves {current.label}"]
    if github:
        _check_checkout_is_the_tip(branch)
        change = desired_state.last_change()
        before_state = desired_state.read_at(f"{change}^1")
        approval = approval_from_github(change, branch)
    else:
        before_state = desired_state.read_at("HEAD")  # what the last commit declared
        approval = Approval(approved_by, None, git_state()[0])
    before = before_state.declared(registry.PRODUCTION) if before_state else None
    rollback = rollback_reason(declared, before)
    history = branch_history(branch)
    target = _checked_target(
        client, name, declared, references(before, current), rollback is not None, history
    )
    replaced = _serve(client, name, target, declared, approval, current, rollback, {})
    was = f" (was version {replaced.number})" if replaced else ""
    who = ", ".join(approval.approvers) or "nobody recorded"
    pr = f", pull request #{approval.pull_request}" if approval.pull_request else ""
    return [f"production: {target.label}{was}; approved by {who}{pr}"]


def emergency_rollback(
    settings: Settings, number: int | None, reason: str, actor: str, token: str
) -> list[str]:
    """rollback.yml's emergency path, behind the `production` environment: the rollback is
    committed to deploy/ on the default branch first (git stays the record; a push that branch
    protection refuses moves nothing), then applied at once, without waiting for a review.
    Where the registry does not serve what git declares (an earlier change half done), it
    refuses: counting back from a declaration that never applied would go a step too far."""
    unapplied = compare(settings)
    if unapplied is not None:
        raise DeployError(
            f"{unapplied}: finish or undo that change first (deploy.yml, or by hand); an "
            "emergency rollback from here could go back further than meant"
        )
    state = rollback_state(settings, number, reason)
    declared = state.declared(registry.PRODUCTION)
    assert declared is not None
    client = registry.connect()
    name = settings.tracking.model_name
    history = branch_history(settings.github.default_branch)
    target = _checked_target(client, name, declared, [], True, history)
    current = registry.by_alias(client, name, registry.PRODUCTION)
    desired_state.write(state)
    branch = settings.github.default_branch
    message = f"Emergency rollback of {name} production to version {target.number}: {reason}"
    branches.git("add", "--", DEPLOY_FILE.as_posix())
    branches.git("commit", "--quiet", "-m", message)
    try:
        branches.push(branch, token, force=False)
    except ProjectError as error:
        raise DeployError(
            f"the emergency rollback could not be committed to {branch}, so nothing moved: "
            f"{error} (DEPLOY_PUSH_TOKEN must be allowed past the branch protection; or "
            "propose the rollback as a pull request)"
        ) from None
    approval = Approval((actor,), None, git_state()[0])
    emergency = {"rollback.emergency": "true"}
    replaced = _serve(
        client, name, target, declared, approval, current, declared.rollback, emergency
    )
    return [
        f"committed to {branch}: {message}",
        f"production: {target.label}" + (f" (was version {replaced.number})" if replaced else ""),
    ]


def declare_and_deploy(
    settings: Settings, number: int | None, approved_by: tuple[str, ...], reason: str = ""
) -> list[str]:
    """Without GitHub (a local registry): declare a version for production in
    deploy/production.yaml (default: staging's; with `reason`, a rollback) and apply it."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        raise DeployError(
            "in GitHub Actions production moves only through a pull request on deploy/ "
            "(rollback.yml opens one); make promote and make rollback are for a local registry"
        )
    if reason:
        state = rollback_state(settings, number, reason)
    else:
        client = registry.connect()
        name = settings.tracking.model_name
        if number is None:
            staged = registry.by_alias(client, name, registry.STAGING)
            if staged is None:
                raise DeployError(f"{name} has no '{registry.STAGING}' version to promote")
            number = staged.number
        target = registry.get_version(client, name, number)
        if not target.digest:
            raise DeployError(f"{target.label} records no {registry.DIGEST_TAG}: not gated")
        declared = Declared(version=number, sha256=target.digest)
        state = desired_state.read().with_alias(registry.PRODUCTION, declared)
    desired_state.write(state)
    number = state.aliases[registry.PRODUCTION].version
    return [
        f"{DEPLOY_FILE}: production version {number}",
        *deploy(settings, github=False, approved_by=approved_by),
    ]


# -- reconciling ----------------------------------------------------------------------------


def compare(settings: Settings) -> str | None:
    """How the registry differs from the desired state on this checkout, or None."""
    state = desired_state.read()
    declared = state.declared(registry.PRODUCTION)
    if declared is None:
        return None
    client = registry.connect()
    current = registry.by_alias(client, settings.tracking.model_name, registry.PRODUCTION)
    if current is not None and current.number == declared.version:
        try:
            registry.version_bytes(client, current, declared.sha256, str(DEPLOY_FILE))
        except registry.RegistryError as error:
            return str(error)
        return None
    serving = current.label if current is not None else "no version"
    return (
        f"the registry's production alias points at {serving}, but {DEPLOY_FILE} declares "
        f"version {declared.version}"
    )


def reconcile(settings: Settings) -> tuple[list[str], bool]:
    """Compare the registry with deploy/ on the default branch; put a difference back (or only
    report it, as `deploy.reconcile` says) and say so in the ONE reconcile issue. Returns the
    lines said and whether the registry now matches."""
    difference = compare(settings)
    if difference is None:
        return ["the registry serves what deploy/ declares: nothing to do"], True
    matches = False
    if settings.deploy.reconcile == "restore":
        try:
            done = "put back: " + "; ".join(deploy(settings, github=True))
            matches = True
        except ProjectError as error:
            done = f"could not put it back: {error}"
    else:
        done = "reported only (deploy.reconcile: report in params.yaml)"
    body = "\n".join(
        [
            RECONCILE_MARKER,
            f"## The registry differed from `{DEPLOY_FILE}`",
            "",
            f"- found: {report.text(difference)}",
            f"- done: {report.text(done)}",
            "",
            "Production moves only through a reviewed pull request on deploy/. Who moved the "
            "alias by hand? The MLflow server's log has the request.",
        ]
    )
    run = actions.RunContext.from_env()
    title = f"Registry drift: {settings.tracking.model_name} production moved outside git"
    issue = repository.upsert_issue(
        github_api.client_from_env(), run, title, body, RECONCILE_MARKER
    )
    return [difference, done, issue], matches


# -- lineage --------------------------------------------------------------------------------


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
    serving = production.load(client, settings)
    return [] if serving is None else [serving.version.as_dict()]


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
