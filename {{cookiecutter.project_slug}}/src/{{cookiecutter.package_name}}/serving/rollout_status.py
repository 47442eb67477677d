"""`make rollout-status`: the rollout as git declares it, and the same analysis the server runs,
over the last interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..control import desired_state, registry
from ..errors import ProjectError
from ..monitoring import inference_log, outcomes
from ..settings import Settings
from . import analysis

REFERENCE_INTERVALS = 10  # how far back production's scores are looked for, in intervals


def report(settings: Settings, server: str) -> tuple[list[str], bool]:
    """What to print, and whether a check failed."""
    state, source = desired_state.state_on(settings.github.default_branch)
    production = state.declared(registry.PRODUCTION) if state else None
    rollout = state.rollout if state else None
    if production is None or rollout is None:
        return [f"{source} declares no rollout: production serves all requests"], False
    candidate = rollout.candidate.version
    where = (
        "shadow only" if rollout.step < 0 else f"step {rollout.step + 1} of {len(rollout.steps)}"
    )
    lines = [
        f"{source}: version {candidate} rolling out beside production version "
        f"{production.version}: {where}, {rollout.weight}% of answers, shadow {rollout.shadow:.0%}",
    ]
    if rollout.aborted:
        return [*lines, f"aborted: {rollout.aborted}"], False
    if rollout.analysis is None:
        return [*lines, "no analysis declared: the rollout moves only by hand"], False
    view, metrics_text = ask_server(server)
    stopped = view["candidate"] is None and "analysis failed" in (view["problem"] or "")
    if view["candidate"] is not None:
        lines.append(f"server: version {view['candidate']} answers {view['canary_percent']}%")
    else:
        lines.append(f"server: {view['problem'] or 'production answers every request'}")
    window, before = last_interval(
        settings.predict.log, rollout.analysis.interval_seconds, datetime.now(UTC)
    )
    broken = None
    if rollout.analysis.outcomes:
        baselines = outcomes.registry_baselines(settings)
        try:
            broken = outcomes.candidate_rules_broken(
                settings, candidate, baselines, datetime.now(UTC)
            )
        except ProjectError as error:  # undecided, as the server's analysis has it
            lines.append(f"outcome check undecided: {error}")
    verdict = analysis.analyse(
        window, analysis.counts(metrics_text, candidate), analysis.Counts(), candidate,
        production.version, rollout.analysis, settings.evaluate.decision_threshold, before,
        broken,
    )  # fmt: skip
    lines.append(
        f"last {rollout.analysis.interval_seconds:g} s: {verdict.candidate_rows} candidate rows "
        "(error rate over the server's life):"
    )
    lines += [f"  {check}" for check in verdict.checks]
    return lines, stopped or bool(verdict.failed)


def last_interval(log: Path, seconds: float, now: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The inference log's rows of the last `seconds` before `now`, and of the
    REFERENCE_INTERVALS as long before them: where the candidate answers every request, the
    server judges its scores against production's latest, and so does this."""
    since = now - timedelta(seconds=seconds)
    earliest = since - timedelta(seconds=seconds * REFERENCE_INTERVALS)
    rows = inference_log.since(log, earliest, analysis.ANALYSED_COLUMNS)
    written = pd.to_datetime(rows["timestamp"], utc=True, format="ISO8601")
    recent = (written >= pd.Timestamp(since)).to_numpy()
    return rows[recent], rows[~recent]


def ask_server(url: str) -> tuple[dict[str, Any], str]:
    """One worker's view of the rollout, and the counters of all of them."""
    try:
        view = httpx.get(f"{url}/rollout", timeout=10).raise_for_status().json()
        metrics_text = httpx.get(f"{url}/metrics", timeout=10).raise_for_status().text
    except httpx.HTTPError as error:
        raise ProjectError(f"cannot ask the model server at {url}: {error}") from None
    return view, metrics_text
