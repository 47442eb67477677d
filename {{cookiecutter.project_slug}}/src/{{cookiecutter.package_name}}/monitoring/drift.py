"""Is a batch of new data still like the data the production model learned from?

The reference is the production model's evaluation split, found through its lineage tags (the
DVC md5 and the git commit): rows of its data it never learned from, since its scores on rows
it was trained on are sharper than on any new data. The batch's schema is checked first
(Evidently would silently skip a missing column). Then Evidently compares every learned
contract column, with the method and threshold set in params.yaml (PSI for numbers and
Jensen-Shannon distance for categories by default: Evidently's chi-square is a goodness-of-fit
test against the reference's proportions, whose p-value falls with the batch's size alone, so a
big batch of the same population would read as drift), and the model's scores on both
(prediction drift); data quality (rows breaking the contract, unseen categories, growing null
rates) is checked alongside. The batch's scores are the ones production served, read from the
inference log that `predict` writes, where it holds them; a served score that differs from the
model's own score of the same input is training-serving skew, a problem. The batch drifts when
at least `drifted_share` of the columns do, one column goes beyond its critical value, or the
scores drift; too many rows breaking the contract is an alert of its own. A production model
older than `max_staleness_days` asks for retraining too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..control import production, registry
from ..errors import MissingInputError
from ..pipeline import contract as contracts
from ..pipeline import data, evaluation, explanations, lineage
from ..pipeline.contract import Contract, ContractError, load_contract
from ..settings import P_VALUE_METHODS, DriftSettings, Settings
from ..vocabulary import EVAL_MD5
from . import scoring
from .drift_report import (
    Attribution,
    Batch,
    ColumnDrift,
    Decision,
    DriftResult,
    Expected,
    ScoreSources,
    write_outputs,
)

PREDICTION = "prediction"
# The log keeps scores to 6 decimals; a larger difference is not rounding.
SKEW_TOLERANCE = 1e-5
# A hidden line that lets the drift workflow find its one issue again instead of opening more.


def schema_problems(columns: list[str], contract: Contract) -> list[str]:
    """A batch must hold every column a model may learn from, and no column the contract does
    not know (text and id columns may be absent, the target too)."""
    present = set(columns) - {contract.target.name}
    problems = [
        f"column {name} is missing" for name in contract.learned_columns if name not in present
    ]
    problems += [
        f"column {name} is not in the contract" for name in sorted(present - set(contract.columns))
    ]
    return problems


def quality_problems(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    problems_by_row: pd.Series,
    contract: Contract,
    max_increase: float,
) -> list[str]:
    """Rows that break the contract (`problems_by_row`, from scoring.model_view), values
    of `unknown: other` categories never seen before, and columns whose share of missing
    values grew."""
    problems = []
    broken = int((problems_by_row != "").sum())
    if broken:
        first = problems_by_row[problems_by_row != ""].iloc[0]
        problems.append(f"{broken} of {len(current)} rows break the contract (first: {first})")
    for name, count in contracts.unseen_counts(current, contract).items():
        problems.append(f"{name}: {count} values the contract does not list (scored as other)")
    for name in contract.learned_columns:
        before, now = reference[name].isna().mean(), current[name].isna().mean()
        if now - before > max_increase:
            problems.append(f"{name}: missing values rose from {before:.1%} to {now:.1%}")
    return problems


def drift_view(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The learned columns as the model sees them (unseen categories as the `other` level),
    in plain types Evidently reads: numbers as floats, the rest as text."""
    view = contracts.typed(frame, contract, contract.learned_columns)
    for name in contract.learned_columns:
        if not contract.columns[name].is_numeric:
            view[name] = view[name].astype(object).where(view[name].notna(), None)
    return view


# Same-population batches cross a category's noise floor this rarely (per column and batch),
# estimated from this many simulated pairs of samples.
NOISE_FALSE_ALARM_RATE = 0.001
NOISE_DRAWS = 5_000


def _js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon distance (natural log, as Evidently computes it)."""
    middle = (p + q) / 2

    def divergence(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms: np.ndarray = np.where(a > 0, a * np.log(a / middle), 0.0)
        summed: np.ndarray = terms.sum(axis=1)
        return summed

    distance: np.ndarray = np.sqrt(np.maximum((divergence(p) + divergence(q)) / 2, 0.0))
    return distance


def sampling_noise(shares: np.ndarray, batch_rows: int, reference_rows: int) -> float:
    """The Jensen-Shannon distance that a batch and a reference drawn from one population
    (`shares` per level) exceed only at NOISE_FALSE_ALARM_RATE, by simulating such pairs with
    a fixed seed. It grows with the levels and shrinks with the rows: a 50-level category of a
    1,000-row batch reaches 0.1 by chance alone; 50,000 rows do not."""
    if len(shares) < 2 or not batch_rows or not reference_rows:
        return 0.0
    rng = np.random.default_rng(0)
    batch = rng.multinomial(batch_rows, shares, size=NOISE_DRAWS) / batch_rows
    reference = rng.multinomial(reference_rows, shares, size=NOISE_DRAWS) / reference_rows
    distances = _js_distance(batch, reference)
    return round(float(np.quantile(distances, 1 - NOISE_FALSE_ALARM_RATE)), 4)


def category_thresholds(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], settings: DriftSettings
) -> dict[str, float]:
    """Per category column, the Jensen-Shannon threshold: the one in params.yaml, raised to
    the column's sampling noise for the reference's levels and these batch sizes, so that a
    batch of the same population never reads as drift only because it is small."""
    if settings.categorical_method != "jensenshannon":
        return {}
    thresholds = {}
    for name in columns:
        shares = reference[name].value_counts(normalize=True).to_numpy()
        rows = int(current[name].notna().sum()), int(reference[name].notna().sum())
        noise = sampling_noise(shares, *rows)
        thresholds[name] = max(settings.categorical_threshold, noise)
    return thresholds


def _evidently_report(
    reference: pd.DataFrame, current: pd.DataFrame, contract: Contract, settings: DriftSettings
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    learned = contract.learned_columns
    numeric = [name for name in learned if contract.columns[name].is_numeric]
    categories = [name for name in learned if name not in numeric]
    definition = DataDefinition(
        numerical_columns=[*numeric, PREDICTION], categorical_columns=categories
    )
    report = Report(
        [
            DataDriftPreset(
                columns=learned,
                num_method=settings.numeric_method,
                num_threshold=settings.numeric_threshold,
                cat_method=settings.categorical_method,
                cat_threshold=settings.categorical_threshold,
                per_column_threshold=category_thresholds(reference, current, categories, settings),
                drift_share=settings.drifted_share,
            ),
            ValueDrift(column=PREDICTION, method="psi", threshold=settings.prediction_threshold),
        ],
        include_tests=True,  # without it Evidently computes no pass/fail at all
    )
    # Evidently's own calls into pandas raise FutureWarnings (4 to 18 lines before every
    # summary) that nobody using this project can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )


def column_results(snapshot: Any) -> dict[str, ColumnDrift]:
    """Per column (and for the scores): method, threshold, value and whether it drifted, as
    Evidently's own tests judged it."""
    as_dict = snapshot.dict()
    values = {metric["id"]: metric["value"] for metric in as_dict["metrics"]}
    results = {}
    for test in as_dict["tests"]:
        params = test["metric_config"]["params"]
        if not params["type"].endswith("ValueDrift"):
            continue
        results[params["column"]] = ColumnDrift(
            method=params["method"],
            threshold=params["threshold"],
            value=round(float(values[test["metric_config"]["metric_id"]]), 6),
            drifted=test["status"] != "SUCCESS",
        )
    return results


def is_critical(result: ColumnDrift, critical: float) -> bool:
    """A column drifted so far that it alone is drift: a p-value below `critical`, or a
    distance from `critical` up."""
    if result.method in P_VALUE_METHODS:
        return result.value < critical
    return result.value >= critical


def decide(
    columns: dict[str, ColumnDrift],
    numeric: set[str],
    settings: DriftSettings,
    age_days: float | None,
    invalid_share: float,
) -> Decision:
    """Drift when enough feature columns drifted, one drifted beyond its critical value, or
    the scores drifted; stale when the model is older than allowed (or its age is unknown):
    either asks for retraining. Too many rows breaking the contract is an alert of its own."""
    features = {name: result for name, result in columns.items() if name != PREDICTION}
    drifted = sorted(name for name, result in features.items() if result.drifted)
    critical = sorted(
        name
        for name, result in features.items()
        if is_critical(
            result, settings.numeric_critical if name in numeric else settings.categorical_critical
        )
    )
    share = len(drifted) / max(len(features), 1)
    prediction_drifted = PREDICTION in columns and columns[PREDICTION].drifted
    return Decision(
        drift=share >= settings.drifted_share or bool(critical) or prediction_drifted,
        drifted_columns=tuple(drifted),
        critical_columns=tuple(critical),
        drifted_share=round(share, 4),
        prediction_drifted=prediction_drifted,
        invalid_share=round(invalid_share, 4),
        invalid=invalid_share > settings.max_invalid_share,
        model_age_days=None if age_days is None else round(age_days, 2),
        stale=age_days is None or age_days > settings.max_staleness_days,
    )


@dataclass(frozen=True)
class Reference:
    path: Path
    md5: str


def locate_reference(settings: Settings, md5: str, git_sha: str) -> Reference:
    """The production model's evaluation split (DVC md5 `md5`, made at `git_sha`): rows of the
    data it was trained from that it never learned from. A local copy if one matches, else
    fetched through DVC by that md5 and kept at drift.reference."""
    for candidate in (settings.split.eval, settings.drift.reference):
        if candidate.exists() and lineage.file_md5(candidate) == md5:
            return Reference(candidate, md5)
    try:
        content = lineage.recorded_bytes(settings.split.eval, md5, git_sha)
    except FileNotFoundError as error:
        raise MissingInputError(f"the production model's evaluation split: {error}") from None
    target = settings.drift.reference
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return Reference(target, md5)


def batch_scores(
    model: Any, version: registry.Version, view: contracts.ModelView, log: Path
) -> tuple[pd.Series, ScoreSources]:
    """The scores of the rows the model takes (`view` of the batch) as production served them
    (from the inference log), the model's own where the log has none; and how many came from
    where, and how many served ones differ."""
    own = scoring.probabilities(model, view)
    served = scoring.served_scores(log, version, scoring.input_hashes(view.inputs))
    logged = served.notna()
    skewed = int(((served - own).abs() > SKEW_TOLERANCE)[logged].sum())
    sources = ScoreSources(str(log), int(logged.sum()), int((~logged).sum()), skewed)
    return served.where(logged, own), sources


def skew_problem(scores: ScoreSources, version: registry.Version) -> list[str]:
    if not scores.skewed:
        return []
    return [
        f"{scores.skewed} of {scores.served} served scores differ from {version.name} "
        f"version {version.number}'s own score of the same input (training-serving skew)"
    ]


def attribution_drift(model: Any, reference: pd.DataFrame, current: pd.DataFrame) -> Attribution:
    """What the model relies on for the evaluation rows and for the batch (their typed inputs),
    and how far the two rankings agree."""
    baseline = explanations.global_importance(model, reference)
    now = explanations.global_importance(model, current)
    agreement = explanations.ranking_agreement(baseline, now) if now else None
    rows = len(explanations.importance_sample(current))
    return Attribution(
        reference=tuple(baseline.items()),
        current=tuple(now.items()),
        agreement=agreement,
        rows=rows,
    )


def expected_performance(
    served: pd.Series, reference_scores: pd.Series, reference_target: pd.Series, threshold: float
) -> Expected:
    """The batch's ROC AUC and F1 as its scores expect them, and the same estimate on the
    evaluation rows beside their realised figures (`reference_target`: their 0/1 target)."""
    target = reference_target.loc[reference_scores.index].to_numpy()
    scores = reference_scores.to_numpy()
    realised = (
        {name: round(evaluation.score(name, target, scores, threshold), 4)
         for name in ("roc_auc", "f1")}
        if len(set(target)) == 2 else {}
    )  # fmt: skip
    return Expected(
        batch=evaluation.expected_metrics(served.to_numpy(), threshold),
        evaluation=evaluation.expected_metrics(scores, threshold),
        evaluation_realised=realised,
    )


SAMPLE_SEED = 0  # the same reference rows at every check


def sample(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """At most `rows` rows of the frame (0: all), drawn by a fixed seed, in the frame's order."""
    if not rows or len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=SAMPLE_SEED).sort_index()


def check(settings: Settings, current_path: Path, now: datetime | None = None) -> DriftResult:
    """The whole check; writes drift.json, drift.html and drift.md. Problems that stop it
    (a schema mismatch, no production model, no reference data) raise."""
    contract = load_contract(settings.data.contract)
    current = data.read_raw(current_path, contract)
    problems = schema_problems(list(current.columns), contract)
    if problems:
        raise ContractError(f"{current_path}: {'; '.join(problems)}")
    # What git declares for production, its bytes checked against git's digest.
    serving = production.require(registry.connect(), settings)
    version, model = serving.version, serving.model
    # The reference is the model's own evaluation split, as its lineage records it: its scores
    # on rows it was trained on are sharper than on any new data, and would make every batch
    # look like prediction drift.
    md5 = version.tags.get(EVAL_MD5, "")
    reference_file = locate_reference(settings, md5, version.git_sha)
    whole_reference = data.read_raw(reference_file.path, contract)
    reference = sample(whole_reference, settings.drift.sample_rows)
    seen = scoring.model_view(current, contract, model)
    served, scores = batch_scores(model, version, seen, settings.predict.log)
    reference_view = drift_view(reference, contract)
    reference_seen = scoring.model_view(reference, contract, model)
    reference_scores = scoring.probabilities(model, reference_seen)
    reference_view[PREDICTION] = reference_scores
    current_view = drift_view(current.loc[seen.inputs.index], contract)
    current_view[PREDICTION] = served
    snapshot = _evidently_report(
        reference_view.reset_index(drop=True),
        current_view.reset_index(drop=True),
        contract,
        settings.drift,
    )
    moment = now or datetime.now(UTC)
    trained = version.commit_time
    age_days = (moment.timestamp() - trained) / 86400 if trained else None
    numeric = {name for name, column in contract.columns.items() if column.is_numeric}
    invalid_share = float((~seen.usable).mean()) if len(current) else 0.0
    columns = column_results(snapshot)
    quality = quality_problems(
        reference, current, seen.problems, contract, settings.drift.max_null_rate_increase
    )
    result = DriftResult(
        decision=decide(columns, numeric, settings.drift, age_days, invalid_share),
        columns=columns,
        quality=tuple(quality + skew_problem(scores, version)),
        scores=scores,
        attribution=attribution_drift(model, reference_seen.inputs, seen.inputs),
        expected=expected_performance(
            served,
            reference_scores,
            contracts.typed(reference, contract, [contract.target.name])[contract.target.name],
            settings.evaluate.decision_threshold,
        ),
        model_name=version.name,
        model_version=version.number,
        reference=Batch(str(reference_file.path), md5, len(whole_reference), len(reference)),
        current=Batch(
            str(current_path), lineage.data_md5(current_path), len(current), len(current)
        ),
        thresholds=settings.drift,
        checked_at=moment.isoformat(timespec="seconds"),
    )
    write_outputs(result, snapshot, settings.drift)
    return result
