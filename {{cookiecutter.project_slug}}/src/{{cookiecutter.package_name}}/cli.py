"""The project's one command: a subcommand per step, `--help` on each.

Each part declares its own commands beside their handlers (pipeline/commands.py,
control/commands.py, monitoring/commands.py, serving/commands.py, project/commands.py); this
module only gathers them into one parser and turns an expected error into one line.

Exit codes: 0 success, 1 the step ran and said no (bad data, unreachable server, bad params),
2 the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .commands import input_file
from .control.commands import COMMANDS as CONTROL
from .errors import EXPECTED_ERRORS
from .monitoring.commands import COMMANDS as MONITORING
from .pipeline.commands import COMMANDS as PIPELINE
from .project.commands import COMMANDS as PROJECT
from .serving.commands import COMMANDS as SERVING

__all__ = ["build_parser", "input_file", "main"]

# Each command imports what it uses when it runs: `--help` and the light commands do not pay
# for MLflow, XGBoost, Great Expectations or Evidently (seconds each), nor for the settings'
# pydantic models (0.3 s), which only the commands that read params.yaml import.
DEFAULT_PARAMS = Path("params.yaml")  # settings.DEFAULT_PARAMS
PARTS = (PROJECT, PIPELINE, CONTROL, MONITORING, SERVING)
DESCRIPTION = (
    "The project's one command: a subcommand per step, `--help` on each. Exit codes: 0 "
    "success, 1 the step ran and said no (bad data, unreachable server, bad params), 2 the "
    "command line itself was wrong."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.project_slug }}",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--params", type=Path, default=DEFAULT_PARAMS, help="settings file (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for part in PARTS:
        for command in part.listed:
            command.add_to(commands)
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
