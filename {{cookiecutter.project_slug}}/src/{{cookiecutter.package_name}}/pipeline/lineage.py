"""Lineage: the facts that say exactly how a model was made.

They are written as tags on the MLflow run (and later on the registered version) so that
"which data, which code, which parameters, which libraries" has one answer per model.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .. import git
from ..errors import MissingInputError, ProjectError
from ..settings import Settings, SettingsError
from ..vocabulary import (
    DATA_MD5,
    ENGINE,
    ENGINE_PARTITIONS,
    ENGINE_WORKERS,
    EVAL_MD5,
    GIT_COMMIT_TIME,
    GIT_DIRTY,
    GIT_SHA,
    LIBRARY_VERSION,
    LOCK_HASH,
    PARAMS_HASH,
    TRAIN_MD5,
)

LOCKFILE = Path("uv.lock")
LIBRARIES = (
    "xgboost",
    "scikit-learn",
    "pandas",
    "numpy",
    "mlflow",
    "dvc",
    "great-expectations",
    "dask",
)
# dvc.lock is rewritten by the very pipeline run we describe, so it does not make a tree dirty.
IGNORED_FOR_DIRTY = ("dvc.lock",)


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes: the same value DVC records for it in .dvc files and dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_md5(path: Path) -> str:
    """The md5 DVC records for a tracked folder: of the sorted list of its files' md5s and
    paths, as JSON, marked ".dir"."""
    files = sorted(file for file in path.rglob("*") if file.is_file())
    listing = [{"md5": file_md5(f), "relpath": f.relative_to(path).as_posix()} for f in files]
    listing.sort(key=lambda entry: entry["relpath"])
    text = json.dumps(listing, sort_keys=True).encode()
    return hashlib.md5(text, usedforsecurity=False).hexdigest() + ".dir"


def data_md5(path: Path) -> str:
    """The md5 DVC records for a tracked file or folder."""
    return folder_md5(path) if path.is_dir() else file_md5(path)


def check_pointer(path: Path) -> None:
    """A DVC-tracked file or folder must hold the bytes its pointer (`<path>.dvc`) records:
    data changed outside DVC, or pulled without verification from a changed remote, is
    refused."""
    pointer = path.with_name(path.name + ".dvc")
    if not pointer.exists():
        return  # not tracked by DVC here (the tests' own data)
    from .. import yaml_files

    recorded = str(
        ((yaml_files.load(pointer.read_text(encoding="utf-8")) or {}).get("outs") or [{}])[0].get(
            "md5"
        )
    )
    found = data_md5(path)
    if found != recorded:
        raise ProjectError(
            f"{path} has md5 {found} but {pointer} records {recorded}: the data is not what "
            "the commit names (changed by hand, or pulled unverified): `dvc pull` it again"
        )


def recorded_bytes(path: Path, md5: str, git_sha: str) -> bytes:
    """The content a model's lineage names: the file whose DVC md5 is `md5` (`path` as it was
    at commit `git_sha`). The local file when it matches, else DVC's cache, else fetched from
    the DVC remote by that md5 (content-addressed: no git history is needed). Either way it is
    checked against the md5, so no other bytes are ever taken for it."""
    if path.exists() and file_md5(path) == md5:
        return path.read_bytes()
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    where = f"{path} as trained on at commit {git_sha[:12]} (md5 {md5})"
    try:
        repo = Repo(".")
        cached = Path(repo.cache.local.oid_to_path(md5))
        if not cached.exists():
            repo.cloud.pull([HashInfo("md5", md5)])
    except (DvcException, OSError) as error:
        raise MissingInputError(f"{where} cannot be fetched through DVC: {error}") from None
    if not cached.exists():
        raise MissingInputError(f"{where} is neither in DVC's cache nor in its remote")
    content = cached.read_bytes()
    found = hashlib.md5(content, usedforsecurity=False).hexdigest()
    if found != md5:
        raise ProjectError(f"{where}: DVC returned bytes with md5 {found}")
    return content


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def params_hash(settings: Settings) -> str:
    """A hash of the parameters' meaning, not their formatting or comments."""
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_at(sha: str, path: Path) -> str | None:
    """A file as commit `sha` had it (`path` relative to here), or None when git cannot tell
    (an unknown commit, a shallow clone, no such file then)."""
    return git.show(sha, f"./{path.as_posix()}")


@dataclass(frozen=True)
class History:
    """The default branch's own line of commits (its first parents: each push or merge to it),
    newest first: which of two commits is newer is decided here, by their place on that line,
    never by a commit time a tag or a committer could set. A commit of a merged branch is not
    on the line; only the branch's own commits are ever registered."""

    positions: dict[str, int]  # sha -> 0 for the branch head, growing into the past
    ref: str

    def knows(self, sha: str) -> bool:
        return sha in self.positions

    def is_older(self, sha: str, than: str) -> bool:
        """Whether commit `sha` comes before commit `than` on the branch (both known)."""
        return self.positions[sha] > self.positions[than]


def branch_history(branch: str) -> History:
    """The history of `origin/<branch>` when the remote branch is known (a CI checkout with
    full history), else of HEAD (a local clone, the tests)."""
    for ref in (f"origin/{branch}", "HEAD"):
        listed = git.output("rev-list", "--first-parent", ref, "--")
        if listed is not None:
            return History({sha: n for n, sha in enumerate(listed.split())}, ref)
    return History({}, "none")


def git_state() -> tuple[str, bool, int]:
    """The commit checked out ("none" outside git or before the first commit), whether the
    work tree differs from it, and its committer time (Unix seconds, 0 when unknown), which
    tells the registry which of two commits is newer."""
    sha = git.output("rev-parse", "HEAD") or "none"
    status = git.output("status", "--porcelain", "--untracked-files=normal") or ""
    # Not line[3:]: _git strips the output, and with it the first line's leading status space.
    paths = [line.split(maxsplit=1)[-1] for line in status.splitlines()]
    changed = [path for path in paths if path not in IGNORED_FOR_DIRTY]
    committed = git.output("show", "-s", "--format=%ct", "HEAD") or "0"
    return sha, bool(changed), int(committed)


def clean_commit() -> str:
    """The commit checked out, refused unless the work tree is exactly that commit: a model is
    trained from a commit, never from uncommitted changes."""
    sha, dirty, _ = git_state()
    if sha == "none":
        raise SettingsError("no commit yet: commit first (git add -A && git commit -m ...)")
    if dirty:
        raise SettingsError(
            "the work tree has uncommitted changes (git status): commit them first, so that "
            "the model is trained from a commit"
        )
    return sha


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = metadata.version(f"{name}-cpu") if name == "xgboost" else "missing"
    return versions


DATA_KEYS = (GIT_DIRTY, DATA_MD5, TRAIN_MD5, EVAL_MD5)


def data_facts(settings: Settings) -> dict[str, str]:
    """What the data shows (and whether the work tree is clean): only a checkout that holds the
    pipeline's data can say it. The gate records them; registration takes them from the gate."""
    return {
        GIT_DIRTY: str(git_state()[1]).lower(),
        DATA_MD5: data_md5(settings.data.raw),
        TRAIN_MD5: file_md5(settings.split.train),
        EVAL_MD5: file_md5(settings.split.eval),
    }


def engine_facts(settings: Settings) -> dict[str, str]:
    """Where the bytes were fitted: the engine, and on dask the worker count and partitions
    (other counts give other bytes from the same data)."""
    engine = settings.engine
    if engine.name == "pandas":
        return {ENGINE: "pandas"}
    return {
        ENGINE: "dask",
        ENGINE_WORKERS: str(engine.workers),
        ENGINE_PARTITIONS: str(engine.partitions),
    }


def checkout_facts(settings: Settings) -> dict[str, str]:
    """What any checkout of the commit shows without the data: the commit and its time, the
    parameters, the lock and the installed libraries. Registration computes these itself."""
    sha, _, committed = git_state()
    tags = {
        GIT_SHA: sha,
        GIT_COMMIT_TIME: str(committed),
        PARAMS_HASH: params_hash(settings),
        LOCK_HASH: file_sha256(LOCKFILE),
        **engine_facts(settings),
    }
    tags.update({f"{LIBRARY_VERSION}{name}": v for name, v in library_versions().items()})
    return tags


def lineage_tags(settings: Settings) -> dict[str, str]:
    """Tags for the training run: code, data, parameters, environment. The gate records the
    same facts, and registration writes them on the version only where the run's tags agree:
    anyone who may write runs (the pull requests' credential) may rewrite those tags."""
    return {**checkout_facts(settings), **data_facts(settings)}
