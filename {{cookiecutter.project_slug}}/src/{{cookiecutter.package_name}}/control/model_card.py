"""The model card of a registered version: one record in the Model Card Toolkit's JSON shape
(schema 0.0.2: model details, model parameters, quantitative analysis, considerations), written
at registration as model_card.json, and the Markdown people read, rendered from that record.

The toolkit's schema has no field for a few things this project knows, so they go where the
schema lets them: the bytes' sha256 in the overview (what "this version" means here), what the
model relies on as performance metrics of type `mean_abs_contribution` sliced by column, and
each metric's bootstrap interval as `confidence_interval` (as the toolkit's own Python
PerformanceMetric carries it). The lineage stays where it is authoritative, on the registry
version (its tags), which the card names by URI (`models:/<name>/<version>`); the Markdown
shows those tags as its last table.
"""

from __future__ import annotations

from typing import Any

from ..vocabulary import (
    DATA_MD5,
    EVAL_MD5,
    GIT_SHA,
    MODEL_SHA256,
    OWNER_MODEL,
    OWNER_RISK,
    TRAIN_MD5,
)
from .gate_result import GateResult, Risk
from .report import MISSING, code, importance_caption, text

SCHEMA_VERSION = "0.0.2"
IMPORTANCE = "mean_abs_contribution"  # the metric type that carries what the model relies on
OWNER_ROLES = {"model owner": OWNER_MODEL, "risk approver": OWNER_RISK}


def _metrics(gate: GateResult) -> list[dict[str, Any]]:
    """The evaluation split's figures, each with its interval where the gate measured one."""
    challenger = gate.challenger
    if challenger is None:
        return []
    found = []
    for name, value in challenger.metrics.items():
        metric: dict[str, Any] = {"type": name, "value": value}
        interval = challenger.intervals.get(name)
        if interval is not None:
            metric["confidence_interval"] = {
                "lower_bound": interval.low, "upper_bound": interval.high,
                "confidence": interval.confidence, "resamples": interval.resamples,
            }  # fmt: skip
        found.append(metric)
    return found


def _slices(risk: Risk | None) -> list[dict[str, Any]]:
    """Per group of the sensitive column: its selection and true positive rates; over them,
    disparate impact and the equal-opportunity difference."""
    if risk is None or not risk.enabled:
        return []
    found = []
    for group, rates in risk.groups.items():
        where = f"{risk.column}={group}"
        found.append({"type": "selection_rate", "value": rates.selection_rate, "slice": where})
        if rates.true_positive_rate is not None:
            found.append(
                {"type": "true_positive_rate", "value": rates.true_positive_rate, "slice": where}
            )
    for name in ("disparate_impact", "equal_opportunity_difference"):
        value = getattr(risk, name)
        if value is not None:
            found.append({"type": name, "value": value, "slice": risk.column})
    return found


def record(
    version: dict[str, Any],
    gate: GateResult,
    description: str,
    features: list[str],
    target: str,
    excluded: list[str],
) -> dict[str, Any]:
    """The card of one registered version (`version`: registry.Version.as_dict())."""
    tags, name, number = version["tags"], version["name"], version["version"]
    challenger, risk = gate.challenger, gate.risk
    importance = challenger.importance if challenger else {}
    rows = challenger.importance_rows if challenger else 0
    evaluation = f"md5 {tags.get(EVAL_MD5, MISSING)}, frozen"
    if gate.eval is not None:
        evaluation += f"; {gate.eval.rows} rows"
    sensitive = {"sensitive": {"sensitive_data": [risk.column]}} if risk and risk.enabled else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": name,
            "overview": (
                f"Version {number}: the model whose bytes have sha256 "
                f"{tags.get(MODEL_SHA256, MISSING)}, registered under gate verdict {gate.verdict}."
            ),
            "documentation": description,
            "owners": [
                {"name": tags.get(tag, MISSING), "contact": role}
                for role, tag in OWNER_ROLES.items()
            ],
            "version": {"name": str(number), "diff": f"commit {tags.get(GIT_SHA, MISSING)}"},
            "references": [{"reference": f"models:/{name}/{number}"}],
        },
        "model_parameters": {
            "model_architecture": "XGBoost gradient-boosted trees, binary classification",
            "data": [
                {"name": "training data", "description": f"md5 {tags.get(DATA_MD5, MISSING)}"},
                {"name": "train split", "description": f"md5 {tags.get(TRAIN_MD5, MISSING)}"},
                {"name": "evaluation split", "description": evaluation, **sensitive},
            ],
            "input_format": f"columns: {', '.join(features)}; not used: "
            f"{', '.join(excluded) or 'none'}",
            "output_format": f"the probability that {target} is the positive class, and the "
            "class at the decision threshold",
        },
        "quantitative_analysis": {
            "performance_metrics": [
                *_metrics(gate),
                *_slices(risk),
                *[
                    {"type": IMPORTANCE, "value": value, "slice": f"column={column}"}
                    for column, value in importance.items()
                ],
            ],
            "graphics": {"description": importance_caption(rows, "largest first") if rows else ""},
        },
        "considerations": {
            "ethical_considerations": _risk_considered(risk),
            "limitations": [
                {
                    "description": "Measured on the frozen evaluation split; how it does on "
                    "live decisions is judged per window once outcomes are known "
                    "(make outcomes)."
                }
            ],
        },
    }


def _risk_considered(risk: Risk | None) -> list[dict[str, str]]:
    if risk is None or not risk.enabled:
        return [{"name": "The risk gate is off (no sensitive column)", "mitigation_strategy": ""}]
    verdict = "passed" if risk.passed else "failed"
    measured = ", ".join(
        f"{label} {MISSING if value is None else f'{value:.3f}'}"
        for label, value in (
            ("disparate impact", risk.disparate_impact),
            ("equal-opportunity difference", risk.equal_opportunity_difference),
        )
    )
    return [
        {
            "name": f"Sensitive column {risk.column}: {measured}; {verdict} the risk gate",
            "mitigation_strategy": "A version beyond the limits of params.yaml's fairness "
            "section is not registered; the risk approver signs production off.",
        }
    ]


def _of_type(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    metrics = card["quantitative_analysis"]["performance_metrics"]
    return [metric for metric in metrics if metric["type"] == kind]


def _metric_rows(card: dict[str, Any]) -> list[str]:
    rows = []
    for metric in card["quantitative_analysis"]["performance_metrics"]:
        if "slice" in metric:
            continue
        bounds = metric.get("confidence_interval")
        shown = f"{bounds['lower_bound']:.4f} to {bounds['upper_bound']:.4f}" if bounds else MISSING
        rows.append(f"| {text(metric['type'])} | {metric['value']:.4f} | {shown} |")
    return rows


def _group_rows(card: dict[str, Any]) -> list[str]:
    rows = []
    for kind in ("selection_rate", "true_positive_rate"):
        for metric in _of_type(card, kind):
            rows.append(f"| {text(metric['slice'])} | {kind} | {metric['value']:.3f} |")
    for kind in ("disparate_impact", "equal_opportunity_difference"):
        for metric in _of_type(card, kind):
            rows.append(f"| {text(metric['slice'])} | {kind} | {metric['value']:.3f} |")
    return rows


def render(card: dict[str, Any], tags: dict[str, str]) -> str:
    """The Markdown of `card`, and the version's lineage tags as its last table."""
    details, parameters = card["model_details"], card["model_parameters"]
    owners = {owner["contact"]: owner["name"] for owner in details["owners"]}
    importance = _of_type(card, IMPORTANCE)
    lines = [
        f"# Model card: {text(details['name'])} version {text(details['version']['name'])}",
        "",
        text(details["overview"]),
        "",
        "## Intended use",
        "",
        text(details["documentation"]),
        "",
        f"Owner: @{text(owners.get('model owner', MISSING))}. "
        f"Risk approver: @{text(owners.get('risk approver', MISSING))}.",
        "",
        "## Data",
        "",
        *[f"- {text(data['name'])}: {text(data['description'])}." for data in parameters["data"]],
        f"- Input: {text(parameters['input_format'])}.",
        f"- Output: {text(parameters['output_format'])}.",
        "",
        "## Metrics on the evaluation split",
        "",
        "| metric | value | bootstrap interval |",
        "|---|---:|---|",
        *_metric_rows(card),
        "",
        "## What it relies on",
        "",
    ]
    if importance:
        lines += [
            text(card["quantitative_analysis"]["graphics"]["description"]) + ":",
            "",
            "| column | importance |",
            "|---|---:|",
            *[
                f"| {text(m['slice'].removeprefix('column='))} | {m['value']:.4f} |"
                for m in importance
            ],
        ]
    else:
        lines.append("Not measured: the gate that passed this version predates explanations.")
    lines += ["", "## Risk", ""]
    lines += [text(risk["name"]) + "." for risk in card["considerations"]["ethical_considerations"]]
    groups = _group_rows(card)
    if groups:
        lines += ["", "| slice | measure | value |", "|---|---|---:|", *groups]
    lines += ["", "## Lineage", "", "| tag | value |", "|---|---|"]
    lines += [f"| {code(key)} | {code(value)} |" for key, value in sorted(tags.items())]
    return "\n".join(lines) + "\n"
