"""A change a bot proposes: git and dvc run as tools, a commit on a branch by the Actions bot,
and a push with the job's token for that one command (the checkout keeps no credential)."""

from __future__ import annotations

import base64
import os
import subprocess

from ..errors import ProjectError
from . import actions, github_api, repository

BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def run_tool(*command: str) -> str:
    """Run a tool (git, dvc); a failure is one line: the command (without its -c settings,
    one of which may hold a token) and its last word on it, with what a git server said."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        said = [line for line in lines if line.startswith("remote:")][:2] + lines[-1:]
        raise ProjectError(f"{_named(command)}: {' / '.join(said) or 'failed'}")
    return done.stdout.strip()


def _named(command: tuple[str, ...]) -> str:
    """The tool and its subcommand, `-c name=value` pairs left out."""
    words: list[str] = []
    skip = False
    for word in command:
        if skip or word == "-c":
            skip = not skip
            continue
        words.append(word)
    return " ".join(words[:4])


def git(*args: str) -> str:
    return run_tool("git", "-c", f"user.name={BOT[0]}", "-c", f"user.email={BOT[1]}", *args)


def commit_on_branch(branch: str, paths: list[str], message: str) -> None:
    """Commit these paths (their additions, changes and removals) on `branch`, made from HEAD."""
    git("checkout", "-B", branch)
    git("add", "--all", "--", *paths)
    git("commit", "--quiet", "-m", message)


def _auth_header(token: str) -> list[str]:
    """The token for one push, the way actions/checkout would have stored it (we don't)."""
    if not token:
        return []
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return ["-c", f"http.extraheader=AUTHORIZATION: basic {basic}"]


def push(branch: str, token: str, force: bool = True) -> None:
    """Push HEAD to `branch` on origin: a bot's own branch is replaced (what a previous run
    pushed there), any other only moved forward."""
    mode = ["--force"] if force else []
    git(*_auth_header(token), "push", "--quiet", *mode, "origin", f"HEAD:refs/heads/{branch}")


def propose(branch: str, paths: list[str], title: str, body: str, base: str) -> str:
    """In GitHub Actions: commit `paths` on `branch`, push it with the job's GITHUB_TOKEN, and
    open its ONE pull request into `base` (or update the one already open)."""
    commit_on_branch(branch, paths, title)
    push(branch, os.environ.get("GITHUB_TOKEN", ""))
    run = actions.RunContext.from_env()
    return repository.open_pull_request(
        github_api.client_from_env(), run, branch, base, title, body
    )
