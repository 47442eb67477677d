"""The command line: help everywhere, exit codes that mean something, errors in one line."""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, patched_params

from {{ cookiecutter.package_name }}.cli import build_parser, input_file, main

PIPELINE_COMMANDS = ["validate", "split", "train", "check-tracking"]


def _subcommands() -> list[str]:
    """Every subcommand the parser knows, so a new one is covered by the help tests too."""
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


SUBCOMMANDS = _subcommands()
INVALID_PARAMS = Path(__file__).resolve().parent / "fixtures" / "invalid_params"


@pytest.fixture
def closed_port_uri(monkeypatch: pytest.MonkeyPatch) -> str:
    """MLFLOW_TRACKING_URI pointing at a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` exits 0 and lists every subcommand."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert set(PIPELINE_COMMANDS) <= set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`COMMAND --help` exits 0 and shows that command's usage."""
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f" {name}" in out.splitlines()[0]  # the usage line names the command


@pytest.mark.parametrize("argv", [[], ["ship-it"], ["check-tracking", "--wait", "soon"]])
def test_bad_command_line_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong command line (no command, unknown command, bad option value) exits 2 with usage."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("count", ["11", "-1", "three"])
def test_predict_names_how_many_reasons_it_takes(
    count: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--explain takes 0 to 10 reasons per row; anything else is refused before any work,
    saying how to ask."""
    batch = tmp_path / "batch.csv"
    batch.write_text("age\n30\n")
    with pytest.raises(SystemExit) as exited:
        main(["predict", str(batch), f"--explain={count}"])
    assert exited.value.code == 2
    assert "from 0 to 10 (make predict EXPLAIN=3)" in capsys.readouterr().err


def test_bad_params_exit_1_naming_the_key(
    params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step run with a broken params file exits 1 with an `error:` line naming the bad key."""
    patch = INVALID_PARAMS / "mistyped_key.yaml"
    params = patched_params(params_path, patch, tmp_path / "params.yaml")
    assert main(["--params", str(params), "split"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "train.n_estimatorz: unknown key" in err


def test_missing_params_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A step run without a params file exits 1 and says the file is missing."""
    assert main(["--params", str(tmp_path / "params.yaml"), "validate"]) == 1
    assert "file not found" in capsys.readouterr().err


def test_the_default_params_file_is_the_settings_one() -> None:
    """The command line names params.yaml without importing the settings (for a fast
    `--help`): the same file the settings read by default."""
    from {{ cookiecutter.package_name }} import cli, settings

    assert cli.DEFAULT_PARAMS == settings.DEFAULT_PARAMS


def test_a_project_error_is_one_line_and_a_bug_keeps_its_traceback(
    tmp_params: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI catches the project's own error family once (exit 1, one line); any other
    exception, a library's ValueError say, is a bug and reaches the person with its traceback."""
    from {{ cookiecutter.package_name }}.errors import ProjectError
    from {{ cookiecutter.package_name }}.pipeline import stages

    def refuse(*_: object) -> None:
        raise ProjectError("the data says no")

    monkeypatch.setattr(stages, "split", refuse)
    assert main(["--params", str(tmp_params), "split"]) == 1
    assert capsys.readouterr().err == "error: the data says no\n"

    def crash(*_: object) -> None:
        raise ValueError("a bug in a library")

    monkeypatch.setattr(stages, "split", crash)
    with pytest.raises(ValueError, match="a bug in a library"):
        main(["--params", str(tmp_params), "split"])


def test_check_tracking_fails_fast_on_a_closed_port(
    closed_port_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-tracking` with no server listening exits 1 within seconds, naming the URI."""
    started = time.monotonic()
    assert main(["check-tracking"]) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert closed_port_uri in err


def test_train_stops_before_working_when_the_server_is_down(
    closed_port_uri: str, tmp_params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train` with no tracking server exits 1 at once and writes nothing."""
    started = time.monotonic()
    assert main(["--params", str(tmp_params), "train"]) == 1
    assert time.monotonic() - started < 5
    assert closed_port_uri in capsys.readouterr().err
    assert not (tmp_params.parent / "out").exists()


def test_split_writes_both_parts(
    tmp_params: Path, sample_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """`split` exits 0, reports the row counts, and writes train and evaluation CSVs."""
    assert main(["--params", str(tmp_params), "split"]) == 0
    out = tmp_params.parent / "out" / "data" / "split"
    train, evaluation = pd.read_csv(out / "train.csv"), pd.read_csv(out / "eval.csv")
    assert len(train) + len(evaluation) == len(sample_frame)
    expected = f"split: {len(train)} training rows, {len(evaluation)} evaluation rows"
    assert capsys.readouterr().out.strip() == expected


def test_every_value_a_person_types_reaches_the_command_as_text() -> None:
    """The Makefile passes each variable (a rollback reason, a login, a positive class) as
    --name="$$VALUE" and paths after `--`: a value that starts with "-" ("-1", "--force") is
    then the option's text, never an option of its own."""
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    ours = "\n".join(line for line in makefile.splitlines() if "$(CLI)" in line)
    spaced = re.findall(r'--[a-z][a-z-]* "\$\$\w+"', ours)
    assert spaced == [], f"options given as two words: {spaced}"
    parser = build_parser()
    args = parser.parse_args(["propose-rollback", "--reason=-1 looks wrong", "--version=3"])
    assert (args.reason, args.version) == ("-1 looks wrong", 3)
    Path("-batch.csv").write_text("age\n30\n", encoding="utf-8")  # in the test's own folder
    assert parser.parse_args(["predict", "--", "-batch.csv"]).file == Path("-batch.csv")


def test_lint_refuses_a_symlink_tracked_by_git(tmp_path: Path) -> None:
    """`make lint` (the pull request's checks job) stops on a tracked symlink, naming it: a
    README.md pointing at /proc/self/environ would put a job's secrets wherever it is read."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "--quiet"], cwd=repo, check=True)
    (repo / "LICENSE").write_text("plain\n", encoding="utf-8")
    (repo / "README.md").symlink_to("/proc/self/environ")
    subprocess.run(["git", "add", "LICENSE", "README.md"], cwd=repo, check=True)
    check = ["make", "--no-print-directory", "-f", str(PROJECT_ROOT / "Makefile"), "check-links"]
    done = subprocess.run(check, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    [error] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: symlinks are not allowed in the repository")
    assert error.endswith(": README.md")
    subprocess.run(["git", "rm", "--quiet", "--cached", "README.md"], cwd=repo, check=True)
    assert subprocess.run(check, cwd=repo, capture_output=True, check=False).returncode == 0


def test_a_data_file_under_the_home_folder_may_be_written_with_a_tilde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make data DATA=~/data.csv` in sh or zsh passes the ~ as typed: it is the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert input_file("~/data.csv") == tmp_path / "data.csv"
