"""What a worker answers with, following git: deploy/production.yaml on the default branch names
production (and a rollout's candidate) by version and sha256; every model is loaded through
control.production, its bytes checked against that digest, before any request reaches it.
Production switches once deploy has applied the declaration (the registry's alias agrees), so
every check deploy makes, both sign-offs included, stands before the first request.

The state is swapped whole (one assignment), never changed in place, so a request sees either
the old state or the new one. The production before the current one stays loaded (warm
standby). When the file cannot be read or a model cannot be verified, what is loaded keeps
serving; nothing unverified ever does.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from .. import git
from ..control import desired_state, production, registry
from ..control.desired_state import Declared, DesiredState
from ..errors import ProjectError
from ..pipeline import training
from ..settings import Analysis, Settings


@dataclass(frozen=True)
class Loaded:
    """A model whose bytes matched git's digest."""

    version: registry.Version
    sha256: str
    model: Any
    columns: list[str]

    @property
    def key(self) -> tuple[int, str]:
        return self.version.number, self.sha256


@dataclass(frozen=True)
class Stopped:
    """A candidate this worker's analysis took out of every route: which, why, and when."""

    version: int
    reason: str
    at: str  # ISO 8601, UTC, to the microsecond


@dataclass(frozen=True)
class LiveState:
    stable: Loaded | None = None
    candidate: Loaded | None = None
    canary_percent: int = 0
    shadow: float = 0.0
    standby: Loaded | None = None  # the production before this one, kept loaded
    analysis: Analysis | None = None  # how the candidate is judged while it takes traffic
    problem: str | None = None  # why something declared is not served
    stopped: Stopped | None = None
    source: str = ""

    @property
    def ready(self) -> bool:
        return self.stable is not None


class _Registry:
    """The registry as one refresh asks it: connected once, its aliases read once, and only
    when a declaration needs them."""

    def __init__(self, connect: Callable[[], Any], name: str) -> None:
        self._connect, self.name = connect, name

    @cached_property
    def client(self) -> Any:
        return self._connect()

    @cached_property
    def aliases(self) -> dict[str, int]:
        return registry.aliases(self.client, self.name)


def _stopped(state: LiveState, stopped: Stopped) -> LiveState:
    """`state` with the candidate out of every route, because the analysis said so."""
    return replace(
        state, candidate=None, canary_percent=0, shadow=0.0, problem=stopped.reason,
        stopped=stopped,
    )  # fmt: skip


class Live:
    """The state a worker answers with, and the thread that keeps it following git."""

    def __init__(self, settings: Settings, connect: Callable[[], Any] = registry.connect) -> None:
        self.settings = settings
        self.connect = connect
        self.state = LiveState(problem="not loaded yet")
        self._aborted: dict[tuple[int, str], Stopped] = {}  # candidates this worker stopped
        self._lock = threading.Lock()  # an abort and a refresh never interleave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="follow-git", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def abort(self, reason: str) -> None:
        """Stop routing to the candidate now, in this worker, and until git names another
        candidate (the rollout's analysis decided; a workflow records it in git)."""
        with self._lock:
            state = self.state
            if state.candidate is not None:
                when = datetime.now(UTC).isoformat()
                stopped = Stopped(state.candidate.version.number, reason, when)
                self._aborted[state.candidate.key] = stopped
                self.state = _stopped(state, stopped)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.serve.follow_seconds):
            self.refresh()

    def refresh(self) -> None:
        """Read the declaration and serve it, loading (and verifying) only what changed."""
        try:
            state = self._declared_state()
        except Exception as error:  # whatever failed, what is verified keeps serving
            reason = f"cannot follow {desired_state.DEPLOY_FILE}: {error}"
            self.state = replace(self.state, problem=reason)
            print(f"error: {reason}", file=sys.stderr)
            return
        with self._lock:  # an abort decided while the declaration was read still holds
            stopped = self._aborted.get(state.candidate.key) if state.candidate else None
            if stopped is not None:
                state = _stopped(state, stopped)
            self.state = state

    def _declared_state(self) -> LiveState:
        branch = self.settings.github.default_branch
        if self.settings.serve.fetch:
            git.run("fetch", "--quiet", "origin", branch)
        declared, source = desired_state.state_on(branch)
        stable_declared = declared.declared(registry.PRODUCTION) if declared else None
        if declared is None or stable_declared is None:
            return LiveState(problem=f"{source} declares no production version yet", source=source)
        current = self.state
        asked = _Registry(self.connect, self.settings.tracking.model_name)
        if not self._completes_rollout(stable_declared, current):
            _require_applied(asked, registry.PRODUCTION, stable_declared.version, source)
        stable = self._load(asked, stable_declared, source, current)
        standby = current.stable if current.stable and current.stable.key != stable.key else None
        state = LiveState(
            stable=stable, standby=standby or current.standby, source=source, problem=None
        )
        return self._with_rollout(state, declared, source, current, asked)

    def _with_rollout(
        self,
        state: LiveState,
        declared: DesiredState,
        source: str,
        current: LiveState,
        asked: _Registry,
    ) -> LiveState:
        rollout = declared.rollout
        if rollout is None:
            return state
        if rollout.aborted is not None:
            return replace(state, problem=f"rollout aborted: {rollout.aborted}")
        try:
            _require_applied(asked, registry.CANDIDATE, rollout.candidate.version, source)
            candidate = self._load(asked, rollout.candidate, source, current)
        except ProjectError as error:
            # A candidate that cannot be verified takes no traffic; production answers.
            return replace(state, problem=f"rollout candidate not served: {error}")
        return replace(
            state,
            candidate=candidate,
            canary_percent=rollout.weight,
            shadow=rollout.shadow,
            analysis=rollout.analysis,
        )

    @staticmethod
    def _completes_rollout(declared: Declared, current: LiveState) -> bool:
        """Production declared as the very bytes this worker serves to every request as the
        rollout's candidate (its last step): the rollout completed. Those bytes went through
        deploy's checks when they became the candidate, so they keep answering while deploy
        moves the production alias, rather than production's old version for a while."""
        candidate = current.candidate
        return (
            candidate is not None
            and current.canary_percent == 100
            and candidate.key == (declared.version, declared.sha256)
        )

    def _load(
        self, asked: _Registry, declared: Declared, source: str, current: LiveState
    ) -> Loaded:
        """The declared model: reused where this worker already verified those very bytes."""
        wanted = (declared.version, declared.sha256)
        for loaded in (current.stable, current.candidate, current.standby):
            if loaded is not None and loaded.key == wanted:
                return loaded
        found = production.load_declared(asked.client, asked.name, declared, source)
        # One thread per answer: the workers answer side by side, and XGBoost's threads
        # for a few rows would each wait for a core the other workers hold.
        found.model.set_params(n_jobs=1)
        columns = training.model_columns(found.model)
        return Loaded(found.version, declared.sha256, found.model, columns)


def _require_applied(asked: _Registry, alias: str, version: int, source: str) -> None:
    """A declaration is served once deploy applied it (its checks passed: both sign-offs,
    the digest, the gate, never an older version) and moved the registry's alias; until
    then the version that served keeps serving."""
    applied = asked.aliases.get(alias)
    if applied != version:
        raise ProjectError(
            f"{source} declares version {version}, but the registry's {alias} is "
            f"{applied or 'not set'}: deploy has not applied it (yet)"
        )
