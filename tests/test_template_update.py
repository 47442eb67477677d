"""The update path of a baked project: baked by cruft from one commit of this template, it sees
a later commit of the template, takes it in through its own `make template-update` (with a
change of its own in the same file kept), and is current again.

The template is this working tree, committed into a repository of its own in a temporary
folder, so that a later commit can be made to it without touching this repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cruft
from baked import TEMPLATE, clean_env, run_in

TEMPLATE_FIX = "# The one task vocabulary, said better by a later template commit."
OWN_TARGET = "\n.PHONY: hello\nhello: ## The project's own task\n\techo hello\n"


def run(folder: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_in(folder, clean_env(), *command, check=check)


def template_repository(folder: Path) -> Path:
    """This template's files (what git would commit here now) as a repository of their own."""
    listed = run(TEMPLATE, "git", "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for relative in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE / relative
        if source.is_file():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / relative)
    run(folder, "git", "init", "--quiet", "--initial-branch=main")
    run(folder, "git", "add", "-A")
    run(folder, "git", "commit", "--quiet", "-m", "The template as baked")
    return folder


def test_a_baked_project_takes_in_a_later_template_commit(tmp_path: Path) -> None:
    template = template_repository(tmp_path / "template")
    baked_from = run(template, "git", "rev-parse", "HEAD").stdout.strip()
    cruft.create(str(template), output_dir=tmp_path / "projects", no_input=True)
    project = tmp_path / "projects" / "credit-default-model"
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(template), baked_from)
    run(project, "git", "init", "--quiet", "--initial-branch=main")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "--quiet", "-m", "Baked")
    assert "at the template's newest commit" in run(project, "make", "template-check").stdout

    # The project adds a task at the end of its Makefile; the template fixes its first line.
    with (project / "Makefile").open("a") as makefile:
        makefile.write(OWN_TARGET)
    run(project, "git", "commit", "--quiet", "-am", "Our own task")
    generated_makefile = template / "{{cookiecutter.project_slug}}" / "Makefile"
    first_line, rest = generated_makefile.read_text().split("\n", 1)
    generated_makefile.write_text(f"{TEMPLATE_FIX}\n{rest}")
    run(template, "git", "commit", "--quiet", "-am", "A later fix")

    behind = run(project, "make", "template-check", check=False)
    assert behind.returncode != 0 and "newer changes" in behind.stdout
    updated = run(project, "make", "template-update").stdout
    assert "Makefile" in updated and ".cruft.json" in updated
    makefile = (project / "Makefile").read_text()
    assert makefile.startswith(TEMPLATE_FIX) and first_line not in makefile
    assert makefile.endswith(OWN_TARGET)
    run(project, "git", "commit", "--quiet", "-am", "Take in the template's fix")
    assert "at the template's newest commit" in run(project, "make", "template-check").stdout
    assert "hello" in run(project, "make", "hello").stdout
