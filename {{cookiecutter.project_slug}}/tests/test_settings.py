"""params.yaml: the project's file loads, and every kind of mistake is refused by name.

Only the first test reads the project's params.yaml (yours to change); the others patch the
tests' own copy, fixtures/params.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import patched_params

from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, load_settings

INVALID_PARAMS = Path(__file__).resolve().parent / "fixtures" / "invalid_params"
# Each fixture is a patch on the tests' params: `set` dotted keys, `remove` dotted keys.
# Patches keep working when params.yaml grows a section.

# fixture file -> every (dotted key, reason) its one defect must produce, and nothing else
EXPECTED_PROBLEMS: dict[str, list[tuple[str, str]]] = {
    "unknown_key_in_section": [("train.early_stopping", "unknown key")],
    "mistyped_key": [
        ("train.n_estimatorz", "unknown key"),
        ("train.n_estimators", "Field required"),
    ],
    "unknown_section": [("serving", "unknown key")],
    "missing_section": [("tracking", "Field required")],
    "wrong_type": [("train.n_estimators", "valid integer")],
    "quoted_number": [("train.max_depth", "valid integer")],
    "fractional_integer": [("train.max_depth", "valid integer")],
    "exclude_columns_not_a_list": [("train.exclude_columns", "valid array")],
    "out_of_range": [("split.eval_fraction", "less than 1")],
    "bad_primary_metric": [("gate.primary_metric", "'roc_auc', 'pr_auc' or 'f1'")],
    "bad_engine": [("engine.name", "'pandas' or 'dask'")],
    "bad_memory_limit": [("engine.memory_limit", "should match pattern")],
    "critical_distance_below_threshold": [
        ("drift", "numeric_critical 0.1 must be above numeric_threshold 0.2")
    ],
    "critical_p_value_above_threshold": [
        ("drift", "categorical_critical 0.5 must be below categorical_threshold 0.01")
    ],
}


def test_project_params_load(project_params_path: Path) -> None:
    """The project's own params.yaml (whatever you set in it) is accepted by the schema."""
    assert isinstance(load_settings(project_params_path), Settings)


def test_tests_params_load_and_keep_the_sensitive_column_out(settings: Settings) -> None:
    """The tests' params are accepted; the sensitive column is never learned from, though no
    column is excluded by name."""
    assert settings.split.eval_fraction == 0.25
    assert settings.train.n_estimators >= 1
    assert settings.train.exclude_columns == ()
    assert settings.fairness.sensitive_column == "gender"
    assert settings.excluded_from_model == ("gender",)


def test_excluded_columns_and_the_sensitive_column_are_both_left_out(settings: Settings) -> None:
    """Columns excluded by name come first, then the sensitive column; with the risk gate off
    only the named ones are left out."""
    named = settings.model_copy(
        update={
            "train": settings.train.model_copy(update={"exclude_columns": ("age", "purpose")}),
        }
    )
    assert named.excluded_from_model == ("age", "purpose", "gender")
    off = named.model_copy(
        update={"fairness": settings.fairness.model_copy(update={"sensitive_column": ""})}
    )
    assert off.excluded_from_model == ("age", "purpose")


def test_settings_are_frozen(settings: Settings) -> None:
    """Loaded settings cannot be changed behind the pipeline's back."""
    with pytest.raises(ValueError, match="frozen"):
        settings.train.n_estimators = 1  # type: ignore[misc]


def test_every_invalid_fixture_has_an_expectation() -> None:
    """A new invalid-params fixture cannot be added without saying what it must be refused for."""
    assert sorted(p.stem for p in INVALID_PARAMS.glob("*.yaml")) == sorted(EXPECTED_PROBLEMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PROBLEMS))
def test_invalid_params_name_the_offending_key(
    name: str, params_path: Path, tmp_path: Path
) -> None:
    """A params file with one mistake is refused with one line per problem naming its key."""
    path = patched_params(params_path, INVALID_PARAMS / f"{name}.yaml", tmp_path / f"{name}.yaml")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    lines = str(caught.value).splitlines()
    expected = EXPECTED_PROBLEMS[name]
    assert len(lines) == len(expected), lines
    for key, reason in expected:
        prefix = f"{path}: {key}: "
        matching = [line for line in lines if line.startswith(prefix)]
        assert matching, f"no line names {key!r}: {lines}"
        assert reason in matching[0]


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    """A params file that is not YAML at all is refused as such, naming the file."""
    path = tmp_path / "params.yaml"
    path.write_text("train: [n_estimators: 300\nsplit: {\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid YAML") as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["", "- data\n- split\n", "just a sentence\n"])
def test_params_that_are_not_a_mapping_are_refused(tmp_path: Path, text: str) -> None:
    """An empty params file, or one that is a list or a string, is refused instead of crashing."""
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="expected a mapping of sections"):
        load_settings(path)


def test_missing_params_file_is_refused(tmp_path: Path) -> None:
    """Running without a params file says which file is missing."""
    path = tmp_path / "nowhere" / "params.yaml"
    with pytest.raises(SettingsError, match="file not found") as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
