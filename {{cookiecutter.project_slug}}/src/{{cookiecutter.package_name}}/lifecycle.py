"""What a pipeline run tells people on GitHub: the gate's result (or why there is none), the
pull request's one report comment, and the one drift issue with its retraining dispatch.

Releasing a model (register, promote, deploy, roll back, reconcile, lineage) is release.py;
whether a pull request's override label counts is override.py.
"""

from __future__ import annotations

from . import actions, github_api, report, repository
from .gate_result import GateResult
from .settings import Settings


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
        passed=False,
        errors=(
            f"the pipeline stopped before the gate ({gate.report} was not written): "
            "see the failed step in the job log",
        ),
    )


def comment(number: int, body: str) -> str:
    """The report as the pull request's one comment (found again by its marker)."""
    run = actions.RunContext.from_env()
    return repository.upsert_comment(github_api.client_from_env(), run, number, body, report.MARKER)


def drift_alert(settings: Settings, body: str, why: str, retrain: bool) -> list[str]:
    """The one drift issue (opened, or updated on the next run) and, when retraining is asked
    for (not for a batch that only breaks the contract), a retrain.yml run."""
    from . import drift  # pandas and the contract: only this command needs them

    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    name = settings.tracking.model_name
    title = (
        f"Model drift: {name} needs retraining"
        if retrain
        else f"Data quality: incoming data for {name} breaks the contract"
    )
    done = [repository.upsert_issue(client, run, title, body, drift.MARKER)]
    if retrain:
        done.append(
            repository.dispatch(
                client, run, "retrain.yml", settings.github.default_branch, {"reason": why}
            )
        )
    return done
