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
from ..monitoring import inference_log
from ..settings import Settings
from . import analysis, metrics
from .live import Live


class Analyst:
    def __init__(self, live: Live, settings: Settings) -> None:
        self.live = live
        self.settings = settings
        self.last: analysis.Verdict | None = None
        self.aborted: tuple[float, str] | None = None  # when (monotonic) and why it aborted
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
            verdict = analysis.analyse(
                window, now, before, state.candidate.version.number, stable, state.analysis,
                self.settings.evaluate.decision_threshold, reference,
            )  # fmt: skip
            self.last, started, before = verdict, ended, now
            failures = failures + 1 if verdict.failed else 0
            if failures >= state.analysis.failure_limit:
                reason = f"analysis failed {failures} interval(s) in a row: {verdict.reason()}"
                self.live.abort(reason)
                self.aborted = (time.monotonic(), reason)
                print(f"rollout aborted: {reason}", file=sys.stderr)

    @staticmethod
    def _counts(version: int) -> analysis.Counts:
        content, _ = metrics.exposition()
        return analysis.counts(content.decode(), version)
