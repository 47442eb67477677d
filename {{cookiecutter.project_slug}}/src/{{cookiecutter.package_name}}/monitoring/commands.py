"""The monitoring commands: batch scoring, the drift check and its one issue, and folding a
labelled batch into the training data for retraining."""

from __future__ import annotations

import argparse
import sys
import traceback
from datetime import UTC, datetime

from ..commands import Commands, arg, input_data, input_file, print_lines, settings_of
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


def utc_time(text: str) -> datetime:
    """--decided-at: an ISO 8601 date or time; one without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time: give e.g. 2024-03-01 or "
            "2024-03-01T09:30:00+00:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@COMMANDS.add(
    "predict",
    "Score a CSV (or a folder of Parquet files) with the version deploy/ declares (bytes "
    "checked against git's sha256); exit 1 if rows were rejected.",
    arg(
        "file",
        type=input_data,
        help="CSV or folder of Parquet files with the columns the model takes (INPUT=...)",
    ),
    arg("--version", type=int, default=None, help="score with a version deploy/ once declared"),
    arg(
        "--explain",
        type=reasons_count,
        default=0,
        help="name each row's N principal reasons (reason_1..N columns; EXPLAIN=N)",
    ),
    arg(
        "--decided-at",
        type=utc_time,
        default=None,
        help="log the decisions at this time, not now: a replay of past decisions (DECIDED_AT=)",
    ),
)
def predict(args: argparse.Namespace) -> int:
    from . import scoring

    settings = settings_of(args)
    scored = scoring.predict(settings, args.file, args.version, args.explain, args.decided_at)
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
    "compact-log",
    "Compact the inference log's closed days to Parquet, delete those past "
    "predict.log_retention_days, and move an earlier version's one-file log into it.",
)
def compact_log(args: argparse.Namespace) -> int:
    from . import inference_log

    settings = settings_of(args)
    log, keep_days = settings.predict.log, settings.predict.log_retention_days
    moved = inference_log.fold_in_single_file(log)
    if moved:
        print(f"moved {moved} rows of {log.with_suffix('.csv')} into {log}/ (the file: .folded)")
    compacted, deleted = inference_log.compact(log, datetime.now(UTC), keep_days)
    kept = f"older than {keep_days} days" if keep_days else "predict.log_retention_days: 0"
    print(f"{log}: {len(compacted)} day(s) compacted to Parquet, {len(deleted)} deleted ({kept})")
    return 0


@COMMANDS.add(
    "drift",
    "Compare a batch with the production model's training data; exit 1 on drift, 2 if undecided.",
    arg(
        "file",
        type=input_data,
        nargs="?",
        help="CSV or folder of Parquet files (default: drift.batch in params)",
    ),
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


@COMMANDS.add(
    "outcomes",
    "Store the outcomes of LABELS (if given), then judge each version per window against its "
    "own evaluation; exit 1 on an alert, 2 if undecided.",
    arg(
        "file",
        type=input_file,
        nargs="?",
        help="CSV of outcomes: request_id (and row) or the contract's key, the target, "
        "known_at (LABELS=...)",
    ),
    arg("--github", action="store_true", help="in GitHub Actions: the alerts are step outputs"),
)
def outcomes(args: argparse.Namespace) -> int:
    """Exit 0: every rule holds; 1: an alert (performance or fairness); 2: the judgement
    could not be made (outcomes given are stored first, whatever follows). With --github the
    alerts go to the step outputs instead, and only 2 fails the step."""
    from ..github import actions
    from . import outcome_store, outcomes_report
    from .outcomes import judge, registry_baselines

    settings = settings_of(args)
    now = datetime.now(UTC)
    stored = []
    if args.file:
        added, pruned = outcome_store.add_file(settings, args.file, now)
        stored = outcomes_report.stored_lines(added, args.file, pruned, settings)
    try:
        judged = judge(settings, registry_baselines(settings), now)
    except EXPECTED_ERRORS as error:
        actions.add_summary(f"## Outcomes\n\nCould not judge the outcomes: {error}\n")
        print_lines(stored)  # kept, whatever the judgement
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = outcomes_report.summary(judged, stored, settings)
    outcomes_report.write(judged, text, settings, now)
    actions.add_summary(text)
    performance = any(j.performance_alert for j in judged)
    fairness = any(j.fairness_alert for j in judged)
    actions.set_output("performance_alert", str(performance).lower())
    actions.set_output("fairness_alert", str(fairness).lower())
    actions.set_output("reason", "; ".join(outcomes_report.alerts(judged, settings))[:500])
    actions.set_output("summary", text)
    print(text, end="")
    return 1 if (performance or fairness) and not args.github else 0


@COMMANDS.add(
    "outcomes-alert",
    "Open or update the outcome alerts' issues; dispatch retrain.yml on a performance alert "
    "(GITHUB_TOKEN).",
    arg("--performance", choices=["true", "false"], required=True, help="a performance alert"),
    arg("--fairness", choices=["true", "false"], required=True, help="a fairness alert"),
    arg("--reason", default="outcomes", help="why (default: %(default)s)"),
    arg("--summary", default="", help="the issues' Markdown (default: from outcomes.summary)"),
)
def outcomes_alert(args: argparse.Namespace) -> int:
    from . import alerts

    settings = settings_of(args)
    summary = args.summary or settings.outcomes.summary.read_text(encoding="utf-8")
    return print_lines(
        alerts.outcome_alerts(
            settings, summary, args.performance == "true", args.fairness == "true", args.reason
        )
    )
