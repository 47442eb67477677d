"""Bring your own data: the generated README's commands, run exactly as written and in order,
take a fresh bake to a gated model on a data set that looks nothing like the sample.

One project is baked for the module, with its own MLflow server on loopback and a local DVC
remote; the README's block is read from the baked README itself, so the test and the text
cannot drift apart. Each test makes one claim about the result.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import byod_data
import pytest
from baked import CLI, TEMPLATE, Project
from cookiecutter.main import cookiecutter
from servers import free_port

ROWS, HELD_OUT = 4_000, 1_000
# The README's placeholders, and what this test's user types instead.
PLACEHOLDERS = {"your_target": "churned", "your_sensitive_column": "sex"}
DATA_PLACEHOLDER = "~/your-data.csv"


def readme_commands(readme: str) -> list[str]:
    """The shell lines of the first bash block under "Bring your own data"."""
    section = readme[readme.index("## Bring your own data") :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the README's Bring your own data section has no bash block"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def byod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A fresh bake taken through the README's commands on the churn data."""
    base = tmp_path_factory.mktemp("byod")
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(base)))
    data = base / "churn.csv"
    data.write_text(byod_data.to_csv(byod_data.make_customers(ROWS, seed=11)), encoding="utf-8")
    held_out = byod_data.make_customers(HELD_OUT, seed=12)
    (base / "held_out.csv").write_text(byod_data.to_csv(held_out), encoding="utf-8")
    project = Project(root, free_port(), base / "dvc-remote")
    try:
        for line in readme_commands((root / "README.md").read_text(encoding="utf-8")):
            for placeholder, value in PLACEHOLDERS.items():
                line = line.replace(placeholder, value)
            line = line.replace(DATA_PLACEHOLDER, shlex.quote(str(data)))
            project.run("bash", "-c", line, timeout=900)
        yield project
    finally:
        project.make("mlflow-stop", check=False)


def test_the_readme_commands_gate_a_model(byod: Project) -> None:
    """Following the README literally ends in a gate verdict of pass for the first model, with
    the risk gate measuring the chosen sensitive column."""
    gate = json.loads((byod.root / "reports/gate.json").read_text())
    assert gate["verdict"] == "pass", gate
    assert gate["first_model"] is True
    assert gate["risk"]["enabled"] is True and gate["risk"]["column"] == "sex"
    assert "## ✅ Gate passed" in (byod.root / "reports/report.md").read_text()


def test_the_sample_is_gone_and_the_data_is_tracked(byod: Project) -> None:
    """The sample and its pointer are gone; the user's file is DVC-tracked, git ignores the
    data itself, and params.yaml names it."""
    raw = byod.root / "data/raw"
    assert sorted(p.name for p in raw.iterdir()) == [".gitignore", "churn.csv", "churn.csv.dvc"]
    assert "churn.csv" in byod.run("git", "check-ignore", "data/raw/churn.csv").stdout
    assert "raw: data/raw/churn.csv" in (byod.root / "params.yaml").read_text()


def test_the_drafted_contract_describes_the_data(byod: Project) -> None:
    """The drafted contract keeps the free text, the date and the id out of the model, keys
    rows by the id, reads the yes/no-like levels back as text, and names the positive class."""
    code = (
        "import json; from credit_default_model.pipeline.contract import load_contract;"
        "from pathlib import Path; c = load_contract(Path('data/contract.yaml'));"
        "print(json.dumps({'types': {n: col.type for n, col in c.columns.items()},"
        " 'key': c.key_columns, 'target': c.target.model_dump(),"
        " 'channel': list(c.columns['signup_channel'].values or [])}))"
    )
    drafted = json.loads(byod.python(code))
    types = drafted["types"]
    assert types["customer_ref"] == "id" and drafted["key"] == ["customer_ref"]
    assert types["agent_notes"] == "text" and types["last_login"] == "text"
    assert types["paperless"] == "boolean" and types["region"] == "category"
    assert types["tenure_months"] == "integer" and types["satisfaction"] == "float"
    assert sorted(drafted["channel"]) == ["app", "no", "on", "partner", "web"]
    assert drafted["target"] == {"name": "churned", "classes": ["no", "yes"], "positive": "yes"}


def test_held_out_rows_are_all_scored(byod: Project) -> None:
    """After `make release` and `make promote`, scoring 1,000 new customers (new ids, new
    notes, new dates) rejects none of them: columns the model does not use never count."""
    assert "registered:" in byod.make("release").stdout
    byod.env["APPROVED_BY"] = "risk-approver"
    byod.make("promote")
    byod.env["INPUT"] = str(byod.root.parent / "held_out.csv")
    done = byod.make("predict")
    assert f"scored {HELD_OUT} rows" in done.stdout
    assert read_rows(byod.root / "predictions/rejected.csv") == []


def test_own_tests_and_lint_pass_and_change_nothing(byod: Project) -> None:
    """On the user's data, the project's own tests and lint pass (`make test lint`), and leave
    the work tree and the data exactly as they were."""
    status = byod.run("git", "status", "--porcelain").stdout
    data = byod.root / "data/raw/churn.csv"
    before = md5(data)
    tests = byod.make("test", timeout=1200).stdout  # the whole suite, on a busy machine too
    assert re.search(r"\d+ passed", tests) and " failed" not in tests
    assert "Success: no issues found" in byod.make("lint").stdout
    assert byod.run("git", "status", "--porcelain").stdout == status
    assert md5(data) == before


def test_a_batch_breaking_the_contract_is_an_alert(byod: Project, tmp_path: Path) -> None:
    """A batch where a tenth of the rows break the contract raises the drift alert (`make
    drift` says the command exited 1; `invalid` in drift.json) though no column drifted."""
    batch = read_rows(byod.root.parent / "held_out.csv")
    for row in batch[:100]:
        row["tenure_months"] = "-5"
    path = tmp_path / "batch.csv"
    write_rows(path, batch)
    byod.env["INPUT"] = str(path)
    done = byod.make("drift", check=False)
    assert "drift exited 1" in done.stderr, done.stderr
    result = json.loads((byod.root / "reports/drift.json").read_text())
    assert result["invalid"] is True and result["alert"] is True
    assert result["invalid_share"] == 0.1


def test_changing_other_columns_moves_no_evaluation_row(byod: Project) -> None:
    """Dropping a column, adding one and correcting values of another, in the data and its
    contract, leave the evaluation split's rows exactly where they were."""
    split = byod.root / "data/split/eval.csv"
    before = {row["customer_ref"] for row in read_rows(split)}
    data = byod.root / "data/raw/churn.csv"
    rows = read_rows(data)
    for row in rows:
        del row["plan"]
        row["monthly_fee"] = "25.00"
        row["loyalty_points"] = "7"
    write_rows(data, rows)
    contract = byod.root / "data/contract.yaml"
    lines = contract.read_text().splitlines()
    kept = [line for line in lines if not line.strip().startswith('"plan":')]
    kept.append('  "loyalty_points": {type: "integer", min: 0}')
    contract.write_text("\n".join(kept) + "\n")
    byod.run("uv", "run", "--locked", CLI, "validate")
    byod.run("uv", "run", "--locked", CLI, "split")
    assert {row["customer_ref"] for row in read_rows(split)} == before
