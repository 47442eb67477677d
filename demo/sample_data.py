"""The synthetic loan-default data set that the template ships as its sample data.

It is generated, not downloaded, so that it is deterministic and free of licence questions;
`make sample-data` writes it and a template test checks that the shipped file is exactly what
this module makes. The generator itself lives in the generated project's tests
(tests/synthetic.py), whose own tests build their data with it.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

SHIPPED_ROWS = 12_000
SHIPPED_SEED = 20261122
GENERATOR = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}/tests/synthetic.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = _generator()
make_loans = synthetic.make_loans
to_csv = synthetic.to_csv


def shipped_csv() -> str:
    """The exact text of the sample data set shipped in the template."""
    return str(to_csv(make_loans(SHIPPED_ROWS, SHIPPED_SEED)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path, help="where to write the CSV")
    parser.add_argument("--rows", type=int, default=SHIPPED_ROWS)
    parser.add_argument("--seed", type=int, default=SHIPPED_SEED)
    parser.add_argument("--shift", type=float, default=0.0, help="0 = reference population")
    args = parser.parse_args()
    args.output.write_text(to_csv(make_loans(args.rows, args.seed, args.shift)), encoding="utf-8")


if __name__ == "__main__":
    main()
