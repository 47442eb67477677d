"""What the drift check says, in every form it is read: drift.json, the Markdown summary (job
summary and the one issue, found again by its hidden marker) and the few words of its reason.
A check that could not decide says so in the same files, never as a verdict."""

from __future__ import annotations

import json
from typing import Any

from ..control.report import text
from ..pipeline.tracking import without_secrets
from ..settings import DriftSettings
from ..vocabulary import DRIFT_REPORT_MARKER


def summary(result: dict[str, Any]) -> str:
    """Markdown for the issue and the job summary: verdict first, then every column."""
    if result.get("error"):
        return f"## ⛔ Drift check could not decide\n\n- {text(result['error'])}\n"
    verdict = "drift detected" if result["drift"] else "no drift"
    if result["invalid"]:
        verdict += f"; {result['invalid_share']:.0%} of rows break the data contract"
    headline = f"## {'⚠️' if result['alert'] else '✅'} {verdict}"
    lines = [
        f"{headline}{' (model stale: retrain)' if result['stale'] and not result['drift'] else ''}",
        "",
        f"Batch `{result['current']['path']}` ({result['current']['rows']} rows) against the "
        f"{result['reference']['rows']} evaluation rows of the data "
        f"{result['model']['name']} version {result['model']['version']} was trained and "
        f"evaluated on (md5 `{result['reference']['md5']}`).",
        f"Drifted columns: {', '.join(map(text, result['drifted_columns'])) or 'none'} "
        f"({result['drifted_share']:.0%}; drift from {result['thresholds']['drifted_share']:.0%}"
        + (
            f"; beyond the critical value: {', '.join(map(text, result['critical_columns']))}"
            if result["critical_columns"]
            else ""
        )
        + f"). Model age: {result['model_age_days']} days.",
        f"Scores: {result['scores']['served']} as served (inference log), "
        f"{result['scores']['scored_now']} scored now.",
        "",
        "| column | method | value | threshold | drifted |",
        "|---|---|---:|---:|---|",
    ]
    for name, column in result["columns"].items():
        mark = "❌" if column["drifted"] else "✅"
        lines.append(
            f"| {text(name)} | {column['method']} | {column['value']:.4f} "
            f"| {column['threshold']:g} | {mark} |"
        )
    quality = "; ".join(map(text, result["quality"])) or "no problems"
    lines += ["", f"Data quality: {quality}."]
    return "\n".join(lines) + "\n"


def reason(result: dict[str, Any]) -> str:
    """Why the check raised an alert, in a few words (the retraining PR's title says it)."""
    reasons = []
    if result.get("drift") and result.get("drifted_columns"):
        reasons.append(f"drift in {', '.join(result['drifted_columns'])}")
    if result.get("prediction_drifted"):
        reasons.append("prediction drift")
    if result.get("stale"):
        reasons.append(f"model older than {result['thresholds']['max_staleness_days']} days")
    if result.get("invalid"):
        reasons.append(f"{result['invalid_share']:.0%} of rows break the data contract")
    return "; ".join(reasons) or "no drift"


def issue_body(summary_text: str) -> str:
    return f"{DRIFT_REPORT_MARKER}\n{summary_text}"


def write_outputs(result: dict[str, Any], snapshot: Any, settings: DriftSettings) -> None:
    settings.report.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    settings.report.write_text(text, encoding="utf-8")
    settings.summary.write_text(summary(result), encoding="utf-8")
    if snapshot is not None:
        snapshot.save_html(str(settings.html))


def write_undecided(error: Exception, settings: DriftSettings) -> str:
    """drift.json and the summary for a check that could not decide: the reason (credentials
    kept out: the files are for people), no verdict. Returns the summary."""
    reason = without_secrets(str(error))
    write_outputs({"error": reason, "retrain": False, "alert": False}, None, settings)
    return summary({"error": reason})
