"""The one way the package asks git something (the bot's own commits and pushes are
github/branches.py): a command's result, its output, or a file as a commit had it."""

from __future__ import annotations

import subprocess


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`git <args>` in the current folder; its exit code is the caller's to judge."""
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def output(*args: str) -> str | None:
    """What `git <args>` prints, stripped; None when it fails (or git is not installed)."""
    try:
        done = run(*args)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def show(rev: str, path: str) -> str | None:
    """The file at `path` (from the repository's top) as `rev` had it; None where git cannot
    tell (an unknown commit, a shallow clone, no such file then)."""
    try:
        done = run("show", f"{rev}:{path}")
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
