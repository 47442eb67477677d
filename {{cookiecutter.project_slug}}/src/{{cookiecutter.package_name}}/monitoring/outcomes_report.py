"""What `make outcomes` tells people: the windows of each version as a table (printed, and
Markdown for the issue and the job summary), as JSON (`outcomes.report`) and as charts
(`outcomes.html`, outcomes_page.py), and the alerts."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..control.gate_result import Interval
from ..settings import OUTCOME_METRICS, Settings
from . import outcome_store, outcomes_page
from .outcomes import Judgement, Window

NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1", "brier": "Brier"}


def alerts(judged: list[Judgement], settings: Settings) -> list[str]:
    """One line per alert: a performance alert (retraining) or a fairness alert (for the
    risk approver), each naming the version and the latest window's breaches."""
    rules = settings.outcomes
    rule = (
        f"in {rules.alert_after} of the last {rules.of_last} counted windows, the latest among them"
    )
    lines = []
    for judgement in judged:
        counted = [w for w in judgement.windows if w.counted]
        if judgement.performance_alert:
            lines.append(
                f"performance: version {judgement.version} is worse than at its evaluation "
                f"{rule} ({'; '.join(counted[-1].breaches)})"
            )
        if judgement.fairness_alert:
            lines.append(
                f"fairness: version {judgement.version} breaks the risk limits {rule} "
                f"({'; '.join(counted[-1].fairness_breaches)}): for "
                f"@{settings.tracking.risk_approver}"
            )
    return lines


def stored_lines(
    stored: outcome_store.Stored, source: Path, pruned: list[date], settings: Settings
) -> list[str]:
    """What storing an outcome file did, for people."""
    rules = settings.outcomes
    lines = [
        f"Stored {stored.kept} of {stored.rows} outcome rows of {source}, for "
        f"{stored.decisions} decisions, in {rules.store}."
    ]
    if stored.repeated:
        lines.append(f"{stored.repeated} rows gave an outcome again and were kept once.")
    if len(stored.rejected):
        reasons = stored.rejected[outcome_store.REASON].value_counts()
        said = "; ".join(f"{reason}: {count}" for reason, count in reasons.items())
        lines.append(f"Set aside {len(stored.rejected)} rows in {rules.rejected} ({said}).")
    if pruned:
        lines.append(
            f"Deleted {len(pruned)} days of decisions older than {rules.retention_days} days."
        )
    return lines


def _figure(interval: Interval | None) -> str:
    if interval is None:
        return "n/a"
    return f"{interval.estimate:.3f} ({interval.low:.3f}-{interval.high:.3f})"


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _verdict(window: Window, settings: Settings) -> str:
    rules = settings.outcomes
    if not window.closed:
        return "open"
    if not window.counted:
        why = window.notes or [
            f"coverage {window.coverage:.0%}, {window.outcomes} outcomes "
            f"(counts from {rules.min_coverage:.0%} and {rules.min_outcomes})"
        ]
        return "not counted: " + "; ".join(why)
    found = window.breaches + window.fairness_breaches
    return "breaks: " + "; ".join(found) if found else "holds"


def _row(window: Window, settings: Settings) -> str:
    fair = window.fairness
    cells = [
        f"{window.start:%Y-%m-%d}",
        str(window.decisions),
        str(window.outcomes),
        f"{window.coverage:.0%}",
        _number(window.delay_days, 1),
        *[_figure(window.realised.get(metric)) for metric in OUTCOME_METRICS],
        _number(window.calibration_error),
        " / ".join(_number(window.expected.get(m)) for m in ("roc_auc", "f1")),
        _number(fair.disparate_impact if fair else None),
        _number(fair.equal_opportunity_difference if fair else None),
        _verdict(window, settings),
    ]
    return "| " + " | ".join(cells) + " |"


def version_table(judgement: Judgement, settings: Settings) -> list[str]:
    role = "answering" if judgement.answering else "no longer answering, shown for its history"
    base = ", ".join(
        f"{NAMES[m]} {judgement.baseline[m]:.3f}"
        for m in OUTCOME_METRICS
        if m in judgement.baseline
    )
    header = [
        f"{settings.outcomes.window} window from", "decisions", "outcomes", "coverage",
        "delay (days)", *[f"{NAMES[m]} ({settings.gate.confidence:.0%})" for m in OUTCOME_METRICS],
        "calibration error", "expected ROC AUC / F1", "disparate impact",
        "equal-opportunity diff.", "verdict",
    ]  # fmt: skip
    return [
        f"### Version {judgement.version} ({role})",
        "",
        f"At its evaluation: {base or 'not known'}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *[_row(window, settings) for window in judgement.windows],
        "",
    ]


def summary(judged: list[Judgement], stored: list[str], settings: Settings) -> str:
    name = settings.tracking.model_name
    found = alerts(judged, settings)
    lines = [f"## Outcomes of {name}", "", *stored, *([""] if stored else [])]
    if not judged:
        lines.append("No outcomes stored yet: `make outcomes LABELS=outcomes.csv`.")
        return "\n".join(lines) + "\n"
    lines += [f"**Alert**: {line}" for line in found] or ["No alert: every rule holds."]
    lines += [
        "",
        "Figures on the decisions whose outcomes are known, with their bootstrap interval; the "
        "expected figures are estimated from the scores of every decision (CBPE), before any "
        "outcome is known.",
        "",
    ]
    for judgement in judged:
        lines += version_table(judgement, settings)
    return "\n".join(lines)


def as_dict(judged: list[Judgement], settings: Settings, now: datetime) -> dict[str, Any]:
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "model_name": settings.tracking.model_name,
        "rules": settings.outcomes.model_dump(mode="json"),
        "alerts": alerts(judged, settings),
        "versions": [
            {**asdict(j), "windows": [{**asdict(w), "coverage": w.coverage} for w in j.windows]}
            for j in judged
        ],
    }


def write(judged: list[Judgement], text: str, settings: Settings, now: datetime) -> None:
    """outcomes.report (JSON), outcomes.summary (the Markdown) and outcomes.html (the page)."""
    rules = settings.outcomes
    for path in (rules.report, rules.summary, rules.html):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    report = json.dumps(as_dict(judged, settings, now), indent=2, default=str)
    rules.report.write_text(report + "\n", encoding="utf-8")
    rules.summary.write_text(text, encoding="utf-8")
    html = outcomes_page.page(judged, alerts(judged, settings), settings)
    rules.html.write_text(html, encoding="utf-8")
