"""Bringing your own data: replace the training data (`make data`) and change one setting
(`make param`) without a text editor, keeping params.yaml's comments and layout."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from .settings import DEFAULT_PARAMS, SettingsError, parse_settings


def _round_trip() -> YAML:
    editor = YAML()  # round-trip mode: comments, order and quoting survive
    editor.preserve_quotes = True
    editor.width = 4096
    return editor


def set_param(key: str, value_text: str, path: Path = DEFAULT_PARAMS) -> object:
    """Set the dotted `key` (e.g. fairness.sensitive_column) to `value_text` read as YAML
    (an empty text is the empty string). The file is written only if the result is valid
    settings; returns the value set."""
    editor = _round_trip()
    document = editor.load(path.read_text(encoding="utf-8"))
    *parents, leaf = key.split(".")
    node = document
    for part in parents:
        if not isinstance(node, dict) or part not in node:
            raise SettingsError(f"{path}: no section {part!r} on the way to {key}")
        node = node[part]
    if not isinstance(node, dict) or leaf not in node:
        raise SettingsError(f"{path}: {key}: no such setting (make param changes existing ones)")
    value = yaml.safe_load(value_text) if value_text.strip() else ""
    node[leaf] = value
    buffer = io.StringIO()
    editor.dump(document, buffer)
    text = buffer.getvalue()
    parse_settings(yaml.safe_load(text), path)  # refuse to write settings that do not load
    path.write_text(text, encoding="utf-8")
    return value


def _dvc(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise SettingsError(f"dvc {' '.join(args)}: {detail[-1] if detail else 'failed'}")


def use_data(source: Path, current: Path, path: Path = DEFAULT_PARAMS) -> list[str]:
    """Make `source` the training data in place of `current` (the sample, at first): stop
    tracking the old file and remove it from the work tree (DVC's cache and remote keep it),
    copy the new one beside it, track it with DVC, and point data.raw at it."""
    if not source.is_file():
        raise SettingsError(f"DATA={source}: no such file")
    target = current.parent / source.name
    done = []
    pointer = current.with_name(current.name + ".dvc")
    if pointer.exists() and current.resolve() != target.resolve():
        _dvc("remove", str(pointer))
        current.unlink(missing_ok=True)
        done.append(f"stopped tracking {current} (its pointer and the file; DVC's cache keeps it)")
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        done.append(f"copied {source} to {target}")
    _dvc("add", "--quiet", str(target))
    done.append(f"tracking {target} with DVC ({target}.dvc; git ignores the data itself)")
    set_param("data.raw", str(target), path)
    done.append(f"data.raw in {path} is now {target}")
    return done
