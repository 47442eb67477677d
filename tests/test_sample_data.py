"""The shipped sample data is exactly what demo/sample_data.py makes; its DVC pointer agrees."""

from __future__ import annotations

import hashlib

import yaml
from conftest import GENERATED
from sample_data import shipped_csv

SHIPPED = GENERATED / "data" / "raw" / "loans.csv"
POINTER = GENERATED / "data" / "raw" / "loans.csv.dvc"


def pointer() -> dict:
    (out,) = yaml.safe_load(POINTER.read_text(encoding="utf-8"))["outs"]
    return out


def test_shipped_csv_is_the_generated_one() -> None:
    """The shipped CSV is byte-identical to what sample_data.shipped_csv() makes."""
    assert SHIPPED.read_bytes() == shipped_csv().encode("utf-8")


def test_pointer_md5_matches() -> None:
    """The DVC pointer's md5 is the shipped CSV's md5."""
    assert pointer()["md5"] == hashlib.md5(SHIPPED.read_bytes()).hexdigest()


def test_pointer_size_matches() -> None:
    """The DVC pointer's size is the shipped CSV's size in bytes."""
    assert pointer()["size"] == SHIPPED.stat().st_size
