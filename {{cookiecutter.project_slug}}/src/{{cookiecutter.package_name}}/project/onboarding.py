"""Bringing your own data: replace the training data (`make data`) and change one setting
(`make param`) without a text editor, keeping params.yaml's comments and layout."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .. import yaml_files
from ..github import branches
from ..pipeline import raw_data
from ..settings import DEFAULT_PARAMS, SettingsError, parse_settings


def _round_trip() -> YAML:
    editor = YAML()  # round-trip mode: comments, order and quoting survive
    editor.preserve_quotes = True
    editor.width = 4096
    return editor


def _quoted_where_needed(value: object) -> object:
    """A string PyYAML (YAML 1.1, which reads params.yaml) would read as something else
    (no, on, 010, 1e3) is written double-quoted; ruamel alone follows YAML 1.2's rules."""
    if isinstance(value, list):
        flow = CommentedSeq(_quoted_where_needed(item) for item in value)
        flow.fa.set_flow_style()  # [a, b] on the key's line, as params.yaml writes lists
        return flow
    if isinstance(value, str) and not _reads_back_as(value):
        return DoubleQuotedScalarString(value)
    return value


def _reads_back_as(text: str) -> bool:
    """Whether PyYAML reads `text`, written plain, back as that very text."""
    try:
        return bool(text) and yaml_files.load(f"x: {text}") == {"x": text}
    except yaml.YAMLError:
        return False


def _word_or_value(node: yaml.Node) -> object:
    """A plain yes/no/on/off stays that word (a column is called "no", not False)."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
        word = node.value.lower()
        return node.value if word not in ("true", "false") else word == "true"
    return yaml_files.load(yaml.serialize(node))


def read_value(text: str) -> object:
    """A value typed on the command line, read as YAML ('[a, b]', 0.8, ''), words as words."""
    if not text.strip():
        return ""
    node = yaml_files.compose(text)
    if isinstance(node, yaml.SequenceNode):
        return [_word_or_value(item) for item in node.value]
    return _word_or_value(node) if node is not None else ""


def set_value(key: str, value: object, path: Path = DEFAULT_PARAMS) -> object:
    """Set the dotted `key` (e.g. fairness.sensitive_column) to `value`. The file is written
    only if the result is valid settings, with its comments and layout kept."""
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
    node[leaf] = _quoted_where_needed(value)
    buffer = io.StringIO()
    editor.dump(document, buffer)
    text = buffer.getvalue()
    parse_settings(yaml_files.load(text), path)  # refuse to write settings that do not load
    path.write_text(text, encoding="utf-8")
    return value


def set_param(key: str, value_text: str, path: Path = DEFAULT_PARAMS) -> object:
    """`make param`: set `key` to the value typed (see read_value)."""
    try:
        value = read_value(value_text)
    except yaml.YAMLError as error:
        raise SettingsError(f"VALUE={value_text!r} is not a YAML value: {error}") from None
    return set_value(key, value, path)


def _dvc(*args: str) -> None:
    branches.run_tool(sys.executable, "-m", "dvc", *args)


def _copied_in(source: str, current: Path) -> tuple[Path, list[str]]:
    """Copy the data into data.raw's folder: a CSV file, or the Parquet files a folder, a glob
    or one file names (as one folder, named after theirs or the file); where it now is, and
    what was done."""
    path = Path(source).expanduser()
    if path.is_file() and path.suffix != raw_data.PARQUET:
        target = current.parent / path.name
        if path.resolve() == target.resolve():
            return target, []
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return target, [f"copied {path} to {target}"]
    files = [file.resolve() for file in raw_data.matching_files(source)]
    root = path.resolve() if path.is_dir() else Path(os.path.commonpath([f.parent for f in files]))
    target = current.parent / (path.stem if path.is_file() else root.name)
    if root == target.resolve():
        return target, []
    if target.exists() and target.resolve() != current.resolve():
        raise SettingsError(
            f"{target} exists and is not the training data: move it away, or rename {root}"
        )
    shutil.rmtree(target, ignore_errors=True)  # the data it replaces: DVC's cache keeps it
    for file in files:
        destination = target / file.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, destination)
    return target, [f"copied {len(files)} Parquet files of {source} to {target}/"]


def use_data(source: str, current: Path, path: Path = DEFAULT_PARAMS) -> list[str]:
    """Make `source` the training data in place of `current` (the sample, at first): a CSV, or
    a folder or glob of Parquet files (one folder, read lazily on the dask engine). Copy it
    beside the old data and track it with DVC, then stop tracking the old data and remove it
    from the work tree (DVC's cache and remote keep it), and point data.raw at the new one."""
    target, done = _copied_in(source, current)
    _dvc("add", "--quiet", str(target))
    done.append(f"tracking {target} with DVC ({target}.dvc; git ignores the data itself)")
    pointer = current.with_name(current.name + ".dvc")
    if pointer.exists() and current.resolve() != target.resolve():
        _dvc("remove", str(pointer))
        if current.is_dir():
            shutil.rmtree(current)
        else:
            current.unlink(missing_ok=True)
        done.append(f"stopped tracking {current} (its pointer and the data; DVC's cache keeps it)")
    set_value("data.raw", str(target), path)
    done.append(f"data.raw in {path} is now {target}")
    return done
