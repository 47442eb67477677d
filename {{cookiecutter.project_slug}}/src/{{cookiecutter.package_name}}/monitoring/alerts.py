"""What the drift check tells people on GitHub: the one drift issue (opened, or updated on the
next run) and the retrain.yml run it dispatches."""

from __future__ import annotations

from ..github import actions, github_api, repository
from ..settings import Settings
from ..vocabulary import DRIFT_REPORT_MARKER


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
