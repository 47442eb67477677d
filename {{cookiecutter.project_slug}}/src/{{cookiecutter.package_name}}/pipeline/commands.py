"""The pipeline's commands: its steps (validate; split and train, which dvc.yaml runs as one
stage), and the checks `make` runs before them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..commands import Commands, arg, settings_of

COMMANDS = Commands()


@COMMANDS.add(
    "validate",
    "Check data against the data contract.",
    arg("file", type=Path, nargs="?", help="CSV to check (default: the training data)"),
)
def validate(args: argparse.Namespace) -> int:
    from . import stages

    return stages.run_validate(settings_of(args), args.file)


@COMMANDS.add("split", "Cut the data into the train and frozen evaluation splits.")
def split(args: argparse.Namespace) -> int:
    from . import stages

    return stages.run_split(settings_of(args))


@COMMANDS.add(
    "train",
    "Cut the splits, train the model, score it on the evaluation split (metrics, plots) and "
    "record both in MLflow with its lineage.",
)
def train(args: argparse.Namespace) -> int:
    from . import stages

    return stages.run_train(settings_of(args))


@COMMANDS.add("check-clean", "Fail unless the work tree is a clean commit.")
def check_clean(args: argparse.Namespace) -> int:
    from . import lineage

    print(f"clean: commit {lineage.clean_commit()[:12]}")
    return 0


@COMMANDS.add(
    "check-port", "Fail when something listens on HOST:PORT.", arg("host"), arg("port", type=int)
)
def check_port(args: argparse.Namespace) -> int:
    from . import tracking

    tracking.check_port_free(args.host, args.port)
    return 0


@COMMANDS.add(
    "check-tracking",
    "Check that the MLflow server answers.",
    arg("--wait", type=float, default=0.0, help="seconds to keep trying (default: %(default)s)"),
)
def check_tracking(args: argparse.Namespace) -> int:
    from . import tracking

    uri = tracking.tracking_uri()
    tracking.check_tracking(uri, wait_seconds=args.wait)
    print(f"MLflow tracking server {uri} is up")
    return 0
