"""Retraining through a pull request: only a labelled batch that keeps the contract is ever
folded into the training data; folding appends it, keeps the old rows' bytes and pushes the
result with DVC; proposing commits the new pointer on a branch and opens the pull request.
All of it in a temporary git + DVC repository, never in the project."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import DvcRepo, loans_csv
from fake_github import REPO, FakeGitHub

from {{ cookiecutter.package_name }}.monitoring import retraining
from {{ cookiecutter.package_name }}.pipeline import data, lineage
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, ContractError
from {{ cookiecutter.package_name }}.settings import Settings

RAW = Path("data/raw/loans.csv")  # where a project keeps it, relative to the repository
BATCH_ROWS, BATCH_SEED = 50, 99


def test_the_batch_is_appended_in_the_training_columns(
    sample_frame: pd.DataFrame, contract: Contract
) -> None:
    """The merged data keeps every old row, adds the batch's, in the contract's column order."""
    batch = sample_frame.head(10)[list(reversed(contract.all_columns))]
    merged = retraining.merged(sample_frame, batch, contract.all_columns)
    assert len(merged) == len(sample_frame) + 10
    assert list(merged.columns) == contract.all_columns
    assert (
        merged.tail(10)
        .reset_index(drop=True)
        .equals(batch[contract.all_columns].reset_index(drop=True))
    )


@pytest.fixture
def copied_data(settings: Settings, raw_data_path: Path, tmp_path: Path) -> Settings:
    """The tests' settings with the training data a copy under tmp_path (cwd: no repository)."""
    copy = tmp_path / "loans.csv"
    copy.write_bytes(raw_data_path.read_bytes())
    return settings.model_copy(update={"data": settings.data.model_copy(update={"raw": copy})})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["defaulted"]), "only a labelled batch"),
        (lambda f: f.assign(age=7), "rows break the data contract (first: age is below 18)"),
        (lambda f: f.assign(defaulted="2"), "(first: defaulted is not one of the two classes)"),
        (lambda f: f.assign(branch="north"), "column(s) branch are not in the data contract"),
        (lambda f: f.drop(columns=["age"]), "the data has no column age of the contract"),
    ],
    ids=["unlabelled", "breaks-the-contract", "unknown-class", "unknown-column", "missing-column"],
)
def test_a_batch_that_cannot_be_learned_from_is_refused_whole(
    sample_frame: pd.DataFrame,
    copied_data: Settings,
    tmp_path: Path,
    change: object,
    message: str,
) -> None:
    """Nothing is written, and DVC never runs, when the batch has no outcomes, breaks the
    contract or does not have the contract's columns."""
    batch = tmp_path / "batch.csv"
    change(sample_frame.head(20)).to_csv(batch, index=False)  # type: ignore[operator]
    raw = copied_data.data.raw
    before = raw.read_bytes()
    with pytest.raises(ContractError, match=message.replace("(", r"\(").replace(")", r"\)")):
        retraining.fold_batch(copied_data, batch)
    assert raw.read_bytes() == before
    assert sorted(p.name for p in raw.parent.iterdir()) == ["batch.csv", "loans.csv", "workspace"]


@pytest.fixture
def project_repo(
    dvc_repo: DvcRepo, raw_data_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[DvcRepo, Settings]:
    """A repository laid out like a project, its training data committed and pushed to its
    own DVC remote; the test runs in it, with settings that name the data as a project does."""
    dvc_repo.commit_data(RAW, raw_data_path.read_bytes())
    monkeypatch.chdir(dvc_repo.root)
    return dvc_repo, settings.model_copy(
        update={"data": settings.data.model_copy(update={"raw": RAW})}
    )


def test_a_labelled_batch_is_folded_in_and_pushed(
    project_repo: tuple[DvcRepo, Settings], raw_data_path: Path, tmp_path: Path
) -> None:
    """The batch's rows follow the old ones, which keep their bytes; the new data is what the
    DVC pointer records, and the remote holds it."""
    repo, settings = project_repo
    batch = tmp_path / "batch.csv"
    batch.write_bytes(loans_csv(BATCH_ROWS, BATCH_SEED))
    old = raw_data_path.read_bytes()

    assert retraining.fold_batch(settings, batch) == BATCH_ROWS

    folded = (repo.root / RAW).read_bytes()
    assert folded.startswith(old)
    assert folded[len(old) :] == batch.read_bytes().split(b"\n", 1)[1]  # the rows, no header
    assert len(data.read_text(repo.root / RAW)) == len(data.read_text(raw_data_path)) + BATCH_ROWS
    md5 = lineage.file_md5(repo.root / RAW)
    assert repo.pointer_md5(RAW) == md5
    assert repo.in_remote(md5)
    assert f"M {RAW}.dvc" in repo.git("status", "--porcelain").splitlines()


def test_a_batch_is_folded_into_a_folder_of_parquet_files_as_one_more_file(
    dvc_repo: DvcRepo, raw_data_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Training data kept as a folder of Parquet files takes the batch as a file of its own
    (the old files untouched), tracked and pushed; the same batch again is refused."""
    folder = Path("data/raw/loans")
    (dvc_repo.root / folder).mkdir(parents=True)
    data.read_text(raw_data_path).to_parquet(dvc_repo.root / folder / "part-0.parquet")
    dvc_repo.dvc("add", "--quiet", str(folder))
    monkeypatch.chdir(dvc_repo.root)
    in_folder = settings.data.model_copy(update={"raw": folder})
    settings = settings.model_copy(update={"data": in_folder})
    before = (folder / "part-0.parquet").read_bytes()
    batch = tmp_path / "batch.csv"
    batch.write_bytes(loans_csv(BATCH_ROWS, BATCH_SEED))

    assert retraining.fold_batch(settings, batch) == BATCH_ROWS

    added_name = f"folded-{lineage.file_md5(batch)[:16]}.parquet"
    assert sorted(path.name for path in folder.iterdir()) == [added_name, "part-0.parquet"]
    assert (folder / "part-0.parquet").read_bytes() == before
    folded = data.read_text(folder)
    assert len(folded) == len(data.read_text(raw_data_path)) + BATCH_ROWS
    added = pd.read_parquet(folder / added_name)
    pd.testing.assert_frame_equal(added, data.read_text(batch)[folded.columns])
    md5 = lineage.data_md5(folder)
    assert dvc_repo.pointer_md5(folder) == md5
    assert dvc_repo.in_remote(md5)
    with pytest.raises(ContractError, match=r"these rows are folded in already"):
        retraining.fold_batch(settings, batch)


def test_the_fold_is_proposed_as_a_pull_request(
    project_repo: tuple[DvcRepo, Settings],
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the fold, the new pointer is committed on a retrain/ branch named by the data's
    md5, pushed to origin, and a pull request into the default branch says why."""
    repo, settings = project_repo
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    event = tmp_path / "event.json"
    event.write_text(json.dumps({}), encoding="utf-8")
    for name, value in {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(event),
    }.items():
        monkeypatch.setenv(name, value)
    batch = tmp_path / "batch.csv"
    batch.write_bytes(loans_csv(BATCH_ROWS, BATCH_SEED))
    retraining.fold_batch(settings, batch)
    md5 = lineage.file_md5(RAW)

    said = retraining.propose(settings, batch, "drift in credit_score")

    [pull] = github.pulls
    branch = pull["head"]
    assert branch.startswith("retrain/") and branch.endswith(md5[:8])
    assert said == f"opened pull request #{pull['number']} from {branch}"
    assert pull["base"] == settings.github.default_branch
    assert pull["title"] == "Retrain on batch.csv: drift in credit_score"
    assert md5 in pull["body"]
    pushed = subprocess.run(
        ["git", "--git-dir", str(origin), "show", f"{branch}:{RAW}.dvc"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"md5: {md5}" in pushed
    assert repo.git("status", "--porcelain") == ""
