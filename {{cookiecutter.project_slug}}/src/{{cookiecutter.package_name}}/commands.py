"""How a command of the project's command line is declared: its name, its help, its arguments
and its handler, written together where the handler is (each part's `commands.py`). cli.py
builds the parser from them. A handler reads its arguments, calls the part's code, prints what
it returned, and gives the exit code: it decides nothing itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import Settings

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Argument:
    """One argparse argument: the names and options `add_argument` takes."""

    names: tuple[str, ...]
    options: dict[str, Any]


def arg(*names: str, **options: Any) -> Argument:
    return Argument(names, options)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Handler
    arguments: tuple[Argument | tuple[Argument, ...], ...]

    def add_to(self, commands: Any) -> None:
        """Add this command to argparse's subparsers; a tuple of arguments is a group of
        which at most one may be given."""
        sub = commands.add_parser(self.name, help=self.help, description=self.help)
        sub.set_defaults(handler=self.handler)
        for argument in self.arguments:
            if isinstance(argument, Argument):
                sub.add_argument(*argument.names, **argument.options)
                continue
            group = sub.add_mutually_exclusive_group()
            for one in argument:
                group.add_argument(*one.names, **one.options)


@dataclass
class Commands:
    """A part's commands, in the order its `--help` lists them."""

    listed: list[Command] = field(default_factory=list)

    def add(
        self, name: str, help_text: str, *arguments: Argument | tuple[Argument, ...]
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.listed.append(Command(name, help_text, handler, arguments))
            return handler

        return declare


def input_file(text: str) -> Path:
    """A CSV named on the command line: refused at once when it is not there. A leading ~ is
    the home folder: sh and zsh leave it as typed in `make data DATA=~/data.csv`."""
    if not text.strip():
        raise argparse.ArgumentTypeError("no file given (make: INPUT=<csv> or DATA=<csv>)")
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def data_source(text: str) -> str:
    """Data named on the command line (a CSV, a folder or a glob): checked by its reader."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "no data given (make: DATA=<csv, folder of Parquet files, or 'glob/*.parquet'>)"
        )
    return text


def input_data(text: str) -> Path:
    """A CSV or a folder (of Parquet files) named on the command line: refused at once when
    it is not there."""
    path = Path(data_source(text)).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return path


def logins(text: str) -> tuple[str, ...]:
    """Comma-separated GitHub logins, as --approved-by and --by take them."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def print_lines(lines: list[str]) -> int:
    for line in lines:
        print(line)
    return 0


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings (params.yaml, or --params), read only by the commands that need them:
    pydantic's models cost 0.3 s to import, which `--help` and the light commands skip."""
    from .settings import load_settings

    return load_settings(args.params)
