"""The model card: a record in the Model Card Toolkit's shape, and the Markdown rendered from
it, for a version registered from a passing gate result."""

from __future__ import annotations

import json
from typing import Any

from test_report import passing_gate

from {{ cookiecutter.package_name }}.control import model_card
from {{ cookiecutter.package_name }}.control.gate_result import GateResult
from {{ cookiecutter.package_name }}.vocabulary import (
    DATA_MD5,
    EVAL_MD5,
    GIT_SHA,
    MODEL_SHA256,
    OWNER_MODEL,
    OWNER_RISK,
    TRAIN_MD5,
)  # fmt: skip

TAGS = {
    GIT_SHA: "a1b2c3d4", DATA_MD5: "d0d0d0d0", TRAIN_MD5: "t1t1t1t1", EVAL_MD5: "0f0f0f0f",
    MODEL_SHA256: "5" * 64, OWNER_MODEL: "model-owner", OWNER_RISK: "risk-approver",
}  # fmt: skip
# The Model Card Toolkit's JSON schema 0.0.2: its top-level sections, nothing else.
SECTIONS = {
    "schema_version", "model_details", "model_parameters", "quantitative_analysis",
    "considerations",
}  # fmt: skip


def record(gate: dict[str, Any] | None = None, excluded: list[str] | None = None) -> dict:
    version = {"name": "credit-default", "version": 4, "run_id": "r", "aliases": [], "tags": TAGS}
    return model_card.record(
        version,
        GateResult.model_validate(passing_gate() if gate is None else gate),
        "Predicts whether a credit card customer defaults next month.",
        ["limit_bal", "age", "pay_0"],
        "default",
        ["gender"] if excluded is None else excluded,
    )


def card(gate: dict[str, Any] | None = None, excluded: list[str] | None = None) -> list[str]:
    return model_card.render(record(gate, excluded), TAGS).splitlines()


def with_intervals() -> dict[str, Any]:
    gate = passing_gate()
    gate["challenger"]["intervals"] = {
        "roc_auc": {"estimate": 0.781, "low": 0.752, "high": 0.809, "confidence": 0.95,
                    "resamples": 1000},
    }  # fmt: skip
    return gate


def test_the_record_has_the_toolkits_shape_with_intervals_and_slices() -> None:
    """Only the toolkit's sections; the bytes' digest and the registry's URI name the version;
    each figure with its interval where the gate measured one; the groups as slices."""
    made = json.loads(json.dumps(record(with_intervals())))  # plain JSON, as it is logged
    assert set(made) == SECTIONS and made["schema_version"] == "0.0.2"
    details = made["model_details"]
    assert details["version"] == {"name": "4", "diff": "commit a1b2c3d4"}
    assert details["references"] == [{"reference": "models:/credit-default/4"}]
    assert "5" * 64 in details["overview"] and "gate verdict pass" in details["overview"]
    assert {o["contact"]: o["name"] for o in details["owners"]} == {
        "model owner": "model-owner", "risk approver": "risk-approver",
    }  # fmt: skip
    metrics = made["quantitative_analysis"]["performance_metrics"]
    [auc] = [m for m in metrics if m["type"] == "roc_auc"]
    assert auc["value"] == 0.781
    assert auc["confidence_interval"] == {
        "lower_bound": 0.752, "upper_bound": 0.809, "confidence": 0.95, "resamples": 1000,
    }  # fmt: skip
    [brier] = [m for m in metrics if m["type"] == "brier"]
    assert "confidence_interval" not in brier  # not measured: never made up
    sliced = {(m["type"], m["slice"]): m["value"] for m in metrics if "slice" in m}
    assert sliced[("selection_rate", "gender=female")] == 0.1327
    assert sliced[("true_positive_rate", "gender=male")] == 0.3579
    assert sliced[("disparate_impact", "gender")] == 0.9148
    assert sliced[("mean_abs_contribution", "column=pay_0")] == 0.61
    [evaluation] = [d for d in made["model_parameters"]["data"] if d["name"] == "evaluation split"]
    assert evaluation["sensitive"] == {"sensitive_data": ["gender"]}
    assert evaluation["description"] == "md5 0f0f0f0f, frozen; 1000 rows"


def test_the_markdown_is_rendered_from_the_record() -> None:
    lines = card(with_intervals())
    assert lines[0] == "# Model card: credit-default version 4"
    use = lines.index("## Intended use")
    assert lines[use + 2] == "Predicts whether a credit card customer defaults next month."
    assert "Owner: @model-owner. Risk approver: @risk-approver." in lines
    assert "- Input: columns: limit_bal, age, pay_0; not used: gender." in lines
    assert "| roc_auc | 0.7810 | 0.7520 to 0.8090 |" in lines
    assert "| brier | 0.1350 | n/a |" in lines
    start = lines.index("## What it relies on")
    assert lines[start + 4 : start + 9] == [
        "| column | importance |",
        "|---|---:|",
        "| pay_0 | 0.6100 |",
        "| limit_bal | 0.2200 |",
        "| age | 0.0500 |",
    ]
    assert (
        "Sensitive column gender: disparate impact 0.915, equal-opportunity difference 0.023; "
        "passed the risk gate."
    ) in lines
    assert "| gender=male | selection_rate | 0.121 |" in lines


def test_nothing_excluded_and_the_risk_gate_off_are_said() -> None:
    gate = passing_gate()
    gate["risk"] = {"enabled": False, "problems": []}
    lines = card(gate, excluded=[])
    assert "- Input: columns: limit_bal, age, pay_0; not used: none." in lines
    assert "The risk gate is off (no sensitive column)." in lines
    assert not any("disparate" in line for line in lines)


def test_the_lineage_tags_are_the_last_table() -> None:
    lines = card()
    table = lines[lines.index("| tag | value |") + 2 :]
    assert table == [f"| `{key}` | `{value}` |" for key, value in sorted(TAGS.items())]


def test_a_group_or_column_name_cannot_forge_the_cards_markdown() -> None:
    gate = passing_gate()
    gate["risk"]["groups"] = {"x | forged | [a](https://evil.example) @octocat": gate["risk"][
        "groups"]["male"]}  # fmt: skip
    gate["challenger"]["importance"] = {"<img src=x>": 0.5}
    text = "\n".join(card(gate))
    assert "](https://evil.example" not in text.replace("\\]", "")
    assert "https://evil" not in text and "@octocat" not in text
    assert "<img" not in text.replace("\\<", "")
    rows = [line for line in text.splitlines() if "forged" in line]
    assert len(rows) == 2 and all(row.replace("\\|", "").count("|") == 4 for row in rows)
