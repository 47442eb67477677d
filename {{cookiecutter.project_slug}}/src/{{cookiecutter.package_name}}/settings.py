"""The pipeline's settings: params.yaml read into one strict, frozen object.

An unknown or mistyped key is an error that names it, so a typo never silently falls back to a
default. Every section matches a DVC stage (see dvc.yaml).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import yaml_files
from .errors import ProjectError

DEFAULT_PARAMS = Path("params.yaml")

PrimaryMetric = Literal["roc_auc", "pr_auc", "f1"]
MetricName = Literal["roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier"]
METRIC_NAMES: tuple[str, ...] = get_args(MetricName)
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
P_VALUE_METHODS = frozenset({"ks", "chisquare"})  # drift methods whose value is a p-value
# A registered model name goes into registry queries: keep it to plain characters.
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
GITHUB_HANDLE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9][A-Za-z0-9_-]{0,99})?$"
# owner/name; "." and ".." are refused separately (the pattern engine has no lookahead).
GITHUB_REPOSITORY = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$"
# A branch name that goes into API paths as it is: no spaces, wildcards or `..`.
BRANCH_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,243}$"


class SettingsError(ProjectError):
    """params.yaml cannot be used; the message names every offending key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataSettings(Section):
    raw: Path
    contract: Path
    validation_report: Path


class SplitSettings(Section):
    eval_fraction: float = Field(gt=0, lt=1)
    seed: int
    train: Path
    eval: Path


class TrainSettings(Section):
    exclude_columns: tuple[str, ...] = ()
    n_estimators: int = Field(ge=1, le=10_000)
    max_depth: int = Field(ge=1, le=20)
    learning_rate: float = Field(gt=0, le=1)
    subsample: float = Field(gt=0, le=1)
    colsample_bytree: float = Field(gt=0, le=1)
    min_child_weight: float = Field(ge=0)
    reg_lambda: float = Field(ge=0)
    seed: int
    n_jobs: int = Field(ge=1)
    model: Path
    run_info: Path


# A worker's memory as dask takes it ("4GiB", "512 MB"), or "auto": the machine's share.
MEMORY_SIZE = r"^(auto|\d+(\.\d+)? ?([kMGT]i?)?B)$"


class EngineSettings(Section):
    """Where the model is fitted (README: "Beyond one machine"): `pandas`, in the stage's own
    process, or `dask`, by xgboost.dask on a cluster: the scheduler at `scheduler` (or the
    DASK_SCHEDULER_ADDRESS environment variable), else a local cluster the stage starts and
    stops. The model's bytes depend on the worker count and the partitioning, so both are
    fixed here: the cluster must have the workers, and each gets the same partitions."""

    name: Literal["pandas", "dask"]
    scheduler: str = ""
    workers: int = Field(ge=1, le=10_000)
    partitions_per_worker: int = Field(ge=1, le=1_000)
    memory_limit: str = Field(pattern=MEMORY_SIZE)  # per worker of a local cluster
    timeout_seconds: int = Field(ge=5, le=86_400)  # a lost worker fails the fit after this

    @property
    def partitions(self) -> int:
        """How many partitions the data is cut into on the dask engine."""
        return self.workers * self.partitions_per_worker


class EvaluateSettings(Section):
    decision_threshold: float = Field(gt=0, lt=1)
    metrics: Path
    plots: Path


class GateSettings(Section):
    """Champion/challenger thresholds. CODEOWNERS gives them to the risk approver."""

    primary_metric: PrimaryMetric
    rule: Literal["non_inferiority", "superiority"]
    margin: float = Field(ge=0, le=1)
    confidence: float = Field(gt=0.5, lt=1)
    resamples: int = Field(ge=1000, le=100_000)
    seed: int
    floors: dict[MetricName, float]
    ceilings: dict[MetricName, float]
    max_latency_ms_per_row: float = Field(gt=0)
    max_model_mb: float = Field(gt=0)
    override_label: str = Field(min_length=1)
    report: Path

    @model_validator(mode="after")
    def _limits_point_the_right_way(self) -> GateSettings:
        wrong_floors = sorted(set(self.floors) & LOWER_IS_BETTER)
        wrong_ceilings = sorted(set(self.ceilings) - LOWER_IS_BETTER)
        if wrong_floors:
            raise ValueError(f"floors are for higher-is-better metrics, not {wrong_floors}")
        if wrong_ceilings:
            raise ValueError(f"ceilings are for lower-is-better metrics, not {wrong_ceilings}")
        return self


class FairnessSettings(Section):
    """The risk gate. An empty sensitive_column turns it off."""

    sensitive_column: str
    min_disparate_impact: float = Field(gt=0, le=1)
    max_equal_opportunity_difference: float = Field(ge=0, le=1)
    min_group_size: int = Field(ge=1)
    # Rows without a sensitive value: their own group "(missing)", or refused with their count.
    missing_values: Literal["group", "refuse"] = "group"


class TrackingSettings(Section):
    experiment: str = Field(min_length=1)
    model_name: str = Field(pattern=MODEL_NAME)
    model_owner: str = Field(pattern=GITHUB_HANDLE)
    risk_approver: str = Field(pattern=GITHUB_HANDLE)


GithubHandle = Annotated[str, Field(pattern=GITHUB_HANDLE)]


class GithubSettings(Section):
    """What `github-setup` configures on the repository. Production reviewers (user names or
    org/team-slug; GitHub takes at most six per environment) approve the `production`
    environment where the plan enforces it, and may apply the gate's override label."""

    repository: str = Field(pattern=GITHUB_REPOSITORY)
    default_branch: str = Field(pattern=BRANCH_NAME)
    required_check: str = Field(min_length=1)
    production_reviewers: tuple[GithubHandle, ...] = Field(min_length=1, max_length=6)

    @model_validator(mode="after")
    def _names_are_usable(self) -> GithubSettings:
        if self.repository.split("/")[1] in {".", ".."}:
            raise ValueError(f"repository {self.repository!r} is not owner/name")
        if ".." in self.default_branch or self.default_branch.endswith((".", "/", ".lock")):
            raise ValueError(f"default_branch {self.default_branch!r} is not a branch name")
        return self


# Who may sign off production: tracking's handles of these names, and what people call them.
SIGN_OFF_ROLES = {"model_owner": "the model owner", "risk_approver": "the risk approver"}


class Step(Section):
    """One step of a rollout: the candidate answers `weight` percent of requests."""

    weight: int = Field(ge=1, le=100)
    hold_minutes: float = Field(ge=0)


CheckName = Literal["error_rate", "latency_p99_ms", "score_psi", "disparate_impact"]
# The checks whose value must stay at most the limit; disparate_impact must reach it.
AT_MOST = frozenset({"error_rate", "latency_p99_ms", "score_psi", "outcomes"})


class Analysis(Section):
    """How the server judges a candidate while it takes traffic: every `interval_seconds`,
    each check against its limit; `failure_limit` failed intervals in a row abort the rollout.
    An interval with fewer than `min_rows` candidate rows decides nothing."""

    interval_seconds: float = Field(ge=1, le=3_600)
    failure_limit: int = Field(ge=1, le=100)
    min_rows: int = Field(default=50, ge=1)
    checks: dict[CheckName, float] = Field(min_length=1)
    # The outcome rules (`outcomes`) on the candidate's own decisions with outcomes: one that
    # fires aborts; none counted yet (no outcomes within a hold, as a rule) holds nothing back.
    outcomes: bool = False

    @model_validator(mode="after")
    def _limits_in_range(self) -> Analysis:
        for name, limit in self.checks.items():
            share = name in ("error_rate", "disparate_impact")
            if limit <= 0 or (share and limit > 1):
                expected = "in (0, 1]" if share else "above 0"
                raise ValueError(f"checks.{name}: {limit:g} is not a limit; expected {expected}")
        return self


class RolloutPlan(Section):
    """How a candidate comes in beside production (README: "Serving"): `shadow`, the share of
    requests it also scores (logged, never answered), for `shadow_hold_minutes`; then `steps`,
    the rising percent of requests it answers, each held `hold_minutes` with every check of
    `analysis` green (without one, only a pull request moves it)."""

    shadow: float = Field(default=0.0, ge=0, le=1)
    shadow_hold_minutes: float = Field(default=0, ge=0)
    steps: list[Step] = Field(min_length=1)
    analysis: Analysis | None = None

    @model_validator(mode="after")
    def _steps_rise_to_the_end(self) -> RolloutPlan:
        weights = [step.weight for step in self.steps]
        if any(later <= earlier for earlier, later in itertools.pairwise(weights)):
            raise ValueError(f"steps' weights must rise, got {weights}")
        if weights[-1] != 100:
            raise ValueError(f"the last step must take all traffic (weight 100), got {weights[-1]}")
        return self


class DeploySettings(Section):
    """The desired state in git (desired_state.py) and what the scheduled reconcile does when
    the registry differs from it: `restore` puts the declared version back, `report` only
    says so in the one reconcile issue. `sign_off`: whose approvals a change of production
    needs, each by a different person (the model owner on business grounds, the risk approver
    on governance grounds; a team that wants one approver lists one). `promotion`: whether a
    promotion pull request brings a new version in through `rollout` (where a model server
    judges it) or moves production all at once on merge."""

    reconcile: Literal["restore", "report"]
    sign_off: list[Literal["model_owner", "risk_approver"]] = Field(min_length=1)
    promotion: Literal["rollout", "all_at_once"]
    rollout: RolloutPlan

    @field_validator("sign_off")
    @classmethod
    def _each_role_once(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("list each role once")
        return roles


class PredictSettings(Section):
    """Batch scoring with a registered model (`predict`)."""

    alias: str = Field(min_length=1)
    output: Path
    rejected: Path
    log: Path
    log_retention_days: int = Field(ge=0)


class ServeSettings(Section):
    """The model server (`make serve`): where it listens, how it follows git, what it answers
    when no verified model can."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65_535)
    workers: int = Field(ge=1, le=64)
    follow_seconds: float = Field(gt=0, le=600)
    fetch: bool
    fallback_label: str  # "" for none: answer 503
    max_rows: int = Field(ge=1, le=1_000_000)
    max_body_mb: float = Field(gt=0, le=1_000)
    log_flush_seconds: float = Field(gt=0, le=60)


class DriftSettings(Section):
    """The drift check (`drift`): methods, thresholds and where it writes."""

    numeric_method: Literal["psi", "wasserstein", "ks"]
    numeric_threshold: float = Field(gt=0)
    numeric_critical: float = Field(gt=0)
    categorical_method: Literal["chisquare", "jensenshannon", "psi"]
    categorical_threshold: float = Field(gt=0)
    categorical_critical: float = Field(gt=0)
    drifted_share: float = Field(gt=0, le=1)
    max_invalid_share: float = Field(ge=0, le=1)
    prediction_threshold: float = Field(gt=0)
    max_null_rate_increase: float = Field(ge=0, le=1)
    max_staleness_days: int = Field(ge=1)
    # At most this many evaluation rows (a seeded sample) are compared; 0: all. A default, so
    # that params.yaml files written before it still load.
    sample_rows: int = Field(default=0, ge=0)
    batch: Path
    reference: Path
    report: Path
    html: Path
    summary: Path

    @model_validator(mode="after")
    def _critical_is_beyond_the_threshold(self) -> DriftSettings:
        for kind in ("numeric", "categorical"):
            method = getattr(self, f"{kind}_method")
            threshold = getattr(self, f"{kind}_threshold")
            critical = getattr(self, f"{kind}_critical")
            if method in P_VALUE_METHODS and critical > threshold:
                raise ValueError(
                    f"{kind}_critical {critical:g} must be below {kind}_threshold {threshold:g}: "
                    f"{method} gives a p-value, smaller is more drift"
                )
            if method not in P_VALUE_METHODS and critical < threshold:
                raise ValueError(
                    f"{kind}_critical {critical:g} must be above {kind}_threshold {threshold:g}: "
                    f"{method} gives a distance, larger is more drift"
                )
        return self


# The figures outcomes are judged on per window, each with a bootstrap interval.
OutcomeMetric = Literal["roc_auc", "pr_auc", "f1", "brier"]
OUTCOME_METRICS: tuple[str, ...] = get_args(OutcomeMetric)


class OutcomesSettings(Section):
    """Outcomes known after the decision (`outcomes`): where they are kept, the windows they
    are judged in, and the rule that raises an alert."""

    store: Path
    rejected: Path
    max_delay_days: int = Field(ge=1)
    window: Literal["daily", "weekly"]
    min_coverage: float = Field(gt=0, le=1)
    min_outcomes: int = Field(ge=10)
    tolerance: dict[OutcomeMetric, float] = Field(min_length=1)
    alert_after: int = Field(ge=1)
    of_last: int = Field(ge=1, le=100)
    retention_days: int = Field(ge=0)
    report: Path
    summary: Path
    html: Path

    @model_validator(mode="after")
    def _k_of_n(self) -> OutcomesSettings:
        if self.alert_after > self.of_last:
            raise ValueError(
                f"alert_after {self.alert_after} must be at most of_last {self.of_last}: "
                "k of the last n windows"
            )
        if any(value < 0 for value in self.tolerance.values()):
            raise ValueError("a tolerance is how much worse a window may be: 0 or more")
        return self


class Settings(Section):
    data: DataSettings
    split: SplitSettings
    train: TrainSettings
    engine: EngineSettings
    evaluate: EvaluateSettings
    gate: GateSettings
    fairness: FairnessSettings
    tracking: TrackingSettings
    github: GithubSettings
    deploy: DeploySettings
    predict: PredictSettings
    serve: ServeSettings
    drift: DriftSettings
    outcomes: OutcomesSettings

    @property
    def excluded_from_model(self) -> tuple[str, ...]:
        """Columns the model never learns from: train.exclude_columns, and the sensitive
        column, which the risk gate measures and the model must not use."""
        sensitive = self.fairness.sensitive_column
        return (*self.train.exclude_columns, *([sensitive] if sensitive else []))


def explain(error: ValidationError, source: Path) -> str:
    """One line per problem: the file, the dotted key, and what is wrong with it."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reason = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {key}: {reason}")
    return "\n".join(lines)


def parse_settings(raw: object, source: Path = DEFAULT_PARAMS) -> Settings:
    """Check already-parsed YAML against the schema."""
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        # YAML gives str for paths and tuples arrive as lists: the JSON-like mode accepts
        # those while staying strict about everything else (no "3" for 3).
        return Settings.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as error:
        raise SettingsError(explain(error, source)) from None


def load_settings(path: Path = DEFAULT_PARAMS) -> Settings:
    """Read and check params.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found (run from the project root)") from None
    try:
        raw = yaml_files.load(text)
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML: {error}") from None
    return parse_settings(raw, path)
