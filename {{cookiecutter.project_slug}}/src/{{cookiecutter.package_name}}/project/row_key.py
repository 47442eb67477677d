"""The drafted row key: the fewest columns that tell rows apart, stable-looking ones first. The
key decides the frozen evaluation set (rows are split by a digest of it), so a key column whose
value a refreshed export changes would move rows between the splits."""

from __future__ import annotations

import re

import pandas as pd

# Key preference, by name: amounts are fixed when a record is made but may be corrected;
# balances, totals, counters and ages change with every export and would move rows.
AMOUNT_NAME = re.compile(r"amount|amnt|amt|income|price|fee|cost|value|limit|rate|score", re.I)
CHANGING_NAME = re.compile(
    r"balance|bal$|total|paid|pymnt|payment|outstanding|remaining|count|cnt|num_|_num|last|"
    r"recent|since|updated|days|months|years|(^|_)age($|_)|tenure|date|time",
    re.IGNORECASE,
)


def key_preference(name: str, is_float: bool) -> int:
    """0 for columns that look stable (categories, flags, measures named like neither of
    below), 1 for amounts, 2 for balances, totals, counters, ages and dates: a key should
    not move rows when a refreshed export updates them."""
    if CHANGING_NAME.search(name):
        return 2
    return 1 if AMOUNT_NAME.search(name) or is_float else 0


KEY_PREFERENCE_WORDS = ("", "an amount or measure", "a balance, total, counter, age or date")


def choose_key(frame: pd.DataFrame, candidates: dict[str, int]) -> list[str]:
    """The fewest columns whose values together tell the rows apart, taken from the most
    stable-looking candidates first (`candidates`: name -> key_preference), the most distinct
    first among equals; all of them when even those repeat (rows that repeat every value)."""
    ordered = sorted(candidates, key=lambda name: (candidates[name], -frame[name].nunique()))
    key: list[str] = []
    for name in ordered:
        key.append(name)
        if not frame.duplicated(subset=key).any():
            break
    else:
        return key
    # Columns added early may have become unnecessary: drop each one the rest do without,
    # trying the least stable first.
    for name in reversed(list(key)):
        rest = [other for other in key if other != name]
        if rest and not frame.duplicated(subset=rest).any():
            key = rest
    return key
