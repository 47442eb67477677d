"""The data contract (data/contract.yaml): the one description of the data, and its one reader.

Validation, training, scoring, drift and the retraining fold all ask this module which
columns there are, what each may hold, which rows break the contract and why, and how a
column is given to the model, so they accept exactly the same rows.

Column types:
- integer, float: numbers (integer: whole numbers), optionally within min and max;
- category: one of `values` (their order fixes the model's category codes); a value outside
  them is rejected, or with `unknown: other` scored as one extra level that drift counts;
- boolean: true/false, yes/no, y/n, t/f or 1/0 (any case);
- text, id: kept in the data but never learned from and never a reason to reject a row at
  scoring; id columns are the row key unless `key` names other columns.

The row key decides which rows form the frozen evaluation set: adding, dropping or correcting
other columns never moves a row between the splits.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import yaml_files
from ..errors import ProjectError
from ..settings import explain

OTHER = "__other__"  # the one level every unseen value of an `unknown: other` category becomes
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})
LEARNED_TYPES = frozenset({"integer", "float", "category", "boolean"})
NUMERIC_TYPES = frozenset({"integer", "float"})
# XGBoost refuses feature names with these characters (its own error names no column).
FORBIDDEN_IN_FEATURE_NAMES = ("[", "]", "<")
YAML_BOOLEAN_WORDS = "yes/no, on/off, true/false, y/n"


class ContractError(ProjectError):
    """The contract file is unusable, or data does not fit it as a whole."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Column(_Strict):
    type: Literal["integer", "float", "category", "boolean", "text", "id"]
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    unknown: Literal["reject", "other"] = "reject"
    max_null_fraction: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _fits_its_type(self) -> Column:
        if (self.min is not None or self.max is not None) and not self.is_numeric:
            raise ValueError(f"min/max are for integer and float columns, not {self.type}")
        if self.type == "category":
            if not self.values:
                raise ValueError("a category column needs its allowed values")
            if len(set(self.values)) != len(self.values):
                raise ValueError("a category column lists a value twice")
            if OTHER in self.values:
                raise ValueError(f"{OTHER!r} is reserved for unseen values")
        elif self.values is not None:
            raise ValueError(f"values are for category columns, not {self.type}")
        elif self.unknown != "reject":
            raise ValueError("unknown: other is for category columns")
        if self.type == "id" and self.max_null_fraction:
            raise ValueError("an id column identifies rows: it allows no missing values")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def is_learned(self) -> bool:
        return self.type in LEARNED_TYPES

    @property
    def levels(self) -> list[str]:
        """A category's levels as the model knows them (the extra `other` level last)."""
        return [*(self.values or ()), *([OTHER] if self.unknown == "other" else [])]


class Target(_Strict):
    name: str = Field(min_length=1)
    classes: tuple[str, str]
    positive: str

    @model_validator(mode="after")
    def _positive_is_a_class(self) -> Target:
        if self.classes[0] == self.classes[1]:
            raise ValueError("the two classes must differ")
        if self.positive not in self.classes:
            raise ValueError(f"positive {self.positive!r} is not one of classes {self.classes}")
        return self


class Contract(_Strict):
    min_rows: int = Field(ge=1)
    key: tuple[str, ...] = ()
    target: Target
    columns: dict[str, Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        if self.target.name in self.columns:
            raise ValueError(f"target {self.target.name!r} must not also be listed in columns")
        for name in self.key:
            if name not in self.columns:
                raise ValueError(
                    f"key column {name!r} is not in columns: the key decides the frozen "
                    "evaluation set, so keep that column in the data, or name a new key knowing "
                    "that rows will move (the gate then refuses a champion whose training rows "
                    "land in the evaluation set)"
                )
        if not self.key_columns:
            raise ValueError("no row key: name `key` columns or declare an id column")
        for name, column in self.columns.items():
            if column.is_learned and any(c in name for c in FORBIDDEN_IN_FEATURE_NAMES):
                raise ValueError(
                    f"column {name!r}: the model cannot take '[', ']' or '<' in a column name; "
                    "rename it in the data (or declare it text to keep it out of the model)"
                )
        return self

    @property
    def all_columns(self) -> list[str]:
        """Every column in contract order, then the target."""
        return [*self.columns, self.target.name]

    @property
    def learned_columns(self) -> list[str]:
        """The columns a model may learn from (not text, not id), in contract order."""
        return [name for name, column in self.columns.items() if column.is_learned]

    @property
    def key_columns(self) -> list[str]:
        """The row key: the declared `key`, else the id columns."""
        return list(self.key) or [n for n, c in self.columns.items() if c.type == "id"]

    def text_dtypes(self) -> dict[str, type]:
        """Columns read as the file's text: everything but plain numbers, and the key (its
        text is a row's identity: 5 and 5.0 are different keys)."""
        numeric = {n for n, c in self.columns.items() if c.is_numeric} - set(self.key_columns)
        return {name: str for name in self.all_columns if name not in numeric}


# Only an empty cell is a missing value: pandas would also take "NA" (Namibia), "None", "null"
# or "n/a" for one, and a category or an id could silently lose values.
MISSING_IS_EMPTY: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}


def read_csv(path: Path | IO[bytes], contract: Contract) -> pd.DataFrame:
    """A CSV as its text says: the contract's non-numeric columns as strings, numbers parsed
    where they parse; validation and scoring judge what is really there. A file that is not
    a CSV at all is a ContractError naming it."""
    name = getattr(path, "name", path)
    try:
        frame: pd.DataFrame = pd.read_csv(path, dtype=contract.text_dtypes(), **MISSING_IS_EMPTY)
    except pd.errors.EmptyDataError:
        raise ContractError(f"{name}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ContractError(f"{name}: not a CSV: {error}") from None
    return frame


# The data by column name: a DataFrame, or plain arrays (a server's request). The rules below
# work on numpy arrays, so that a one-row request costs microseconds per column and a batch
# the same per row; pandas' per-call cost would be most of a small request's answer.
Table = pd.DataFrame | Mapping[str, Any]


def _values(table: Table, name: str) -> np.ndarray:
    return np.asarray(table[name])


def _rows(table: Table) -> int:
    if isinstance(table, pd.DataFrame):
        return len(table)
    return len(next(iter(table.values()), ()))


def _missing(values: np.ndarray) -> np.ndarray:
    missing: np.ndarray = pd.isna(values)
    return missing


def _text(values: np.ndarray) -> np.ndarray:
    """Each present value as its text, stripped; a missing one stays None."""
    text = np.full(len(values), None, dtype=object)
    present = ~_missing(values)
    text[present] = [str(value).strip() for value in values[present]]
    return text


def _words(values: np.ndarray) -> np.ndarray:
    """A boolean column's values as lowercase words (None where missing)."""
    return np.array([None if word is None else word.lower() for word in _text(values)], object)


def _among(text: np.ndarray, allowed: Collection[str]) -> np.ndarray:
    """Per value, whether it is one of `allowed` (a missing one is not)."""
    allowed = set(allowed)
    return np.fromiter((value in allowed for value in text), dtype=bool, count=len(text))


def _unlisted(text: np.ndarray, column: Column) -> np.ndarray:
    """Per row, whether a category's value (as _text gives it) is present but not one of its
    listed values."""
    present: np.ndarray = ~_missing(text) & ~_among(text, column.values or ())
    return present


def _numbers(values: np.ndarray, errors: Literal["coerce", "raise"] = "coerce") -> np.ndarray:
    """Each value as a float: NaN where it is missing or, with errors="coerce", not a number."""
    if values.dtype.kind in "biuf":
        return values.astype("float64")
    return np.asarray(pd.to_numeric(values, errors=errors), dtype="float64")


def _last_problem(rules: list[tuple[np.ndarray, str]], rows: int) -> np.ndarray:
    """Per row, the problem of the last rule it breaks ("" when none): each rule is written over
    the ones before it."""
    if not any(condition.any() for condition, _ in rules):  # good data: nothing to choose
        return np.full(rows, "", dtype=object)
    conditions = [condition for condition, _ in reversed(rules)]
    problems = [problem for _, problem in reversed(rules)]
    chosen: np.ndarray = np.select(conditions, problems, default="").astype(object)
    return chosen


def _numeric_rules(name: str, column: Column, values: np.ndarray) -> list[tuple[np.ndarray, str]]:
    numbers = _numbers(values)
    parsed = ~np.isnan(numbers)
    with np.errstate(invalid="ignore"):
        rules = [
            (~_missing(values) & ~parsed, f"{name} is not a number"),
            (parsed & ~np.isfinite(numbers), f"{name} is not a finite number"),
        ]
        if column.type == "integer":
            rules.append((parsed & (numbers != np.floor(numbers)), f"{name} is not a whole number"))
        if column.min is not None:
            rules.append((numbers < column.min, f"{name} is below {column.min:g}"))
        if column.max is not None:
            rules.append((numbers > column.max, f"{name} is above {column.max:g}"))
    return rules


def _cell_problems(name: str, column: Column, values: np.ndarray, is_key: bool) -> np.ndarray:
    """Per row, what is wrong with one column's value ("" when nothing)."""
    rules: list[tuple[np.ndarray, str]] = []
    if column.is_numeric:
        rules = _numeric_rules(name, column, values)
    elif column.type == "category" and column.unknown == "reject":
        rules = [(_unlisted(_text(values), column), f"{name} is not a known category")]
    elif column.type == "boolean":
        wrong = ~_missing(values) & ~_among(_words(values), TRUE_WORDS | FALSE_WORDS)
        rules = [(wrong, f"{name} is not true/false")]
    if column.max_null_fraction == 0 or is_key:
        rules.append((_missing(values), f"{name} is missing"))
    return _last_problem(rules, len(values))


def _problems_by_column(
    table: Table, contract: Contract, columns: list[str]
) -> dict[str, np.ndarray]:
    missing = [name for name in columns if name not in table]
    if missing:
        raise ContractError(f"the data has no column {', '.join(missing)} of the contract")
    found = {}
    key = set(contract.key_columns)
    for name in columns:
        values = _values(table, name)
        if name == contract.target.name:
            rules = [
                (~_among(_text(values), contract.target.classes),
                 f"{name} is not one of the two classes"),
                (_missing(values), f"{name} is missing"),
            ]  # fmt: skip
            found[name] = _last_problem(rules, len(values))
        else:
            found[name] = _cell_problems(name, contract.columns[name], values, name in key)
    return found


def cell_problems(frame: pd.DataFrame, contract: Contract, columns: list[str]) -> pd.DataFrame:
    """Per row and column (of `columns`, which may include the target), what breaks the
    contract ("" when nothing). A column absent from the frame breaks every row, so it is an
    error for the whole batch."""
    return pd.DataFrame(_problems_by_column(frame, contract, columns), index=frame.index)


def problems_per_row(table: Table, contract: Contract, columns: list[str]) -> np.ndarray:
    """Per row, every way it breaks the contract in `columns`, joined by "; " ("" for a good
    row). Only the bad rows are joined: good data costs one comparison per cell."""
    found = _problems_by_column(table, contract, columns)
    joined = np.full(_rows(table), "", dtype=object)
    if found:
        cells = np.column_stack(list(found.values()))
        for row in np.flatnonzero((cells != "").any(axis=1)):
            joined[row] = "; ".join(problem for problem in cells[row] if problem)
    return joined


def row_problems(frame: pd.DataFrame, contract: Contract, columns: list[str]) -> pd.Series:
    """problems_per_row, indexed like the frame."""
    return pd.Series(problems_per_row(frame, contract, columns), index=frame.index)


def typed_columns(table: Table, contract: Contract, columns: list[str]) -> dict[str, Any]:
    """The model's view of `columns` (rows that keep the contract), by name: numbers as floats,
    categories with the contract's fixed levels (unseen values as the `other` level where the
    contract says so), booleans as 0/1, the target as 1 for the positive class and 0 else.

    Fixed levels keep XGBoost's category codes identical between training, evaluation and
    scoring, whatever values a given batch happens to contain."""
    result: dict[str, Any] = {}
    for name in columns:
        values = _values(table, name)
        if name == contract.target.name:
            result[name] = (_text(values) == contract.target.positive).astype("int64")
            continue
        column = contract.columns[name]
        if column.is_numeric:
            result[name] = _numbers(values, errors="raise")
        elif column.type == "category":
            text = _text(values)
            if column.unknown == "other":
                text[_unlisted(text, column)] = OTHER
            levels = pd.CategoricalDtype(column.levels)
            code = {level: place for place, level in enumerate(column.levels)}
            codes = np.fromiter((code.get(v, -1) for v in text), dtype=np.int64, count=len(text))
            result[name] = pd.Categorical.from_codes(codes, dtype=levels)
        elif column.type == "boolean":
            words = _words(values)
            result[name] = np.where(_missing(values), np.nan, _among(words, TRUE_WORDS))
        else:
            result[name] = table[name]
    return result


def typed(frame: pd.DataFrame, contract: Contract, columns: list[str]) -> pd.DataFrame:
    """typed_columns as a frame, indexed like `frame`."""
    return pd.DataFrame(typed_columns(frame, contract, columns), index=frame.index)


@dataclass(frozen=True)
class ModelView:
    """A batch as a model sees it: per row of the batch, why the model cannot take it ("" when
    it can), and the rows it can take, typed as it takes them (indexed like the batch)."""

    problems: pd.Series
    inputs: pd.DataFrame

    @property
    def usable(self) -> pd.Series:
        return self.problems == ""


def model_view(frame: pd.DataFrame, contract: Contract, columns: list[str]) -> ModelView:
    """The batch as a model that takes `columns` sees it, in one call: the same rule and the
    same types for batch scoring, the drift check and the server, so that they accept and
    score exactly the same rows."""
    problems = row_problems(frame, contract, columns)
    usable = problems == ""
    rows = frame if usable.all() else frame[usable]
    return ModelView(problems, typed(rows, contract, columns))


def unseen_counts(frame: pd.DataFrame, contract: Contract) -> dict[str, int]:
    """Per `unknown: other` category column, how many values are not among its values."""
    counts = {}
    for name, column in contract.columns.items():
        if column.unknown == "other" and name in frame.columns:
            unseen = int(_unlisted(_text(_values(frame, name)), column).sum())
            if unseen:
                counts[name] = unseen
    return counts


def _pairs(node: yaml.Node | None) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _find(node: yaml.Node | None, key: str) -> yaml.Node | None:
    return next((value for k, value in _pairs(node) if k.value == key), None)


class _SourceText:
    """The contract's names and values as the file writes them: YAML would read an unquoted
    010 as the number 8, and yes/no/on/off as true/false, but the data holds text."""

    def __init__(self) -> None:
        self.booleans: list[str] = []

    def scalar(self, node: yaml.Node | None, place: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None  # absent, or not a scalar: the schema names the problem
        if node.tag.endswith(":bool"):
            self.booleans.append(place)
        return node.value if node.tag.endswith((":int", ":float", ":bool", ":str")) else None

    def sequence(self, node: yaml.Node | None, place: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return None
        return [self.scalar(item, place) for item in node.value]


def _raw_contract(text: str) -> tuple[Any, list[str]]:
    """The parsed file with every name and value that stands for text in the data taken as
    written, and the places where an unquoted word was one YAML reads as true/false."""
    raw = yaml_files.load(text)
    document = yaml_files.compose(text)
    if not isinstance(raw, dict):
        return raw, []
    source = _SourceText()
    target_node = _find(document, "target")
    if isinstance(raw.get("target"), dict):
        for key in ("name", "positive"):
            if key in raw["target"]:
                raw["target"][key] = source.scalar(_find(target_node, key), f"target.{key}")
        if "classes" in raw["target"]:
            raw["target"]["classes"] = source.sequence(
                _find(target_node, "classes"), "target.classes"
            )
    if "key" in raw:
        raw["key"] = source.sequence(_find(document, "key"), "key")
    if isinstance(raw.get("columns"), dict):
        columns = {}
        for name_node, column_node in _pairs(_find(document, "columns")):
            name = source.scalar(name_node, f"the column name {name_node.value}")
            column = yaml_files.load(yaml.serialize(column_node))
            if isinstance(column, dict) and "values" in column:
                column["values"] = source.sequence(
                    _find(column_node, "values"), f"columns.{name}.values"
                )
            columns[name] = column
        raw["columns"] = columns
    return raw, source.booleans


def parse_contract(text: str, source: Path) -> Contract:
    try:
        raw, booleans = _raw_contract(text)
    except yaml.YAMLError as error:
        raise ContractError(f"{source}: not valid YAML: {error}") from None
    if booleans:
        raise ContractError(
            f"{source}: {', '.join(dict.fromkeys(booleans))}: unquoted {YAML_BOOLEAN_WORDS} "
            'are read by YAML as true/false, not as the text in your data; quote them, e.g. "yes"'
        )
    try:
        return Contract.model_validate_json(json.dumps(raw))
    except ValidationError as error:
        raise ContractError(explain(error, source)) from None


def load_contract(path: Path) -> Contract:
    """Read and check the contract file; every problem is named with its key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(
            f"{path}: file not found (write one with `make contract DATA=<csv> TARGET=<column>`)"
        ) from None
    return parse_contract(text, path)
