"""The pipeline's settings: params.yaml read into one strict, frozen object.

An unknown or mistyped key is an error that names it, so a typo never silently falls back to a
default. Every section matches a DVC stage (see dvc.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_PARAMS = Path("params.yaml")

PrimaryMetric = Literal["roc_auc", "pr_auc", "f1"]


class SettingsError(ValueError):
    """params.yaml cannot be used; the message names every offending key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataSettings(Section):
    raw: Path
    contract: Path
    validation_report: Path


class SplitSettings(Section):
    eval_fraction: float = Field(gt=0, lt=1)
    seed: int
    train: Path
    eval: Path


class TrainSettings(Section):
    exclude_columns: tuple[str, ...] = ()
    n_estimators: int = Field(ge=1, le=10_000)
    max_depth: int = Field(ge=1, le=20)
    learning_rate: float = Field(gt=0, le=1)
    subsample: float = Field(gt=0, le=1)
    colsample_bytree: float = Field(gt=0, le=1)
    min_child_weight: float = Field(ge=0)
    reg_lambda: float = Field(ge=0)
    seed: int
    n_jobs: int = Field(ge=1)
    model: Path
    run_info: Path


class EvaluateSettings(Section):
    decision_threshold: float = Field(gt=0, lt=1)
    primary_metric: PrimaryMetric
    metrics: Path
    plots: Path


class TrackingSettings(Section):
    experiment: str = Field(min_length=1)
    model_name: str = Field(min_length=1)


class Settings(Section):
    data: DataSettings
    split: SplitSettings
    train: TrainSettings
    evaluate: EvaluateSettings
    tracking: TrackingSettings


def explain(error: ValidationError, source: Path) -> str:
    """One line per problem: the file, the dotted key, and what is wrong with it."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reason = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {key}: {reason}")
    return "\n".join(lines)


def parse_settings(raw: object, source: Path = DEFAULT_PARAMS) -> Settings:
    """Check already-parsed YAML against the schema."""
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        # YAML gives str for paths and tuples arrive as lists: the JSON-like mode accepts
        # those while staying strict about everything else (no "3" for 3).
        return Settings.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as error:
        raise SettingsError(explain(error, source)) from None


def load_settings(path: Path = DEFAULT_PARAMS) -> Settings:
    """Read and check params.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found (run from the project root)") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML: {error}") from None
    return parse_settings(raw, path)
