"""What the gate decided, as one typed record: gate.py writes it (reports/gate.json); the report,
the registration and the workflow steps read it back through `GateResult.read`, never as a dict.

Frozen, and unknown keys are refused: a gate.json from another version of this code, or edited
by hand, is an error at the boundary, not a missing key deep in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, computed_field, model_validator

from ..errors import MissingInputError, ProjectError

Verdict = Literal["pass", "fail", "overridden", "error"]
# The verdicts that let a model through: registration registers only these, and deploy puts in
# production only a version whose recorded verdict is one of them.
PASSING: tuple[Verdict, ...] = ("pass", "overridden")


class GateResultError(ProjectError):
    """gate.json is missing, or not a gate result this code wrote."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(Record):
    """Bootstrap confidence interval of the improvement (challenger better = positive)."""

    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int


class ScoredModel(Record):
    """One model as scored on the evaluation split, with what identifies it."""

    eval_md5: str
    metrics: dict[str, float]
    latency_ms_per_row: float
    # What the model relies on: mean absolute TreeSHAP contribution per column, largest first
    importance: dict[str, float] = {}
    importance_rows: int = 0  # the evaluation rows it was measured on
    # challenger: the outcome figures (settings.OUTCOME_METRICS), each with its bootstrap interval
    intervals: dict[str, Interval] = {}
    model_mb: float | None = None
    model_sha256: str = ""  # the sha256 of the exact bytes scored
    lineage: dict[str, str] = {}  # challenger: commit and md5s as the checkout showed them
    run_id: str = ""
    git_sha: str | None = None
    experiment_id: str = ""  # challenger: the run registration registers from
    model_uri: str = ""
    version: int | None = None  # champion: its registered version
    trained_with_eval_md5: str | None = None
    columns: tuple[str, ...] = ()  # the columns the model learned from, in its order


class GroupRates(Record):
    size: int
    share: float  # of the evaluation rows
    positives: int
    selection_rate: float
    true_positive_rate: float | None


class Risk(Record):
    """The risk gate's measures; `enabled` is false when no sensitive column is set."""

    enabled: bool
    problems: tuple[str, ...] = ()
    column: str = ""
    rows: int = 0  # evaluation rows: the groups' sizes add up to it (less `missing` if refused)
    missing: int = 0  # rows without a sensitive value
    groups: dict[str, GroupRates] = {}
    disparate_impact: float | None = None
    equal_opportunity_difference: float | None = None
    passed: bool = True


class Override(Record):
    requested_by: str | None = None
    applied: bool = False


class EvaluationSet(Record):
    path: str
    md5: str
    rows: int


class PullRequest(Record):
    """The pull request a workflow run is about, and what became of its override label."""

    number: int | None = None
    override_label: str = ""
    label_applied_by: str | None = None
    override_by: str | None = None
    override_refused: tuple[str, ...] = ()
    problem: str | None = None


class GateResult(Record):
    model_name: str
    primary_metric: str
    rule: str
    margin: float
    verdict: Verdict
    thresholds: dict[str, Any] = {}
    fairness_thresholds: dict[str, Any] = {}
    errors: tuple[str, ...] = ()
    performance_problems: tuple[str, ...] = ()
    override: Override = Override()
    risk: Risk | None = None  # None: the gate stopped before assessing it
    challenger: ScoredModel | None = None
    champion: ScoredModel | None = None
    interval: Interval | None = None
    deltas: dict[str, float] = {}
    eval: EvaluationSet | None = None
    first_model: bool | None = None
    declared_version: int | None = None  # a change of deploy/: the version it declares, judged
    champion_training_overlap: int | None = None
    # Columns the champion takes that the data no longer has: read from its own evaluation split
    champion_columns_from_its_data: tuple[str, ...] = ()
    key_changed_from: tuple[str, ...] | None = None  # the champion's row key, when it differs
    pull_request: PullRequest | None = None

    @model_validator(mode="before")
    @classmethod
    def _passed_agrees(cls, data: Any) -> Any:
        """gate.json carries `passed` for people and other tools; read back, it must say what
        the verdict says (a file edited to pass is refused), and is then derived again."""
        if isinstance(data, dict) and "passed" in data:
            data = dict(data)
            if data.pop("passed") != (data.get("verdict") in PASSING):
                raise ValueError("passed contradicts the verdict")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """Derived from the verdict, never stored apart from it."""
        return self.verdict in PASSING

    @property
    def risk_problems(self) -> tuple[str, ...]:
        return self.risk.problems if self.risk else ()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def parse(cls, text: str, source: str = "gate.json") -> GateResult:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top)"
            raise GateResultError(
                f"{source} is not a gate result of this project ({where}: {first['msg']}): "
                "run the gate again"
            ) from None

    @classmethod
    def read(cls, path: Path) -> GateResult:
        if not path.exists():
            raise MissingInputError(f"{path}: no gate result (run the gate first)")
        return cls.parse(path.read_text(encoding="utf-8"), str(path))
