"""Columns come and go: a bring-your-own-data project whose data has no id column, with a
champion in production, changes its columns the way a user does (add one, add a constant one,
drop a learned one, rename one), redrafting the contract as the README says each time. The key
stays, every evaluation row stays, and the gate decides every time; a new key only comes on
purpose.

One project is baked for the module; the steps build on each other, in order, as a user's
history would. Each test makes one claim about what the steps left behind.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import byod_data
import pytest
from baked import TEMPLATE, Project
from cookiecutter.main import cookiecutter
from servers import free_port
from test_byod import DATA_PLACEHOLDER, PLACEHOLDERS, read_rows, readme_commands, write_rows

ROWS = 3_000
Rows = list[dict[str, str]]


@dataclass
class History:
    """What each step left: the contract's key, the evaluation split's keys, the gate's result."""

    project: Project
    learned: list[str]
    keys: list[list[str]] = field(default_factory=list)
    evaluation: list[set[str]] = field(default_factory=list)
    gates: dict[str, dict[str, object]] = field(default_factory=dict)

    def contract(self) -> dict[str, object]:
        code = (
            "import json; from pathlib import Path;"
            "from credit_default_model.pipeline.contract import load_contract;"
            "c = load_contract(Path('data/contract.yaml'));"
            "print(json.dumps({'key': c.key_columns, 'learned': c.learned_columns}))"
        )
        return dict(json.loads(self.project.python(code)))

    def record(self) -> None:
        key = list(self.contract()["key"])
        self.keys.append(key)
        rows = read_rows(self.project.root / "data/split/eval.csv")
        self.evaluation.append({"|".join(row[name] for name in key) for row in rows})


def add_usage(rows: Rows) -> Rows:
    """A continuous column that differs on every row: it could tell rows apart on its own."""
    return [{**row, "usage_gb": f"{i * 0.37:.2f}"} for i, row in enumerate(rows)]


def without(rows: Rows, column: str) -> Rows:
    return [{name: value for name, value in row.items() if name != column} for row in rows]


def renamed_column(rows: Rows, old: str, new: str) -> Rows:
    return [{(new if name == old else name): value for name, value in row.items()} for row in rows]


def change_data(history: History, name: str, change: Callable[[Rows], Rows]) -> None:
    """One change of the user's data, then the README's way: `make data`, `make contract
    FORCE=1`, commit, `make repro gate` (a failing gate exits 1: the verdict is what counts)."""
    project = history.project
    rows = change(read_rows(project.root / "data/raw/churn.csv"))
    path = project.root.parent / "next" / "churn.csv"  # the same name: it replaces the data
    path.parent.mkdir(exist_ok=True)
    write_rows(path, rows)
    project.run("make", "data", f"DATA={path}")
    project.run("make", "contract", "FORCE=1")
    project.run("git", "add", "-A")
    project.run("git", "commit", "--quiet", "-m", name)
    project.make("repro", "gate", check=False)
    history.gates[name] = json.loads((project.root / "reports/gate.json").read_text())
    history.record()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """A fresh bake through the README on churn data without its id column, released and
    promoted, then four column changes in a row."""
    base = tmp_path_factory.mktemp("columns")
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(base)))
    data = base / "first" / "churn.csv"
    data.parent.mkdir()
    customers = byod_data.make_customers(ROWS, seed=21)
    columns = [name for name in byod_data.COLUMNS if name != "customer_ref"]
    data.write_text(byod_data.to_csv(customers, columns), encoding="utf-8")
    project = Project(root, free_port(), base / "dvc-remote")
    try:
        for line in readme_commands((root / "README.md").read_text(encoding="utf-8")):
            for placeholder, value in PLACEHOLDERS.items():
                line = line.replace(placeholder, value)
            project.run("bash", "-c", line.replace(DATA_PLACEHOLDER, shlex.quote(str(data))))
        project.make("release")
        project.env["APPROVED_BY"] = "risk-approver"
        project.make("promote")
        history = History(project, learned=[])
        history.learned = list(history.contract()["learned"])
        history.record()
        key = history.keys[0]
        sensitive = PLACEHOLDERS["your_sensitive_column"]  # the risk gate needs it: it stays
        others = [name for name in history.learned if name not in (*key, sensitive)]
        dropped, renamed = others[-2:]
        steps: list[tuple[str, Callable[[Rows], Rows]]] = [
            ("add a column", add_usage),
            ("add a constant column", lambda rows: [{**row, "country": "NL"} for row in rows]),
            ("drop a learned column", lambda rows: without(rows, dropped)),
            ("rename a column", lambda rows: renamed_column(rows, renamed, f"{renamed}_v2")),
        ]
        for name, change in steps:
            change_data(history, name, change)
        yield history
    finally:
        project.make("mlflow-stop", check=False)


def test_the_key_never_changes(history: History) -> None:
    """Four redrafts keep the key the first contract drafted, though a new column tells every
    row apart on its own."""
    assert all(key == history.keys[0] for key in history.keys), history.keys


def test_every_evaluation_row_stays(history: History) -> None:
    """The evaluation split holds exactly the same rows (by key) after every change."""
    assert all(rows == history.evaluation[0] for rows in history.evaluation)


def test_the_gate_decides_every_change(history: History) -> None:
    """Every gate gives a verdict (pass or fail), never `error`, and the risk gate's groups
    hold every evaluation row."""
    for name, gate in history.gates.items():
        assert gate["verdict"] in ("pass", "fail"), (name, gate["errors"])
        risk = gate["risk"]
        sizes = sum(group["size"] for group in risk["groups"].values())
        assert sizes == gate["eval"]["rows"], name


def test_the_champion_is_scored_on_its_own_dropped_and_renamed_columns(history: History) -> None:
    """After a learned column is dropped and another renamed, the champion still takes both:
    the gate says their values came from its own evaluation split."""
    from_its_data = history.gates["rename a column"]["champion_columns_from_its_data"]
    assert len(from_its_data) == 2


def test_a_constant_column_is_not_learned(history: History) -> None:
    """The constant column is in the contract, not in the model."""
    contract = history.contract()
    assert "country" not in contract["learned"]
    assert "usage_gb" in contract["learned"]


def test_a_new_key_comes_only_on_purpose(history: History) -> None:
    """`make contract-key ROW_KEY=usage_gb` keys rows by the new column and says how many
    evaluation rows move; nothing else changed the key."""
    project = history.project
    done = project.run("make", "contract-key", "ROW_KEY=usage_gb")
    assert "KEY CHANGED from" in done.stdout and "evaluation rows leave" in done.stdout
    assert history.contract()["key"] == ["usage_gb"]
    project.run("git", "checkout", "--", "data/contract.yaml")


def test_the_data_stays_a_csv_of_the_user_s_rows(history: History) -> None:
    """Nothing lost: the data file holds every row the user gave."""
    with (history.project.root / "data/raw/churn.csv").open(newline="") as stream:
        assert sum(1 for _ in csv.DictReader(stream)) == ROWS
