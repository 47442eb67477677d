"""Shared helpers for the template's tests: bake a project, or watch a bake be refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TESTS = Path(__file__).resolve().parent
TEMPLATE = TESTS.parent
GENERATED = TEMPLATE / "{{cookiecutter.project_slug}}"

DEMO = TEMPLATE / "demo"

# The shared helpers here (baked.py, servers.py) and the demo's modules (demo/: the lifecycle
# story, the act runner, the simulated GitHub, the sample data) are imported by name, whatever
# pytest's import mode.
for folder in (TESTS, DEMO):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def bake(tmp_path: Path, **answers: str) -> Path:
    """Bake the template with these answers (defaults for the rest); return the project folder."""
    out = tmp_path / "out"
    project = cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(out), extra_context=answers)
    return Path(project)


def refused_bake(tmp_path: Path, env: dict[str, str] | None = None, **answers: str) -> str:
    """Bake in a subprocess, as a person would, expecting the pre-gen hook to stop it.

    Returns the bake's stderr, which holds only what the hook printed (cookiecutter logs its
    own "Stopping generation" line and traceback to stdout). The output folder is
    `tmp_path / "out"`.
    """
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "out")]
    command += [str(TEMPLATE), *(f"{key}={value}" for key, value in answers.items())]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0, f"the bake was not refused:\n{done.stdout}\n{done.stderr}"
    assert "pre_gen_project hook script didn't exit successfully" in done.stdout, (
        f"the bake failed, but not in the pre-gen hook:\n{done.stdout}\n{done.stderr}"
    )
    return done.stderr


def files_in(project: Path) -> list[str]:
    """Every file in a baked project, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
