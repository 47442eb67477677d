"""Shared fixtures: the project's own settings, contract and sample data, read from the project
root; everything a test writes goes to its tmp_path, never into the project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.contract import Contract, load_contract
from {{ cookiecutter.package_name }}.data import read_raw
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _run_from_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """params.yaml holds paths relative to the project root, so every test runs from there."""
    monkeypatch.chdir(PROJECT_ROOT)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def params_path() -> Path:
    return PROJECT_ROOT / "params.yaml"


@pytest.fixture(scope="session")
def settings(params_path: Path) -> Settings:
    """The shipped params.yaml."""
    return load_settings(params_path)


@pytest.fixture(scope="session")
def contract(settings: Settings) -> Contract:
    """The shipped data contract."""
    return load_contract(PROJECT_ROOT / settings.data.contract)


@pytest.fixture(scope="session")
def raw_data_path(settings: Settings) -> Path:
    path = PROJECT_ROOT / settings.data.raw
    if not path.exists():
        pytest.fail(f"{path} is missing: fetch the data first (`dvc pull`)")
    return path


@pytest.fixture(scope="session")
def _sample_frame(raw_data_path: Path) -> pd.DataFrame:
    return read_raw(raw_data_path)


@pytest.fixture
def sample_frame(_sample_frame: pd.DataFrame) -> pd.DataFrame:
    """The sample data read as it is (no types imposed); a fresh copy per test."""
    return _sample_frame.copy()


@pytest.fixture
def tmp_params(params_path: Path, tmp_path: Path) -> Path:
    """A copy of params.yaml that reads the project's data and contract but writes every output
    (splits, model, reports) under tmp_path."""
    raw: dict[str, Any] = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    raw["data"]["raw"] = str(PROJECT_ROOT / raw["data"]["raw"])
    raw["data"]["contract"] = str(PROJECT_ROOT / raw["data"]["contract"])
    outputs = {
        "data": ["validation_report"],
        "split": ["train", "eval"],
        "train": ["model", "run_info"],
        "evaluate": ["metrics", "plots"],
    }
    for section, keys in outputs.items():
        for key in keys:
            raw[section][key] = str(tmp_path / "out" / raw[section][key])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path
