"""The GitHub Actions run a step is part of: its context (repository, event, commit), read from
the variables Actions sets, and what a step hands back (step outputs, the job summary).

Outside Actions the GITHUB_* variables are unset: the context says so instead of guessing, and
outputs and summaries go nowhere.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .github_api import GithubError, segment


@dataclass(frozen=True)
class RunContext:
    """The parts of a GitHub Actions run we use, read from its environment."""

    repository: str  # owner/name
    event_name: str
    event: dict[str, Any]
    sha: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RunContext:
        missing = [
            name
            for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH")
            if not environ.get(name)
        ]
        if missing:
            raise GithubError(f"{', '.join(missing)} not set: this is not a GitHub Actions run")
        event_path = Path(environ["GITHUB_EVENT_PATH"])
        try:
            event = json.loads(event_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise GithubError(f"cannot read the event payload {event_path}: {error}") from None
        return cls(
            repository=environ["GITHUB_REPOSITORY"],
            event_name=environ["GITHUB_EVENT_NAME"],
            event=event if isinstance(event, dict) else {},
            sha=environ.get("GITHUB_SHA", ""),
        )

    @property
    def repo_path(self) -> str:
        owner, _, name = self.repository.partition("/")
        return f"/repos/{segment(owner)}/{segment(name)}"


def set_output(name: str, value: str, environ: Mapping[str, str] = os.environ) -> None:
    """A step output (GITHUB_OUTPUT), multi-line safe; nothing outside Actions."""
    target = environ.get("GITHUB_OUTPUT")
    if not target:
        return
    delimiter = f"EOF_{secrets.token_hex(8)}"  # a value cannot end the block early
    with Path(target).open("a", encoding="utf-8") as stream:
        stream.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def add_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append to the job summary (GITHUB_STEP_SUMMARY); nothing outside Actions."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as stream:
            stream.write(markdown.rstrip("\n") + "\n")
