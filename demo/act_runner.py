"""Running one of a generated project's workflows with `act`, on this machine, as a GitHub runner
would: the project's real workflow file, its jobs run on the host (no Docker), third-party
actions replaced by the local stand-ins in act_standins/, and only what a runner has in the
jobs' environment."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parent
STANDINS = DEMO / "act_standins"
# Third-party actions the workflows use -> the folder that stands in for each under act.
STANDIN_FOR = {
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
}
HANDLED_BY_ACT = {"actions/checkout"}  # act copies the work tree itself
PINNED_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
ACT_TIMEOUT = 900
# Host variables that say how to reach the package index; everything else stays out of the jobs.
NETWORK = (
    "SSL_CERT_",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
)


def standin_flags(project: Path) -> list[str]:
    """`--local-repository` for every pinned third-party action in the project's .github."""
    pairs: set[tuple[str, str]] = set()
    for path in sorted((project / ".github").rglob("*.yml")):
        for name, sha in PINNED_USES.findall(path.read_text(encoding="utf-8")):
            if name in HANDLED_BY_ACT:
                continue
            if name not in STANDIN_FOR:
                raise SystemExit(f"{path}: no act stand-in for {name} (see {STANDINS})")
            pairs.add((f"{name}@{sha}", STANDIN_FOR[name]))
    flags: list[str] = []
    for reference, folder in sorted(pairs):
        flags += ["--local-repository", f"{reference}={STANDINS / folder}"]
    return flags


def job_path() -> str:
    """PATH for the jobs: the host's without this interpreter's virtual environment (jobs use
    the project's own), but with wherever uv is."""
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not on PATH: install it first (pip install uv)")
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if sys.prefix != sys.base_prefix:
        parts = [part for part in parts if Path(part) != Path(sys.prefix) / "bin"]
    return os.pathsep.join([str(Path(uv).parent), *parts])


def find_act() -> str:
    beside = Path(sys.executable).parent / "act"
    found = str(beside) if beside.exists() else shutil.which("act")
    if not found:
        raise SystemExit("act is not installed: run `make install` in the template")
    return found


def uv_cache_dir() -> str:
    done = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


# What the jobs' tools load beyond the project's own imports: dvc's parser imports every
# command, `dvc repro` builds its graph with networkx and reads git, MLflow records the commit.
TOOL_MODULES = (
    "dvc.cli", "dvc.cli.parser", "dvc.repo", "dvc.repo.reproduce", "networkx", "scmrepo.git",
    "git", "jinja2", "mlflow.tracing",
)  # fmt: skip


def warm_uv_cache(project: Path, work: Path) -> Path:
    """A copy of uv's cache for the jobs, holding the bytecode of what they import.

    A job builds its environment from uv's cache (in its first run; the setup-uv stand-in keeps
    it after), and Python then compiles each module the job imports from source: about half of
    an import's time (Great Expectations 8.5 s cold, 3.9 s from bytecode). An environment is
    hard links into uv's cache, so bytecode put beside the cache's files reaches every job. The
    copy is hard links too (the user's cache is never written to), and the bytecode is what
    Python writes itself, checked against each source file's size and time as usual.
    """
    shared = Path(uv_cache_dir())
    if shared.stat().st_dev != work.stat().st_dev:
        return shared  # hard links need one file system: the jobs compile what they import
    cache, warmed = work / "uv-cache", work / "uv-cache.warmed"
    if warmed.exists():  # make demo warms it while the MLflow server starts
        return cache
    # Another uv (a test's bake beside this one) may add or remove a temporary entry while cp
    # walks the cache: cp then says so and exits 1. What it missed, a job fetches if it needs.
    subprocess.run(["cp", "-al", str(shared), str(cache)], capture_output=True, check=False)
    archives = cache / "archive-v0"
    # A file can sit in more than one of the cache's folders (a wheel's, and environments uv
    # keeps for tools), all hard links of one file.
    by_inode: dict[tuple[int, int], list[Path]] = {}
    for path in archives.rglob("*.py"):
        # uv checks a wheel's .data folder against its RECORD: nothing may be added there.
        if not any(part.endswith(".data") for part in path.relative_to(archives).parts):
            found = path.stat()
            by_inode.setdefault((found.st_dev, found.st_ino), []).append(path)
    modules = sorted({*imported_modules(project), *TOOL_MODULES})
    # The project's own environment imports them, and writes their bytecode.
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV"}
    }
    done = subprocess.run(
        [str(project / ".venv/bin/python"), str(DEMO / "import_probe.py"), *modules],
        cwd=project, env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    for source, compiled in json.loads(done.stdout):
        found = os.stat(source)
        for target in by_inode.get((found.st_dev, found.st_ino), []):
            destination = target.parent / "__pycache__" / Path(compiled).name
            destination.parent.mkdir(exist_ok=True)
            # A file already there is a hard link into the user's cache: replace, never write.
            destination.unlink(missing_ok=True)
            shutil.copyfile(compiled, destination)
    warmed.touch()
    return cache


def imported_modules(project: Path) -> set[str]:
    """Every module the project's code and tests import by absolute name, at the top of a
    file or inside a function."""
    names: set[str] = set()
    for path in [*(project / "src").rglob("*.py"), *(project / "tests").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return names


@dataclass
class ActRun:
    """One `act` run: each job's result (by its name in the log), the log, the exit code, and
    how long it took; and the pull request the event was about, if any."""

    jobs: dict[str, str]
    log: list[str]
    returncode: int
    seconds: float
    pull_request: int | None = None

    def job(self, suffix: str) -> str:
        """The result of the job whose name ends with `suffix` ("missing" if it never ran)."""
        found = [result for name, result in self.jobs.items() if name.endswith(suffix)]
        return found[0] if found else "missing"


@dataclass(frozen=True)
class Runner:
    """What every run shares: the project, a home and caches of its own, and the secrets,
    repository variables and environment variables GitHub would give the jobs."""

    project: Path
    work: Path  # the runner's home, its mypy cache, the event file
    uv_cache: Path  # the jobs' uv cache (warm_uv_cache)
    secrets: dict[str, str]
    variables: dict[str, str]
    env: dict[str, str]

    def run(
        self,
        event_name: str,
        workflow: str,
        payload: dict[str, Any],
        actor: str,
        folder: Path,
        secrets: dict[str, str] | None = None,
    ) -> ActRun:
        """Run .github/workflows/`workflow` for this event; its log goes to `folder`/act.log and
        its uploaded artifacts under `folder`/artifacts. `secrets` replace the shared ones."""
        event = self.work / "event.json"
        event.write_text(json.dumps(payload), encoding="utf-8")
        command = [
            find_act(), event_name,
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(event),
            "--platform", "ubuntu-latest=-self-hosted",
            "--actor", actor,
            "--remote-name", "github",
            "--json",
            # One mypy cache for every run's lint, as a warm runner cache would be: mypy
            # re-checks whatever changed, so the lint proves the same.
            "--env", f"MYPY_CACHE_DIR={self.work / 'mypy-cache'}",
            # Each job's environment, kept between runs (the setup-uv stand-in says why).
            "--env", f"ACT_ENVIRONMENTS={self.work / 'environments'}",
            "--env", f"ACT_ARTIFACTS={folder / 'artifacts'}",
            *standin_flags(self.project),
        ]  # fmt: skip
        for name, value in {**self.secrets, **(secrets or {})}.items():
            command += ["--secret", f"{name}={value}"]
        for name, value in self.variables.items():
            command += ["--var", f"{name}={value}"]
        for name, value in self.env.items():
            command += ["--env", f"{name}={value}"]
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.project,
            env=runner_environment(self.work / "home", self.uv_cache),
            capture_output=True,
            text=True,
            timeout=ACT_TIMEOUT,
            check=False,
        )
        jobs, log = read_log(done.stdout)
        log += done.stderr.splitlines()
        (folder / "act.log").write_text("\n".join(log) + "\n", encoding="utf-8")
        return ActRun(jobs, log, done.returncode, round(time.monotonic() - started, 1))


def runner_environment(home: Path, uv_cache: Path) -> dict[str, str]:
    """act leaks the host environment into the jobs: give it only what a runner has (its
    network settings included: package indexes, proxies, certificate authorities)."""
    env = {name: value for name, value in os.environ.items() if name.startswith(NETWORK)}
    env.update(
        PATH=job_path(),
        HOME=str(home),
        UV_CACHE_DIR=str(uv_cache),
        UV_PYTHON_DOWNLOADS="never",
        LANG="C.UTF-8",
    )
    return env


def read_log(stdout: str) -> tuple[dict[str, str], list[str]]:
    """act's --json output: each job's result, and the log as `[job] message` lines."""
    jobs: dict[str, str] = {}
    log: list[str] = []
    for line in stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            log.append(line)
            continue
        log.append(f"[{entry.get('job', '').strip()}] {entry.get('msg', '').rstrip()}")
        if "jobResult" in entry:
            jobs[entry["job"].strip()] = entry["jobResult"]
    return jobs, log


if __name__ == "__main__":  # python demo/act_runner.py PROJECT WORK: warm the jobs' uv cache
    project, work = (Path(argument).resolve() for argument in sys.argv[1:3])
    work.mkdir(parents=True, exist_ok=True)
    print(warm_uv_cache(project, work))
