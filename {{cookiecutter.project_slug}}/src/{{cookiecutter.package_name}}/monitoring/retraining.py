"""Retraining through a pull request: fold a labelled batch into the training data, then
propose the change, so that the normal pull request gate decides. Nothing here trains or
registers a model: the PR workflow does, on the branch this opens.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..github import branches
from ..pipeline import contract as contracts
from ..pipeline import data, lineage, raw_data
from ..pipeline.contract import ContractError, load_contract
from ..settings import Settings


def merged(raw: pd.DataFrame, batch: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The training data with the batch's rows appended (in the training data's columns)."""
    return pd.concat([raw[columns], batch[columns]], ignore_index=True)


def _add_file(folder: Path, batch_path: Path, columns: list[str]) -> None:
    """A folder of Parquet files takes the batch as one more file, its cells as their text
    (read back as a CSV's would be: raw_data), named by the batch's content: the same batch
    is refused, the next one (at the same path) is not."""
    target = folder / f"folded-{lineage.file_md5(batch_path)[:16]}{raw_data.PARQUET}"
    if target.exists():
        raise ContractError(f"{batch_path}: these rows are folded in already ({target})")
    data.read_text(batch_path)[columns].to_parquet(target, index=False)


def fold_batch(settings: Settings, batch_path: Path) -> int:
    """Append a labelled batch to the training data, then `dvc add` and `dvc push` it.
    A batch without the target, with columns the contract does not know, or with rows that
    break the contract (a target outside its two classes among them) is refused whole."""
    contract = load_contract(settings.data.contract)
    batch = data.read_raw(batch_path, contract)
    if contract.target.name not in batch.columns:
        raise ContractError(
            f"{batch_path}: no {contract.target.name} column: only a labelled batch can be "
            "learned from"
        )
    unknown = sorted(set(batch.columns) - set(contract.all_columns))
    if unknown:
        raise ContractError(
            f"{batch_path}: column(s) {', '.join(unknown)} are not in the data contract; "
            "add them to data/contract.yaml (and the training data) first"
        )
    bad = contracts.row_problems(batch, contract, contract.all_columns)
    if (bad != "").any():
        first = bad[bad != ""].iloc[0]
        raise ContractError(
            f"{batch_path}: {int((bad != '').sum())} rows break the data contract "
            f"(first: {first}); fix the batch before folding it in"
        )
    if raw_data.is_folder(settings.data.raw):
        _add_file(settings.data.raw, batch_path, contract.all_columns)
    elif raw_data.is_parquet(settings.data.raw):
        raise ContractError(
            f"data.raw {settings.data.raw} is one Parquet file: make it a folder of them "
            f"(make data DATA={settings.data.raw}) to fold batches in"
        )
    else:  # folded as text, so the old rows keep their bytes exactly as they were written
        old, new = data.read_text(settings.data.raw), data.read_text(batch_path)
        data.write_csv(merged(old, new, contract.all_columns), settings.data.raw)
    branches.run_tool(sys.executable, "-m", "dvc", "add", "--quiet", str(settings.data.raw))
    branches.run_tool(sys.executable, "-m", "dvc", "push", "--quiet")
    return len(batch)


def propose(settings: Settings, batch_path: Path, reason: str) -> str:
    """Commit the folded data on a new branch, push it, and open the retraining PR."""
    pointer = Path(f"{settings.data.raw}.dvc")
    md5 = lineage.data_md5(settings.data.raw)
    branch = f"retrain/{datetime.now(UTC):%Y%m%d}-{md5[:8]}"
    title = f"Retrain on {batch_path.name}: {reason}"
    body = (
        f"The drift check asked for retraining ({reason}).\n\n"
        f"This adds `{batch_path}` to `{settings.data.raw}` (DVC md5 now `{md5}`). The pull "
        "request gate retrains and decides, as for any other change; nothing reaches production "
        "without it and the approvals."
    )
    return branches.propose(branch, [str(pointer)], title, body, settings.github.default_branch)
