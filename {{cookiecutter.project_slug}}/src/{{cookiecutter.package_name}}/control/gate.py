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

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ProjectError
from ..pipeline import data, lineage, tracking, training
from ..pipeline.contract import load_contract
from ..settings import OUTCOME_METRICS, GateSettings, Settings
from ..vocabulary import EVAL_MD5, GATE_VERDICT, GIT_SHA
from . import desired_state, fairness, production, registry
from .champion_data import champion_inputs, contract_at, training_overlap
from .comparison import (
    Scored,
    comparison_problem,
    decide,
    own_intervals,
    paired_interval,
    resampled_values,
    sanity_problems,
    score_model,
    threshold_problems,
)
from .desired_state import Declared
from .gate_result import PASSING, GateResult, Interval, PullRequest


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
    recorded = run_tags.get(EVAL_MD5)
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
        "git_sha": run_tags.get(GIT_SHA),
        "model_sha256": digest,
        "lineage": lineage.lineage_tags(settings),
        "columns": training.model_columns(challenger_model),
    }
    result["challenger"] = challenger.summary()

    serving = production.load(client, settings)  # git's declaration, bytes checked against it
    result["first_model"] = serving is None
    problems = sanity_problems(challenger)
    performance = threshold_problems(challenger, gate)
    champion: Scored | None = None
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
            "trained_with_eval_md5": champion_version.tags.get(EVAL_MD5),
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
    intervals, interval = _bootstraps(gate, target.to_numpy(), threshold, challenger, champion)
    result["challenger"]["intervals"] = intervals
    if interval is not None:
        result["interval"] = interval
        comparison = comparison_problem(gate.primary_metric, interval, gate.rule, gate.margin)
        performance += [comparison] if comparison else []
    result["errors"] += problems
    result["performance_problems"] = performance
    result["risk"] = _risk(settings, frame, target, challenger.probability)


def _bootstraps(
    gate: GateSettings,
    target: np.ndarray,
    threshold: float,
    challenger: Scored,
    champion: Scored | None,
) -> tuple[dict[str, Interval], Interval | None]:
    """On one set of resamples: the challenger's own figures with their intervals, for its
    model card (none where too few resamples hold both classes: the paired comparison says so
    itself), and, where there is a champion, the interval of the improvement on the primary
    metric."""
    primary = gate.primary_metric
    models = {"challenger": (challenger.probability, (*OUTCOME_METRICS, primary))}
    if champion is not None:
        models["champion"] = (champion.probability, (primary,))
    values = resampled_values(models, target, threshold, gate.resamples, gate.seed)
    try:
        intervals = own_intervals(
            OUTCOME_METRICS, values["challenger"], target, challenger.probability, threshold,
            gate.resamples, gate.confidence,
        )  # fmt: skip
    except ProjectError:
        intervals = {}
    if champion is None:
        return intervals, None
    paired = paired_interval(
        primary, values, target, champion.probability, challenger.probability, threshold,
        gate.resamples, gate.confidence,
    )  # fmt: skip
    return intervals, paired


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
    recorded = version.tags.get(GATE_VERDICT, "")
    if recorded not in PASSING:
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
