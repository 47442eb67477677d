"""Bringing your own data without a text editor: `make param` changes one setting and nothing
else in params.yaml, refusing what would not load; `make data` swaps the DVC-tracked training
data and points params.yaml at it. Everything runs on copies in tmp_path."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.pipeline import lineage
from {{ cookiecutter.package_name }}.project.onboarding import set_param, use_data
from {{ cookiecutter.package_name }}.settings import SettingsError, load_settings

# The tests' own copy of the shipped params.yaml (the project's may be edited by its user):
# only ever read, and copied into tmp_path to be edited.
PROJECT_PARAMS = Path(__file__).resolve().parent / "fixtures" / "params.yaml"
OLD_DATA = Path("data/raw/loans.csv")


@pytest.fixture
def params(tmp_path: Path) -> Path:
    copy = tmp_path / "params.yaml"
    shutil.copyfile(PROJECT_PARAMS, copy)
    return copy


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines of `before` that are gone from `after`, and the lines that are new."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    gone, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
        if tag != "equal":
            gone += old[i1:i2]
            added += new[j1:j2]
    return gone, added


def line_of(text: str, start: str) -> str:
    return next(line for line in text.splitlines(keepends=True) if line.startswith(start))


def test_setting_a_value_changes_only_its_line(params: Path) -> None:
    """`make param` rewrites the one line of the setting, keeping its comment; every other
    line, comments and blank lines included, stays byte for byte."""
    before = params.read_text(encoding="utf-8")
    assert set_param("fairness.sensitive_column", "sex", params) == "sex"
    after = params.read_text(encoding="utf-8")
    gone, added = changed_lines(before, after)
    assert gone == [line_of(before, "  sensitive_column: ")]
    assert len(added) == 1
    assert added[0].startswith("  sensitive_column: sex ")
    assert added[0].endswith("# measured by the gate, never learned from\n")
    assert load_settings(params).fairness.sensitive_column == "sex"


def test_a_nested_setting_can_be_changed(params: Path) -> None:
    """A dotted key reaches into nested sections (gate.floors.roc_auc) and changes only it."""
    before = params.read_text(encoding="utf-8")
    assert set_param("gate.floors.roc_auc", "0.75", params) == 0.75
    gone, added = changed_lines(before, params.read_text(encoding="utf-8"))
    assert gone == [line_of(before, "    roc_auc: ")]
    assert added == ["    roc_auc: 0.75\n"]
    assert load_settings(params).gate.floors == {"roc_auc": 0.75, "pr_auc": 0.40}


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("fairness.sensitive_column", '""', ""),
        ("fairness.sensitive_column", "", ""),
        ("train.exclude_columns", "[a, b]", ["a", "b"]),
    ],
    ids=["quoted empty", "nothing", "list"],
)
def test_the_value_is_read_as_yaml(key: str, text: str, value: object, params: Path) -> None:
    """The value is YAML: "" and an empty value are the empty string (fairness off), [a, b]
    a list; the setting's comment and every other line stay."""
    before = params.read_text(encoding="utf-8")
    assert set_param(key, text, params) == value
    after = params.read_text(encoding="utf-8")
    section, leaf = key.split(".")
    assert getattr(getattr(load_settings(params), section), leaf) == (
        tuple(value) if isinstance(value, list) else value
    )
    gone, _ = changed_lines(before, after)
    assert gone == [line_of(before, f"  {leaf}: ")]
    comment = line_of(before, f"  {leaf}: ").split("#", 1)[1]
    assert line_of(after, f"  {leaf}:").endswith(comment)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("fairness.sensitve_column", "fairness.sensitve_column: no such setting"),
        ("fairnes.sensitive_column", "no section 'fairnes' on the way to fairnes.sensitive_column"),
    ],
    ids=["unknown setting", "unknown section"],
)
def test_an_unknown_key_is_refused(key: str, message: str, params: Path) -> None:
    """A misspelt key is refused, naming it, and the file is left as it was: `make param`
    changes settings, it never adds one a typo invented."""
    before = params.read_bytes()
    with pytest.raises(SettingsError, match=message):
        set_param(key, "sex", params)
    assert params.read_bytes() == before


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("split.eval_fraction", "2"),
        ("train.n_estimators", "many"),
        ("gate.floors", "[0.7]"),
    ],
    ids=["out of range", "wrong type", "wrong shape"],
)
def test_a_value_that_breaks_the_settings_is_refused(key: str, text: str, params: Path) -> None:
    """A value that would make params.yaml invalid is refused, naming the key, and the file
    is left byte for byte as it was."""
    before = params.read_bytes()
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        set_param(key, text, params)
    assert params.read_bytes() == before


def test_a_quoted_yes_no_word_is_set_as_text(params: Path) -> None:
    """A value quoted as text stays text even when it is a word YAML 1.1 calls a boolean: a
    sensitive column named "no" can be set."""
    assert set_param("fairness.sensitive_column", '"no"', params) == "no"
    assert load_settings(params).fairness.sensitive_column == "no"


def _run(folder: Path, *command: str) -> None:
    quiet = {"DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(folder.parent / "dvc-site-cache")}
    env = {**os.environ, **quiet}
    subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with DVC, its data/raw/loans.csv tracked by `dvc add`: made once,
    copied by each test (DVC takes seconds to start)."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    (repo / OLD_DATA.parent).mkdir(parents=True)
    (repo / OLD_DATA).write_text("age,defaulted\n30,0\n41,1\n", encoding="utf-8")
    dvc = [sys.executable, "-m", "dvc"]
    _run(repo, "git", "init", "--quiet")
    _run(repo, *dvc, "init", "--quiet")
    _run(repo, *dvc, "add", "--quiet", str(OLD_DATA))
    return repo


@pytest.fixture
def repo(dvc_repo: Path, params: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the DVC repository, with a copy of params.yaml, as the working folder."""
    copy = tmp_path / "repo"
    shutil.copytree(dvc_repo, copy, symlinks=True)
    shutil.copyfile(params, copy / "params.yaml")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    monkeypatch.chdir(copy)
    return copy


def test_use_data_swaps_the_tracked_training_data(repo: Path, tmp_path: Path) -> None:
    """`make data DATA=<csv>` stops tracking the old file and removes it from the work tree,
    copies the new one beside it and tracks it with DVC (git ignores the data), and points
    data.raw at it, leaving params.yaml's other lines and comments as they were."""
    source = tmp_path / "downloads" / "applications.csv"
    source.parent.mkdir()
    source.write_text("age,income,outcome\n30,1200,no\n41,800,yes\n", encoding="utf-8")
    before = Path("params.yaml").read_text(encoding="utf-8")

    use_data(str(source), OLD_DATA, Path("params.yaml"))

    new = Path("data/raw/applications.csv")
    assert not OLD_DATA.exists()
    assert not Path("data/raw/loans.csv.dvc").exists()
    assert new.read_bytes() == source.read_bytes()
    assert "path: applications.csv" in Path("data/raw/applications.csv.dvc").read_text()
    ignored = Path("data/raw/.gitignore").read_text(encoding="utf-8").splitlines()
    assert "/applications.csv" in ignored
    assert "/loans.csv" not in ignored
    after = Path("params.yaml").read_text(encoding="utf-8")
    assert load_settings(Path("params.yaml")).data.raw == new
    gone, added = changed_lines(before, after)
    assert gone == [line_of(before, "  raw: ")]
    assert len(added) == 1
    assert added[0].startswith("  raw: data/raw/applications.csv ")
    assert added[0].split("#", 1)[1] == gone[0].split("#", 1)[1]  # the comment stays


def test_use_data_tracks_a_glob_of_parquet_files_as_one_folder(repo: Path, tmp_path: Path) -> None:
    """`make data DATA='exports/*.parquet'`: the files copied into one DVC-tracked folder named
    after theirs, whose md5 the lineage computes as DVC records it; a file changed by hand is
    refused by the pointer check; the folder given again replaces its files."""
    exports = tmp_path / "exports"
    exports.mkdir()
    frame = pd.DataFrame({"age": [30, 41, 52], "defaulted": [0, 1, 0]})
    for number in range(2):
        frame.to_parquet(exports / f"day-{number}.parquet", index=False)
    (exports / "notes.txt").write_text("not data", encoding="utf-8")

    use_data(str(exports / "*.parquet"), OLD_DATA, Path("params.yaml"))

    folder = Path("data/raw/exports")
    assert sorted(path.name for path in folder.iterdir()) == ["day-0.parquet", "day-1.parquet"]
    assert not OLD_DATA.exists()
    assert load_settings(Path("params.yaml")).data.raw == folder
    pointer = yaml.safe_load(Path("data/raw/exports.dvc").read_text(encoding="utf-8"))
    assert pointer["outs"][0]["md5"] == lineage.data_md5(folder)
    lineage.check_pointer(folder)
    (folder / "day-1.parquet").write_bytes(frame.head(1).to_parquet(index=False))
    with pytest.raises(ProjectError, match=r"data/raw/exports has md5 \S+\.dir but"):
        lineage.check_pointer(folder)

    (exports / "day-0.parquet").unlink()
    use_data(str(exports), folder, Path("params.yaml"))
    assert [path.name for path in folder.iterdir()] == ["day-1.parquet"]
    lineage.check_pointer(folder)


def test_use_data_keeps_the_sub_folders_a_glob_spans(repo: Path, tmp_path: Path) -> None:
    """`DATA='exports/*/*.parquet'`: one folder named after their common one, each file under
    its own sub-folder (two files of one name in two folders stay two)."""
    frame = pd.DataFrame({"age": [30, 41], "defaulted": [0, 1]})
    for month in ("2024-01", "2024-02"):
        (tmp_path / "exports" / month).mkdir(parents=True)
        frame.to_parquet(tmp_path / "exports" / month / "part.parquet", index=False)
    use_data(str(tmp_path / "exports" / "*" / "*.parquet"), OLD_DATA, Path("params.yaml"))
    copied = sorted(path.as_posix() for path in Path("data/raw/exports").rglob("*.parquet"))
    assert copied == [
        "data/raw/exports/2024-01/part.parquet",
        "data/raw/exports/2024-02/part.parquet",
    ]


def test_use_data_points_at_a_file_whose_name_has_a_hash(repo: Path, tmp_path: Path) -> None:
    """A data file named like `loans #2.csv` is what data.raw points at afterwards."""
    source = tmp_path / "loans #2.csv"
    source.write_text("age,defaulted\n30,0\n", encoding="utf-8")
    use_data(str(source), Path("data/raw/untracked.csv"), Path("params.yaml"))
    assert Path("data/raw/loans #2.csv.dvc").exists()
    assert load_settings(Path("params.yaml")).data.raw == Path("data/raw/loans #2.csv")
