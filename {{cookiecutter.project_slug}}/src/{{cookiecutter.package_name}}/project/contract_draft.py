"""A first data contract, inferred from a CSV (`make contract`), for a person to review.

What it decides, column by column (the target aside):
- numbers: `integer` when every value is whole, else `float`; `min: 0` when no value is
  negative (the observed range is written as a comment, to tighten by hand);
- strings with few distinct values: `category` with those values, unseen values scored as
  `other`; two-valued yes/no-like strings: `boolean`;
- short strings without spaces that differ on every row, and whole numbers named like an
  identifier that do: `id`; dates and times, and other strings (free text): `text`; numbers
  written with a leading zero (zip codes) are codes, not numbers. Neither is learned from.
- a column with one value on every row carries nothing: `text`, not learned from;
- each column's observed share of missing values, with a margin, as `max_null_fraction`;
- the row key: the first id column, or else the fewest columns whose values tell rows apart,
  stable-looking ones first (not amounts, balances, counters or dates), so that the frozen
  evaluation set stays put when other columns change.

A redraft over the committed contract (same target) keeps its key, row floor, positive class and
every kept column's settings, and drafts only new columns: the evaluation set never moves by
accident. A new key is asked for by name (`make contract-key`), which counts the rows it moves.

Every string is written quoted, so YAML reads it back exactly as the file has it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from ..pipeline import data, raw_data
from ..pipeline.contract import (
    FALSE_WORDS,
    FORBIDDEN_IN_FEATURE_NAMES,
    MISSING_IS_EMPTY,
    TRUE_WORDS,
    Column,
    Contract,
    ContractError,
    load_contract,
    parse_contract,
)
from .row_key import choose_key, key_preference

MAX_CATEGORIES = 50  # more distinct values than this is text, not a category
MAX_CATEGORY_SHARE = 0.2  # ... and so is a column where most values are new ones
NULL_MARGIN = 0.05  # allowed share of missing values above the observed one
# Whole numbers that differ on every row are an identifier only if named like one (or left
# unnamed, as the index column pandas writes), not a count that happens to be unique.
ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid|number|no)$|^id[_\W]|^unnamed", re.IGNORECASE)
# ISO dates and times, day/month/year or month/day/year with / or . between, and month-year
# ("Mar-2018", "March 2018", "2018-03", "03/2018").
MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?\S*)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
    r"|(?i:(?:" + MONTHS + r")[a-z]*)[-/ ]\d{2,4}|\d{4}-\d{2}|\d{1,2}/\d{4}"
)

HEADER = """\
# The data contract, drafted by `make contract` from {source} ({rows} rows).
# REVIEW IT before the first commit: it is the one description of the data that validation,
# training, scoring and drift all obey. Things to check:
# - types: integer/float/category/boolean are learned from; text and id never are;
# - ranges: only `min: 0` for columns without negatives was inferred (the observed range is the
#   comment beside it): tighten them to what is valid;
# - categories: `unknown: other` scores unseen values as one extra level (drift counts them);
#   `unknown: reject` sets such rows aside instead;
# - key: the columns that identify a row. They decide the frozen evaluation set: never correct
#   or drop them (other columns may change freely);
# - the target's positive class is the event the model predicts.
"""


# Characters YAML would not read back as written: control characters and line separators.
UNSAFE_IN_YAML = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _q(value: object) -> str:
    """A YAML scalar that reads back as exactly this text: a JSON string (valid YAML), with
    every character YAML could alter written as an escape, the rest as it is."""
    text = json.dumps(str(value), ensure_ascii=False)
    return UNSAFE_IN_YAML.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _null_fraction(values: pd.Series) -> float:
    observed = float(values.isna().mean())
    if observed == 0:
        return 0.0
    return min(1.0, math.ceil((observed + NULL_MARGIN) * 100) / 100)


Fields = dict[str, str]  # a column's mapping: key -> YAML text of the value


def _is_boolean(words: pd.Series) -> bool:
    present = set(words.dropna().str.lower())
    return len(present) == 2 and bool(present & TRUE_WORDS) and bool(present & FALSE_WORDS)


def _describe(name: str, values: pd.Series) -> tuple[Fields, str]:
    """A column's type and settings, and a comment for the reviewer."""
    present = values.dropna()
    if present.empty:
        return {"type": _q("text"), "max_null_fraction": "1"}, "every value is missing"
    if present.str.strip().nunique() == 1:
        return {"type": _q("text")}, (
            f"NOT LEARNED: {present.iloc[0].strip()[:40]!r} on every row (or missing): it "
            "carries nothing; declare a type to learn from it once it varies"
        )
    unique_per_row = present.nunique() == len(values)
    text = present.astype(str).str.strip()
    if text.str.fullmatch(DATE).mean() >= 0.95:
        return {"type": _q("text")}, "a date or time: kept out of the model"
    numbers = pd.to_numeric(present, errors="coerce")
    # "02134" is a code (a zip code, an account), not the number 2134.
    if numbers.notna().all() and not text.str.match(r"0\d").any():
        whole = bool((numbers % 1 == 0).all())
        if whole and unique_per_row and ID_NAME.search(name):
            return {"type": _q("id")}, "a distinct whole number on every row"
        fields = {"type": _q("integer" if whole else "float")}
        if numbers.min() >= 0:
            fields["min"] = "0"
        return fields, f"observed {numbers.min():g} to {numbers.max():g}"
    if _is_boolean(text):
        return {"type": _q("boolean")}, ""
    if unique_per_row and not text.str.contains(r"\s").any() and text.str.len().max() <= 64:
        return {"type": _q("id")}, "a distinct value on every row"
    distinct = text.nunique()
    if distinct <= MAX_CATEGORIES and distinct <= MAX_CATEGORY_SHARE * len(present):
        levels = ", ".join(_q(v) for v in sorted(text.unique()))
        return {"type": _q("category"), "values": f"[{levels}]", "unknown": _q("other")}, ""
    return {"type": _q("text")}, f"{distinct} distinct values: free text, not learned from"


def describe_column(name: str, values: pd.Series) -> tuple[Fields, str]:
    """A column's contract entry and comment; a column the model could not take by its name
    is drafted as text, with the reason."""
    fields, comment = _describe(name, values)
    nulls = _null_fraction(values)
    if nulls and "max_null_fraction" not in fields and fields["type"] != _q("id"):
        fields["max_null_fraction"] = f"{nulls:g}"
    learned = fields["type"] not in (_q("text"), _q("id"))
    if learned and any(c in name for c in FORBIDDEN_IN_FEATURE_NAMES):
        fields = {"type": _q("text"), **({"max_null_fraction": f"{nulls:g}"} if nulls else {})}
        comment = (
            'NOT LEARNED: the model cannot take "[", "]" or "<" in a column name; rename '
            "the column in the data to learn from it"
        )
    return fields, comment


def _entry(fields: Fields, comment: str) -> str:
    mapping = "{" + ", ".join(f"{key}: {value}" for key, value in fields.items()) + "}"
    return f"{mapping}  # {comment}" if comment else mapping


# A folder of Parquet files is drafted from this many of its rows (the first of each file):
# its types and categories show in a sample; `make validate` then checks every row.
DRAFT_SAMPLE_ROWS = 200_000


def read_as_text(data: Path) -> pd.DataFrame:
    """The data with every cell as its text (empty cells missing), as drafting reads it: a
    CSV whole, a folder of Parquet files by a sample (raw_data.sample_sources)."""
    if not data.exists():
        raise ContractError(f"DATA={data}: no such file or folder")
    try:
        frames = [
            pd.read_csv(source, dtype=str, **MISSING_IS_EMPTY)
            for source in raw_data.sample_sources(data, DRAFT_SAMPLE_ROWS)
        ]
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ContractError(f"DATA={data}: not a readable UTF-8 CSV: {error}") from None
    return raw_data.joined(frames)


def sample_note(data: Path, frame: pd.DataFrame) -> list[str]:
    """What the draft was made from, when it was a sample of the data."""
    if not raw_data.is_parquet(data):
        return []
    return [
        f"drafted from a sample: {len(frame)} of the {raw_data.row_count(data)} rows of {data} "
        "(the first rows of each file); `make validate` checks every row"
    ]


def positive_class(classes: list[str], positive: str, target: str) -> str:
    if positive:
        if positive not in classes:
            raise ContractError(
                f"POSITIVE={positive!r} is not a value of {target} (it holds {classes})"
            )
        return positive
    known = [c for c in classes if c.lower() in TRUE_WORDS]
    if len(known) == 1:
        return known[0]
    raise ContractError(
        f"which value of {target} is the event to predict, {classes[0]!r} or {classes[1]!r}? "
        "say it with POSITIVE=<value>"
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def committed_fields(column: Column) -> Fields:
    """A committed column's reviewed settings, written as the draft writes its own."""
    fields = {"type": _q(column.type)}
    for name, bound in (("min", column.min), ("max", column.max)):
        if bound is not None:
            fields[name] = _number(bound)
    if column.values is not None:
        fields["values"] = "[" + ", ".join(_q(value) for value in column.values) + "]"
        fields["unknown"] = _q(column.unknown)
    if column.max_null_fraction:
        fields["max_null_fraction"] = _number(column.max_null_fraction)
    return fields


def _chosen_key(
    frame: pd.DataFrame,
    entries: dict[str, tuple[Fields, str]],
    committed: Contract | None,
    key: tuple[str, ...],
    source: str,
) -> list[str]:
    """The key asked for by name, else the committed one (kept: it decides the evaluation
    set), else a drafted one: the first id column, or the fewest stable-looking columns."""
    if key:
        for name in key:
            if name not in entries:
                raise ContractError(f"ROW_KEY: {name!r} is not a column of {source}")
            if frame[name].isna().any():
                raise ContractError(
                    f"ROW_KEY: {name!r} is missing on {int(frame[name].isna().sum())} rows: a "
                    "key identifies every row"
                )
        return list(key)
    if committed is not None:
        gone = [name for name in committed.key_columns if name not in entries]
        if gone:
            raise ContractError(
                f"the committed key column(s) {', '.join(gone)} are not in {source}: the key "
                "decides the frozen evaluation set; bring them back, or choose a new key on "
                "purpose with `make contract-key ROW_KEY=<columns>` (it says how many "
                "evaluation rows move)"
            )
        return committed.key_columns
    types = {name: fields["type"] for name, (fields, _) in entries.items()}
    ids = [name for name, kind in types.items() if kind == _q("id")]
    candidates = {
        name: key_preference(name, kind == _q("float"))
        for name, kind in types.items()
        if kind != _q("text") and frame[name].notna().all()
    }
    if not ids and not candidates:
        raise ContractError(
            "no column without missing values to tell the rows apart: add an id column"
        )
    return ids[:1] or choose_key(frame, candidates)


def draft(
    frame: pd.DataFrame,
    target: str,
    positive: str = "",
    source: str = "",
    committed: Contract | None = None,
    key: tuple[str, ...] = (),
) -> str:
    """The contract's text for this data (all read as text), `target` its label column.
    With `committed` (the contract in git, for the same target), a redraft: its key, its row
    floor, its positive class and every column's settings are kept for the columns the data
    still has; only new columns are drafted. `key`: a new key, asked for by name."""
    source = source or "the data"
    if target not in frame.columns:
        raise ContractError(
            f"TARGET={target!r} is not a column of {source}; it has: {', '.join(frame.columns)}"
        )
    labels = frame[target].dropna().astype(str).str.strip()
    classes = sorted(labels.unique())
    if len(classes) != 2:
        raise ContractError(
            f"target {target!r} must hold exactly two values, found {len(classes)}: {classes[:10]}"
        )
    if committed is not None and not positive and committed.target.positive in classes:
        positive = committed.target.positive
    chosen = positive_class(classes, positive, target)
    kept = committed.columns if committed is not None else {}
    entries = {
        name: (committed_fields(kept[name]), "as committed")
        if name in kept
        else describe_column(name, frame[name])
        for name in frame.columns
        if name != target
    }
    row_key = _chosen_key(frame, entries, committed, key, source)
    min_rows = (
        f"min_rows: {committed.min_rows}"
        if committed is not None
        else f"min_rows: {max(1, len(frame) // 2)}  # half of the rows drafted from"
    )
    width = max(len(_q(name)) for name in entries)
    body = [
        HEADER.format(source=source, rows=len(frame)),
        min_rows,
        "",
        f"key: [{', '.join(_q(name) for name in row_key)}]",
        "",
        "target:",
        f"  name: {_q(target)}",
        f"  classes: [{', '.join(_q(c) for c in classes)}]",
        f"  positive: {_q(chosen)}",
        "",
        "columns:",
        *[f"  {(_q(name) + ':').ljust(width + 1)} {_entry(*e)}" for name, e in entries.items()],
    ]
    return "\n".join(body) + "\n"


def committed_contract(output: Path, target: str) -> tuple[Contract | None, str]:
    """The contract a redraft keeps settings from, or None and why a fresh draft is made."""
    if not output.exists():
        return None, ""
    try:
        committed = load_contract(output)
    except ContractError as error:
        return None, f"drafted afresh: {output} could not be read ({error})"
    if target and target != committed.target.name:
        return None, (
            f"drafted afresh: TARGET={target} is not {committed.target.name}, the target of "
            f"the contract it replaces"
        )
    return committed, ""


def redraft_changes(
    frame: pd.DataFrame, committed: Contract, contract: Contract, split: tuple[float, int]
) -> list[str]:
    """What a redraft kept, added and removed, and, for a new key, how many evaluation rows
    it moves (`split`: the evaluation share and seed in params.yaml)."""
    old_key, new_key = committed.key_columns, contract.key_columns
    kept = [name for name in contract.columns if name in committed.columns]
    added = [
        f"{name} ({contract.columns[name].type})" for name in contract.columns if name not in kept
    ]
    removed = [name for name in committed.columns if name not in contract.columns]
    changes = [f"kept the settings of {len(kept)} columns as committed"]
    if added:
        changes.append(f"added: {', '.join(added)}")
    if removed:
        changes.append(f"removed (not in the data): {', '.join(removed)}")
    if old_key == new_key:
        return [f"kept the key {', '.join(new_key)}", *changes]
    if any(name not in frame.columns for name in old_key):
        moved = "the old key's columns are not in the data: the evaluation set is cut afresh"
    else:
        before = data.in_evaluation(frame, old_key, *split)
        after = data.in_evaluation(frame, new_key, *split)
        moved = (
            f"{int((before & ~after).sum())} of the {int(before.sum())} evaluation rows leave "
            f"the evaluation set and {int((after & ~before).sum())} training rows enter it"
        )
    return [
        f"KEY CHANGED from {', '.join(old_key)} to {', '.join(new_key)}: {moved}; the gate "
        "refuses a champion trained on any evaluation row (retrain it first)",
        *changes,
    ]


def write_contract(
    data_path: Path,
    target: str,
    positive: str,
    output: Path,
    force: bool,
    split: tuple[float, int],
    key: tuple[str, ...] = (),
) -> tuple[Contract, list[str]]:
    """Draft the contract for `data_path` and write it to `output`, refusing to overwrite one
    without `force`; a redraft of the committed contract keeps its key and settings. The text
    is read back before it is written: it must load as written. Returns the contract and what
    the redraft changed."""
    if output.exists() and not force:
        raise ContractError(
            f"{output} exists: FORCE=1 to replace it (git keeps the old one if it was committed)"
        )
    frame = read_as_text(data_path)
    committed, fresh = committed_contract(output, target)
    if not target:
        if committed is None:
            raise ContractError(
                "TARGET: name the column to predict (make contract TARGET=<column>)"
            )
        target = committed.target.name
    text = draft(frame, target, positive, str(data_path), committed, key)
    contract = parse_contract(text, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    if committed is None:
        return contract, [fresh] if fresh else []
    return contract, redraft_changes(frame, committed, contract, split)
