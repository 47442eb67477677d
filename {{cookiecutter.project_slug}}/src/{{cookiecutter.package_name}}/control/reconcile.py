"""Reconciling: does the registry serve what deploy/ declares (the version AND its bytes, for
production and a rollout's candidate)? If not, put it back (or only report it, by params), in
ONE issue."""

from __future__ import annotations

from ..errors import ProjectError
from ..github import actions, github_api, repository
from ..settings import Settings
from ..vocabulary import RECONCILE_REPORT_MARKER
from . import report
from .deploy import deploy, differences
from .desired_state import DEPLOY_FILE


def reconcile(settings: Settings) -> tuple[list[str], bool]:
    """Compare the registry with deploy/ on the default branch; put a difference back (or only
    report it, as `deploy.reconcile` says) and say so in the ONE reconcile issue. Returns the
    lines said and whether the registry now matches."""
    found = differences(settings)
    if not found:
        return ["the registry serves what deploy/ declares: nothing to do"], True
    difference = "; ".join(found)
    matches = False
    if settings.deploy.reconcile == "restore":
        try:
            done = "put back: " + "; ".join(deploy(settings, github=True))
            matches = True
        except ProjectError as error:
            done = f"could not put it back: {error}"
    else:
        done = "reported only (deploy.reconcile: report in params.yaml)"
    body = "\n".join(
        [
            RECONCILE_REPORT_MARKER,
            f"## The registry differed from `{DEPLOY_FILE}`",
            "",
            f"- found: {report.text(difference)}",
            f"- done: {report.text(done)}",
            "",
            "Production and a rollout's candidate move only through a reviewed pull request on "
            "deploy/. Who moved the alias by hand? The MLflow server's log has the request.",
        ]
    )
    run = actions.RunContext.from_env()
    title = f"Registry drift: {settings.tracking.model_name} aliases moved outside git"
    issue = repository.upsert_issue(
        github_api.client_from_env(), run, title, body, RECONCILE_REPORT_MARKER
    )
    return [difference, done, issue], matches
