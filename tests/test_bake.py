"""Baking the template: every supported option set renders a whole, parseable project; hostile
free text stays data; invalid answers stop the bake in the pre-gen hook with one clear line.

Each test bakes once and makes one claim.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, bake, files_in, refused_bake

# The supported option sets. Answers left out take cookiecutter.json's defaults.
SUPPORTED = [
    pytest.param({}, id="default"),
    pytest.param({"python_version": "3.12"}, id="python-3.12"),
    pytest.param({"python_version": "3.13"}, id="python-3.13"),
    pytest.param({"primary_metric": "pr_auc"}, id="metric-pr_auc"),
    pytest.param({"primary_metric": "f1"}, id="metric-f1"),
    pytest.param({"license": "Proprietary"}, id="license-proprietary"),
]

# Every file of a default bake. Only the Proprietary licence drops one (LICENSE).
EXPECTED_FILES = [
    ".dockerignore",
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".github/CODEOWNERS",
    ".github/actions/setup/action.yml",
    ".github/dependabot.yml",
    ".github/workflows/deploy.yml",
    ".github/workflows/drift.yml",
    ".github/workflows/main.yml",
    ".github/workflows/outcomes.yml",
    ".github/workflows/pr.yml",
    ".github/workflows/reconcile.yml",
    ".github/workflows/retrain.yml",
    ".github/workflows/rollback.yml",
    ".github/workflows/rollout.yml",
    ".github/workflows/template.yml",
    ".github/zizmor.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "Dockerfile",
    "LICENSE",
    "Makefile",
    "README.md",
    "data/contract.yaml",
    "data/raw/.gitignore",
    "data/raw/loans.csv",
    "data/raw/loans.csv.dvc",
    "deploy/production.yaml",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "src/credit_default_model/__init__.py",
    "src/credit_default_model/cli.py",
    "src/credit_default_model/commands.py",
    "src/credit_default_model/control/__init__.py",
    "src/credit_default_model/control/aliases.py",
    "src/credit_default_model/control/approval.py",
    "src/credit_default_model/control/champion_data.py",
    "src/credit_default_model/control/commands.py",
    "src/credit_default_model/control/comparison.py",
    "src/credit_default_model/control/deploy.py",
    "src/credit_default_model/control/desired_state.py",
    "src/credit_default_model/control/fairness.py",
    "src/credit_default_model/control/gate.py",
    "src/credit_default_model/control/gate_result.py",
    "src/credit_default_model/control/lineage_query.py",
    "src/credit_default_model/control/model_card.py",
    "src/credit_default_model/control/notices.py",
    "src/credit_default_model/control/override.py",
    "src/credit_default_model/control/production.py",
    "src/credit_default_model/control/proposals.py",
    "src/credit_default_model/control/reconcile.py",
    "src/credit_default_model/control/registration.py",
    "src/credit_default_model/control/registry.py",
    "src/credit_default_model/control/report.py",
    "src/credit_default_model/errors.py",
    "src/credit_default_model/git.py",
    "src/credit_default_model/github/__init__.py",
    "src/credit_default_model/github/actions.py",
    "src/credit_default_model/github/branches.py",
    "src/credit_default_model/github/codeowners.py",
    "src/credit_default_model/github/github_api.py",
    "src/credit_default_model/github/repository.py",
    "src/credit_default_model/monitoring/__init__.py",
    "src/credit_default_model/monitoring/alerts.py",
    "src/credit_default_model/monitoring/commands.py",
    "src/credit_default_model/monitoring/day_partitions.py",
    "src/credit_default_model/monitoring/drift.py",
    "src/credit_default_model/monitoring/drift_report.py",
    "src/credit_default_model/monitoring/inference_log.py",
    "src/credit_default_model/monitoring/outcome_store.py",
    "src/credit_default_model/monitoring/outcomes.py",
    "src/credit_default_model/monitoring/outcomes_page.py",
    "src/credit_default_model/monitoring/outcomes_report.py",
    "src/credit_default_model/monitoring/retraining.py",
    "src/credit_default_model/monitoring/scoring.py",
    "src/credit_default_model/pipeline/__init__.py",
    "src/credit_default_model/pipeline/cluster.py",
    "src/credit_default_model/pipeline/commands.py",
    "src/credit_default_model/pipeline/contract.py",
    "src/credit_default_model/pipeline/dask_training.py",
    "src/credit_default_model/pipeline/data.py",
    "src/credit_default_model/pipeline/evaluation.py",
    "src/credit_default_model/pipeline/explanations.py",
    "src/credit_default_model/pipeline/lineage.py",
    "src/credit_default_model/pipeline/plots.py",
    "src/credit_default_model/pipeline/raw_data.py",
    "src/credit_default_model/pipeline/stages.py",
    "src/credit_default_model/pipeline/tracking.py",
    "src/credit_default_model/pipeline/training.py",
    "src/credit_default_model/pipeline/validation.py",
    "src/credit_default_model/project/__init__.py",
    "src/credit_default_model/project/commands.py",
    "src/credit_default_model/project/contract_draft.py",
    "src/credit_default_model/project/contract_review.py",
    "src/credit_default_model/project/github_setup.py",
    "src/credit_default_model/project/onboarding.py",
    "src/credit_default_model/project/registry_setup.py",
    "src/credit_default_model/project/row_key.py",
    "src/credit_default_model/project/template_update.py",
    "src/credit_default_model/py.typed",
    "src/credit_default_model/serving/__init__.py",
    "src/credit_default_model/serving/analysis.py",
    "src/credit_default_model/serving/analyst.py",
    "src/credit_default_model/serving/answer.py",
    "src/credit_default_model/serving/app.py",
    "src/credit_default_model/serving/commands.py",
    "src/credit_default_model/serving/live.py",
    "src/credit_default_model/serving/load_test.py",
    "src/credit_default_model/serving/log_buffer.py",
    "src/credit_default_model/serving/metrics.py",
    "src/credit_default_model/serving/progress.py",
    "src/credit_default_model/serving/rollout_status.py",
    "src/credit_default_model/serving/routing.py",
    "src/credit_default_model/serving/shadow.py",
    "src/credit_default_model/settings.py",
    "src/credit_default_model/vocabulary.py",
    "src/credit_default_model/yaml_files.py",
    "tests/bench_bootstrap.py",
    "tests/conftest.py",
    "tests/fake_github.py",
    "tests/fixtures/contract.yaml",
    "tests/fixtures/golden_predictions.csv",
    "tests/fixtures/invalid_params/bad_engine.yaml",
    "tests/fixtures/invalid_params/bad_memory_limit.yaml",
    "tests/fixtures/invalid_params/bad_primary_metric.yaml",
    "tests/fixtures/invalid_params/critical_distance_below_threshold.yaml",
    "tests/fixtures/invalid_params/critical_p_value_above_threshold.yaml",
    "tests/fixtures/invalid_params/exclude_columns_not_a_list.yaml",
    "tests/fixtures/invalid_params/fractional_integer.yaml",
    "tests/fixtures/invalid_params/missing_section.yaml",
    "tests/fixtures/invalid_params/mistyped_key.yaml",
    "tests/fixtures/invalid_params/out_of_range.yaml",
    "tests/fixtures/invalid_params/quoted_number.yaml",
    "tests/fixtures/invalid_params/unknown_key_in_section.yaml",
    "tests/fixtures/invalid_params/unknown_section.yaml",
    "tests/fixtures/invalid_params/wrong_type.yaml",
    "tests/fixtures/params.yaml",
    "tests/synthetic.py",
    "tests/test_architecture.py",
    "tests/test_bootstrap.py",
    "tests/test_cli.py",
    "tests/test_cluster.py",
    "tests/test_contract.py",
    "tests/test_contract_draft.py",
    "tests/test_data.py",
    "tests/test_drift.py",
    "tests/test_evaluation.py",
    "tests/test_fairness.py",
    "tests/test_gate.py",
    "tests/test_github_setup.py",
    "tests/test_inference_log.py",
    "tests/test_lineage.py",
    "tests/test_model_card.py",
    "tests/test_onboarding.py",
    "tests/test_outcomes.py",
    "tests/test_parquet_data.py",
    "tests/test_pipeline_deps.py",
    "tests/test_registry.py",
    "tests/test_registry_auth.py",
    "tests/test_release.py",
    "tests/test_report.py",
    "tests/test_retraining.py",
    "tests/test_scoring.py",
    "tests/test_serving.py",
    "tests/test_settings.py",
    "tests/test_template_update.py",
    "tests/test_training.py",
    "tests/test_validation.py",
    "tests/test_workflow.py",
    "tests/test_yaml_files.py",
    "uv.lock",
]

# Jinja left unrendered. `${{ ... }}` is a GitHub Actions expression, copied on purpose.
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|cookiecutter\.")

YAML_FILES = ["params.yaml", "dvc.yaml", "data/contract.yaml", "data/raw/loans.csv.dvc"]


def answer(answers: dict[str, str], name: str) -> str:
    """The answer the bake used: the one given, or cookiecutter.json's default."""
    defaults = {"python_version": "3.11", "primary_metric": "roc_auc", "license": "MIT"}
    return answers.get(name, defaults[name])


def pyproject(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


# Supported option sets -------------------------------------------------------------------------


@pytest.mark.parametrize("answers", SUPPORTED)
def test_bakes(tmp_path: Path, answers: dict[str, str]) -> None:
    """It bakes a project folder named after the default slug."""
    project = bake(tmp_path, **answers)
    assert project == tmp_path / "out" / "credit-default-model"
    assert project.is_dir()


@pytest.mark.parametrize("answers", SUPPORTED)
def test_bakes_exactly_the_expected_files(tmp_path: Path, answers: dict[str, str]) -> None:
    """It bakes exactly the expected files, LICENSE only when the licence is not Proprietary."""
    proprietary = answers.get("license") == "Proprietary"
    expected = [f for f in EXPECTED_FILES if not (proprietary and f == "LICENSE")]
    assert files_in(bake(tmp_path, **answers)) == expected


def test_leaves_nothing_in_the_temporary_folder(tmp_path: Path) -> None:
    """It leaves no rendered hook (with the answers inside) behind in the temporary folder,
    whether the bake succeeds or its pre-gen hook refuses it."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE)]
    subprocess.run([*command, "-o", str(tmp_path / "out")], env=env, check=True, timeout=120)
    (tmp_path / "refused").mkdir()
    refused_bake(tmp_path / "refused", env=env, project_slug="not a slug")
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("answers", SUPPORTED)
def test_leaves_no_template_syntax(tmp_path: Path, answers: dict[str, str]) -> None:
    """It leaves no `{{`, `{%` or `cookiecutter.` in any generated text file."""
    project = bake(tmp_path, **answers)
    leftovers = []
    for relative in files_in(project):
        data = (project / relative).read_bytes()
        if b"\0" in data:
            continue  # binary
        for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if LEFTOVER.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert leftovers == []


@pytest.mark.parametrize("answers", SUPPORTED)
def test_pyproject_parses(tmp_path: Path, answers: dict[str, str]) -> None:
    """Its pyproject.toml parses as TOML and names the project."""
    assert pyproject(bake(tmp_path, **answers))["project"]["name"] == "credit-default-model"


@pytest.mark.parametrize("answers", SUPPORTED)
def test_yaml_files_parse(tmp_path: Path, answers: dict[str, str]) -> None:
    """Its params.yaml, dvc.yaml, data contract and DVC pointer parse as YAML mappings."""
    project = bake(tmp_path, **answers)
    for relative in YAML_FILES:
        text = (project / relative).read_text(encoding="utf-8")
        assert isinstance(yaml.safe_load(text), dict), relative


@pytest.mark.parametrize("answers", SUPPORTED)
def test_params_name_the_primary_metric(tmp_path: Path, answers: dict[str, str]) -> None:
    """Its params.yaml gates on the primary metric that was answered."""
    project = bake(tmp_path, **answers)
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    assert params["gate"]["primary_metric"] == answer(answers, "primary_metric")


def _keys(node: object, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return {prefix}
    return {key for name, value in node.items() for key in _keys(value, f"{prefix}.{name}")}


def test_the_tests_own_settings_and_contract_match_the_shipped_ones(tmp_path: Path) -> None:
    """The generated tests' own params and contract (tests/fixtures) are copies of the shipped
    ones: every setting, the same values, so the tests test what a bake ships."""
    project = bake(tmp_path)
    for shipped, fixture in [
        ("params.yaml", "tests/fixtures/params.yaml"),
        ("data/contract.yaml", "tests/fixtures/contract.yaml"),
    ]:
        ours = yaml.safe_load((project / shipped).read_text(encoding="utf-8"))
        theirs = yaml.safe_load((project / fixture).read_text(encoding="utf-8"))
        assert _keys(theirs) == _keys(ours), fixture
        assert theirs == ours, fixture


@pytest.mark.parametrize("answers", SUPPORTED)
def test_python_version_file_names_the_answer(tmp_path: Path, answers: dict[str, str]) -> None:
    """Its .python-version holds the Python version that was answered."""
    project = bake(tmp_path, **answers)
    text = (project / ".python-version").read_text(encoding="utf-8")
    assert text.strip() == answer(answers, "python_version")


@pytest.mark.parametrize("answers", SUPPORTED)
def test_tools_target_the_python_version(tmp_path: Path, answers: dict[str, str]) -> None:
    """Its mypy python_version and ruff target-version match the Python version answered."""
    tool = pyproject(bake(tmp_path, **answers))["tool"]
    version = answer(answers, "python_version")
    assert (tool["mypy"]["python_version"], tool["ruff"]["target-version"]) == (
        version,
        "py" + version.replace(".", ""),
    )


# Hostile free text ------------------------------------------------------------------------------

HOSTILE_NAME = 'Crédit "Risk" Model\'s \\ Edge\n\tcase 中文 🚀 "]\n[tool.evil]'
HOSTILE_DESCRIPTION = (
    'Scores "loans" for O\'Brien & Co. \\ C:\\path\\ \\"\n\n\twith  é, 中文, 🚀 '
    '"]\n[tool.evil]\nx = 1 # \\\u00a0end\u2028'
)


def bake_hostile(tmp_path: Path) -> Path:
    return bake(
        tmp_path,
        project_name=HOSTILE_NAME,
        description=HOSTILE_DESCRIPTION,
        project_slug="hostile-model",
    )


def test_hostile_text_bakes(tmp_path: Path) -> None:
    """It bakes a project whose name and description hold quotes, escapes and TOML-like text."""
    assert bake_hostile(tmp_path) == tmp_path / "out" / "hostile-model"


def test_hostile_description_stays_one_toml_string(tmp_path: Path) -> None:
    """It writes a hostile description as one TOML string, whitespace runs collapsed to spaces."""
    data = pyproject(bake_hostile(tmp_path))
    assert data["project"]["description"] == " ".join(HOSTILE_DESCRIPTION.split())
    assert "evil" not in data["tool"]


def test_hostile_name_appears_in_readme(tmp_path: Path) -> None:
    """It writes a hostile project name into the README as given."""
    readme = (bake_hostile(tmp_path) / "README.md").read_text(encoding="utf-8")
    assert HOSTILE_NAME in readme


# Derived answers --------------------------------------------------------------------------------


def test_accented_name_derives_an_ascii_slug(tmp_path: Path) -> None:
    """It derives the slug "modele-de-credit" from the name "Modèle de Crédit"."""
    project = bake(tmp_path, project_name="Modèle de Crédit")
    assert project.name == "modele-de-credit"


def test_accented_name_derives_an_ascii_package(tmp_path: Path) -> None:
    """It derives the package "modele_de_credit" from the name "Modèle de Crédit"."""
    project = bake(tmp_path, project_name="Modèle de Crédit")
    assert [p.name for p in (project / "src").iterdir()] == ["modele_de_credit"]


# Invalid answers --------------------------------------------------------------------------------

INVALID = [
    pytest.param("project_slug", "credit model", id="slug-with-space"),
    pytest.param("project_slug", "Credit-Model", id="slug-uppercase"),
    pytest.param("project_slug", "1-credit-model", id="slug-leading-digit"),
    pytest.param("project_slug", "credit-model-", id="slug-trailing-hyphen"),
    pytest.param("package_name", "credit-model", id="package-with-hyphen"),
    pytest.param("package_name", "class", id="package-keyword"),
    pytest.param("model_name", "credit model", id="model-with-space"),
    pytest.param("model_name", "credit/model", id="model-with-slash"),
    pytest.param("github_repository", "credit-model", id="repository-without-slash"),
    pytest.param("github_repository", "acme/credit/model", id="repository-two-slashes"),
    pytest.param("github_repository", "acme/..", id="repository-dot-dot"),
    pytest.param("model_owner", "@model-owner", id="owner-with-at"),
    pytest.param("model_owner", "model-owner-", id="owner-trailing-hyphen"),
    pytest.param("model_owner", "a" * 40, id="owner-40-characters"),
    pytest.param("risk_approver", "acme/risk-team/extra", id="approver-three-parts"),
    pytest.param("description", "", id="description-empty"),
    pytest.param("description", "Predicts\x07defaults.", id="description-control-character"),
]


def hook_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_rejects_invalid_answer(tmp_path: Path, name: str, value: str) -> None:
    """It stops the bake in the pre-gen hook with one ERROR line naming the answer."""
    lines = hook_errors(refused_bake(tmp_path, **{name: value}))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR: {name}"), lines


# One refusal per answer is enough to show the output folder stays empty.
ONE_PER_ANSWER = [
    case
    for case in INVALID
    if case.id
    in {
        "slug-with-space",
        "package-keyword",
        "model-with-slash",
        "repository-dot-dot",
        "owner-with-at",
        "approver-three-parts",
        "description-control-character",
    }
]


@pytest.mark.parametrize(("name", "value"), ONE_PER_ANSWER)
def test_rejected_bake_leaves_no_project(tmp_path: Path, name: str, value: str) -> None:
    """It leaves nothing in the output folder when the pre-gen hook refuses the bake."""
    refused_bake(tmp_path, **{name: value})
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("x'; import os; os.system('touch {marker}') #", id="quote-breakout"),
        pytest.param('x"""); import os; os.system("touch {marker}") #', id="triple-quote"),
        pytest.param("x'; import os; os.system('touch \"$PWNED\"') #", id="no-slash"),
    ],
)
def test_never_runs_a_code_shaped_slug(tmp_path: Path, payload: str) -> None:
    """It refuses a code-shaped slug with one ERROR line and never executes it."""
    marker = tmp_path / "pwned"
    env = {**os.environ, "PWNED": str(marker)}
    lines = hook_errors(refused_bake(tmp_path, env=env, project_slug=payload.format(marker=marker)))
    assert not marker.exists()
    assert len(lines) == 1 and lines[0].startswith("ERROR: project_slug"), lines


# Valid edge answers ----------------------------------------------------------------------------


def test_accepts_a_team_as_risk_approver(tmp_path: Path) -> None:
    """It accepts an org/team-slug as the risk approver."""
    assert bake(tmp_path, risk_approver="acme/risk-team").is_dir()


def test_accepts_a_39_character_model_owner(tmp_path: Path) -> None:
    """It accepts a model owner handle of 39 characters, GitHub's longest."""
    handle = "model-owner-" + "x" * 27
    assert len(handle) == 39
    assert bake(tmp_path, model_owner=handle).is_dir()
