"""The rollout's analysis inside each worker: every interval it judges the candidate on what the
server measured, and after `failure_limit` failed intervals in a row it stops routing to the
candidate at once (a state swap: the next request already goes to production). Every worker
reads the same log and the same counters, so all of them decide alike."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime

import pandas as pd

from ..errors import ProjectError
from ..monitoring import inference_log, outcomes
from ..settings import Settings
from . import analysis, metrics
from .live import Live

# How often the outcome check is judged again: outcomes arrive by the day (make outcomes), and
# a judgement reads the store and draws bootstrap resamples, off the answers' path but not free.
OUTCOME_CHECK_SECONDS = 300.0


class Analyst:
    def __init__(self, live: Live, settings: Settings) -> None:
        self.live = live
        self.settings = settings
        self.last: analysis.Verdict | None = None
        self.aborted: tuple[float, str] | None = None  # when (monotonic) and why it aborted
        # The outcome check's last value: for which candidate, when (monotonic), what.
        self._outcomes: tuple[int, float, int | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-analysis", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        failures = 0
        judged: tuple[int, str, int] | None = None  # the candidate and its weight judged
        started, before = datetime.now(UTC), analysis.Counts()
        reference: pd.DataFrame | None = None  # production's latest answered rows
        while not self._stop.wait(0.2):
            state = self.live.state
            if state.candidate is None or state.stable is None or state.analysis is None:
                judged = None
                continue
            if (*state.candidate.key, state.canary_percent) != judged:
                # A new candidate or a new step: judged afresh from now on.
                judged, failures, self.last = (*state.candidate.key, state.canary_percent), 0, None
                started, before = datetime.now(UTC), self._counts(state.candidate.version.number)
                continue
            if (datetime.now(UTC) - started).total_seconds() < state.analysis.interval_seconds:
                continue
            ended, now = datetime.now(UTC), self._counts(state.candidate.version.number)
            try:
                window = inference_log.since(
                    self.settings.predict.log, started, analysis.ANALYSED_COLUMNS
                )
            except (OSError, ProjectError) as error:
                print(f"error: rollout analysis cannot read the log: {error}", file=sys.stderr)
                continue
            stable = state.stable.version.number
            answered = analysis.stable_rows(window, stable)
            if not answered.empty:  # what the candidate is compared with at 100% (it has all)
                reference = answered
            candidate = state.candidate.version.number
            verdict = analysis.analyse(
                window, now, before, candidate, stable, state.analysis,
                self.settings.evaluate.decision_threshold, reference,
                self._outcome_rules_broken(candidate) if state.analysis.outcomes else None,
            )  # fmt: skip
            self.last, started, before = verdict, ended, now
            failures = failures + 1 if verdict.failed else 0
            if failures >= state.analysis.failure_limit:
                reason = f"analysis failed {failures} interval(s) in a row: {verdict.reason()}"
                self.live.abort(reason)
                self.aborted = (time.monotonic(), reason)
                print(f"rollout aborted: {reason}", file=sys.stderr)

    def _outcome_rules_broken(self, candidate: int) -> int | None:
        """The outcome check for `candidate`, judged again every OUTCOME_CHECK_SECONDS."""
        last = self._outcomes
        if last and last[0] == candidate and time.monotonic() - last[1] < OUTCOME_CHECK_SECONDS:
            return last[2]
        try:
            broken = outcomes.candidate_rules_broken(
                self.settings, candidate, outcomes.registry_baselines(self.settings),
                datetime.now(UTC),
            )  # fmt: skip
        except Exception as error:
            # and the thread lives on: the other checks must still be able to abort.
            print(f"error: the rollout's outcome check is undecided: {error}", file=sys.stderr)
            broken = None
        self._outcomes = (candidate, time.monotonic(), broken)
        return broken

    @staticmethod
    def _counts(version: int) -> analysis.Counts:
        content, _ = metrics.exposition()
        return analysis.counts(content.decode(), version)
