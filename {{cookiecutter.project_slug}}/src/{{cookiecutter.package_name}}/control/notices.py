"""What a pipeline run tells people on the pull request: the gate's result (or why there is
none) and the pull request's one report comment.

Releasing a model is registration.py, proposals.py, approval.py, deploy.py and reconcile.py;
whether a pull request's override label counts is override.py; the drift issue is alerts.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..github import actions, github_api, repository
from ..settings import Settings
from ..vocabulary import GATE_REPORT_MARKER
from . import report
from .gate_result import GateResult


def read_gate(settings: Settings) -> GateResult:
    return GateResult.read(settings.gate.report)


def read_gate_or_stopped(settings: Settings) -> GateResult:
    """gate.json, or, when the pipeline stopped before the gate, a result that says so: the
    report must still explain a red check."""
    if settings.gate.report.exists():
        return read_gate(settings)
    gate = settings.gate
    return GateResult(
        model_name=settings.tracking.model_name,
        primary_metric=gate.primary_metric,
        rule=gate.rule,
        margin=gate.margin,
        verdict="error",
        errors=(
            f"the pipeline stopped before the gate ({gate.report} was not written): "
            "see the failed step in the job log",
        ),
    )


def comment(number: int, body: str) -> str:
    """The report as the pull request's one comment (found again by its marker)."""
    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    return repository.upsert_comment(client, run, number, body, GATE_REPORT_MARKER)


def gate_and_say(settings: Settings, override_by: str, github: bool) -> GateResult:
    """Run the gate (in GitHub Actions, with the pull request's facts: who applied the override
    label, and when), write gate.json, and hand the verdict and the result to the next steps."""
    from . import gate, override
    from .gate_result import PullRequest

    pull_request = None
    if github:
        pull_request = PullRequest.model_validate(override.pull_request_facts(settings))
        override_by = override_by or (pull_request.override_by or "")
    result = gate.run_gate(settings, override_by=override_by, pull_request=pull_request)
    result.write(settings.gate.report)
    actions.set_output("verdict", result.verdict)
    actions.set_output("result", result.model_dump_json())
    return result


def write_report(settings: Settings, params: Path, base: str, output: Path) -> str:
    """The gate report (or why there is no gate result) with the data validation and the
    params changed against `base`, written to `output`, the job summary and a step output."""
    from .. import yaml_files

    result = read_gate_or_stopped(settings)
    validation_path = settings.data.validation_report
    validation = (
        json.loads(validation_path.read_text(encoding="utf-8"))
        if validation_path.exists()
        else None
    )
    current = yaml_files.load(params.read_text(encoding="utf-8"))
    base_params = report.base_params(base, str(params))
    changes = None if base_params is None else report.params_changes(current, base_params)
    text = report.render_report(result, validation, changes, base)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    actions.add_summary(text)
    actions.set_output("report", text)
    return text
