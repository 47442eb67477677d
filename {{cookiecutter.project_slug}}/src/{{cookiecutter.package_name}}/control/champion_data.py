"""The champion's inputs: the evaluation rows as the production model takes them, even after the
data's columns changed (a column it learned from that the data no longer has comes from its
own evaluation split, typed by the contract at its commit, matched by key), and the rows it
was trained on that the evaluation split now holds."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import ProjectError
from ..pipeline import data, lineage, training
from ..pipeline.contract import Contract, ContractError, parse_contract, typed
from ..settings import Settings
from ..vocabulary import EVAL_MD5, TRAIN_MD5
from . import registry

if TYPE_CHECKING:
    from xgboost import XGBClassifier


def contract_at(settings: Settings, sha: str) -> Contract | None:
    """The data contract as commit `sha` had it, or None when git does not have it."""
    text = lineage.file_at(sha, settings.data.contract)
    if text is None:
        return None
    try:
        return parse_contract(text, settings.data.contract)
    except ContractError:
        return None


def champion_inputs(
    settings: Settings,
    contract: Contract,
    champion_contract: Contract | None,
    frame: pd.DataFrame,
    champion: registry.Version,
    model: XGBClassifier,
) -> tuple[pd.DataFrame, list[str]]:
    """The champion's inputs for the evaluation rows, and the columns taken from its own data.
    A champion is judged on the columns it was trained with: one the data no longer has, or
    no longer learns from (dropped, renamed), comes from the champion's own evaluation split
    (found by the md5 in its lineage, through DVC), matched to each evaluation row by the key."""
    names = training.model_columns(model)
    gone = [n for n in names if n not in frame.columns or n not in contract.learned_columns]
    if not gone:
        return training.model_inputs(model, frame), []
    about = (
        f"the champion (version {champion.number}) takes {', '.join(gone)}, which the data no "
        "longer has (or no longer learns from)"
    )
    md5 = champion.tags.get(EVAL_MD5, "")
    known = champion_contract is not None and set(gone) <= set(champion_contract.columns)
    if champion_contract is None or not known or not md5:
        raise ProjectError(
            f"{about}; its contract at commit {champion.git_sha[:12]} or its evaluation split "
            "cannot be found (git history or lineage.eval_md5): fetch the full history, or "
            "bring the columns back until a model without them serves"
        )
    content = lineage.recorded_bytes(settings.split.eval, md5, champion.git_sha)
    recorded = data.read_raw(io.BytesIO(content), champion_contract)
    key = contract.key_columns
    if any(name not in recorded.columns for name in key):
        raise ProjectError(
            f"{about}; its evaluation split has no key column {', '.join(key)} to match rows "
            "by (the key changed since it was trained): change columns and the key in "
            "separate pull requests"
        )
    filled = values_by_key(
        data.key_digests(data.read_raw(settings.split.eval, contract), key),
        typed(recorded, champion_contract, gone),
        data.key_digests(recorded, key),
        about,
    )
    return training.model_inputs(model, frame.assign(**filled)), gone


def values_by_key(
    keys: pd.Series, recorded: pd.DataFrame, recorded_keys: pd.Series, about: str
) -> dict[str, pd.Series]:
    """Each of `recorded`'s columns for the rows `keys` names (indexed like `keys`), matched
    by key digest. Every row must be found, and rows sharing a key must agree."""
    table = recorded.assign(_key=recorded_keys.to_numpy()).drop_duplicates()
    if table["_key"].duplicated().any():
        raise ProjectError(
            f"{about}; rows of its evaluation split that share a key hold different values "
            "of them: cannot tell which to score"
        )
    table = table.set_index("_key")
    new = int((~keys.isin(table.index)).sum())
    if new:
        raise ProjectError(
            f"{about}; {new} of the {len(keys)} evaluation rows are not in its evaluation "
            "split (rows added since), so it cannot be scored on them: add rows and drop or "
            "rename columns in separate pull requests"
        )
    return {
        name: pd.Series(table[name].reindex(keys.to_numpy()).array, index=keys.index)
        for name in recorded.columns
    }


def training_overlap(settings: Settings, contract: Contract, champion: registry.Version) -> int:
    """How many evaluation rows the champion was trained on: none, or the gate refuses (a
    champion scored on its own training rows looks better than it is). Its training split is
    found by the md5 in its lineage (the local split, DVC's cache, or the DVC remote); rows are
    matched by the contract's row key."""
    md5 = champion.tags.get(TRAIN_MD5, "")
    if not md5:
        raise ProjectError(
            f"the champion (version {champion.number}) records no training split md5: cannot "
            "check that none of its training rows are in the evaluation set"
        )
    content = lineage.recorded_bytes(settings.split.train, md5, champion.git_sha)
    trained_on = data.read_raw(io.BytesIO(content), contract)
    key = contract.key_columns
    gone = [name for name in key if name not in trained_on.columns]
    if gone:
        raise ProjectError(
            f"the champion's training split (version {champion.number}) has no key column "
            f"{', '.join(gone)}: the key changed since it was trained, so the gate cannot check "
            "that none of its training rows are in the evaluation set; bring the old key back "
            "until a model trained with this key serves"
        )
    evaluation_keys = data.key_digests(data.read_raw(settings.split.eval, contract), key)
    overlap = int(evaluation_keys.isin(set(data.key_digests(trained_on, key))).sum())
    if overlap:
        raise ProjectError(
            f"{overlap} of the {len(evaluation_keys)} evaluation rows were in the training data "
            f"of the champion (version {champion.number}), matched by the key "
            f"{', '.join(key)}: the comparison would flatter the champion. The evaluation set "
            "moved (was the key or the split changed?); restore it, or retire the champion"
        )
    return overlap
