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
ENTRY = "pipeline.stages"  # what dvc.yaml runs: followed function by function


def _is_module(dotted: str) -> bool:
    return SOURCE.joinpath(*dotted.split(".")).with_suffix(".py").exists()


def _resolved(node: ast.ImportFrom, importer: str) -> Iterator[str]:
    """The package modules (dotted, from the package) a relative import in `importer` names."""
    base = importer.split(".")[: -node.level]
    target = [*base, *node.module.split(".")] if node.module else base
    if node.module and _is_module(".".join(target)):
        yield ".".join(target)
        return
    for alias in node.names:
        name = ".".join([*target, alias.name])
        if _is_module(name):
            yield name


def _body_imports(nodes: list[ast.stmt], importer: str) -> Iterator[str]:
    """Package modules imported by these statements (nested ones too), leaving out imports
    for type checking only: they never run. Package __init__ files (docstrings, and the
    thread setting, which changes timing, never the model's bytes) are not counted."""
    for node in nodes:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            yield from _body_imports(node.orelse, importer)
            continue
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            yield from _resolved(node, importer)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stmts = [c for c in children if isinstance(c, ast.stmt)]
                yield from _body_imports(stmts, importer)


def _parsed(module: str) -> ast.Module:
    path = SOURCE.joinpath(*module.split(".")).with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8"))


def _function_imports(module: str, functions_run: list[str]) -> set[str]:
    """What a module imports at its top level, in these functions, and in the module's other
    functions that they call (and so on)."""
    tree = _parsed(module)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    found = set(_body_imports(top, module))
    pending, seen = list(functions_run), set()
    while pending:
        name = pending.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        found |= set(_body_imports(functions[name].body, module))
        called = {n.func.id for n in ast.walk(functions[name]) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Name)}  # fmt: skip
        pending += sorted(called & set(functions))
    return found


def modules_run_by(stage: str) -> set[str]:
    """Every package module `python -m <package>.pipeline.stages <stage>` may import."""
    found = {ENTRY} | _function_imports(ENTRY, ["main", f"run_{stage}"])
    pending = sorted(found - {ENTRY})
    while pending:
        module = pending.pop()
        for imported in set(_body_imports(_parsed(module).body, module)) - found:
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
        ".".join(Path(str(dep)).relative_to(f"src/{PACKAGE}").with_suffix("").parts)
        for dep in stages()[stage]["deps"]  # type: ignore[attr-defined]
        if str(dep).startswith(f"src/{PACKAGE}/")
    }
    assert listed == modules_run_by(stage)
    assert "cli" not in listed  # a help text edited there re-runs nothing


def test_the_stages_run_the_stage_entry_point_not_the_cli() -> None:
    """Each stage runs the stage entry point with its own name: the closure above follows it."""
    for name, stage in stages().items():
        assert stage["cmd"] == f"python -m {PACKAGE}.{ENTRY} {name}"
