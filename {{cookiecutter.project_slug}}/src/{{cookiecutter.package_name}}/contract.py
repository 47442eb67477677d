"""The data contract (data/contract.yaml) as a strict object.

Validation builds its expectations from it and data loading takes the column types and
category orders from it, so the two can never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .settings import explain


class ContractError(ValueError):
    """The contract file itself is unusable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Column(_Strict):
    type: Literal["integer", "float", "category"]
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    max_null_fraction: float = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _fits_its_type(self) -> Column:
        if self.type == "category":
            if not self.values:
                raise ValueError("a category column needs its allowed values")
            if self.min is not None or self.max is not None:
                raise ValueError("a category column takes values, not min/max")
        elif self.values is not None:
            raise ValueError("a numeric column takes min/max, not values")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    @property
    def is_numeric(self) -> bool:
        return self.type != "category"


class Target(_Strict):
    name: str = Field(min_length=1)
    classes: tuple[int, int]


class Contract(_Strict):
    min_rows: int = Field(ge=1)
    target: Target
    columns: dict[str, Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _target_is_separate(self) -> Contract:
        if self.target.name in self.columns:
            raise ValueError(f"target {self.target.name!r} must not also be listed in columns")
        return self

    @property
    def all_columns(self) -> list[str]:
        """Feature columns in contract order, then the target."""
        return [*self.columns, self.target.name]


def load_contract(path: Path) -> Contract:
    """Read and check the contract file; every problem is named with its key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Contract.model_validate_json(json.dumps(raw))
    except FileNotFoundError:
        raise ContractError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from None
    except ValidationError as error:
        raise ContractError(explain(error, path)) from None
