"""Template updates: a project baked by cruft from a small template of its own (a git repository
in a temporary folder) sees the template's later commits, takes them in with its own changes
kept, refuses to half-merge a collision, and is proposed as ONE pull request."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cruft
import pytest
from fake_github import REPO, FakeGitHub

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.github import branches
from {{ cookiecutter.package_name }}.project import template_update

# The small template's questions and project folder, spelled in pieces: this file is itself
# rendered from the template this project was baked from, which would otherwise fill them in.
QUESTIONS = "cookiecutter" + ".json"
FOLDER = "{" * 2 + "cookie" + "cutter.project_slug" + "}" * 2
NOTES = ["first line from the template", "middle", "", "", "", "last line from the template"]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@localhost", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit_template(template: Path, notes: list[str], message: str) -> None:
    """A one-question template whose project holds notes.txt (one line per entry)."""
    (template / QUESTIONS).write_text('{"project_slug": "demo"}\n')
    project = template / FOLDER
    project.mkdir(parents=True, exist_ok=True)
    (project / "notes.txt").write_text("\n".join(notes) + "\n")
    git(template, "add", "-A")
    git(template, "commit", "--quiet", "-m", message)


@pytest.fixture
def baked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(template, project): the project baked by `cruft create` and committed, cwd inside it."""
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "--quiet", "--initial-branch=main")
    commit_template(template, NOTES, "first")
    cruft.create(str(template), output_dir=tmp_path / "projects", no_input=True)
    project = tmp_path / "projects" / "demo"
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "baked")
    monkeypatch.chdir(project)
    return template, project


def test_a_project_without_cruft_file_is_told_how_to_link_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["template-check"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: .cruft.json not found")
    assert "cruft link" in error and len(error.strip().splitlines()) == 1


def test_a_later_template_commit_is_seen_and_merged_with_the_projects_own_change(
    baked: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    template, project = baked
    assert main(["template-check"]) == 0
    ours = [*NOTES[:-1], "the project's own last line"]
    (project / "notes.txt").write_text("\n".join(ours) + "\n")
    git(project, "commit", "--quiet", "-am", "our own change")
    commit_template(template, ["first line, fixed upstream", *NOTES[1:]], "a fix")

    assert main(["template-check"]) == 1
    assert "newer changes" in capsys.readouterr().out
    assert main(["template-update"]) == 0
    merged = (project / "notes.txt").read_text().splitlines()
    assert merged[0] == "first line, fixed upstream"
    assert merged[-1] == "the project's own last line"
    git(project, "commit", "--quiet", "-am", "take the template's fix")
    assert main(["template-check"]) == 0


def test_a_collision_with_the_projects_change_is_refused_with_the_file_named(
    baked: tuple[Path, Path],
) -> None:
    template, project = baked
    (project / "notes.txt").write_text("our first line\n" + "\n".join(NOTES[1:]) + "\n")
    git(project, "commit", "--quiet", "-am", "our own first line")
    commit_template(template, ["their first line", *NOTES[1:]], "theirs")
    with pytest.raises(ProjectError, match=r"collide with this project's in notes\.txt"):
        template_update.update()


def test_an_unclean_work_tree_is_not_updated(baked: tuple[Path, Path]) -> None:
    template, project = baked
    (project / "notes.txt").write_text("unsaved work\n")
    commit_template(template, ["changed", *NOTES[1:]], "upstream")
    with pytest.raises(ProjectError, match="uncommitted changes"):
        template_update.update()
    assert (project / "notes.txt").read_text() == "unsaved work\n"


def weekly_run(project: Path, tmp_path: Path) -> str:
    """template.yml's two jobs: render (no secret) writes the patch and leaves the work tree as
    it was; propose applies it with git alone and opens the pull request."""
    patch = tmp_path / "artifact" / "template-update.patch"
    patch.unlink(missing_ok=True)
    template_update.render(patch)
    assert git(project, "status", "--porcelain") == "", "render left the work tree changed"
    return template_update.propose(patch, "main")


def test_the_update_is_proposed_as_one_pull_request(
    baked: tuple[Path, Path],
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Two template commits, two weekly runs: one branch, one pull request, updated, whose
    body lists every file the update changes."""
    template, project = baked
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    event = tmp_path / "event.json"
    event.write_text("{}")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert weekly_run(project, tmp_path) == "template: up to date, nothing to propose"

    commit_template(template, ["one", *NOTES[1:]], "one")
    first = weekly_run(project, tmp_path)
    git(project, "checkout", "--quiet", "main")
    commit_template(template, ["two", *NOTES[1:]], "two")
    second = weekly_run(project, tmp_path)

    [pull] = github.pulls
    assert first == f"opened pull request #{pull['number']} from template-update"
    assert second == f"updated pull request #{pull['number']} from template-update"
    assert pull["head"] == "template-update" and pull["base"] == "main"
    newest = git(template, "rev-parse", "HEAD")
    assert newest[:8] in pull["title"]
    assert "`notes.txt`" in pull["body"] and "`.cruft.json`" in pull["body"]
    pushed = git(tmp_path, "--git-dir", str(origin), "show", "template-update:notes.txt")
    assert pushed.splitlines()[0] == "two"


def test_the_proposing_job_runs_no_template_code(
    baked: tuple[Path, Path], github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The template's hooks run while rendering only: with the patch rendered, proposing it
    needs neither the template nor cruft (the template may even be gone), so a hook never runs
    where the update token is."""
    template, project = baked
    git(tmp_path, "init", "--quiet", "--bare", str(tmp_path / "origin.git"))
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    (tmp_path / "event.json").write_text("{}")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    witness = tmp_path / "hook-ran"
    hooks = template / "hooks"
    hooks.mkdir()
    (hooks / "post_gen_project.py").write_text(f"open({str(witness)!r}, 'a').write('x')\n")
    commit_template(template, ["changed", *NOTES[1:]], "a hook and a change")
    patch = tmp_path / "template-update.patch"
    template_update.render(patch)
    assert witness.exists()  # rendering ran the template's hook (in the job with no secret)
    witness.unlink()
    shutil.rmtree(template)
    assert template_update.propose(patch, "main").startswith("opened pull request")
    assert not witness.exists()
    assert git(project, "show", "template-update:notes.txt").splitlines()[0] == "changed"


def test_an_unreachable_template_is_one_line_naming_it(
    baked: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A template that moved (or a path recorded on another machine) is named, not a
    traceback."""
    template, _project = baked
    moved = template.with_name("moved-away")
    template.rename(moved)
    assert main(["template-check"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: template {template} (from .cruft.json)")


def test_a_refused_push_says_what_the_git_server_said(
    baked: tuple[Path, Path], tmp_path: Path
) -> None:
    """GitHub refuses a token without the workflows permission a change to .github/workflows:
    its `remote:` lines reach the error, and the -c settings (one holds the token) do not."""
    _template, project = baked
    origin = tmp_path / "refusing.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'refusing to allow a GitHub App to update a workflow'\nexit 1\n"
    )
    hook.chmod(0o755)
    git(project, "remote", "add", "origin", str(origin))
    with pytest.raises(ProjectError) as refused:
        branches.push(template_update.BRANCH, "secret-token")
    said = str(refused.value)
    assert said.startswith("git push --quiet --force")
    assert "remote: refusing to allow a GitHub App to update a workflow" in said
    assert "secret-token" not in said and "extraheader" not in said
