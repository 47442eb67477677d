"""The gate report and the model card, built from hand-made gate results: the verdict comes
first, every reason is listed, and the evidence below it is the gate's own numbers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.control.gate_result import GateResult, GateResultError
from {{ cookiecutter.package_name }}.control.report import (
    HEADLINES,
    base_params,
    flatten,
    params_changes,
    render_report,
)
from {{ cookiecutter.package_name }}.pipeline.evaluation import METRIC_NAMES
from {{ cookiecutter.package_name }}.vocabulary import GATE_REPORT_MARKER as MARKER

CHALLENGER = {
    "roc_auc": 0.781,
    "pr_auc": 0.552,
    "f1": 0.471,
    "precision": 0.652,
    "recall": 0.369,
    "log_loss": 0.432,
    "brier": 0.135,
}
CHAMPION = {
    "roc_auc": 0.769,
    "pr_auc": 0.557,
    "f1": 0.471,
    "precision": 0.640,
    "recall": 0.370,
    "log_loss": 0.440,
    "brier": 0.131,
}
TABLE_HEADING = "### Champion vs challenger"


def passing_gate() -> dict[str, Any]:
    """A complete gate.json of a challenger that passed against champion version 3."""
    return {
        "model_name": "credit-default",
        "verdict": "pass",
        "passed": True,
        "first_model": False,
        "errors": [],
        "performance_problems": [],
        "risk": {
            "enabled": True,
            "column": "gender",
            "rows": 1000,
            "groups": {
                "male": {
                    "size": 412,
                    "share": 0.412,
                    "positives": 95,
                    "selection_rate": 0.1214,
                    "true_positive_rate": 0.3579,
                },
                "female": {
                    "size": 588,
                    "share": 0.588,
                    "positives": 126,
                    "selection_rate": 0.1327,
                    "true_positive_rate": 0.3810,
                },
            },
            "disparate_impact": 0.9148,
            "equal_opportunity_difference": 0.0231,
            "problems": [],
            "passed": True,
        },
        "fairness_thresholds": {
            "sensitive_column": "gender",
            "min_disparate_impact": 0.8,
            "max_equal_opportunity_difference": 0.1,
            "min_group_size": 30,
        },
        "challenger": {
            "metrics": dict(CHALLENGER),
            "run_id": "run0123456789",
            "git_sha": "a1b2c3d4",
            "eval_md5": "0f0f0f0f",
            "latency_ms_per_row": 0.002,
            "importance": {"pay_0": 0.61, "limit_bal": 0.22, "age": 0.05},
            "importance_rows": 1000,
            "model_mb": 0.4,
        },
        "champion": {
            "version": 3,
            "metrics": dict(CHAMPION),
            "run_id": "run9876543210",
            "git_sha": "e5f6a7b8",
            "eval_md5": "0f0f0f0f",
            "trained_with_eval_md5": "0f0f0f0f",
            "latency_ms_per_row": 0.002,
            "importance": {"pay_0": 0.58, "gender": 0.02, "limit_bal": 0.25},
            "importance_rows": 1000,
            "model_mb": 0.4,
        },
        "deltas": {name: round(CHALLENGER[name] - CHAMPION[name], 6) for name in CHALLENGER},
        "interval": {
            "estimate": 0.012,
            "low": -0.0031,
            "high": 0.0274,
            "confidence": 0.95,
            "resamples": 1000,
        },
        "primary_metric": "roc_auc",
        "thresholds": {},
        "rule": "non_inferiority",
        "margin": 0.01,
        "override": {"requested_by": None, "applied": False},
        "eval": {"md5": "0f0f0f0f", "path": "data/split/eval.csv", "rows": 1000},
    }


def first_model_gate() -> dict[str, Any]:
    """A passing gate.json with nothing registered yet: no champion, no deltas, no interval."""
    gate = passing_gate()
    gate.update(first_model=True, champion=None, deltas={}, interval=None)
    return gate


def render(
    gate: dict[str, Any],
    validation: dict[str, Any] | None = None,
    changes: list[tuple[str, Any, Any]] | None = None,
) -> str:
    typed = GateResult.model_validate(gate)
    return render_report(typed, validation, [] if changes is None else changes, "origin/main")


def table_rows(text: str) -> dict[str, list[str]]:
    """The comparison table as {metric cell: [champion, challenger, delta]}."""
    lines = text.splitlines()
    start = lines.index(TABLE_HEADING) + 4  # heading, blank, header row, alignment row
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def mermaid_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("```mermaid")
    return lines[start + 1 : lines.index("```", start)]


def verdict_lines(text: str) -> list[str]:
    """The lines between the verdict headline and the next section."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## "))
    end = next(i for i, line in enumerate(lines) if line.startswith("### "))
    return lines[start + 1 : end]


def test_report_starts_with_the_marker() -> None:
    """The first line is the hidden marker the workflow uses to find and update its comment."""
    text = render(passing_gate())
    assert text.splitlines()[0] == MARKER
    assert MARKER.startswith("<!--")
    assert MARKER.endswith("-->")
    assert text.count(MARKER) == 1


def _gate_with_verdict(verdict: str) -> dict[str, Any]:
    gate = passing_gate()
    gate["verdict"] = verdict
    gate["passed"] = verdict in ("pass", "overridden")
    if verdict in ("fail", "overridden"):
        gate["performance_problems"] = ["roc_auc: may be worse than the champion"]
    if verdict == "overridden":
        gate["override"] = {"requested_by": "risk-approver", "applied": True}
    if verdict == "error":
        gate["errors"] = ["the model registry at http://mlflow:5000 is unreachable"]
    return gate


@pytest.mark.parametrize("verdict", ["pass", "fail", "overridden", "error"])
def test_headline_states_the_verdict_before_the_evidence(verdict: str) -> None:
    """The first heading is the verdict's own headline, above the comparison table."""
    lines = render(_gate_with_verdict(verdict)).splitlines()
    headline = f"## {HEADLINES[verdict]}"
    assert next(line for line in lines if line.startswith("#")) == headline
    assert lines.index(headline) < lines.index(TABLE_HEADING)
    others = [text for name, text in HEADLINES.items() if name != verdict]
    assert not any(other in line for other in others for line in lines)


def test_failure_lists_every_reason() -> None:
    """A failed gate lists each performance and risk problem as its own line under the verdict."""
    gate = passing_gate()
    gate.update(verdict="fail", passed=False)
    gate["performance_problems"] = [
        "roc_auc 0.6100 is below the floor 0.7",
        "the model is 12.00 MB, more than 10",
    ]
    gate["risk"]["problems"] = ["gender: disparate impact 0.612 is below 0.80"]
    gate["risk"]["passed"] = False
    lines = verdict_lines(render(gate))
    assert "- ❌ roc_auc 0.6100 is below the floor 0.7" in lines
    assert "- ❌ the model is 12.00 MB, more than 10" in lines
    assert "- ❌ risk: gender: disparate impact 0.612 is below 0.80" in lines


def test_error_lists_the_error() -> None:
    """A gate that could not decide shows the error that stopped it under the headline."""
    lines = verdict_lines(render(_gate_with_verdict("error")))
    # shown as written, only not linked: text() puts a word joiner inside "://"
    assert "- ⛔ the model registry at http:\u2060//mlflow:5000 is unreachable" in lines


def test_error_before_any_scoring_still_renders() -> None:
    """A gate that stopped before scoring anything still gives a report with its reason and no
    comparison table."""
    gate = {
        "model_name": "credit-default",
        "primary_metric": "roc_auc",
        "rule": "non_inferiority",
        "margin": 0.01,
        "fairness_thresholds": passing_gate()["fairness_thresholds"],
        "override": {"requested_by": None, "applied": False},
        "champion": None,
        "interval": None,
        "deltas": {},
        "risk": None,
        "errors": ["data/split/eval.csv: No such file or directory"],
        "performance_problems": [],
        "verdict": "error",
        "passed": False,
    }
    text = render(gate)
    assert f"## {HEADLINES['error']}" in text
    assert "- ⛔ data/split/eval.csv: No such file or directory" in text
    assert TABLE_HEADING not in text
    assert "```mermaid" not in text
    assert "Not assessed: the gate stopped before it" in text
    assert "Off: no sensitive column" not in text
    assert "challenger run `?`" in text


def test_override_names_who_applied_it() -> None:
    """An overridden gate names the approver and marks the lifted problems as warnings."""
    lines = verdict_lines(render(_gate_with_verdict("overridden")))
    assert "- Override applied by @risk-approver." in lines
    assert "- ⚠️ roc_auc: may be worse than the champion" in lines
    assert not any(line.startswith("- ❌") for line in lines)


def test_override_requested_but_not_needed_is_not_claimed() -> None:
    """A passing gate with an override label does not say an override was applied."""
    gate = passing_gate()
    gate["override"] = {"requested_by": "risk-approver", "applied": False}
    assert "Override applied" not in render(gate)


def test_a_refused_override_names_who_tried() -> None:
    """A label applied by someone who may not override is reported as such."""
    gate = _gate_with_verdict("fail")
    gate["pull_request"] = {
        "number": 2,
        "label_applied_by": "eager-intern",
        "override_by": None,
        "problem": "the gate-override label was applied by eager-intern, who is not a "
        "production reviewer (risk-approver): no override",
    }
    lines = verdict_lines(render(gate))
    assert any(
        line.startswith("- ⚠️ the gate-override label was applied by eager-intern") for line in lines
    )
    assert "Override applied" not in "\n".join(lines)


def test_first_model_is_judged_on_absolute_thresholds() -> None:
    """With no champion the report says so and shows n/a for every champion value and delta."""
    text = render(first_model_gate())
    assert "judged on absolute thresholds" in " ".join(verdict_lines(text))
    assert "| metric | champion | challenger | Δ |" in text.splitlines()
    rows = table_rows(text)
    assert len(rows) == len(METRIC_NAMES)
    for champion, challenger, delta in rows.values():
        assert champion == "n/a"
        assert delta == "n/a"
        assert challenger != "n/a"
    assert "paired-bootstrap" not in text


def test_a_model_with_a_champion_is_not_called_first() -> None:
    """The first-model sentence appears only when there is no champion."""
    assert "absolute thresholds" not in render(passing_gate())


def test_table_has_every_metric_with_signed_deltas() -> None:
    """All seven metrics appear with champion and challenger values and a signed difference."""
    rows = table_rows(render(passing_gate()))
    assert rows == {
        "roc_auc **(primary)**": ["0.7690", "0.7810", "+0.0120"],
        "pr_auc": ["0.5570", "0.5520", "-0.0050"],
        "f1": ["0.4710", "0.4710", "+0.0000"],
        "precision": ["0.6400", "0.6520", "+0.0120"],
        "recall": ["0.3700", "0.3690", "-0.0010"],
        "log_loss ↓": ["0.4400", "0.4320", "-0.0080"],
        "brier ↓": ["0.1310", "0.1350", "+0.0040"],
    }
    assert len(rows) == len(METRIC_NAMES)


def test_table_names_the_champion_version() -> None:
    """The champion column says which registered version the challenger was compared with."""
    assert "| metric | champion (v3) | challenger | Δ |" in render(passing_gate()).splitlines()


def test_primary_metric_is_marked() -> None:
    """Whichever metric the gate decides on is the one marked primary in the table."""
    gate = passing_gate()
    gate["primary_metric"] = "pr_auc"
    rows = table_rows(render(gate))
    assert "pr_auc **(primary)**" in rows
    assert "roc_auc" in rows


def test_interval_sentence_states_estimate_interval_and_rule() -> None:
    """The improvement on the primary metric is given with its interval, resamples and rule."""
    text = render(passing_gate())
    assert (
        "Improvement in roc_auc: +0.0120, 95% paired-bootstrap interval -0.0031 to +0.0274 "
        "(1000 resamples); rule: non-inferiority with margin 0.01."
    ) in text.splitlines()


def test_chart_is_a_mermaid_bar_chart_of_both_models() -> None:
    """A mermaid xychart shows the challenger as bars and the champion as a line, on 0-1 metrics."""
    block = mermaid_block(render(passing_gate()))
    assert block[0] == "xychart-beta"
    assert "    x-axis [roc_auc, pr_auc, f1, precision, recall, brier]" in block
    assert "    bar [0.7810, 0.5520, 0.4710, 0.6520, 0.3690, 0.1350]" in block
    assert "    line [0.7690, 0.5570, 0.4710, 0.6400, 0.3700, 0.1310]" in block


def test_first_model_chart_has_only_the_challenger() -> None:
    """With no champion the chart draws the challenger's bars and no champion line."""
    block = mermaid_block(render(first_model_gate()))
    assert block[0] == "xychart-beta"
    assert any(line.startswith("    bar [") for line in block)
    assert not any(line.startswith("    line [") for line in block)


def test_risk_section_shows_each_group() -> None:
    """The risk section lists every group's size, share and rates, how many evaluation rows the
    groups hold, and both measures with their limits."""
    lines = render(passing_gate()).splitlines()
    assert "### Risk gate: ✅ passed (column `gender`)" in lines
    assert "| female | 588 | 58.8% | 0.133 | 0.381 |" in lines
    assert "| male | 412 | 41.2% | 0.121 | 0.358 |" in lines
    assert "1000 of the 1000 evaluation rows are in a group." in lines
    assert (
        "Disparate impact 0.915 (at least 0.8); equal-opportunity difference 0.023 (at most 0.1)."
    ) in lines


def test_failed_risk_says_failed() -> None:
    """A risk gate that failed is headed as failed, and a group without positives shows n/a."""
    gate = passing_gate()
    gate.update(verdict="fail", passed=False)
    gate["risk"].update(
        passed=False,
        equal_opportunity_difference=None,
        problems=["gender: no actual positives in group(s) male"],
    )
    gate["risk"]["groups"]["male"].update(positives=0, true_positive_rate=None)
    lines = render(gate).splitlines()
    assert "### Risk gate: ❌ failed (column `gender`)" in lines
    assert "| male | 412 | 41.2% | 0.121 | n/a |" in lines
    assert any("equal-opportunity difference n/a" in line for line in lines)


def test_risk_off_says_off() -> None:
    """With no sensitive column the report says the risk gate is off rather than passed."""
    gate = passing_gate()
    gate["risk"] = {"enabled": False, "problems": []}
    text = render(gate)
    assert "### Risk gate" in text.splitlines()
    assert "Off: no sensitive column is set in params.yaml." in text
    assert "Risk gate: ✅ passed" not in text


def test_missing_validation_report_is_said() -> None:
    """Without a validation report the report says none was found."""
    assert "No validation report was found." in render(passing_gate(), validation=None)


def test_validation_report_is_summarised() -> None:
    """A validation report gives its state, row and expectation counts, and each problem."""
    passed = render(passing_gate(), validation={"passed": True, "rows": 1200, "expectations": 27})
    assert "### Data validation: ✅ passed" in passed
    assert "1200 rows checked against 27 expectations of the data contract." in passed
    failed = render(
        passing_gate(),
        validation={"passed": False, "rows": 1200, "expectations": 27, "problems": ["age < 18"]},
    )
    assert "### Data validation: ❌ failed" in failed
    assert "- age \\< 18" in failed.splitlines()  # shown as "age < 18", never as HTML


def test_params_changes_are_tabled() -> None:
    """Changed parameters appear as rows of key, base value and new value."""
    changes = [("train.max_depth", 4, 6), ("train.subsample", None, 0.8)]
    lines = render(passing_gate(), changes=changes).splitlines()
    assert "### Parameters changed against `origin/main`" in lines
    assert "| parameter | base | this change |" in lines
    assert "| `train.max_depth` | `4` | `6` |" in lines
    assert "| `train.subsample` | `None` | `0.8` |" in lines


def test_no_params_changes_says_none() -> None:
    """Parameters equal to the base are reported as "None." with no table."""
    text = render(passing_gate(), changes=[])
    assert "None." in text.splitlines()
    assert "| parameter |" not in text


def test_unknown_base_says_not_available() -> None:
    """When the base ref cannot be read the report says so, and how to fix it, instead of
    claiming no changes."""
    text = render_report(GateResult.model_validate(passing_gate()), None, None, "origin/main")
    assert (
        "`origin/main` is not a git ref here (set BASE_REF=<branch or commit> to compare with; "
        "a CI checkout needs fetch-depth: 0)."
    ) in text.splitlines()
    assert "None." not in text.splitlines()


def test_footer_names_the_evidence() -> None:
    """The last line names the evaluation split, the challenger's run and its commit."""
    last = render(passing_gate()).splitlines()[-1]
    assert "`0f0f0f0f`" in last
    assert "`run0123456789`" in last
    assert "`a1b2c3d4`" in last


def test_flatten_joins_nested_keys_with_dots() -> None:
    """Nested parameters become dotted keys; lists stay whole values."""
    assert flatten({"train": {"seed": 1, "exclude_columns": ["gender"]}, "a": 2}) == {
        "train.seed": 1,
        "train.exclude_columns": ["gender"],
        "a": 2,
    }


def test_params_changes_finds_changed_added_and_removed() -> None:
    """A changed nested value, a new key and a dropped key each appear as (key, base, current)."""
    base = {"train": {"max_depth": 4, "seed": 7, "old": True}, "gate": {"margin": 0.01}}
    current = {"train": {"max_depth": 6, "seed": 7, "new": "x"}, "gate": {"margin": 0.01}}
    assert params_changes(current, base) == [
        ("train.max_depth", 4, 6),
        ("train.new", None, "x"),
        ("train.old", True, None),
    ]


def test_params_changes_of_equal_params_is_empty() -> None:
    """Identical parameters give no changes."""
    params = {"train": {"max_depth": 4, "exclude_columns": ["gender"]}}
    assert params_changes(params, {"train": {"max_depth": 4, "exclude_columns": ["gender"]}}) == []


def test_base_params_reads_the_file_at_a_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """params.yaml is read as committed at the ref, and an unknown ref gives None."""
    monkeypatch.chdir(tmp_path)
    for variable in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{variable}_NAME", "test")
        monkeypatch.setenv(f"{variable}_EMAIL", "test@example.com")
    git = ["git", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    Path("params.yaml").write_text("train:\n  max_depth: 4\n", encoding="utf-8")
    subprocess.run([*git, "add", "params.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    Path("params.yaml").write_text("train:\n  max_depth: 6\n", encoding="utf-8")
    assert base_params("HEAD") == {"train": {"max_depth": 4}}
    assert base_params("no-such-ref") is None


def test_the_report_shows_what_each_model_relies_on() -> None:
    """Champion beside challenger, in the challenger's order, a column only the champion takes
    last with n/a for the challenger; a first model's report shows the challenger alone."""
    lines = render(passing_gate()).splitlines()
    start = lines.index("### What each model relies on")
    assert "on 1000 evaluation rows spread over the split" in lines[start + 2]
    assert lines[start + 4 : start + 10] == [
        "| column | champion | challenger |",
        "|---|---:|---:|",
        "| pay_0 | 0.5800 | 0.6100 |",
        "| limit_bal | 0.2500 | 0.2200 |",
        "| age | n/a | 0.0500 |",
        "| gender | 0.0200 | n/a |",
    ]
    first = render(first_model_gate()).splitlines()
    assert "| pay_0 | n/a | 0.6100 |" in first


def test_values_from_data_and_params_cannot_forge_markdown() -> None:
    """A column name, a parameter value or a problem text that holds Markdown (a table cell,
    a link, an image, HTML, a mention) is shown as text: no cell, link or mention comes of it."""
    gate = passing_gate()
    gate["risk"]["column"] = "gender` | forged | `x"
    gate["risk"]["groups"] = {
        "[click](https://evil.example) @everyone": gate["risk"]["groups"]["male"]
    }
    gate.update(verdict="fail", passed=False)
    gate["performance_problems"] = ["<img src=x> ![pwn](https://evil.example/p.png) @octocat |x|"]
    changes = [("train.max_depth", 4, "6 | `forged` | cell")]
    text = render(gate, changes=changes)
    assert "](https://evil.example" not in text.replace("\\]", "")
    assert "https://evil" not in text  # no bare link either
    assert "<img" not in text.replace("\\<", "")
    assert "@octocat" not in text and "@everyone" not in text
    [row] = [line for line in text.splitlines() if line.startswith("| `train.max_depth`")]
    assert row.replace("\\|", "").count("|") == 4  # three cells, however the value reads
    [group] = [line for line in text.splitlines() if "evil.example" in line and "| 412 |" in line]
    assert group.replace("\\|", "").count("|") == 6


def test_the_report_lists_the_columns_the_model_learned_from() -> None:
    """The verdict section names every column the challenger learned from, in its order."""
    gate = passing_gate()
    gate["challenger"]["columns"] = ["age", "income"]
    lines = render(gate).splitlines()
    assert "This model learned from 2 columns: `age`, `income`." in lines


def test_a_gate_result_edited_to_pass_is_refused() -> None:
    """`passed` is derived from the verdict: gate.json read back with a `passed` that
    contradicts its verdict (a file edited to let a model through) is refused, not believed."""
    gate = passing_gate()
    gate.update(verdict="fail", passed=True)
    with pytest.raises(GateResultError, match="passed contradicts the verdict"):
        GateResult.parse(json.dumps(gate))
    gate.update(passed=False)
    assert GateResult.parse(json.dumps(gate)).passed is False
