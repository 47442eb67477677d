"""Lineage: the data hash agrees with DVC's, the params hash follows meaning, not formatting."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DvcRepo

from {{ cookiecutter.package_name }}.pipeline.lineage import (
    check_pointer,
    file_md5,
    git_state,
    params_hash,
    recorded_bytes,
)
from {{ cookiecutter.package_name }}.settings import Settings, load_settings


def test_data_md5_matches_dvc(raw_data_path: Path, dvc_repo: DvcRepo) -> None:
    """The data hash tagged on a run is the md5 DVC records for the data in its .dvc file."""
    raw = Path("data/raw/loans.csv")
    dvc_repo.commit_data(raw, raw_data_path.read_bytes())
    assert file_md5(dvc_repo.root / raw) == dvc_repo.pointer_md5(raw)
    assert file_md5(raw_data_path) == dvc_repo.pointer_md5(raw)


def test_recorded_bytes_are_the_local_file_when_it_matches(
    raw_data_path: Path, tmp_path: Path
) -> None:
    """The content a lineage names is the local file when its md5 matches (no DVC involved);
    a file that does not match is never taken for it."""
    md5 = file_md5(raw_data_path)
    assert recorded_bytes(raw_data_path, md5, "0" * 40) == raw_data_path.read_bytes()
    other = tmp_path / "other.csv"
    other.write_bytes(raw_data_path.read_bytes() + b"1,2\n")
    with pytest.raises(FileNotFoundError, match="cannot be fetched through DVC"):
        recorded_bytes(other, md5, "0" * 40)


def test_data_that_is_not_what_its_pointer_names_is_refused(dvc_repo: DvcRepo) -> None:
    """A tracked file changed after DVC recorded it (a label flipped by hand, or pulled from a
    changed remote without verification) is refused, naming the file and both md5s."""
    relative = Path("data/loans.csv")
    dvc_repo.commit_data(relative, b"id,defaulted\n1,0\n2,1\n")
    path = dvc_repo.root / relative
    check_pointer(path)
    path.write_bytes(b"id,defaulted\n1,1\n2,1\n")
    with pytest.raises(ValueError, match=r"loans\.csv has md5 .* but .*loans\.csv\.dvc records"):
        check_pointer(path)


def test_md5_changes_with_one_byte(raw_data_path: Path, tmp_path: Path) -> None:
    """Changing a single byte of the data changes its hash."""
    content = bytearray(raw_data_path.read_bytes())
    content[-2] = ord("1") if content[-2] != ord("1") else ord("0")
    changed = tmp_path / "changed.csv"
    changed.write_bytes(bytes(content))
    assert file_md5(changed) != file_md5(raw_data_path)


def _reformatted(raw: dict[str, Any]) -> str:
    """The same values written differently: sections and keys reversed, four-space indents,
    comments, JSON-style quoting, a float in exponent notation, a whole number for a float."""
    lines = ["# the same parameters, written another way", ""]
    for section in reversed(list(raw)):
        lines.append(f"{section}:   # a comment on {section}")
        for key, value in reversed(list(raw[section].items())):
            if key == "learning_rate":
                text = f"{value:.16e}"  # 0.05 -> 5.0000000000000003e-02, the same float
            elif key == "min_child_weight" and float(value).is_integer():
                text = str(int(value))
            else:
                text = json.dumps(value)  # JSON is YAML: "quoted", [flow, lists]
                if yaml.safe_load(text) != value:  # YAML 1.1 reads 1e-06 as text: 1.0e-06
                    text = f"{value:.16e}"
            lines.append(f"    {key}: {text}")
        lines.append("")
    return "\n".join(lines)


def test_params_hash_ignores_formatting(
    params_path: Path, settings: Settings, tmp_path: Path
) -> None:
    """Reordering, reindenting or commenting params.yaml leaves the params hash unchanged."""
    raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    path = tmp_path / "params.yaml"
    path.write_text(_reformatted(raw), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != params_path.read_text(encoding="utf-8")
    assert params_hash(load_settings(path)) == params_hash(settings)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("train", "n_estimators", 301),
        ("split", "seed", 43),
        ("train", "exclude_columns", ["age"]),
        ("fairness", "sensitive_column", ""),
    ],
)
def test_params_hash_changes_with_a_value(
    section: str, key: str, value: object, params_path: Path, settings: Settings, tmp_path: Path
) -> None:
    """Changing any one parameter value changes the params hash."""
    raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    raw[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert params_hash(load_settings(path)) != params_hash(settings)


def test_git_state_sees_changes_but_not_dvc_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run from a clean checkout is tagged clean; an edited file makes it dirty, while
    dvc.lock, which the pipeline itself rewrites, does not."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> None:
        subprocess.run([git, *args], check=True, capture_output=True)

    run("init", "--quiet")
    (tmp_path / "dvc.lock").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    run("add", "-A")
    run("-c", "user.name=Test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "x")

    sha, dirty, *_ = git_state()
    assert len(sha) == 40
    assert not dirty
    (tmp_path / "dvc.lock").write_text("stages: {changed: true}\n")
    assert git_state()[:2] == (sha, False)
    (tmp_path / "params.yaml").write_text("a: 2\n")
    assert git_state()[:2] == (sha, True)
