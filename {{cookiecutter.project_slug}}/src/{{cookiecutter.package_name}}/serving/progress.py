"""`make rollout-progress` (rollout.yml runs it on a schedule): git records what the live
rollout's analysis decided, so that `git log deploy/` is the rollout's history too.

The server acts at once (a failing candidate is out of every route within a second); this
writes it down: an abort the server made becomes `aborted: <the failed checks and figures>`
in deploy/production.yaml with ONE issue; a step held as long as declared, its last analysis
healthy, moves to the next; after the last step the candidate becomes production. Each is a
commit to the default branch that the reviewed rollout pull request approved in advance
(control/desired_state.py: `is_rollout_move_from`); nothing else moves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..control import desired_state, registry
from ..control.desired_state import DEPLOY_FILE, DeployError, DesiredState, Rollout
from ..errors import ProjectError
from ..github import actions, branches, github_api, repository
from ..settings import Settings
from ..vocabulary import ROLLOUT_REPORT_MARKER
from .rollout_status import ask_server

Kind = Literal["hold", "abort", "advance", "complete"]


@dataclass(frozen=True)
class Move:
    kind: Kind
    why: str


def decide(rollout: Rollout, view: dict[str, Any], held_minutes: float) -> Move:
    """What the rollout does next, from the server's view of it (`/rollout`) and how long its
    step has been declared. Anything undecided holds: a rollout never advances on doubt."""
    version = rollout.candidate.version
    stopped = view.get("stopped")
    if stopped and stopped.get("version") == version:
        return Move("abort", str(stopped.get("reason")))
    if rollout.analysis is None:
        return Move("hold", "no analysis declared: the rollout moves only by a pull request")
    if view.get("candidate") != version or view.get("canary_percent") != rollout.weight:
        serves = view.get("problem") or f"{view.get('canary_percent')}% to {view.get('candidate')}"
        return Move("hold", f"the server does not serve this step yet ({serves})")
    verdict = view.get("analysis")
    if verdict is None:
        return Move("hold", "no analysis interval of this step has ended yet")
    if not verdict.get("healthy"):
        return Move("hold", "last interval: " + "; ".join(verdict.get("checks", [])))
    if held_minutes < rollout.hold_minutes:
        return Move("hold", f"held {held_minutes:.1f} of {rollout.hold_minutes:g} minutes")
    return Move("complete" if rollout.at_last_step else "advance", "every check passed")


def moved(state: DesiredState, move: Move) -> DesiredState:
    if move.kind == "abort":
        return state.rollout_aborted(move.why)
    if move.kind == "advance":
        return state.rollout_advanced()
    return state.rollout_completed()


def _where(rollout: Rollout) -> str:
    if rollout.step < 0:
        return "shadow only"
    return f"step {rollout.step + 1} of {len(rollout.steps)} ({rollout.weight}%)"


def _message(name: str, before: Rollout, after: DesiredState, move: Move) -> str:
    version = f"{name} version {before.candidate.version}"
    if move.kind == "abort":
        return f"Rollout of {version} aborted by its analysis: {move.why}"
    if move.kind == "complete":
        return f"Rollout of {version} complete: production after {_where(before)}, {move.why}"
    assert after.rollout is not None
    return f"Rollout of {version} to {_where(after.rollout)}: {_where(before)} held, {move.why}"


def _commit(message: str, github: bool) -> None:
    """Commit the file alone (nothing else a person staged), as the bot in GitHub Actions."""
    commit = branches.git if github else lambda *args: branches.run_tool("git", *args)
    commit("commit", "--quiet", "-m", message, "--", DEPLOY_FILE.as_posix())


def progress(settings: Settings, server: str, github: bool, token: str = "") -> list[str]:
    """Record the rollout's next move in git, if it has one; returns what was said and done.
    In GitHub Actions the commit is pushed to the default branch with `token` (one allowed
    past its protection), and an abort opens or updates ONE issue."""
    state = desired_state.read()
    rollout = state.rollout_under_way
    if rollout is None:
        return [f"{DEPLOY_FILE} declares no rollout under way: nothing to do"]
    view = ask_server(server)[0]
    held = (time.time() - desired_state.changed_at()) / 60
    move = decide(rollout, view, held)
    where = f"version {rollout.candidate.version} at {_where(rollout)}"
    if move.kind == "hold":
        return [f"{where}: holds: {move.why}"]
    after = moved(state, move)
    message = _message(settings.tracking.model_name, rollout, after, move)
    desired_state.write(after)
    _commit(message, github)
    lines = [f"committed: {message}"]
    if github:
        branch = settings.github.default_branch
        try:
            branches.push(branch, token, force=False)
        except ProjectError as error:
            raise DeployError(
                f"the rollout's move could not be pushed to {branch}: {error} (ROLLOUT_PUSH_"
                "TOKEN must be allowed past the branch protection); the next run tries again"
            ) from None
        if move.kind == "abort":
            lines.append(_abort_issue(settings, state, rollout, move))
    if move.kind == "complete":
        lines.append("deploy moves the production alias (make deploy; deploy.yml on the push)")
    return lines


def _abort_issue(settings: Settings, state: DesiredState, rollout: Rollout, move: Move) -> str:
    production = state.declared(registry.PRODUCTION)
    serving = f"version {production.version}" if production else "production"
    name = settings.tracking.model_name
    body = "\n".join(
        [
            ROLLOUT_REPORT_MARKER,
            f"## The rollout of {name} version {rollout.candidate.version} was aborted",
            "",
            f"- at: {_where(rollout)}",
            f"- why: {move.why}",
            f"- now: {serving} answers every request (nobody's approval was needed to go back);",
            f"  `{DEPLOY_FILE}` records the abort, and deploy removes the candidate alias.",
            "",
            "To try again: fix the model, and propose a new rollout by pull request.",
        ]
    )
    title = f"Rollout aborted: {name} version {rollout.candidate.version}"
    run = actions.RunContext.from_env()
    return repository.upsert_issue(
        github_api.client_from_env(), run, title, body, ROLLOUT_REPORT_MARKER
    )
