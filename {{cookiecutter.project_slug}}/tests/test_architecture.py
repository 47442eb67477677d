"""The package's parts and the rule between them (pyproject.toml, [tool.importlinter]): a part
imports only the parts below it. `make lint` checks it; here, that the check can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT

PACKAGE = "{{ cookiecutter.package_name }}"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the package copied under `root`, with the project's contracts."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_upward_import_breaks_the_rule(tmp_path: Path) -> None:
    """The package as it is keeps the contract; the same package with the pipeline importing
    monitoring (an upward import) breaks it, and the check names the import."""
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    kept = lint_imports(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    data = tmp_path / "src" / PACKAGE / "pipeline" / "data.py"
    data.write_text(data.read_text(encoding="utf-8") + "\nfrom ..monitoring import drift\n")
    broken = lint_imports(tmp_path)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout
    assert f"{PACKAGE}.pipeline.data -> {PACKAGE}.monitoring.drift" in broken.stdout


def test_a_new_module_must_be_placed_in_a_part(tmp_path: Path) -> None:
    """A module added beside cli.py, in no part, breaks the contract until it is placed."""
    shutil.copytree(PROJECT_ROOT / "src", tmp_path / "src")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "src" / PACKAGE / "helpers.py").write_text('"""Unplaced."""\n')
    broken = lint_imports(tmp_path)
    assert broken.returncode == 1
    assert f"{PACKAGE}.helpers" in broken.stdout
