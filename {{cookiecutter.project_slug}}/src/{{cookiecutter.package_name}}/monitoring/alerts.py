"""What the drift and outcome checks tell people on GitHub: the one drift issue (opened, or
updated on the next run) and the retrain.yml run it dispatches; the one issue per kind of
outcome alert (performance: retraining too; fairness: for the risk approver)."""

from __future__ import annotations

from ..github import actions, github_api, repository
from ..settings import Settings
from ..vocabulary import (
    DRIFT_REPORT_MARKER,
    OUTCOMES_FAIRNESS_MARKER,
    OUTCOMES_PERFORMANCE_MARKER,
)


def drift_alert(settings: Settings, body: str, why: str, retrain: bool) -> list[str]:
    """The one drift issue (opened, or updated on the next run) and, when retraining is asked
    for (not for a batch that only breaks the contract), a retrain.yml run."""
    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    name = settings.tracking.model_name
    title = (
        f"Model drift: {name} needs retraining"
        if retrain
        else f"Data quality: incoming data for {name} breaks the contract"
    )
    done = [repository.upsert_issue(client, run, title, body, DRIFT_REPORT_MARKER)]
    if retrain:
        done.append(
            repository.dispatch(
                client, run, "retrain.yml", settings.github.default_branch, {"reason": why}
            )
        )
    return done


def outcome_alerts(
    settings: Settings, summary: str, performance: bool, fairness: bool, why: str
) -> list[str]:
    """A performance alert opens (or updates) ONE issue and dispatches retrain.yml, which
    folds the latest labelled batch through the contract into a pull request the gate judges.
    A fairness alert opens its own ONE issue, addressed to the risk approver, and retrains
    nothing by itself: a fairer model is a decision, not a refit."""
    run = actions.RunContext.from_env()
    client = github_api.client_from_env()
    name = settings.tracking.model_name
    done = []
    if performance:
        title = f"Model performance: {name} is worse on its outcomes than at its evaluation"
        body = f"{OUTCOMES_PERFORMANCE_MARKER}\n{summary}"
        done.append(repository.upsert_issue(client, run, title, body, OUTCOMES_PERFORMANCE_MARKER))
        done.append(
            repository.dispatch(
                client, run, "retrain.yml", settings.github.default_branch, {"reason": why}
            )
        )
    if fairness:
        approver = settings.tracking.risk_approver
        title = f"Fairness: {name} breaks the risk limits on its outcomes (for @{approver})"
        body = (
            f"{OUTCOMES_FAIRNESS_MARKER}\n@{approver}: the model's decisions break the risk "
            f"limits in params.yaml's fairness section; retraining is not started by this "
            f"alert.\n\n{summary}"
        )
        done.append(repository.upsert_issue(client, run, title, body, OUTCOMES_FAIRNESS_MARKER))
    return done
