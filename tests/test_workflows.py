"""The template's own GitHub workflows pass the linters a reviewer would run: actionlint,
zizmor (offline, zero findings) and GitHub's workflow schema; and they are hardened by rule."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((TEMPLATE / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """A dev tool from the template's own environment (beside this interpreter), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `make install`"
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_there_are_workflows() -> None:
    """The template ships its own CI workflow."""
    assert WORKFLOWS


def test_actionlint_is_clean() -> None:
    """actionlint finds nothing."""
    done = run(tool("actionlint"), *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_is_clean() -> None:
    """zizmor, offline, reports zero findings."""
    done = run(tool("zizmor"), "--offline", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_match_githubs_schema() -> None:
    """Every workflow validates against GitHub's workflow schema."""
    schema = "vendor.github-workflows"
    done = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_hardened(path: Path) -> None:
    """No default permissions, no pull_request_target, every action pinned by full SHA with a
    version comment, and checkout never keeps the token."""
    text = path.read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}
    assert "pull_request_target" not in text
    for line in text.splitlines():
        if "uses:" in line and "./" not in line:
            reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            assert PINNED.match(reference), line
            assert re.search(r"#\s*v\d+\.\d+\.\d+", line), line
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
