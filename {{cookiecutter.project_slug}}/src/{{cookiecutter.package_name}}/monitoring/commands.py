"""The monitoring commands: batch scoring, the drift check and its one issue, and folding a
labelled batch into the training data for retraining."""

from __future__ import annotations

import argparse
import sys
import traceback

from ..commands import Commands, arg, input_file, print_lines, settings_of
from ..errors import EXPECTED_ERRORS

COMMANDS = Commands()


def reasons_count(text: str) -> int:
    """--explain N: how many principal reasons per row, 0 (none) to MAX_REASONS."""
    from ..pipeline.explanations import MAX_REASONS

    if not text.strip().isdigit() or int(text) > MAX_REASONS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a whole number of reasons per row from 0 to {MAX_REASONS} "
            "(make predict EXPLAIN=3)"
        )
    return int(text)


@COMMANDS.add(
    "predict",
    "Score a CSV with the version deploy/ declares (bytes checked against git's sha256); "
    "exit 1 if rows were rejected.",
    arg("file", type=input_file, help="CSV with the columns the model takes (INPUT=...)"),
    arg("--version", type=int, default=None, help="score with a version deploy/ once declared"),
    arg(
        "--explain",
        type=reasons_count,
        default=0,
        help="name each row's N principal reasons (reason_1..N columns; EXPLAIN=N)",
    ),
)
def predict(args: argparse.Namespace) -> int:
    from . import scoring

    settings = settings_of(args)
    scored = scoring.predict(settings, args.file, args.version, args.explain)
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


@COMMANDS.add(
    "drift",
    "Compare a batch with the production model's training data; exit 1 on drift, 2 if undecided.",
    arg("file", type=input_file, nargs="?", help="CSV batch (default: drift.batch in params)"),
    arg("--github", action="store_true", help="in GitHub Actions: the verdict is a step output"),
)
def check_drift(args: argparse.Namespace) -> int:
    """Exit 0: no drift; 1: an alert (drift or a stale model: retrain; or too many rows
    breaking the contract); 2: the check could not decide. With --github the verdict goes to
    the step outputs instead, and only 2 fails the step."""
    from ..github import actions
    from . import drift, drift_report

    settings = settings_of(args)
    try:
        result = drift.check(settings, args.file or settings.drift.batch)
    except Exception as error:
        # Whatever stopped the check, it did not decide: 2, never 1 (an alert would retrain).
        # A bug (or a library's error, say a cloud refusing DVC) keeps its traceback.
        if not isinstance(error, EXPECTED_ERRORS):
            traceback.print_exc()
        actions.add_summary(drift_report.write_undecided(error, settings.drift))
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = drift_report.summary(result)
    decided = result.decision
    actions.add_summary(text)
    actions.set_output("alert", str(decided.alert).lower())
    actions.set_output("retrain", str(decided.retrain).lower())
    actions.set_output("reason", drift_report.reason(decided, settings.drift))
    actions.set_output("summary", drift_report.issue_body(text))
    print(text, end="")
    return 1 if decided.alert and not args.github else 0


@COMMANDS.add(
    "drift-alert",
    "Open or update the one drift issue and dispatch retrain.yml (GITHUB_TOKEN).",
    arg(
        "--retrain",
        choices=["true", "false"],
        default="true",
        help="dispatch retrain.yml (false: the batch only breaks the contract)",
    ),
    arg("--reason", default="drift", help="why (default: %(default)s)"),
    arg("--summary", default="", help="the issue's Markdown (default: from drift.summary)"),
)
def drift_alert(args: argparse.Namespace) -> int:
    from . import alerts, drift_report

    settings = settings_of(args)
    summary = args.summary or drift_report.issue_body(
        settings.drift.summary.read_text(encoding="utf-8")
    )
    return print_lines(alerts.drift_alert(settings, summary, args.reason, args.retrain == "true"))


@COMMANDS.add(
    "fold",
    "Append a labelled batch to the training data; dvc add and dvc push.",
    arg("file", type=input_file, nargs="?", help="default: drift.batch"),
)
def fold(args: argparse.Namespace) -> int:
    from . import retraining

    settings = settings_of(args)
    batch = args.file or settings.drift.batch
    rows = retraining.fold_batch(settings, batch)
    print(f"folded {rows} rows of {batch} into {settings.data.raw} (dvc add, dvc push)")
    return 0


@COMMANDS.add(
    "propose",
    "Commit the folded data on a branch, push it, open the retraining PR.",
    arg("file", type=input_file, nargs="?", help="default: drift.batch"),
    arg("--reason", required=True, help="why retrain (drift, stale)"),
)
def propose(args: argparse.Namespace) -> int:
    from . import retraining

    settings = settings_of(args)
    print(retraining.propose(settings, args.file or settings.drift.batch, args.reason))
    return 0
