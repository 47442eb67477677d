"""The quick starts work on a machine that has Python, pip, git and make, and no uv on PATH.

Both of the template's quick-start commands (`make demo`, `make test`) start with `make install`;
a baked project's start with `make setup`, which starts with its `make install`. Each test runs
that step with a PATH that holds only make, bash and a `python3`, as on a fresh machine (or one
whose pip put uv in a scripts folder that is not on PATH).
"""

from __future__ import annotations

import shutil
import sys
import venv
from pathlib import Path

from baked import clean_env, run_in
from conftest import TEMPLATE, bake

UV_PIN = "0.13.9"  # the template Makefile's UV_VERSION


def bare_path(folder: Path, python: list[str]) -> str:
    """A PATH holding make, bash, this Python as `python3.X` (uv makes environments only from
    an interpreter that is not itself a virtual environment) and a `python3` that runs
    `python`, and nothing else."""
    tools = folder / "bin"
    tools.mkdir(parents=True)
    for name in ("make", "bash", "sh"):
        found = shutil.which(name)
        assert found, f"{name} is needed to run this test"
        (tools / name).symlink_to(found)
    base = Path(sys._base_executable).resolve()  # noqa: SLF001
    (tools / f"python3.{sys.version_info.minor}").symlink_to(base)
    # A script, not a symlink: a virtual environment's interpreter finds its packages only
    # when started by its own path.
    wrapper = tools / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(python)} "$@"\n')
    wrapper.chmod(0o755)
    assert shutil.which("uv", path=str(tools)) is None
    return str(tools)


def env_without_uv(path: str) -> dict[str, str]:
    """The host's environment (HOME, so pip's and uv's caches) with this PATH and no UV."""
    env = clean_env(PATH=path)
    env.pop("UV", None)
    return env


def test_template_install_brings_a_pinned_uv(tmp_path: Path) -> None:
    """With no uv anywhere, `make install` installs the pinned uv in build/uv, says so in one
    line, and installs the template's tools with it."""
    clone = tmp_path / "template"
    clone.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(TEMPLATE / name, clone / name)
    python = tmp_path / "python"
    venv.create(python, with_pip=True)  # a Python with pip and nothing else
    env = env_without_uv(bare_path(tmp_path, [str(python / "bin" / "python")]))

    done = run_in(clone, env, "make", "install")

    said = [line for line in done.stdout.splitlines() if line.startswith("uv not found")]
    assert said == [
        f"uv not found (PATH, python3's scripts): installing uv {UV_PIN} for this template "
        "alone in build/uv"
    ]
    version = run_in(clone, env, str(clone / "build/uv/bin/uv"), "--version").stdout
    assert version.split()[:2] == ["uv", UV_PIN]
    assert (clone / ".venv/bin/pytest").exists(), "the template's tools were not installed"
    again = run_in(clone, env, "make", "install")
    assert "uv not found" not in again.stdout, "the pinned uv was installed a second time"


def test_baked_install_finds_the_uv_pip_installed(tmp_path: Path) -> None:
    """A baked project's `make install` finds the uv that pip installed for python3 when its
    scripts folder is not on PATH."""
    project = bake(tmp_path / "bake")
    # This test's interpreter has uv installed as a package (the template's tools include it).
    env = env_without_uv(bare_path(tmp_path, [sys.executable]))

    done = run_in(project, env, "make", "install", timeout=900)

    assert "uv not found" not in done.stderr
    assert (project / ".venv/bin/python").exists()


def test_baked_install_without_uv_says_how_to_get_it(tmp_path: Path) -> None:
    """With no uv at all, a baked project's `make setup` stops at once with one line saying
    how to install uv."""
    project = bake(tmp_path / "bake")
    # -S: a Python that sees no installed package, as on a fresh machine.
    env = env_without_uv(bare_path(tmp_path, [sys._base_executable, "-S"]))  # noqa: SLF001

    done = run_in(project, env, "make", "setup", check=False)

    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: uv not found (PATH, python3's scripts folder): install it with "
        "'python3 -m pip install uv', or see https://docs.astral.sh/uv/"
    ]
    assert not (project / ".venv").exists()
    assert not (project / ".git").exists(), "setup went on past the missing uv"
