"""The champion/challenger gate: should this commit's model replace the one in production?

The challenger (this commit's model) and the champion (`production` in the registry) are scored
here, on the same frozen evaluation split. Three kinds of outcome, reported separately:

- performance: absolute floors and ceilings per metric, latency and size limits, and on the
  primary metric a paired bootstrap confidence interval of the difference, judged by a
  non-inferiority or superiority rule. An explicit override can turn a performance failure
  into a recorded "overridden" pass.
- risk: the fairness measures of fairness.py. Never overridden.
- errors: anything that stops the gate from deciding (registry down, champion missing,
  mismatched evaluation data, undefined metrics). The gate then fails closed. Never overridden.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import ProjectError
from ..pipeline import data, evaluation, lineage, tracking, training
from ..pipeline.contract import Contract, ContractError, load_contract, parse_contract, typed
from ..settings import GateSettings, Settings
from . import desired_state, fairness, production, registry
from .desired_state import Declared
from .gate_result import GateResult, Interval, PullRequest, Verdict

if TYPE_CHECKING:
    from xgboost import XGBClassifier

MIN_USABLE_SHARE = 0.9  # of bootstrap resamples that hold both classes
BOOTSTRAP_CELLS = 4_000_000  # resamples x rows scored at once: about 32 MB per model


@dataclass
class Scored:
    """One model scored on the evaluation split."""

    label: str
    eval_md5: str
    probability: np.ndarray
    metrics: dict[str, float]
    latency_ms_per_row: float
    model_mb: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            **self.details,
            "eval_md5": self.eval_md5,
            "metrics": self.metrics,
            "latency_ms_per_row": round(self.latency_ms_per_row, 6),
            "model_mb": None if self.model_mb is None else round(self.model_mb, 3),
        }


Score = TypeVar("Score", float, np.ndarray)


def improvement(metric: str, challenger: Score, champion: Score) -> Score:
    """Positive when the challenger is better, whichever direction the metric runs."""
    delta: Score = challenger - champion
    if metric in evaluation.LOWER_IS_BETTER:
        flipped: Score = -delta
        return flipped
    return delta


def _resample_counts(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    """How often each row is drawn, for `size` resamples of `rows` rows with replacement.
    One draw call per resample, in order: the same seed draws the same rows as it always has
    (one call for all of them would not: numpy buffers its 32-bit draws per call)."""
    picks = np.stack([rng.integers(0, rows, rows) for _ in range(size)])
    offsets = (np.arange(size)[:, None] * rows + picks).ravel()
    return np.bincount(offsets, minlength=size * rows).reshape(size, rows).astype(float)


def paired_bootstrap(
    metric: str,
    target: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    threshold: float,
    resamples: int,
    seed: int,
    confidence: float,
) -> Interval:
    """Resample evaluation rows with replacement (the same rows for both models) and take the
    percentile interval of the improvement. A fixed seed makes the verdict repeatable. The
    resamples are scored together, as weights (evaluation.resampled_scores), in chunks that
    keep memory bounded; a single-class resample has no AUC and counts as unusable."""
    rng = np.random.default_rng(seed)
    rows = len(target)
    chunk = max(1, BOOTSTRAP_CELLS // max(rows, 1))
    differences = []
    for start in range(0, resamples, chunk):
        counts = _resample_counts(rng, rows, min(chunk, resamples - start))
        positives = counts @ target
        counts = counts[(positives > 0) & (positives < rows)]
        differences.append(
            improvement(
                metric,
                evaluation.resampled_scores(metric, target, challenger, counts, threshold),
                evaluation.resampled_scores(metric, target, champion, counts, threshold),
            )
        )
    usable = np.concatenate(differences)
    if len(usable) < MIN_USABLE_SHARE * resamples:
        raise ProjectError(
            f"only {len(usable)} of {resamples} bootstrap resamples hold both classes: "
            "the evaluation set is too small or too unbalanced to compare models"
        )
    tail = (1 - confidence) / 2
    low, high = np.quantile(usable, [tail, 1 - tail])
    estimate = improvement(
        metric,
        evaluation.score(metric, target, challenger, threshold),
        evaluation.score(metric, target, champion, threshold),
    )
    return Interval(
        estimate=round(estimate, 6),
        low=round(float(low), 6),
        high=round(float(high), 6),
        confidence=confidence,
        resamples=resamples,
    )


def comparison_problem(metric: str, interval: Interval, rule: str, margin: float) -> str | None:
    """None when the rule holds; otherwise why not, in words."""
    span = f"{interval.low:+.4f} to {interval.high:+.4f}"
    if rule == "superiority" and interval.low <= margin:
        return (
            f"{metric}: not shown better than the champion by more than {margin:g} "
            f"({interval.confidence:.0%} interval of the improvement {span})"
        )
    if rule == "non_inferiority" and interval.low < -margin:
        return (
            f"{metric}: may be worse than the champion by more than the margin {margin:g} "
            f"({interval.confidence:.0%} interval of the improvement {span})"
        )
    return None


def threshold_problems(scored: Scored, gate: GateSettings) -> list[str]:
    """Absolute limits: metric floors and ceilings, latency and model size."""
    problems = []
    for metric, floor in gate.floors.items():
        if scored.metrics[metric] < floor:
            problems.append(f"{metric} {scored.metrics[metric]:.4f} is below the floor {floor:g}")
    for metric, ceiling in gate.ceilings.items():
        if scored.metrics[metric] > ceiling:
            problems.append(
                f"{metric} {scored.metrics[metric]:.4f} is above the ceiling {ceiling:g}"
            )
    if scored.latency_ms_per_row > gate.max_latency_ms_per_row:
        problems.append(
            f"prediction takes {scored.latency_ms_per_row:.4f} ms per row, more than "
            f"{gate.max_latency_ms_per_row:g}"
        )
    if scored.model_mb is not None and scored.model_mb > gate.max_model_mb:
        problems.append(f"the model is {scored.model_mb:.2f} MB, more than {gate.max_model_mb:g}")
    return problems


def sanity_problems(scored: Scored) -> list[str]:
    """Reasons the scores cannot be trusted at all: these fail closed."""
    problems = [
        f"{scored.label}: {name} is not finite"
        for name, value in scored.metrics.items()
        if not math.isfinite(value)
    ]
    if np.unique(scored.probability).size == 1:
        problems.append(f"{scored.label}: predicts the same probability for every row")
    return problems


def score_model(
    label: str,
    model: XGBClassifier,
    features: pd.DataFrame,
    target: pd.Series,
    threshold: float,
    eval_md5: str,
) -> Scored:
    """Predict the evaluation split (best of three timings) and compute every metric."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        probability = training.predict_proba(model, features)
        timings.append(time.perf_counter() - started)
    if probability.isna().any():
        raise ProjectError(f"{label}: predicted probabilities contain NaN")
    return Scored(
        label=label,
        eval_md5=eval_md5,
        probability=probability.to_numpy(),
        metrics=evaluation.compute_metrics(target, probability, threshold),
        latency_ms_per_row=min(timings) * 1000 / max(len(features), 1),
    )


def decide(
    errors: list[str], risk_problems: list[str], performance: list[str], override_by: str
) -> Verdict:
    """Errors and risk failures block whatever happens; an override only lifts performance."""
    if errors:
        return "error"
    if risk_problems:
        return "fail"
    if performance:
        return "overridden" if override_by else "fail"
    return "pass"


def run_gate(
    settings: Settings, override_by: str = "", pull_request: PullRequest | None = None
) -> GateResult:
    """Score both models and decide. Never raises for a gate that cannot decide: the result
    then carries verdict "error" and the reason. `pull_request`: what the workflow run knows
    of its pull request (recorded as it is)."""
    gate = settings.gate
    result: dict[str, Any] = {
        "model_name": settings.tracking.model_name,
        "primary_metric": gate.primary_metric,
        "rule": gate.rule,
        "margin": gate.margin,
        "thresholds": gate.model_dump(mode="json", exclude={"report", "override_label"}),
        "fairness_thresholds": settings.fairness.model_dump(mode="json"),
        "override": {"requested_by": override_by or None},
        "champion": None,
        "interval": None,
        "deltas": {},
        "risk": None,
        "errors": [],
        "performance_problems": [],
    }
    try:
        _score_and_compare(settings, override_by, result)
    except (
        tracking.TrackingUnavailable,
        registry.RegistryError,
        FileNotFoundError,
        ValueError,
    ) as error:
        result["errors"].append(str(error))
    result["errors"] = [tracking.without_secrets(error) for error in result["errors"]]
    risk = result["risk"] or {}
    result["verdict"] = decide(
        result["errors"], risk.get("problems", []), result["performance_problems"], override_by
    )
    result["override"]["applied"] = result["verdict"] == "overridden"
    result["passed"] = result["verdict"] in ("pass", "overridden")
    result["pull_request"] = pull_request
    return GateResult.model_validate(result)


def _score_and_compare(settings: Settings, override_by: str, result: dict[str, Any]) -> None:
    gate = settings.gate
    # The registry first: missing credentials (a fork's PR) is the reason to report, not the
    # missing model that the failed training left behind.
    client = registry.connect()
    contract = load_contract(settings.data.contract)
    frame = data.read_typed(settings.split.eval, contract)
    _, target = data.features_and_target(frame, contract, settings.excluded_from_model)
    lineage.check_pointer(settings.data.raw)
    eval_md5 = lineage.file_md5(settings.split.eval)
    threshold = settings.evaluate.decision_threshold
    result["eval"] = {"path": str(settings.split.eval), "md5": eval_md5, "rows": len(frame)}
    declared = production.declared_change(settings)
    if declared is not None:  # a promotion or rollback: judge what it declares, not a retrain
        _judge_declared(settings, client, declared, frame, target, result)
        return

    run = tracking.RunInfo.read(settings.train.run_info)
    with registry.registry_errors(f"reading run {run.run_id}"):
        run_tags = dict(client.get_run(run.run_id).data.tags)
    recorded = run_tags.get("lineage.eval_md5")
    if recorded != eval_md5:
        raise ProjectError(
            f"the challenger's run recorded evaluation split md5 {recorded} but the split here "
            f"is {eval_md5}: run `dvc repro` so both describe the same data"
        )
    # The bytes scored are the bytes digested, and the run holds the same bytes: registration
    # registers the run's copy only if its digest is this one.
    challenger_bytes = training.model_bytes(settings.train.model)
    digest = training.model_digest(challenger_bytes)
    logged = training.model_digest(registry.logged_model_bytes(client, run))
    if logged != digest:
        raise ProjectError(
            f"the model run {run.run_id} logged (sha256 {logged[:16]}...) is not "
            f"{settings.train.model} (sha256 {digest[:16]}...): retrain (`dvc repro`) so the "
            "file scored here is the one the run holds"
        )
    challenger_model = training.model_from_bytes(challenger_bytes)
    challenger = score_model(
        "challenger",
        challenger_model,
        training.model_inputs(challenger_model, frame),
        target,
        threshold,
        eval_md5,
    )
    challenger.model_mb = len(challenger_bytes) / 1e6
    challenger.details = {
        "run_id": run.run_id,
        "experiment_id": run.experiment_id,
        "model_uri": run.model_uri,
        "git_sha": run_tags.get("lineage.git_sha"),
        "model_sha256": digest,
        "lineage": lineage.lineage_tags(settings),
        "columns": training.model_columns(challenger_model),
    }
    result["challenger"] = challenger.summary()

    serving = production.load(client, settings)  # git's declaration, bytes checked against it
    result["first_model"] = serving is None
    problems = sanity_problems(challenger)
    performance = threshold_problems(challenger, gate)
    if serving is not None:
        champion_version, champion_model = serving.version, serving.model
        champion_contract = contract_at(settings, champion_version.git_sha)
        if champion_contract and champion_contract.key_columns != contract.key_columns:
            result["key_changed_from"] = champion_contract.key_columns
        result["champion_training_overlap"] = training_overlap(settings, contract, champion_version)
        inputs, from_its_data = champion_inputs(
            settings, contract, champion_contract, frame, champion_version, champion_model
        )
        result["champion_columns_from_its_data"] = from_its_data
        champion = score_model("champion", champion_model, inputs, target, threshold, eval_md5)
        champion.details = {
            "version": champion_version.number,
            "run_id": champion_version.run_id,
            "git_sha": champion_version.git_sha,
            "trained_with_eval_md5": champion_version.tags.get("lineage.eval_md5"),
            "model_sha256": serving.declared.sha256,
        }
        result["champion"] = champion.summary()
        problems += sanity_problems(champion)
        if champion.eval_md5 != challenger.eval_md5:
            raise ProjectError("champion and challenger were scored on different evaluation data")
        result["deltas"] = {
            name: round(challenger.metrics[name] - champion.metrics[name], 6)
            for name in challenger.metrics
        }
        interval = paired_bootstrap(
            gate.primary_metric,
            target.to_numpy(),
            champion.probability,
            challenger.probability,
            threshold,
            gate.resamples,
            gate.seed,
            gate.confidence,
        )
        result["interval"] = interval
        comparison = comparison_problem(gate.primary_metric, interval, gate.rule, gate.margin)
        performance += [comparison] if comparison else []
    result["errors"] += problems
    result["performance_problems"] = performance
    result["risk"] = _risk(settings, frame, target, challenger.probability)


def _judge_declared(
    settings: Settings,
    client: Any,
    declared: Declared,
    frame: pd.DataFrame,
    target: pd.Series,
    result: dict[str, Any],
) -> None:
    """A change of deploy/production.yaml is judged on the version it declares: its bytes
    checked against the sha256 this change declares (the one its review approves), the
    verdict the gate recorded when it was registered, and (for the report) its scores here.
    A version the gate did not pass is an error: no label lifts it."""
    source = f"{desired_state.DEPLOY_FILE} in this change"
    serving = production.load_declared(client, settings.tracking.model_name, declared, source)
    version, model = serving.version, serving.model
    threshold = settings.evaluate.decision_threshold
    scored = score_model(
        "declared", model, training.model_inputs(model, frame), target, threshold,
        lineage.file_md5(settings.split.eval),
    )  # fmt: skip
    scored.details = {
        "version": version.number,
        "run_id": version.run_id,
        "git_sha": version.git_sha,
        "model_sha256": declared.sha256,
    }
    result["challenger"] = scored.summary()
    result["declared_version"] = version.number
    recorded = version.tags.get("gate.verdict", "")
    if recorded not in ("pass", "overridden"):
        result["errors"].append(
            f"{source} declares {version.label}, whose recorded gate verdict is "
            f"{recorded or 'none'}: only a version that passed the gate may serve"
        )
    others = desired_state.changed_besides(settings.github.default_branch)
    if others:
        result["errors"].append(
            f"this change declares production and also changes {', '.join(others[:5])}: a "
            f"change of {desired_state.DEPLOY_FILE} goes alone in its pull request (it is judged "
            "on the version it declares, so nothing else in it would be gated)"
        )
    result["errors"] += sanity_problems(scored)
    result["risk"] = _risk(settings, frame, target, scored.probability)


def contract_at(settings: Settings, sha: str) -> Contract | None:
    """The data contract as commit `sha` had it, or None when git does not have it."""
    text = lineage.file_at(sha, settings.data.contract)
    if text is None:
        return None
    try:
        return parse_contract(text, settings.data.contract)
    except ContractError:
        return None


def champion_inputs(
    settings: Settings,
    contract: Contract,
    champion_contract: Contract | None,
    frame: pd.DataFrame,
    champion: registry.Version,
    model: XGBClassifier,
) -> tuple[pd.DataFrame, list[str]]:
    """The champion's inputs for the evaluation rows, and the columns taken from its own data.
    A champion is judged on the columns it was trained with: one the data no longer has, or
    no longer learns from (dropped, renamed), comes from the champion's own evaluation split
    (found by the md5 in its lineage, through DVC), matched to each evaluation row by the key."""
    names = training.model_columns(model)
    gone = [n for n in names if n not in frame.columns or n not in contract.learned_columns]
    if not gone:
        return training.model_inputs(model, frame), []
    about = (
        f"the champion (version {champion.number}) takes {', '.join(gone)}, which the data no "
        "longer has (or no longer learns from)"
    )
    md5 = champion.tags.get("lineage.eval_md5", "")
    known = champion_contract is not None and set(gone) <= set(champion_contract.columns)
    if champion_contract is None or not known or not md5:
        raise ProjectError(
            f"{about}; its contract at commit {champion.git_sha[:12]} or its evaluation split "
            "cannot be found (git history or lineage.eval_md5): fetch the full history, or "
            "bring the columns back until a model without them serves"
        )
    content = lineage.recorded_bytes(settings.split.eval, md5, champion.git_sha)
    recorded = data.read_raw(io.BytesIO(content), champion_contract)
    key = contract.key_columns
    if any(name not in recorded.columns for name in key):
        raise ProjectError(
            f"{about}; its evaluation split has no key column {', '.join(key)} to match rows "
            "by (the key changed since it was trained): change columns and the key in "
            "separate pull requests"
        )
    filled = values_by_key(
        data.key_digests(data.read_raw(settings.split.eval, contract), key),
        typed(recorded, champion_contract, gone),
        data.key_digests(recorded, key),
        about,
    )
    return training.model_inputs(model, frame.assign(**filled)), gone


def values_by_key(
    keys: pd.Series, recorded: pd.DataFrame, recorded_keys: pd.Series, about: str
) -> dict[str, pd.Series]:
    """Each of `recorded`'s columns for the rows `keys` names (indexed like `keys`), matched
    by key digest. Every row must be found, and rows sharing a key must agree."""
    table = recorded.assign(_key=recorded_keys.to_numpy()).drop_duplicates()
    if table["_key"].duplicated().any():
        raise ProjectError(
            f"{about}; rows of its evaluation split that share a key hold different values "
            "of them: cannot tell which to score"
        )
    table = table.set_index("_key")
    new = int((~keys.isin(table.index)).sum())
    if new:
        raise ProjectError(
            f"{about}; {new} of the {len(keys)} evaluation rows are not in its evaluation "
            "split (rows added since), so it cannot be scored on them: add rows and drop or "
            "rename columns in separate pull requests"
        )
    return {
        name: pd.Series(table[name].reindex(keys.to_numpy()).array, index=keys.index)
        for name in recorded.columns
    }


def training_overlap(settings: Settings, contract: Contract, champion: registry.Version) -> int:
    """How many evaluation rows the champion was trained on: none, or the gate refuses (a
    champion scored on its own training rows looks better than it is). Its training split is
    found by the md5 in its lineage (the local split, DVC's cache, or the DVC remote); rows are
    matched by the contract's row key."""
    md5 = champion.tags.get("lineage.train_md5", "")
    if not md5:
        raise ProjectError(
            f"the champion (version {champion.number}) records no training split md5: cannot "
            "check that none of its training rows are in the evaluation set"
        )
    content = lineage.recorded_bytes(settings.split.train, md5, champion.git_sha)
    trained_on = data.read_raw(io.BytesIO(content), contract)
    key = contract.key_columns
    gone = [name for name in key if name not in trained_on.columns]
    if gone:
        raise ProjectError(
            f"the champion's training split (version {champion.number}) has no key column "
            f"{', '.join(gone)}: the key changed since it was trained, so the gate cannot check "
            "that none of its training rows are in the evaluation set; bring the old key back "
            "until a model trained with this key serves"
        )
    evaluation_keys = data.key_digests(data.read_raw(settings.split.eval, contract), key)
    overlap = int(evaluation_keys.isin(set(data.key_digests(trained_on, key))).sum())
    if overlap:
        raise ProjectError(
            f"{overlap} of the {len(evaluation_keys)} evaluation rows were in the training data "
            f"of the champion (version {champion.number}), matched by the key "
            f"{', '.join(key)}: the comparison would flatter the champion. The evaluation set "
            "moved (was the key or the split changed?); restore it, or retire the champion"
        )
    return overlap


def _risk(
    settings: Settings, frame: pd.DataFrame, target: pd.Series, probability: np.ndarray
) -> dict[str, Any]:
    fair = settings.fairness
    column = fair.sensitive_column
    if not column:
        return {"enabled": False, "problems": []}
    if column not in frame.columns:
        raise ProjectError(f"fairness.sensitive_column {column!r} is not in the evaluation data")
    # The groups as the file writes them: the typed frame holds a yes/no column as 1.0/0.0.
    as_written = data.read_text(settings.split.eval)[column]
    assessed = fairness.assess(
        column,
        pd.Series(as_written.to_numpy(), index=frame.index),
        target,
        pd.Series(probability, index=target.index),
        settings.evaluate.decision_threshold,
        fair.min_disparate_impact,
        fair.max_equal_opportunity_difference,
        fair.min_group_size,
        fair.missing_values,
    )
    return {"enabled": True, **assessed.as_dict()}
