"""The desired state: which registered version each declared alias serves, as a file in git.

`deploy/production.yaml` is changed only by a pull request that a code owner of `deploy/`
approves; deploy.yml makes the registry follow it on merge and reconcile.yml puts the registry
back when someone moves an alias by hand. `git log deploy/` is therefore production's history.
This module owns the file's format; deploy.py decides what to do with it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import git, yaml_files
from ..errors import ProjectError
from ..settings import MODEL_NAME, RolloutPlan, explain

DEPLOY_FILE = Path("deploy/production.yaml")
DECLARED_ALIASES = ("production",)  # registry.PRODUCTION: staging follows every merge
HEADER = """\
# Which registered model version serves each alias. Change it only by a pull request: a code
# owner of deploy/ approves it, deploy.yml moves the registry's alias on merge, and
# reconcile.yml puts the alias back if anyone moves it by hand. `git log deploy/` is the
# history of production. `rollback` (a reason) marks a change back to an earlier version.
# `rollout` (optional) brings a candidate in beside production: `shadow` is the share of
# requests it also scores (logged, never answered); `steps` are the traffic weights (percent)
# it answers in turn, each held `hold_minutes` (`shadow_hold_minutes` before the first), `step`
# the one live now (-1: shadow only); `analysis` how the server judges it (README: "Serving").
# rollout.yml moves `step` on while every check passes, makes the candidate production after
# the last, and writes `aborted` (a reason: every request back to production) when the server
# aborted it. Without a rollout, a change of production is all at once.
"""


class DesiredStateError(ProjectError):
    """The desired-state file is missing, malformed, or cannot be read at a commit."""


class DeployError(ProjectError):
    """A declared state that must not be applied: the registry stays as it was."""


class Declared(BaseModel):
    """One alias: the version it serves and that version's model digest."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rollback: str | None = Field(default=None, min_length=1)


class Rollout(RolloutPlan):
    """A candidate beside production, as a plan (params.yaml's `deploy.rollout`, or the pull
    request's own) takes it: shadowed, then answering a rising share of requests."""

    candidate: Declared
    step: int = Field(default=-1, ge=-1)
    aborted: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _step_is_one_of_the_steps(self) -> Rollout:
        if self.step >= len(self.steps):
            raise ValueError(f"step {self.step} is not one of the {len(self.steps)} steps (0..)")
        return self

    @property
    def weight(self) -> int:
        """The percent of requests the candidate answers now: none when aborted or shadowing."""
        if self.aborted is not None or self.step < 0:
            return 0
        return self.steps[self.step].weight

    @property
    def hold_minutes(self) -> float:
        """How long the step live now must stay healthy before the rollout moves on."""
        return self.shadow_hold_minutes if self.step < 0 else self.steps[self.step].hold_minutes

    @property
    def at_last_step(self) -> bool:
        return self.step == len(self.steps) - 1


class DesiredState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: str = Field(pattern=MODEL_NAME)
    aliases: dict[str, Declared] = Field(default_factory=dict)
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _a_rollout_has_a_production_to_roll_from(self) -> DesiredState:
        production = self.aliases.get(DECLARED_ALIASES[0])
        if self.rollout is None:
            return self
        if production is None:
            raise ValueError("a rollout needs a production version to roll out from")
        if self.rollout.candidate.version == production.version:
            raise ValueError(
                f"the rollout's candidate is production's version {production.version} already"
            )
        return self

    def declared(self, alias: str) -> Declared | None:
        return self.aliases.get(alias)

    def with_alias(self, alias: str, declared: Declared) -> DesiredState:
        return self.model_copy(update={"aliases": {**self.aliases, alias: declared}})

    # The moves a declared rollout makes by itself (rollout.yml commits them): its reviewed
    # pull request approved them all in advance, so none needs a review of its own.

    def rollout_aborted(self, reason: str) -> DesiredState:
        rollout = self._live_rollout()
        return self.model_copy(update={"rollout": rollout.model_copy(update={"aborted": reason})})

    def rollout_advanced(self) -> DesiredState:
        rollout = self._live_rollout()
        if rollout.at_last_step:
            raise DeployError("the rollout is at its last step: it completes, it does not advance")
        return self.model_copy(
            update={"rollout": rollout.model_copy(update={"step": rollout.step + 1})}
        )

    def rollout_completed(self) -> DesiredState:
        """The candidate made production, the rollout done: after its last step only."""
        rollout = self._live_rollout()
        if not rollout.at_last_step:
            raise DeployError(f"the rollout is at step {rollout.step}: it completes after its last")
        candidate = Declared(version=rollout.candidate.version, sha256=rollout.candidate.sha256)
        return self.with_alias(DECLARED_ALIASES[0], candidate).model_copy(update={"rollout": None})

    def is_rollout_move_from(self, before: DesiredState) -> bool:
        """Whether this state is one of the moves `before`'s rollout makes by itself."""
        rollout = before.rollout_under_way
        if rollout is None:
            return False
        if self.rollout is not None and self.rollout.aborted is not None:
            return self == before.rollout_aborted(self.rollout.aborted)
        moved = before.rollout_completed() if rollout.at_last_step else before.rollout_advanced()
        return self == moved

    @property
    def rollout_under_way(self) -> Rollout | None:
        """The rollout, unless none is declared or it was aborted."""
        rollout = self.rollout
        return rollout if rollout is not None and rollout.aborted is None else None

    def _live_rollout(self) -> Rollout:
        rollout = self.rollout_under_way
        if rollout is None:
            raise DeployError("no rollout is under way")
        return rollout


def parse(text: str, source: str) -> DesiredState:
    """The file's text, checked: every problem names the file and the key."""
    try:
        raw = yaml_files.load(text)
    except yaml.YAMLError as error:
        raise DesiredStateError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise DesiredStateError(f"{source}: expected a mapping with `model` and `aliases`")
    try:
        state = DesiredState.model_validate(raw)
    except ValidationError as error:
        raise DesiredStateError(explain(error, Path(source)).replace("\n", "; ")) from None
    unknown = sorted(set(state.aliases) - set(DECLARED_ALIASES))
    if unknown:
        raise DesiredStateError(
            f"{source}: aliases {', '.join(unknown)} are not declared in git (only "
            f"{', '.join(DECLARED_ALIASES)}; staging follows every merge)"
        )
    return state


def read(path: Path = DEPLOY_FILE) -> DesiredState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DesiredStateError(
            f"{path}: file not found (it ships with the project; restore it from git)"
        ) from None
    return parse(text, str(path))


def read_at(commit: str, path: Path = DEPLOY_FILE) -> DesiredState | None:
    """The file as it was at `commit`; None where the commit has no such file."""
    done = git.run("show", f"{commit}:{path.as_posix()}")
    if done.returncode != 0:
        if "exists on disk, but not in" in done.stderr or "does not exist in" in done.stderr:
            return None
        raise DesiredStateError(
            f"cannot read {path} at {commit[:12]}: {done.stderr.strip() or 'git failed'} "
            "(fetch-depth: 0?)"
        )
    return parse(done.stdout, f"{commit[:12]}:{path}")


def render(state: DesiredState) -> str:
    body = state.model_dump(mode="json", exclude_none=True)
    return HEADER + yaml.safe_dump(body, sort_keys=False)


def write(state: DesiredState, path: Path = DEPLOY_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(state), encoding="utf-8")


def last_change(path: Path = DEPLOY_FILE, until: str = "HEAD") -> str:
    """The commit on `until`'s first-parent line (the merges, on the default branch) that last
    changed the file."""
    done = git.run("log", "-1", "--first-parent", "--format=%H", until, "--", path.as_posix())
    sha = done.stdout.strip()
    if done.returncode != 0 or not sha:
        raise DesiredStateError(f"git log finds no commit that changed {path} (fetch-depth: 0?)")
    return sha


def reviewed_change(path: Path = DEPLOY_FILE) -> str:
    """The change a person reviewed that declared the file as it is: its last change, or where
    that was a rollout's own move (rollout.yml's commit: a step, the abort, the completion),
    the change that declared the rollout; its pull request must have been approved."""
    change = last_change(path)
    while True:
        after, before = read_at(change, path), read_at(f"{change}^1", path)
        if after is None or before is None or not after.is_rollout_move_from(before):
            return change
        change = last_change(path, f"{change}^1")


def changed_at(path: Path = DEPLOY_FILE) -> float:
    """When (Unix time) the file's last change was committed: when the rollout's step began."""
    done = git.run("log", "-1", "--first-parent", "--format=%ct", "--", path.as_posix())
    if done.returncode != 0 or not done.stdout.strip():
        raise DesiredStateError(f"git log finds no commit that changed {path} (fetch-depth: 0?)")
    return float(done.stdout.strip())


def default_branch_ref(branch: str) -> str | None:
    """Where the default branch's declarations are read: `origin/<branch>` where the remote
    branch is known (a CI checkout: a pull request's own change to deploy/ does not count),
    else HEAD (a local project); None in a folder git does not know."""
    for ref in (f"origin/{branch}", "HEAD"):
        known = git.run("rev-parse", "--verify", "--quiet", ref)
        if known.returncode == 0:
            return ref
    return None


def state_on(branch: str) -> tuple[DesiredState | None, str]:
    """What the default branch declares, and where that was read, for messages: its file at
    `origin/<branch>`, else the working tree's (a local project, where the person running it
    is the reviewer)."""
    ref = default_branch_ref(branch)
    if ref is not None and ref != "HEAD":
        return read_at(ref), f"{DEPLOY_FILE} on {ref}"
    if DEPLOY_FILE.exists():
        return read(), str(DEPLOY_FILE)
    return None, str(DEPLOY_FILE)


def declared_on(branch: str, alias: str) -> tuple[Declared | None, str]:
    """What the default branch declares for `alias` (version and sha256), and where."""
    state, source = state_on(branch)
    return (state.declared(alias) if state else None), source


def changed_besides(branch: str) -> list[str]:
    """The files this checkout changes, other than the desired state, since it left the default
    branch (`origin/<branch>`; none where that is unknown)."""
    ref = default_branch_ref(branch)
    if ref is None or ref == "HEAD":
        return []
    done = git.run("diff", "--name-only", f"{ref}...HEAD")
    if done.returncode != 0:
        raise DesiredStateError(f"git diff against {ref} failed: {done.stderr.strip()}")
    return [path for path in done.stdout.split() if path != DEPLOY_FILE.as_posix()]


def declarations(branch: str, alias: str) -> list[Declared]:
    """Every declaration of `alias` on the default branch's first-parent line, newest first:
    git's record of which bytes each version that ever served is. A local project (no
    `origin/<branch>`) counts its working tree's declaration first."""
    ref = default_branch_ref(branch)
    states: list[DesiredState | None] = []
    if ref in (None, "HEAD") and DEPLOY_FILE.exists():
        states.append(read())
    if ref is not None:
        done = git.run("log", "--first-parent", "--format=%H", ref, "--", DEPLOY_FILE.as_posix())
        if done.returncode != 0:
            raise DesiredStateError(
                f"git log cannot read the history of {DEPLOY_FILE}: {done.stderr.strip()}"
            )
        states += [read_at(sha) for sha in done.stdout.split()]
    found = [state.declared(alias) for state in states if state is not None]
    return [declared for declared in found if declared is not None]
