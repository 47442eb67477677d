"""What `make contract` tells the person who reviews the drafted contract: what it wrote, and
what to look at first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import ProjectError
from ..pipeline.contract import FORBIDDEN_IN_FEATURE_NAMES, Contract
from ..settings import Settings
from . import contract_draft
from .row_key import KEY_PREFERENCE_WORDS, key_preference


def draft_and_say(
    source: Path, target: str, positive: str, force: bool, key: str | None, settings: Settings
) -> list[str]:
    """Draft (or redraft) the contract from `source`; what was written, then the notes."""
    chosen = tuple(name.strip() for name in (key or "").split(",") if name.strip())
    if key is not None and not chosen:
        raise ProjectError("ROW_KEY: name the key column(s), comma-separated")
    drafted, changes = contract_draft.write_contract(
        source, target, positive, settings.data.contract, force,
        split=(settings.split.eval_fraction, settings.split.seed), key=chosen,
    )  # fmt: skip
    frame = contract_draft.read_as_text(source)
    notes = [*contract_draft.sample_note(source, frame), *changes, *review_notes(frame, drafted)]
    kinds = [column.type for column in drafted.columns.values()]
    counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    said = (
        f"wrote {settings.data.contract}: {len(kinds)} columns ({counts}), target "
        f"{drafted.target.name} (positive: {drafted.target.positive!r}), key "
        f"{', '.join(drafted.key_columns)}. Review it, then `make validate`."
    )
    return [said, *(f"  - {note}" for note in notes)]


def review_notes(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """What the person reviewing the drafted contract should know first."""
    notes = []
    key = contract.key_columns
    if not any(contract.columns[name].type == "id" for name in key):
        notes.append(
            f"no id column: rows are keyed by {', '.join(key)}, the fewest columns that tell "
            "rows apart, stable-looking ones first; correcting one of them moves that row "
            "between the splits (an id column is safer: `make contract-key ROW_KEY=<column>`)"
        )
    for name in key:
        preference = key_preference(name, contract.columns[name].type == "float")
        if name in frame.columns and preference:
            notes.append(
                f"key column {name} looks like {KEY_PREFERENCE_WORDS[preference]}: if a later "
                "export updates it, rows move between the splits"
            )
    shared = int(frame.duplicated(subset=key, keep=False).sum())
    if shared:
        notes.append(
            f"{shared} rows share their key with another row: each such group stays in one "
            "split; an id column would tell them apart"
        )
    unlabelled = int(frame[contract.target.name].isna().sum())
    if unlabelled:
        notes.append(
            f"{contract.target.name} is missing on {unlabelled} rows: validation refuses "
            "unlabelled rows; remove them from your data, then `make data` again"
        )
    kept_out = [f"{name} ({c.type})" for name, c in contract.columns.items() if not c.is_learned]
    if kept_out:
        notes.append(f"not learned from: {', '.join(kept_out)}")
    constant = [
        name
        for name in contract.columns
        if name in frame.columns
        and not contract.columns[name].is_learned
        and frame[name].str.strip().nunique() == 1
    ]
    if constant:
        notes.append(f"one value on every row, so not learned from: {', '.join(constant)}")
    renamed = [
        name
        for name in contract.columns
        if any(c in name for c in FORBIDDEN_IN_FEATURE_NAMES)
        and not contract.columns[name].is_learned
    ]
    if renamed:
        notes.append(
            f"{', '.join(renamed)}: the model cannot take '[', ']' or '<' in a column name; "
            "rename it in your data to learn from it"
        )
    return notes
