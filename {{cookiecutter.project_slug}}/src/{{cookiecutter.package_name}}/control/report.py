"""Markdown for people: the gate report (PR comment and job summary), and the helpers that make
a value from data inert in Markdown (the model card uses them too).

It is built from files the pipeline already wrote (gate.json, the validation report,
params.yaml), so what a reviewer reads is exactly what the gate decided on. Every value that
comes from data, params or tags goes in through `text`: it cannot forge a table cell, a link,
an image, HTML or a mention.
"""

from __future__ import annotations

import re
from typing import Any

from .. import git, yaml_files
from ..settings import LOWER_IS_BETTER, METRIC_NAMES
from ..vocabulary import (
    GATE_REPORT_MARKER,
)
from .gate_result import GateResult

# A hidden line that lets the workflow find and update its own comment instead of adding one.

MISSING = "n/a"
HEADLINES = {
    "pass": "✅ Gate passed",
    "overridden": "⚠️ Gate overridden: performance checks failed, merge allowed by override",
    "fail": "❌ Gate failed",
    "error": "⛔ Gate could not decide, so it fails",
}


# What could start a table cell, link, image, HTML tag, code span, emphasis or issue link.
MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>#!|~])")
WORD_JOINER = "\u2060"  # between @ and a name: shown as "@name", never a mention


def text(value: object) -> str:
    """A value from data, params or tags as inert Markdown: on one line, with every character
    that Markdown or HTML would read as syntax escaped, no @mention and no bare link."""
    line = MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    # GitHub links bare addresses by themselves: a joiner inside `://` and `www.` stops it.
    for pattern in ("@", "://", "www."):
        line = line.replace(pattern, pattern[0] + WORD_JOINER + pattern[1:])
    return line


def code(value: object) -> str:
    """A name or value (a column, a parameter, a tag) as a code span, where nothing is syntax;
    one that holds a backtick or a line break goes in as escaped text instead."""
    raw = str(value)
    if "`" in raw or "\n" in raw or "\r" in raw:
        return text(raw)
    return "`" + raw.replace("|", "\\|") + "`"


def _number(value: Any, digits: int = 4) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _signed(value: Any) -> str:
    return MISSING if value is None else f"{value:+.4f}"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"train": {"seed": 1}} -> {"train.seed": 1}"""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def params_changes(current: Any, base: Any) -> list[tuple[str, Any, Any]]:
    """Every parameter whose value differs from the base, as (key, base, current)."""
    now, before = flatten(current), flatten(base)
    keys = sorted(set(now) | set(before))
    return [(key, before.get(key), now.get(key)) for key in keys if now.get(key) != before.get(key)]


def base_params(ref: str, path: str = "params.yaml") -> Any | None:
    """params.yaml as it is at a git ref, or None when the ref is unknown (a shallow clone)."""
    text = git.show(ref, path)
    return None if text is None else yaml_files.load(text)


def _verdict_section(gate: GateResult) -> list[str]:
    lines = [f"## {HEADLINES[gate.verdict]}", ""]
    if gate.first_model:
        lines.append("First model for this name: judged on absolute thresholds only.")
    if gate.declared_version is not None:
        lines.append(
            f"This change declares version {gate.declared_version} for production: judged on "
            "its bytes (against the sha256 declared here) and its recorded gate verdict, "
            "not on a retrain."
        )
    if gate.challenger is not None and gate.challenger.columns:
        learned = gate.challenger.columns
        lines.append(
            f"This model learned from {len(learned)} columns: "
            f"{', '.join(code(name) for name in learned)}."
        )
    if gate.champion_columns_from_its_data:
        lines.append(
            "The champion takes columns the data no longer has ("
            f"{', '.join(code(name) for name in gate.champion_columns_from_its_data)}): it was "
            "scored with their values from its own evaluation split, row by row by the key."
        )
    if gate.key_changed_from is not None:
        lines.append(
            "The row key changed since the champion was trained, from "
            f"{', '.join(code(name) for name in gate.key_changed_from)}: evaluation rows moved."
        )
    lines += [f"- ⛔ {text(error)}" for error in gate.errors]
    lines += [f"- ❌ risk: {text(problem)}" for problem in gate.risk_problems]
    mark = "⚠️" if gate.verdict == "overridden" else "❌"
    lines += [f"- {mark} {text(problem)}" for problem in gate.performance_problems]
    pull = gate.pull_request
    if gate.override.applied:
        lines.append(f"- Override applied by @{gate.override.requested_by}.")
        if pull and pull.override_refused:
            refused = "; ".join(text(reason) for reason in pull.override_refused)
            lines.append(f"- Override label also applied, not counted: {refused}.")
    if pull and pull.problem:
        lines.append(f"- ⚠️ {text(pull.problem)}")
    return [*lines, ""]


def _comparison_section(gate: GateResult) -> list[str]:
    if gate.challenger is None or not gate.challenger.metrics:
        return []
    challenger = gate.challenger.metrics
    champion = gate.champion.metrics if gate.champion else {}
    version = gate.champion.version if gate.champion else None
    lines = [
        "### Champion vs challenger",
        "",
        f"| metric | champion{f' (v{version})' if version else ''} | challenger | Δ |",
        "|---|---:|---:|---:|",
    ]
    for name in METRIC_NAMES:
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        marker = " **(primary)**" if name == gate.primary_metric else ""
        lines.append(
            f"| {name}{arrow}{marker} | {_number(champion.get(name))} | "
            f"{_number(challenger.get(name))} | {_signed(gate.deltas.get(name))} |"
        )
    interval = gate.interval
    if interval:
        lines += [
            "",
            f"Improvement in {gate.primary_metric}: {interval.estimate:+.4f}, "
            f"{interval.confidence:.0%} paired-bootstrap interval {interval.low:+.4f} to "
            f"{interval.high:+.4f} ({interval.resamples} resamples); rule: "
            f"{gate.rule.replace('_', '-')} with margin {gate.margin:g}.",
        ]
    lines += ["", *_chart(champion, challenger), ""]
    return lines


def _chart(champion: dict[str, float], challenger: dict[str, float]) -> list[str]:
    """A bar chart GitHub renders natively (mermaid); metrics on a 0-1 scale only."""
    names = [name for name in METRIC_NAMES if name != "log_loss"]
    series = [("challenger", challenger)] + ([("champion", champion)] if champion else [])
    lines = [
        "```mermaid",
        "xychart-beta",
        '    title "Champion (line) vs challenger (bars)"',
        f"    x-axis [{', '.join(names)}]",
        '    y-axis "score" 0 --> 1',
    ]
    for kind, (_, values) in zip(("bar", "line"), series, strict=False):
        lines.append(f"    {kind} [{', '.join(f'{values[n]:.4f}' for n in names)}]")
    return [*lines, "```"]


def importance_caption(rows: int, order: str) -> str:
    return (
        f"Mean absolute contribution to the log-odds (TreeSHAP) on {rows} evaluation rows "
        f"spread over the split, {order}"
    )


def _importance_section(gate: GateResult) -> list[str]:
    """What each model relies on, side by side, in the challenger's order."""
    challenger = gate.challenger.importance if gate.challenger else {}
    if not challenger:
        return []
    champion = gate.champion.importance if gate.champion else {}
    names = [*challenger, *(name for name in champion if name not in challenger)]
    rows = gate.challenger.importance_rows if gate.challenger else 0
    lines = [
        "### What each model relies on",
        "",
        importance_caption(rows, f"in the challenger's order; {MISSING} where a model does not ")
        + "take the column.",
        "",
        "| column | champion | challenger |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {text(name)} | {_number(champion.get(name))} | {_number(challenger.get(name))} |"
        for name in names
    ]
    return [*lines, ""]


def _risk_section(gate: GateResult) -> list[str]:
    risk = gate.risk
    if risk is None:
        return ["### Risk gate", "", "Not assessed: the gate stopped before it (see above).", ""]
    if not risk.enabled:
        return ["### Risk gate", "", "Off: no sensitive column is set in params.yaml.", ""]
    thresholds = gate.fairness_thresholds
    lines = [
        f"### Risk gate: {'✅ passed' if risk.passed else '❌ failed'} "
        f"(column {code(risk.column)})",
        "",
        "| group | rows | share | selection rate | true positive rate |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, group in sorted(risk.groups.items()):
        lines.append(
            f"| {text(name)} | {group.size} | {group.share:.1%} | "
            f"{_number(group.selection_rate, 3)} | {_number(group.true_positive_rate, 3)} |"
        )
    counted = sum(group.size for group in risk.groups.values())
    lines += [
        "",
        f"{counted} of the {risk.rows} evaluation rows are in a group"
        + (f"; {risk.missing} have no value." if risk.missing else "."),
        "",
        f"Disparate impact {_number(risk.disparate_impact, 3)} "
        f"(at least {thresholds.get('min_disparate_impact', MISSING)}); equal-opportunity "
        f"difference {_number(risk.equal_opportunity_difference, 3)} "
        f"(at most {thresholds.get('max_equal_opportunity_difference', MISSING)}).",
        "",
    ]
    return lines


def _validation_section(validation: dict[str, Any] | None) -> list[str]:
    if validation is None:
        return ["### Data validation", "", "No validation report was found.", ""]
    state = "✅ passed" if validation.get("passed") else "❌ failed"
    lines = [
        f"### Data validation: {state}",
        "",
        f"{validation.get('rows')} rows checked against {validation.get('expectations')} "
        "expectations of the data contract.",
    ]
    lines += [f"- {text(problem)}" for problem in validation.get("problems", [])]
    return [*lines, ""]


def _params_section(changes: list[tuple[str, Any, Any]] | None, base: str) -> list[str]:
    lines = [f"### Parameters changed against `{base}`", ""]
    if changes is None:
        return [
            *lines,
            f"`{base}` is not a git ref here (set BASE_REF=<branch or commit> to compare with; "
            "a CI checkout needs fetch-depth: 0).",
            "",
        ]
    if not changes:
        return [*lines, "None.", ""]
    lines += ["| parameter | base | this change |", "|---|---|---|"]
    lines += [f"| {code(key)} | {code(old)} | {code(new)} |" for key, old, new in changes]
    return [*lines, ""]


def render_report(
    gate: GateResult,
    validation: dict[str, Any] | None,
    changes: list[tuple[str, Any, Any]] | None,
    base: str,
) -> str:
    """The whole report: verdict first, then the evidence."""
    challenger = gate.challenger
    footer = (
        f"<sub>Evaluation split `{gate.eval.md5 if gate.eval else '?'}` · challenger run "
        f"`{challenger.run_id if challenger else '?'}` · commit "
        f"`{(challenger.git_sha if challenger else None) or '?'}` · model sha256 "
        f"`{(challenger.model_sha256 if challenger else '')[:16] or '?'}`</sub>"
    )
    sections = [
        [GATE_REPORT_MARKER],
        _verdict_section(gate),
        _comparison_section(gate),
        _importance_section(gate),
        _risk_section(gate),
        _validation_section(validation),
        _params_section(changes, base),
        [footer],
    ]
    return "\n".join(line for section in sections for line in section) + "\n"
