"""Folding a batch into the training data: only a labelled batch that keeps the contract is
ever added (the folding itself, with dvc and git, runs end to end in the template's tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import retraining
from {{ cookiecutter.package_name }}.contract import Contract, ContractError
from {{ cookiecutter.package_name }}.settings import Settings


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["defaulted"]), "only a labelled batch"),
        (lambda f: f.assign(age=7), "rows break the data contract (first: age is below 18)"),
    ],
    ids=["unlabelled", "breaks-the-contract"],
)
def test_a_batch_that_cannot_be_learned_from_is_refused_whole(
    sample_frame: pd.DataFrame,
    settings: Settings,
    tmp_path: Path,
    change: object,
    message: str,
) -> None:
    """Nothing is written when the batch has no outcomes or breaks the contract."""
    batch = tmp_path / "batch.csv"
    change(sample_frame.head(20)).to_csv(batch, index=False)  # type: ignore[operator]
    before = settings.data.raw.read_bytes()
    with pytest.raises(ContractError, match=message.replace("(", r"\(").replace(")", r"\)")):
        retraining.fold_batch(settings, batch)
    assert settings.data.raw.read_bytes() == before
