"""Import the named modules, and what pytest loads at its start, in this interpreter; print, as
JSON, each loaded module's source file and the bytecode file Python wrote for it.

Run with a baked project's own interpreter by act_runner.warm_uv_cache:

    .venv/bin/python demo/import_probe.py MODULE [MODULE ...]

A module that fails to import is left out: this only warms a cache.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    plugins = [entry.module for entry in importlib.metadata.entry_points(group="pytest11")]
    for name in [*names, *plugins]:
        try:
            importlib.import_module(name)
        except Exception:  # an optional or test-only module: nothing to warm
            continue
    compiled = []
    for module in list(sys.modules.values()):
        source, cached = getattr(module, "__file__", None), getattr(module, "__cached__", None)
        if source and cached and source.endswith(".py") and Path(cached).exists():
            compiled.append([source, cached])
    print(json.dumps(compiled))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
