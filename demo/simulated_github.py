"""What people and GitHub itself do around the workflows, simulated: a developer's branches and
pushes in the project's git repository, and on the project's own fake GitHub API the pull
requests, labels, reviews and merges, with the times and the records GitHub would keep.

The workflows then read exactly this through the REST API, as they would on GitHub.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_OWNER = "model-owner"
RISK_APPROVER = "risk-approver"
HELPER = "helper"  # a colleague who may review, but is no code owner of deploy/
BOT = "github-actions[bot]"  # the author of the workflows' own pull requests
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Lifecycle Demo",
    "GIT_AUTHOR_EMAIL": "demo@localhost",
    "GIT_COMMITTER_NAME": "Lifecycle Demo",
    "GIT_COMMITTER_EMAIL": "demo@localhost",
}
# What every event payload says of the repository: the jobs that hold a registry credential run
# only when the run's ref is this default branch.
REPOSITORY = {"repository": {"default_branch": "main"}}


def github_time() -> str:
    """Now, as GitHub writes times (ISO 8601, UTC, seconds); a second apart from the last
    call, so that "after the push" is never a tie."""
    time.sleep(1.1)
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimulatedGitHub:
    """The project's repository (main, branches, `origin`) and its fake GitHub (`github`)."""

    project: Path
    github: Any  # the project's FakeGitHub
    work: Path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.project,
            env={**os.environ, **GIT_IDENTITY},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def set_up_remotes(self) -> None:
        """origin: a bare repository on disk that the workflows' pushes reach; github: the
        address act reads owner/name from, as a runner knows its repository."""
        origin = self.work / "origin.git"
        if "origin" not in self.git("remote").split():
            subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
            self.git("remote", "add", "origin", str(origin))
        if "github" not in self.git("remote").split():
            self.git("remote", "add", "github", f"https://github.com/{self.github.repository}")

    def publish_main(self) -> None:
        """Push main to origin, as a merge on GitHub would leave it; GitHub's branch API then
        names its new head."""
        self.git("push", "--quiet", "origin", "main")
        self.github.branch_heads["main"] = self.git("rev-parse", "main")

    def pull_main(self) -> None:
        """Take in what a workflow pushed to main (a rollout's recorded move)."""
        self.git("checkout", "--quiet", "main")
        self.git("pull", "--quiet", "--ff-only", "origin", "main")
        self.github.branch_heads["main"] = self.git("rev-parse", "main")

    # -- a developer --

    def change_params(self, changes: dict[tuple[str, str], str]) -> None:
        """Edit values in params.yaml in place, keeping its comments."""
        path = self.project / "params.yaml"
        lines = path.read_text(encoding="utf-8").splitlines()
        section = ""
        for index, line in enumerate(lines):
            if line and not line.startswith((" ", "#")):
                section = line.split(":", 1)[0]
            key = line.strip().split(":", 1)[0]
            if line.startswith("  ") and (section, key) in changes:
                lines[index] = f"  {key}: {changes[(section, key)]}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def branch(self, branch: str, message: str, changes: dict[Any, str]) -> str:
        """A branch from main with one commit: these parameter changes, or a README line."""
        self.git("checkout", "--quiet", "-B", branch, "main")
        if changes:
            self.change_params(changes)
        else:
            with (self.project / "README.md").open("a", encoding="utf-8") as readme:
                readme.write("\nFirst model: trained and gated by the pull request workflow.\n")
        self.git("commit", "--quiet", "-am", message)
        return self.git("rev-parse", "HEAD")

    def push_to(self, branch: str, message: str) -> str:
        """Another commit on a pull request's branch (a README line: the model stays the same)."""
        self.git("checkout", "--quiet", branch)
        with (self.project / "README.md").open("a", encoding="utf-8") as readme:
            readme.write(f"\n{message}\n")
        self.git("commit", "--quiet", "-am", message)
        return self.git("rev-parse", "HEAD")

    def fetch(self, branch: str) -> str:
        """A branch a workflow pushed (force-pushed, maybe), fetched from origin."""
        self.git("checkout", "--quiet", "main")
        self.git("fetch", "--quiet", "origin", f"+{branch}:{branch}")
        return self.git("rev-parse", branch)

    # -- GitHub --

    def pull_request_event(
        self, number: int, branch: str, labels: list[str], author: str = MODEL_OWNER
    ) -> Any:
        """The event of a pull request (by the model owner, unless said), and the workflow run
        GitHub lists for it: the override counts only for a label applied after the head's
        latest push."""
        sha = self.git("rev-parse", branch)
        pull = {
            "number": number,
            "user": {"login": author},
            "head": {"ref": branch, "sha": sha},
            "base": {"ref": "main"},
            "labels": [{"name": name} for name in labels],
        }
        self.github.workflow_runs.append(
            {"id": len(self.github.workflow_runs) + 1, "event": "pull_request", "head_sha": sha,
             "head_branch": branch, "pull_requests": [{"number": number}],
             "created_at": github_time()}
        )  # fmt: skip
        action = "labeled" if labels else "opened"
        return {"action": action, "number": number, "pull_request": pull, **REPOSITORY}

    def label(self, number: int, label: str, login: str) -> None:
        """`login` applies `label` to pull request `number` (its issue events record it)."""
        self.github.issue_events.setdefault(number, []).append(
            {"id": self.github.new_id(), "event": "labeled", "label": {"name": label},
             "actor": {"login": login}, "created_at": github_time()}
        )  # fmt: skip

    def review(self, number: int, login: str, commit: str) -> None:
        """`login` approves pull request `number` as it stood at `commit`."""
        self.github.reviews.setdefault(number, []).append(
            {"id": self.github.new_id(), "user": {"login": login}, "state": "APPROVED",
             "commit_id": commit, "submitted_at": github_time()}
        )  # fmt: skip

    def merge(
        self, branch: str, number: int, author: str = MODEL_OWNER, labels: tuple[str, ...] = ()
    ) -> str:
        """Merge like GitHub's merge button; GitHub then knows the PR of the merge commit (its
        final head, base, author and labels; its commits, by the author) and lists it as
        closed."""
        head = self.git("rev-parse", branch)
        self.git("checkout", "--quiet", "main")
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{number}", branch)
        sha = self.git("rev-parse", "HEAD")
        self.github.commit_pulls[sha] = [
            {"number": number, "merged_at": github_time(), "merge_commit_sha": sha,
             "labels": [{"name": label} for label in labels],
             "base": {"ref": "main"}, "head": {"sha": head, "ref": branch},
             "user": {"login": author}}
        ]  # fmt: skip
        self.github.pull_commits[number] = [
            {"author": {"login": author}, "committer": {"login": author}}
        ]
        for pull in self.github.pulls:
            if pull["number"] == number:
                pull["state"] = "closed"
        return sha

    def bot_pull(self, branch: str) -> dict[str, Any]:
        """The open pull request a workflow opened from `branch`."""
        return [p for p in self.github.pulls if p["head"] == branch and p["state"] == "open"][-1]
