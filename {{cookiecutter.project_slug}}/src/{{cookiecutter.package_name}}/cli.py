"""The project's one command: a subcommand per pipeline step, `--help` on each.

Exit codes: 0 success, 1 the step ran and said no (bad data, unreachable server, bad params),
2 the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import stages, tracking
from .contract import ContractError
from .settings import DEFAULT_PARAMS, Settings, SettingsError, load_settings

# Errors that end a step with one readable line instead of a traceback.
EXPECTED_ERRORS = (
    SettingsError,
    ContractError,
    tracking.TrackingUnavailable,
    FileNotFoundError,
    ValueError,
)


def _validate(args: argparse.Namespace) -> int:
    result = stages.validate(load_settings(args.params), args.file)
    if not result.passed:
        for problem in result.problems:
            print(f"invalid data: {problem}", file=sys.stderr)
        return 1
    print(f"data valid: {result.rows} rows passed {result.expectations} expectations")
    return 0


def _split(args: argparse.Namespace) -> int:
    train_rows, eval_rows = stages.split(load_settings(args.params))
    print(f"split: {train_rows} training rows, {eval_rows} evaluation rows")
    return 0


def _settings_and_live_tracking(args: argparse.Namespace) -> Settings:
    """Settings for a step that writes to MLflow, after checking the server answers: a down
    server is reported in seconds, before any work is done."""
    settings = load_settings(args.params)
    tracking.check_tracking(tracking.tracking_uri())
    return settings


def _train(args: argparse.Namespace) -> int:
    settings = _settings_and_live_tracking(args)
    run = stages.train(settings)
    print(f"trained: {settings.train.model} (MLflow run {run.run_id})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    values = stages.evaluate(_settings_and_live_tracking(args))
    print("  ".join(f"{name}={value:.4f}" for name, value in values.items()))
    return 0


def _check_tracking(args: argparse.Namespace) -> int:
    uri = tracking.tracking_uri()
    tracking.check_tracking(uri, wait_seconds=args.wait)
    print(f"MLflow tracking server {uri} is up")
    return 0


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
    command("split", _split, "Cut the data into the train and frozen evaluation splits.")
    command("train", _train, "Train the model and record it in MLflow with its lineage.")
    command("evaluate", _evaluate, "Score the model on the evaluation split; write metrics, plots.")
    check = command("check-tracking", _check_tracking, "Check that the MLflow server answers.")
    check.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep trying (default: %(default)s)"
    )
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
