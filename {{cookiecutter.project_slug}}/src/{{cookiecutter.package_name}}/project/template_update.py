"""The template this project was baked from, and bringing in its later changes (cruft).

`.cruft.json` records the template (a git URL or path), the template commit the project is at,
and the answers it was baked with: `cruft create` writes it, and `cruft link <template>` adds
it to a project baked with plain cookiecutter; an update renders the template at that commit
and at its newest, both with the same answers, and applies the difference to this project with
a three-way merge, so a file the project also changed elsewhere keeps both changes. A change
that collides with the project's own stops with the files named: nothing half-merged is
committed or proposed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MissingInputError, ProjectError
from ..github import branches

CRUFT_FILE = Path(".cruft.json")
BRANCH = "template-update"


def linked_template(project: Path = Path()) -> dict[str, Any]:
    """The template and commit the project records; a one-line error if it records none."""
    path = project / CRUFT_FILE
    if not path.is_file():
        raise MissingInputError(
            f"{path} not found: this project is not linked to its template; run "
            "`uvx cruft link <template git URL>` once (README: Template updates) and commit it"
        )
    state = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(state, dict) or not {"template", "commit"} <= state.keys():
        raise ProjectError(f"{path}: not a cruft file (no template or commit)")
    return state


def is_current(project: Path = Path()) -> bool:
    """Whether the project is at its template's newest commit (the template is fetched)."""
    import cruft  # GitPython and cookiecutter: only the template commands pay for them
    from cruft.exceptions import CruftError

    state = linked_template(project)
    try:
        return bool(cruft.check(project_dir=project))
    except CruftError as error:
        raise _unreachable(state, error) from None


def _unreachable(state: dict[str, Any], error: Exception) -> ProjectError:
    said = " ".join(str(error).split())  # cruft's messages span lines
    return ProjectError(
        f"template {state['template']} (from .cruft.json): {error.__class__.__name__}: {said}; "
        "is the URL right and reachable from here?"
    )


def update(project: Path = Path()) -> list[str]:
    """Apply the template's changes since the recorded commit to the work tree; the files
    changed. Needs a clean work tree, and refuses to leave a conflict behind."""
    import cruft
    from cruft.exceptions import CruftError

    state = linked_template(project)
    if branches.git("-C", str(project), "status", "--porcelain"):
        raise ProjectError("the work tree has uncommitted changes: commit or stash them first")
    try:
        updated = cruft.update(project_dir=project, skip_apply_ask=True)
    except CruftError as error:
        raise _unreachable(state, error) from None
    if not updated:
        raise ProjectError("cruft could not update the project (see above)")
    conflicts = _conflicts(project)
    if conflicts:
        raise ProjectError(
            f"the template's changes collide with this project's in {', '.join(conflicts)} "
            "(whatever cruft said above): resolve the conflict markers there (git diff), then "
            "`git add -A` and commit; .cruft.json already names the new template commit"
        )
    changed = branches.git("-C", str(project), "diff", "--name-only", "HEAD")
    added = branches.git("-C", str(project), "ls-files", "--others", "--exclude-standard")
    return sorted({*changed.splitlines(), *added.splitlines()})


def _conflicts(project: Path) -> list[str]:
    """Files a three-way merge left unmerged, and rejected hunks (*.rej) of the fallback."""
    unmerged = branches.git("-C", str(project), "diff", "--name-only", "--diff-filter=U")
    rejected = [str(path.relative_to(project)) for path in project.rglob("*.rej")]
    return sorted({*unmerged.splitlines(), *rejected})


def render(patch: Path, project: Path = Path()) -> list[str]:
    """template.yml's first job, which holds no secret: render the template's newest commit
    and merge it into the project (cruft runs the template's hooks: the template's code), write
    the change as a patch for the second job, and put the work tree back as it was. Returns the
    files the patch changes; none (and no patch) where the project is current."""
    if is_current(project):
        return []
    changed = update(project)
    branches.git("-C", str(project), "add", "--all")
    patch.parent.mkdir(parents=True, exist_ok=True)
    output = f"--output={patch.resolve()}"  # as git wrote it: whitespace is part of a patch
    branches.git("-C", str(project), "diff", "--cached", "--binary", output, "HEAD")
    # update() refused an unclean tree, so this drops nothing but the template's changes.
    branches.git("-C", str(project), "reset", "--quiet", "--hard", "HEAD")
    return changed


def propose(patch: Path, default_branch: str, project: Path = Path()) -> str:
    """template.yml's second job, which holds the token and runs no template code: apply the
    patch the first job rendered (git, nothing else), commit it on `template-update` and propose
    it as ONE pull request (updated, not duplicated, while it is open), listing every file it
    changes; the gate then judges it like any other change."""
    if not patch.is_file():
        return "template: up to date, nothing to propose"
    before = linked_template(project)
    if branches.git("-C", str(project), "status", "--porcelain"):
        raise ProjectError("the work tree has uncommitted changes: the patch needs a clean one")
    branches.git("-C", str(project), "apply", "--index", "--binary", str(patch.resolve()))
    changed = branches.git("-C", str(project), "diff", "--cached", "--name-only").splitlines()
    after = linked_template(project)
    title = f"Update from the template ({before['commit'][:8]} -> {after['commit'][:8]})"
    listed = "\n".join(f"- `{name}`" for name in changed)
    body = (
        f"The template `{after['template']}` moved from `{before['commit']}` to "
        f"`{after['commit']}`. Its changes, applied to this project with a three-way merge "
        f"(`make template-update`), change these files:\n\n{listed}\n\n"
        "The template was rendered (and its hooks run) in a job that held no secret; this "
        "pull request was opened by one that ran no template code. The pull request gate "
        "judges it like any other change: review the diff, and nothing reaches the registry "
        "without the gate and the approvals."
    )
    return branches.propose(BRANCH, changed, title, body, default_branch)
