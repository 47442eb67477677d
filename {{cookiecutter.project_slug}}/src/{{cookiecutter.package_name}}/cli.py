"""The project's one command: a subcommand per pipeline step, `--help` on each.

Exit codes: 0 success, 1 the step ran and said no (bad data, unreachable server, bad params),
2 the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ProjectError

if TYPE_CHECKING:
    from .settings import Settings

# Each command imports what it uses when it runs: `--help` and the light commands do not pay
# for MLflow, XGBoost, Great Expectations or Evidently (seconds each), nor for the settings'
# pydantic models (0.3 s), which only the commands that read params.yaml import.
DEFAULT_PARAMS = Path("params.yaml")  # settings.DEFAULT_PARAMS

# Errors that end a step with one readable line instead of a traceback: the project's own
# (bad params, contract or data; a registry, tracking server or GitHub that refused) and a
# file that is not there. Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (ProjectError, FileNotFoundError)
ALIASES = ("staging", "production")  # registry.STAGING, registry.PRODUCTION


def load_settings(path: Path) -> Settings:
    from . import settings

    return settings.load_settings(path)


def _validate(args: argparse.Namespace) -> int:
    from . import stages

    result = stages.validate(load_settings(args.params), args.file)
    if not result.passed:
        for problem in result.problems:
            print(f"invalid data: {problem}", file=sys.stderr)
        return 1
    print(f"data valid: {result.rows} rows passed {result.expectations} expectations")
    return 0


def _contract(args: argparse.Namespace) -> int:
    from . import contract_draft

    settings = load_settings(args.params)
    source = args.data or settings.data.raw
    key = tuple(name.strip() for name in (args.key or "").split(",") if name.strip())
    if args.key is not None and not key:
        raise ProjectError("ROW_KEY: name the key column(s), comma-separated")
    drafted, changes = contract_draft.write_contract(
        source, args.target, args.positive, settings.data.contract, args.force,
        split=(settings.split.eval_fraction, settings.split.seed), key=key,
    )  # fmt: skip
    notes = [
        *changes,
        *contract_draft.review_notes(contract_draft.read_as_text(source), drafted),
    ]
    kinds = [column.type for column in drafted.columns.values()]
    counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    print(
        f"wrote {settings.data.contract}: {len(kinds)} columns ({counts}), target "
        f"{drafted.target.name} (positive: {drafted.target.positive!r}), key "
        f"{', '.join(drafted.key_columns)}. Review it, then `make validate`."
    )
    for note in notes:
        print(f"  - {note}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from . import onboarding

    settings = load_settings(args.params)
    for line in onboarding.use_data(args.file, settings.data.raw, args.params):
        print(line)
    print(
        f"next: make contract TARGET=<column> POSITIVE=<value> FORCE=1 to describe "
        f"{args.file.name} (for the same data with columns added or dropped, `make contract "
        "FORCE=1` keeps the key and every committed column's settings)"
    )
    return 0


def _param(args: argparse.Namespace) -> int:
    from . import onboarding

    value = onboarding.set_param(args.key, args.value, args.params)
    print(f"{args.params}: {args.key} = {value!r}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from . import stages

    train_rows, eval_rows = stages.split(load_settings(args.params))
    print(f"split: {train_rows} training rows, {eval_rows} evaluation rows")
    return 0


def _settings_and_live_tracking(args: argparse.Namespace) -> Settings:
    """Settings for a step that writes to MLflow, after checking the server answers: a down
    server is reported in seconds, before any work is done."""
    from . import tracking

    settings = load_settings(args.params)
    tracking.check_tracking(tracking.tracking_uri())
    return settings


def _train(args: argparse.Namespace) -> int:
    from . import stages

    settings = _settings_and_live_tracking(args)
    run, values = stages.train(settings)
    print(f"trained: {settings.train.model} (MLflow run {run.run_id})")
    print("  ".join(f"{name}={value:.4f}" for name, value in values.items()))
    return 0


def _check_clean(args: argparse.Namespace) -> int:
    from . import lineage
    from .settings import SettingsError

    sha, dirty, _ = lineage.git_state()
    if sha == "none":
        raise SettingsError("no commit yet: commit first (git add -A && git commit -m ...)")
    if dirty:
        raise SettingsError(
            "the work tree has uncommitted changes (git status): commit them first, so that "
            "the model is trained from a commit"
        )
    print(f"clean: commit {sha[:12]}")
    return 0


def _check_port(args: argparse.Namespace) -> int:
    from . import tracking

    tracking.check_port_free(args.host, args.port)
    return 0


def _check_tracking(args: argparse.Namespace) -> int:
    from . import tracking

    uri = tracking.tracking_uri()
    tracking.check_tracking(uri, wait_seconds=args.wait)
    print(f"MLflow tracking server {uri} is up")
    return 0


def _gate(args: argparse.Namespace) -> int:
    from . import actions, gate, override
    from .gate_result import PullRequest

    settings = load_settings(args.params)
    override_by = args.override_by.strip()
    pull_request = None
    if args.github:
        pull_request = PullRequest.model_validate(override.pull_request_facts(settings))
        override_by = override_by or (pull_request.override_by or "")
    result = gate.run_gate(settings, override_by=override_by, pull_request=pull_request)
    result.write(settings.gate.report)
    actions.set_output("verdict", result.verdict)
    actions.set_output("result", result.model_dump_json())
    print(f"gate: {result.verdict} (details in {settings.gate.report})")
    for reason in (*result.errors, *result.risk_problems, *result.performance_problems):
        print(f"  - {reason}", file=sys.stderr)
    return 0 if result.passed else 1


def _report(args: argparse.Namespace) -> int:
    from . import actions, lifecycle, report, yaml_files

    settings = load_settings(args.params)
    result = lifecycle.read_gate_or_stopped(settings)
    validation_path = settings.data.validation_report
    validation = (
        json.loads(validation_path.read_text(encoding="utf-8"))
        if validation_path.exists()
        else None
    )
    current = yaml_files.load(args.params.read_text(encoding="utf-8"))
    base = report.base_params(args.base, str(args.params))
    changes = None if base is None else report.params_changes(current, base)
    text = report.render_report(result, validation, changes, args.base)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    actions.add_summary(text)
    actions.set_output("report", text)
    print(text, end="")
    return 0


def _comment(args: argparse.Namespace) -> int:
    from . import lifecycle

    body = args.text or args.body.read_text(encoding="utf-8")
    print(lifecycle.comment(args.pr, body))
    return 0


def _register(args: argparse.Namespace) -> int:
    from . import actions, release
    from .gate_result import GateResult

    gate = GateResult.parse(args.gate_result, "--gate-result") if args.gate_result else None
    version, created = release.register(load_settings(args.params), pr=args.pr, gate=gate)
    actions.set_output("version", str(version.number))
    state = "registered" if created else "already registered"
    print(f"{state}: {version.name} version {version.number} (commit {version.git_sha})")
    return 0


def _logins(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _promote(args: argparse.Namespace) -> int:
    from . import release

    settings = load_settings(args.params)
    if args.to == "staging":
        staged, replaced = release.stage(settings, args.version)
        before = f" (was version {replaced.number})" if replaced else ""
        print(f"staging: {staged.name} version {staged.number}{before}")
        return 0
    for line in release.declare_and_deploy(settings, args.version, _logins(args.approved_by)):
        print(line)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from . import release

    settings = load_settings(args.params)
    for line in release.declare_and_deploy(
        settings, args.version, _logins(args.by), reason=args.reason
    ):
        print(line)
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from . import release

    settings = load_settings(args.params)
    for line in release.deploy(settings, args.github, _logins(args.approved_by)):
        print(line)
    return 0


def _propose_promotion(args: argparse.Namespace) -> int:
    from . import release
    from .gate_result import GateResult

    gate = GateResult.parse(args.gate_result, "--gate-result") if args.gate_result else None
    print(release.propose_promotion(load_settings(args.params), args.version, gate))
    return 0


def _propose_rollback(args: argparse.Namespace) -> int:
    from . import release

    print(release.propose_rollback(load_settings(args.params), args.version, args.reason))
    return 0


def _emergency_rollback(args: argparse.Namespace) -> int:
    import os

    from . import release

    token = os.environ.get("DEPLOY_PUSH_TOKEN", "")
    for line in release.emergency_rollback(
        load_settings(args.params), args.version, args.reason, args.by, token
    ):
        print(line)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from . import actions, release

    settings = load_settings(args.params)
    if args.check:
        difference = release.compare(settings)
        actions.set_output("differs", "true" if difference else "false")
        print(difference or "the registry serves what deploy/ declares")
        return 0
    lines, matches = release.reconcile(settings)
    for line in lines:
        print(line)
    return 0 if matches or settings.deploy.reconcile == "report" else 1


def _predict(args: argparse.Namespace) -> int:
    from . import scoring

    settings = load_settings(args.params)
    scored = scoring.predict(settings, args.file, args.version)
    version = scored.version
    print(
        f"scored {len(scored.predictions)} rows with {version.name} version {version.number}: "
        f"{settings.predict.output} (log: {settings.predict.log})"
    )
    if len(scored.rejected):
        print(
            f"rejected {len(scored.rejected)} row(s) that break the data contract: "
            f"{settings.predict.rejected}",
            file=sys.stderr,
        )
        return 1
    return 0


def _drift(args: argparse.Namespace) -> int:
    """Exit 0: no drift; 1: an alert (drift or a stale model: retrain; or too many rows
    breaking the contract); 2: the check could not decide. With --github the verdict goes to
    the step outputs instead, and only 2 fails the step."""
    from . import actions, drift

    settings = load_settings(args.params)
    batch = args.file or settings.drift.batch
    try:
        result = drift.check(settings, batch)
    except Exception as error:
        # Whatever stopped the check, it did not decide: 2, never 1 (an alert would retrain).
        # A bug (or a library's error, say a cloud refusing DVC) keeps its traceback.
        if not isinstance(error, EXPECTED_ERRORS):
            traceback.print_exc()
        from .tracking import without_secrets

        reason = without_secrets(str(error))  # drift.json and the summary are for people
        drift.write_outputs(
            {"error": reason, "retrain": False, "alert": False}, None, settings.drift
        )
        actions.add_summary(drift.summary({"error": reason}))
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = drift.summary(result)
    actions.add_summary(text)
    actions.set_output("alert", str(result["alert"]).lower())
    actions.set_output("retrain", str(result["retrain"]).lower())
    actions.set_output("reason", drift.reason(result))
    actions.set_output("summary", drift.issue_body(text))
    print(text, end="")
    return 1 if result["alert"] and not args.github else 0


def _drift_alert(args: argparse.Namespace) -> int:
    from . import drift, lifecycle

    settings = load_settings(args.params)
    summary = args.summary or drift.issue_body(settings.drift.summary.read_text(encoding="utf-8"))
    for line in lifecycle.drift_alert(settings, summary, args.reason, args.retrain == "true"):
        print(line)
    return 0


def _fold(args: argparse.Namespace) -> int:
    from . import retraining

    settings = load_settings(args.params)
    batch = args.file or settings.drift.batch
    rows = retraining.fold_batch(settings, batch)
    print(f"folded {rows} rows of {batch} into {settings.data.raw} (dvc add, dvc push)")
    return 0


def _propose(args: argparse.Namespace) -> int:
    from . import retraining

    settings = load_settings(args.params)
    print(retraining.propose(settings, args.file or settings.drift.batch, args.reason))
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from . import release

    versions = release.lineage(load_settings(args.params), args.data_md5, args.version)
    if args.json:
        print(json.dumps(versions, indent=2))
    elif not versions:
        print("no matching version")
    else:
        print("\n\n".join(release.describe(v) for v in versions))
    return 0


def _github_setup(args: argparse.Namespace) -> int:
    from . import github_api, github_setup

    settings = load_settings(args.params)
    for line in github_setup.setup(settings, github_api.client_from_env()):
        print(line)
    return 0


def _registry_setup(args: argparse.Namespace) -> int:
    from . import registry_setup

    for line in registry_setup.setup(load_settings(args.params), args.reader, args.writer):
        print(line)
    return 0


def _template_check(args: argparse.Namespace) -> int:
    from . import template_update

    if template_update.is_current():
        print("template: this project is at the template's newest commit")
        return 0
    print("template: newer changes exist; `make template-update` brings them in")
    return 1


def _template_update(args: argparse.Namespace) -> int:
    from . import template_update

    changed = template_update.update()
    if not changed:
        print("template: nothing to change")
        return 0
    headline = f"template: {len(changed)} file(s) changed; review `git diff HEAD`, then commit:"
    _list(headline, changed)
    return 0


def _template_render(args: argparse.Namespace) -> int:
    from . import actions, template_update

    changed = template_update.render(args.output)
    actions.set_output("changed", str(bool(changed)).lower())
    if not changed:
        print("template: up to date, nothing to render")
        return 0
    _list(f"template: {len(changed)} file(s) change, in {args.output}:", changed)
    return 0


def _list(headline: str, names: list[str]) -> None:
    print(headline)
    for name in names:
        print(f"  {name}")


def _template_propose(args: argparse.Namespace) -> int:
    from . import template_update

    branch = load_settings(args.params).github.default_branch
    print(template_update.propose(args.patch, branch))
    return 0


def input_file(text: str) -> Path:
    """A CSV named on the command line: refused at once when it is not there. A leading ~ is
    the home folder: sh and zsh leave it as typed in `make data DATA=~/data.csv`."""
    if not text.strip():
        raise argparse.ArgumentTypeError("no file given (make: INPUT=<csv> or DATA=<csv>)")
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="settings file (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    validate = command("validate", _validate, "Check data against the data contract.")
    validate.add_argument(
        "file", type=Path, nargs="?", help="CSV to check (default: the training data)"
    )
    data_command = command(
        "data", _data, "Make a CSV the training data in place of the current one (DVC-tracked)."
    )
    data_command.add_argument("file", type=input_file, help="your CSV")
    contract_command = command(
        "contract", _contract, "Draft data/contract.yaml from a CSV, for you to review."
    )
    contract_command.add_argument(
        "--data", type=input_file, default=None, help="CSV (default: data.raw in params)"
    )
    contract_command.add_argument(
        "--target", default="", help="the column to predict (default: the committed contract's)"
    )
    contract_command.add_argument(
        "--key", default=None, help="a new row key, by column names (comma-separated)"
    )
    contract_command.add_argument(
        "--positive", default="", help="the target's value for the event to predict"
    )
    contract_command.add_argument(
        "--force",
        action="store_true",
        help="replace an existing contract (a redraft keeps its key and each column's settings)",
    )
    param_command = command("param", _param, "Change one setting in params.yaml.")
    param_command.add_argument("key", help="dotted key, e.g. fairness.sensitive_column")
    param_command.add_argument("value", help="the value, as YAML ('' for the empty string)")
    command("split", _split, "Cut the data into the train and frozen evaluation splits.")
    command(
        "train",
        _train,
        "Train the model, score it on the evaluation split (metrics, plots) and record both "
        "in MLflow with its lineage.",
    )
    command("check-clean", _check_clean, "Fail unless the work tree is a clean commit.")
    port = command("check-port", _check_port, "Fail when something listens on HOST:PORT.")
    port.add_argument("host")
    port.add_argument("port", type=int)
    check = command("check-tracking", _check_tracking, "Check that the MLflow server answers.")
    check.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep trying (default: %(default)s)"
    )
    gate_command = command(
        "gate",
        _gate,
        "Compare this commit's model with the production champion; exit 1 unless it passes.",
    )
    gate_command.add_argument(
        "--override-by",
        default="",
        metavar="LOGIN",
        help="who overrides a performance failure (never a risk failure or an error)",
    )
    gate_command.add_argument(
        "--github",
        action="store_true",
        help="in GitHub Actions: read the pull request; its override label, and who applied "
        "it, overrides",
    )
    report_command = command("report", _report, "Write the gate report as Markdown (PR comment).")
    report_command.add_argument(
        "--base",
        default="origin/main",
        help="git ref to diff params against (default: %(default)s)",
    )
    report_command.add_argument(
        "--output", type=Path, default=Path("reports/report.md"), help="(default: %(default)s)"
    )
    comment_command = command(
        "comment",
        _comment,
        "Write the report as the pull request's one comment, or update it (GITHUB_TOKEN).",
    )
    comment_command.add_argument("--pr", type=int, required=True, help="pull request number")
    comment_command.add_argument(
        "--body",
        type=Path,
        default=Path("reports/report.md"),
        help="Markdown file, unless --text is given (default: %(default)s)",
    )
    comment_command.add_argument("--text", default="", help="the report's Markdown itself")
    register_command = command(
        "register",
        _register,
        "Register the bytes the gate scored, once per commit; no alias moves.",
    )
    register_command.add_argument("--pr", default="", help="pull request number, for lineage")
    register_command.add_argument(
        "--gate-result",
        default="",
        help="gate.json's text, as the job that gated hands it over (default: the file)",
    )
    promote_command = command(
        "promote",
        _promote,
        "staging: move the alias. production (without GitHub): declare the version in "
        "deploy/production.yaml and deploy it.",
    )
    promote_command.add_argument("--to", required=True, choices=ALIASES)
    promote_command.add_argument(
        "--version",
        type=int,
        default=None,
        help="version (default: staging, the newest commit's; production, staging's)",
    )
    promote_command.add_argument(
        "--approved-by", default="", help="comma-separated logins, written on the version"
    )
    rollback_command = command(
        "rollback",
        _rollback,
        "Without GitHub: declare an earlier production version (default: the one git declared "
        "before) as a rollback, and deploy it.",
    )
    rollback_command.add_argument("--version", type=int, default=None)
    rollback_command.add_argument("--reason", required=True, help="why: recorded on the version")
    rollback_command.add_argument("--by", default="", help="who rolls back (comma-separated)")
    deploy_command = command(
        "deploy",
        _deploy,
        "Make the registry serve what deploy/production.yaml declares, after checking it.",
    )
    deploy_command.add_argument(
        "--github",
        action="store_true",
        help="in GitHub Actions: the change must come from a pull request a code owner "
        "approved on its final head (GitHub's reviews API)",
    )
    deploy_command.add_argument(
        "--approved-by", default="", help="without GitHub: who approved (comma-separated)"
    )
    propose_promotion_command = command(
        "propose-promotion",
        _propose_promotion,
        "In GitHub Actions: the ONE pull request that sets production to a version.",
    )
    propose_promotion_command.add_argument("--version", type=int, required=True)
    propose_promotion_command.add_argument(
        "--gate-result", default="", help="gate.json's text, for the pull request's report"
    )
    propose_rollback_command = command(
        "propose-rollback",
        _propose_rollback,
        "In GitHub Actions: the pull request that sets production back, with the reason.",
    )
    propose_rollback_command.add_argument("--reason", required=True)
    propose_rollback_command.add_argument(
        "--version", type=int, default=None, help="default: the one git declared before"
    )
    emergency_command = command(
        "emergency-rollback",
        _emergency_rollback,
        "In GitHub Actions, behind `production`: commit the rollback to deploy/ on the default "
        "branch (DEPLOY_PUSH_TOKEN), then apply it at once.",
    )
    emergency_command.add_argument("--reason", required=True)
    emergency_command.add_argument("--by", required=True, help="who asked for it")
    emergency_command.add_argument(
        "--version", type=int, default=None, help="default: the one git declared before"
    )
    reconcile_command = command(
        "reconcile",
        _reconcile,
        "Compare the registry with deploy/; restore or report a difference in ONE issue.",
    )
    reconcile_command.add_argument(
        "--check", action="store_true", help="only compare (a step output `differs`)"
    )
    predict_command = command(
        "predict",
        _predict,
        "Score a CSV with the version deploy/ declares (bytes checked against git's sha256); "
        "exit 1 if rows were rejected.",
    )
    predict_command.add_argument(
        "file", type=input_file, help="CSV with the columns the model takes (INPUT=...)"
    )
    predict_command.add_argument(
        "--version", type=int, default=None, help="score with a version deploy/ once declared"
    )
    drift_command = command(
        "drift",
        _drift,
        "Compare a batch with the production model's training data; exit 1 on drift, 2 if "
        "undecided.",
    )
    drift_command.add_argument(
        "file", type=input_file, nargs="?", help="CSV batch (default: drift.batch in params)"
    )
    drift_command.add_argument(
        "--github", action="store_true", help="in GitHub Actions: the verdict is a step output"
    )
    alert_command = command(
        "drift-alert",
        _drift_alert,
        "Open or update the one drift issue and dispatch retrain.yml (GITHUB_TOKEN).",
    )
    alert_command.add_argument(
        "--retrain",
        choices=["true", "false"],
        default="true",
        help="dispatch retrain.yml (false: the batch only breaks the contract)",
    )
    alert_command.add_argument("--reason", default="drift", help="why (default: %(default)s)")
    alert_command.add_argument(
        "--summary", default="", help="the issue's Markdown (default: from drift.summary)"
    )
    fold_command = command(
        "fold", _fold, "Append a labelled batch to the training data; dvc add and dvc push."
    )
    fold_command.add_argument("file", type=input_file, nargs="?", help="default: drift.batch")
    propose_command = command(
        "propose", _propose, "Commit the folded data on a branch, push it, open the retraining PR."
    )
    propose_command.add_argument("file", type=input_file, nargs="?", help="default: drift.batch")
    propose_command.add_argument("--reason", required=True, help="why retrain (drift, stale)")
    lineage_command = command(
        "lineage", _lineage, "Which versions used this data, how a version was made, what is live."
    )
    query = lineage_command.add_mutually_exclusive_group()
    query.add_argument("--data-md5", default=None, help="versions trained on this DVC md5")
    query.add_argument("--version", type=int, default=None, help="one version, in full")
    lineage_command.add_argument("--json", action="store_true", help="machine-readable output")
    command(
        "github-setup",
        _github_setup,
        "Set up GitHub (GITHUB_TOKEN): environment reviewers, branch protection, override label.",
    )
    registry_setup_command = command(
        "registry-setup",
        _registry_setup,
        "With the MLflow admin's credential: create the experiments and the registered model, "
        "grant the read and the write user exactly what their jobs need, read it back.",
    )
    registry_setup_command.add_argument("--reader", required=True, help="the read user's name")
    registry_setup_command.add_argument("--writer", required=True, help="the write user's name")
    command(
        "template-check",
        _template_check,
        "Is this project at its template's newest commit? (.cruft.json; exit 1: it is behind)",
    )
    command(
        "template-update",
        _template_update,
        "Apply the template's later changes to the work tree (three-way merge; needs it clean).",
    )
    template_render_command = command(
        "template-render",
        _template_render,
        "In GitHub Actions, with no secret: the template's changes as a patch file.",
    )
    template_render_command.add_argument("--output", type=Path, required=True)
    template_propose_command = command(
        "template-propose",
        _template_propose,
        "In GitHub Actions: the rendered patch on branch template-update, as ONE PR; runs no "
        "template code.",
    )
    template_propose_command.add_argument("--patch", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
