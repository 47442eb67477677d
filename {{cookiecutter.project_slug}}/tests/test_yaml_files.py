"""Every YAML file the project reads goes through one strict loader: a key written twice or an
alias is refused in one line naming the file and the line, instead of the last key silently
winning or a few lines of aliases hanging the job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT

from {{ cookiecutter.package_name }}.control import desired_state
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.pipeline.contract import load_contract
from {{ cookiecutter.package_name }}.settings import load_settings

READERS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "params": ("params.yaml", load_settings),
    "contract": ("data/contract.yaml", load_contract),
    "desired-state": ("deploy/production.yaml", desired_state.read),
}
BOMB = "".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x]\n",
        *(f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
          for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)  # fmt: skip


def copy_with(tmp_path: Path, relative: str, extra: str) -> Path:
    """The project's own file with `extra` lines appended."""
    path = tmp_path / Path(relative).name
    path.write_text((PROJECT_ROOT / relative).read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize("which", READERS)
def test_a_key_written_twice_is_refused(tmp_path: Path, which: str) -> None:
    """A top-level key written again at the end is refused, naming the file and both lines."""
    relative, read = READERS[which]
    text = (PROJECT_ROOT / relative).read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line and line[0].isalpha())
    key = first.split(":")[0]
    path = copy_with(tmp_path, relative, f"{first}\n")
    with pytest.raises(ProjectError) as caught:
        read(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    first_line = text.splitlines().index(first) + 1
    last_line = len(text.splitlines()) + 1
    assert f"line {last_line}: the key {key!r} is written twice (first on line {first_line})" in (
        message
    )


@pytest.mark.parametrize("which", READERS)
def test_aliases_are_refused_before_they_expand(tmp_path: Path, which: str) -> None:
    """A billion-laughs document (nine levels of nine aliases) is refused at its first alias."""
    relative, read = READERS[which]
    path = tmp_path / Path(relative).name
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(ProjectError, match=r"line 2: an alias \(\*a\) is not allowed"):
        read(path)
