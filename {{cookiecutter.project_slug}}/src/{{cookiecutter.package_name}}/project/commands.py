"""The project's set-up commands: bringing your own data and its contract, one setting at a
time, GitHub and MLflow set-up, and template updates."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..commands import Commands, arg, data_source, input_data, print_lines, settings_of

COMMANDS = Commands()


@COMMANDS.add(
    "data",
    "Make a CSV, or a folder or glob of Parquet files, the training data in place of the "
    "current one (DVC-tracked).",
    arg("source", type=data_source, help="your CSV, or a folder or glob of Parquet files"),
)
def data(args: argparse.Namespace) -> int:
    from . import onboarding

    settings = settings_of(args)
    print_lines(onboarding.use_data(args.source, settings.data.raw, args.params))
    print(
        "next: make contract TARGET=<column> POSITIVE=<value> FORCE=1 to describe it (for the "
        "same data with columns added or dropped, `make contract FORCE=1` keeps the key and "
        "every committed column's settings)"
    )
    return 0


@COMMANDS.add(
    "contract",
    "Draft data/contract.yaml from a CSV, for you to review.",
    arg(
        "--data",
        type=input_data,
        default=None,
        help="CSV or folder of Parquet files (default: data.raw in params)",
    ),
    arg("--target", default="", help="the column to predict (default: the committed contract's)"),
    arg("--key", default=None, help="a new row key, by column names (comma-separated)"),
    arg("--positive", default="", help="the target's value for the event to predict"),
    arg(
        "--force",
        action="store_true",
        help="replace an existing contract (a redraft keeps its key and each column's settings)",
    ),
)
def contract(args: argparse.Namespace) -> int:
    from . import contract_review

    settings = settings_of(args)
    lines = contract_review.draft_and_say(
        args.data or settings.data.raw, args.target, args.positive, args.force, args.key, settings
    )
    return print_lines(lines)


@COMMANDS.add(
    "param",
    "Change one setting in params.yaml.",
    arg("key", help="dotted key, e.g. fairness.sensitive_column"),
    arg("value", help="the value, as YAML ('' for the empty string)"),
)
def param(args: argparse.Namespace) -> int:
    from . import onboarding

    value = onboarding.set_param(args.key, args.value, args.params)
    print(f"{args.params}: {args.key} = {value!r}")
    return 0


@COMMANDS.add(
    "github-setup",
    "Set up GitHub (GITHUB_TOKEN): environment reviewers, branch protection, override label.",
)
def github_setup(args: argparse.Namespace) -> int:
    from ..github import github_api
    from . import github_setup

    return print_lines(github_setup.setup(settings_of(args), github_api.client_from_env()))


@COMMANDS.add(
    "registry-setup",
    "With the MLflow admin's credential: create the experiments and the registered model, "
    "grant the read and the write user exactly what their jobs need, read it back.",
    arg("--reader", required=True, help="the read user's name"),
    arg("--writer", required=True, help="the write user's name"),
)
def registry_setup(args: argparse.Namespace) -> int:
    from . import registry_setup

    return print_lines(registry_setup.setup(settings_of(args), args.reader, args.writer))


@COMMANDS.add(
    "template-check",
    "Is this project at its template's newest commit? (.cruft.json; exit 1: it is behind)",
)
def template_check(args: argparse.Namespace) -> int:
    from . import template_update

    if template_update.is_current():
        print("template: this project is at the template's newest commit")
        return 0
    print("template: newer changes exist; `make template-update` brings them in")
    return 1


@COMMANDS.add(
    "template-update",
    "Apply the template's later changes to the work tree (three-way merge; needs it clean).",
)
def template_update(args: argparse.Namespace) -> int:
    from . import template_update

    changed = template_update.update()
    headline = f"template: {len(changed)} file(s) changed; review `git diff HEAD`, then commit:"
    return _say_changed(changed, "template: nothing to change", headline)


@COMMANDS.add(
    "template-render",
    "In GitHub Actions, with no secret: the template's changes as a patch file.",
    arg("--output", type=Path, required=True),
)
def template_render(args: argparse.Namespace) -> int:
    from ..github import actions
    from . import template_update

    changed = template_update.render(args.output)
    actions.set_output("changed", str(bool(changed)).lower())
    headline = f"template: {len(changed)} file(s) change, in {args.output}:"
    return _say_changed(changed, "template: up to date, nothing to render", headline)


def _say_changed(changed: list[str], nothing: str, headline: str) -> int:
    """What a template command changed: one line when nothing did, else a headline and each
    file."""
    if not changed:
        print(nothing)
        return 0
    print(headline)
    return print_lines([f"  {name}" for name in changed])


@COMMANDS.add(
    "template-propose",
    "In GitHub Actions: the rendered patch on branch template-update, as ONE PR; runs no "
    "template code.",
    arg("--patch", type=Path, required=True),
)
def template_propose(args: argparse.Namespace) -> int:
    from . import template_update

    print(template_update.propose(args.patch, settings_of(args).github.default_branch))
    return 0
