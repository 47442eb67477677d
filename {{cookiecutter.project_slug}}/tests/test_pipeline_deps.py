"""dvc.yaml lists, for every stage, each module of the package that the stage runs: so an edit
of any of them re-runs the stage, and `dvc repro` never says "up to date" for a model that the
current code would not produce. The modules are found from the code's own imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT

PACKAGE = "{{ cookiecutter.package_name }}"
SOURCE = PROJECT_ROOT / "src" / PACKAGE
# Modules whose imports are followed function by function: the CLI (one command per stage)
# and stages.py (one function per stage). Every other module is followed whole.
PER_FUNCTION = ("cli", "stages")


def _body_imports(nodes: list[ast.stmt]) -> Iterator[str]:
    """Package modules imported by these statements (nested ones too), leaving out imports
    for type checking only: they never run."""
    for node in nodes:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            yield from _body_imports(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                yield node.module.split(".")[0]
            else:
                yield from (alias.name for alias in node.names)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from _body_imports([c for c in children if isinstance(c, ast.stmt)])


def _parsed(module: str) -> ast.Module:
    return ast.parse((SOURCE / f"{module}.py").read_text(encoding="utf-8"))


def _function_imports(module: str, function: str) -> set[str]:
    """What a module imports at its top level, in `function`, and in the module's other
    functions that `function` calls (and so on)."""
    tree = _parsed(module)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    found = set(_body_imports(top))
    pending, seen = [function], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        found |= set(_body_imports(functions[name].body))
        called = {n.func.id for n in ast.walk(functions[name]) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Name)}  # fmt: skip
        pending += sorted(called & set(functions))
    return found


def modules_run_by(stage: str) -> set[str]:
    """Every package module `<cli> <stage>` may import."""
    found = {"cli", "stages"} | _function_imports("cli", f"_{stage}")
    found |= _function_imports("stages", stage)
    pending = sorted(found - set(PER_FUNCTION))
    while pending:
        module = pending.pop()
        for imported in set(_body_imports(_parsed(module).body)) - found:
            found.add(imported)
            pending.append(imported)
    return found


def stages() -> dict[str, dict[str, object]]:
    pipeline = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    return dict(pipeline["stages"])


@pytest.mark.parametrize("stage", sorted(stages()))
def test_each_stage_lists_exactly_the_modules_it_runs(stage: str) -> None:
    """A stage's code dependencies in dvc.yaml are the package modules its command imports,
    no fewer (an edit would not re-run it) and no more (an edit would re-run it for nothing)."""
    listed = {
        Path(str(dep)).stem
        for dep in stages()[stage]["deps"]  # type: ignore[attr-defined]
        if str(dep).startswith(f"src/{PACKAGE}/")
    }
    assert listed == modules_run_by(stage)


def test_the_stages_are_the_cli_commands_they_run() -> None:
    """Each stage runs the CLI command of its own name: the closure above follows it."""
    for name, stage in stages().items():
        assert stage["cmd"] == f"{{ cookiecutter.project_slug }} {name}"
