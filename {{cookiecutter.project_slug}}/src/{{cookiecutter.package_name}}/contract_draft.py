"""A first data contract, inferred from a CSV (`make contract`), for a person to review.

What it decides, column by column (the target aside):
- numbers: `integer` when every value is whole, else `float`; `min: 0` when no value is
  negative (the observed range is written as a comment, to tighten by hand);
- strings with few distinct values: `category` with those values, unseen values scored as
  `other`; two-valued yes/no-like strings: `boolean`;
- short strings without spaces that differ on every row, and whole numbers named like an
  identifier that do: `id`; dates and times, and other strings (free text): `text`; numbers
  written with a leading zero (zip codes) are codes, not numbers. Neither is learned from.
- each column's observed share of missing values, with a margin, as `max_null_fraction`;
- the row key: the first id column, or else the fewest columns whose values tell rows apart,
  so that the frozen evaluation set stays put when other columns change.

Every string is written quoted, so YAML reads it back exactly as the file has it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from .contract import (
    FALSE_WORDS,
    FORBIDDEN_IN_FEATURE_NAMES,
    MISSING_IS_EMPTY,
    TRUE_WORDS,
    Contract,
    ContractError,
    parse_contract,
)

MAX_CATEGORIES = 50  # more distinct values than this is text, not a category
MAX_CATEGORY_SHARE = 0.2  # ... and so is a column where most values are new ones
NULL_MARGIN = 0.05  # allowed share of missing values above the observed one
# Whole numbers that differ on every row are an identifier only if named like one (or left
# unnamed, as the index column pandas writes), not a count that happens to be unique.
ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid|number|no)$|^id[_\W]|^unnamed", re.IGNORECASE)
# ISO dates and times, and day/month/year or month/day/year with / or . between.
DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?\S*)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")

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


def choose_key(frame: pd.DataFrame, candidates: list[str]) -> list[str]:
    """The fewest columns (most distinct values first) whose values together tell the rows
    apart; all of them when even those repeat (rows that repeat every value)."""
    ordered = sorted(candidates, key=lambda name: -frame[name].nunique())
    key: list[str] = []
    for name in ordered:
        key.append(name)
        if not frame.duplicated(subset=key).any():
            break
    else:
        return key
    # Columns added early may have become unnecessary: drop each one the rest do without.
    for name in list(key):
        rest = [other for other in key if other != name]
        if rest and not frame.duplicated(subset=rest).any():
            key = rest
    return key


def review_notes(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """What the person reviewing the drafted contract should know first."""
    notes = []
    key = contract.key_columns
    if not any(contract.columns[name].type == "id" for name in key):
        notes.append(
            f"no id column: rows are keyed by {', '.join(key)}, values that identify a row; "
            "correcting one of them moves that row between the splits (an id column is safer)"
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


def read_as_text(data: Path) -> pd.DataFrame:
    """The CSV with every cell as its text (empty cells missing), as drafting reads it."""
    if not data.is_file():
        raise ContractError(f"DATA={data}: no such file")
    try:
        frame: pd.DataFrame = pd.read_csv(data, dtype=str, **MISSING_IS_EMPTY)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ContractError(f"DATA={data}: not a readable UTF-8 CSV: {error}") from None
    return frame


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


def draft(frame: pd.DataFrame, target: str, positive: str = "", source: str = "") -> str:
    """The contract's text for this data (all read as text), `target` its label column."""
    if target not in frame.columns:
        raise ContractError(
            f"TARGET={target!r} is not a column of {source or 'the data'}; it has: "
            f"{', '.join(frame.columns)}"
        )
    labels = frame[target].dropna().astype(str).str.strip()
    classes = sorted(labels.unique())
    if len(classes) != 2:
        raise ContractError(
            f"target {target!r} must hold exactly two values, found {len(classes)}: {classes[:10]}"
        )
    chosen = positive_class(classes, positive, target)
    entries = {name: describe_column(name, frame[name]) for name in frame.columns if name != target}
    types = {name: fields["type"] for name, (fields, _) in entries.items()}
    ids = [name for name, kind in types.items() if kind == _q("id")]
    candidates = [
        name for name, kind in types.items() if kind != _q("text") and frame[name].notna().all()
    ]
    if not ids and not candidates:
        raise ContractError(
            "no column without missing values to tell the rows apart: add an id column"
        )
    key = ids[:1] or choose_key(frame, candidates)
    width = max(len(_q(name)) for name in entries)
    body = [
        HEADER.format(source=source or "the data", rows=len(frame)),
        f"min_rows: {max(1, len(frame) // 2)}  # half of the rows drafted from",
        "",
        f"key: [{', '.join(_q(name) for name in key)}]",
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


def write_contract(data: Path, target: str, positive: str, output: Path, force: bool) -> Contract:
    """Draft the contract for `data` and write it to `output`, refusing to overwrite one
    without `force`. The text is read back before it is written: it must load as written."""
    if output.exists() and not force:
        raise ContractError(
            f"{output} exists: FORCE=1 to replace it (git keeps the old one if it was committed)"
        )
    frame = read_as_text(data)
    text = draft(frame, target, positive, source=str(data))
    contract = parse_contract(text, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return contract
