"""Who owns a path, by the repository's CODEOWNERS file as GitHub reads it: the first of
.github/CODEOWNERS, CODEOWNERS and docs/CODEOWNERS; gitignore-style patterns; the last
matching line wins; its owners are alternatives (`@user` or `@org/team`)."""

from __future__ import annotations

import pathspec

from .. import git

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def owners_in(text: str, path: str) -> tuple[str, ...]:
    """The owners of `path` (repository-relative, forward slashes) by one CODEOWNERS text, as
    handles without the `@` (emails are left out: reviews name logins)."""
    owners: tuple[str, ...] = ()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        pattern, *handles = line.split()
        if pathspec.GitIgnoreSpec.from_lines([pattern]).match_file(path):
            owners = tuple(h.removeprefix("@") for h in handles if h.startswith("@"))
    return owners


def owners_at(commit: str, path: str) -> tuple[str, ...]:
    """The owners of `path` by the CODEOWNERS file of `commit` (none when it has no file)."""
    for location in LOCATIONS:
        text = git.show(commit, location)
        if text is not None:
            return owners_in(text, path)
    return ()
