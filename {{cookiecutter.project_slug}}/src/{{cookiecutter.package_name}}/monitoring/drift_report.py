"""What the drift check says, in every form it is read: its typed result, drift.json, the
Markdown summary (job summary and the one issue, found again by its hidden marker) and the few
words of its reason. A check that could not decide says so in the same files, never as a verdict.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..control.report import text
from ..pipeline.explanations import AGREEMENT_LINE
from ..pipeline.tracking import without_secrets
from ..settings import DriftSettings
from ..vocabulary import DRIFT_REPORT_MARKER


@dataclass(frozen=True)
class ColumnDrift:
    """One column's (or the scores') comparison, as Evidently's own test judged it."""

    method: str
    threshold: float
    value: float
    drifted: bool


@dataclass(frozen=True)
class Decision:
    """What the check decided (drift.decide): drift and staleness ask for retraining; too many
    rows breaking the contract is an alert of its own."""

    drift: bool
    drifted_columns: tuple[str, ...]
    critical_columns: tuple[str, ...]
    drifted_share: float
    prediction_drifted: bool
    invalid_share: float
    invalid: bool
    model_age_days: float | None
    stale: bool

    @property
    def retrain(self) -> bool:
        return self.drift or self.stale

    @property
    def alert(self) -> bool:
        return self.drift or self.stale or self.invalid


@dataclass(frozen=True)
class Batch:
    path: str
    md5: str
    rows: int
    compared: int  # rows compared: all, or a sample of the reference (drift.sample_rows)


@dataclass(frozen=True)
class Attribution:
    """What the model relies on (explanations.global_importance) on the evaluation rows and on
    the batch, and how far the batch's ranking of the columns agrees (ranking_agreement): a
    figure to watch, not a reason to retrain on its own."""

    # (column, mean absolute contribution) pairs, largest first: a ranking, kept as one in JSON
    reference: tuple[tuple[str, float], ...]
    current: tuple[tuple[str, float], ...]
    agreement: float | None
    rows: int  # the batch rows it was measured on


@dataclass(frozen=True)
class Expected:
    """ROC AUC and F1 without labels (evaluation.expected_metrics) on the batch's scores, and
    on the evaluation rows beside what their labels say: how far the estimate can be trusted.
    Empty where the scores or labels leave a figure undefined."""

    batch: dict[str, float]
    evaluation: dict[str, float]
    evaluation_realised: dict[str, float]


@dataclass(frozen=True)
class ScoreSources:
    """Where the batch's scores came from: served (the inference log) or scored now; and how
    many served ones differ from the model's own score of the same input."""

    log: str
    served: int
    scored_now: int
    skewed: int


@dataclass(frozen=True)
class DriftResult:
    decision: Decision
    columns: dict[str, ColumnDrift]
    quality: tuple[str, ...]
    scores: ScoreSources
    attribution: Attribution
    expected: Expected
    model_name: str
    model_version: int
    reference: Batch
    current: Batch
    thresholds: DriftSettings
    checked_at: str

    def as_json(self) -> dict[str, Any]:
        """drift.json: the decision's fields at the top, beside what it was made from."""
        fields = asdict(self)
        decision = fields.pop("decision")
        fields["model"] = {"name": fields.pop("model_name"), "version": fields.pop("model_version")}
        fields["thresholds"] = self.thresholds.model_dump(mode="json")
        verdicts = {"retrain": self.decision.retrain, "alert": self.decision.alert}
        return {**decision, **verdicts, **fields}


def _compared(reference: Batch) -> str:
    if reference.compared == reference.rows:
        return f"the {reference.rows}"
    return f"a sample of {reference.compared} of the {reference.rows} (drift.sample_rows)"


def summary(result: DriftResult) -> str:
    """Markdown for the issue and the job summary: verdict first, then every column."""
    decided = result.decision
    verdict = "drift detected" if decided.drift else "no drift"
    if decided.invalid:
        verdict += f"; {decided.invalid_share:.0%} of rows break the data contract"
    headline = f"## {'⚠️' if decided.alert else '✅'} {verdict}"
    critical = ", ".join(map(text, decided.critical_columns))
    lines = [
        f"{headline}{' (model stale: retrain)' if decided.stale and not decided.drift else ''}",
        "",
        f"Batch `{result.current.path}` ({result.current.rows} rows) against "
        f"{_compared(result.reference)} evaluation rows of the data "
        f"{result.model_name} version {result.model_version} was trained and "
        f"evaluated on (md5 `{result.reference.md5}`).",
        f"Drifted columns: {', '.join(map(text, decided.drifted_columns)) or 'none'} "
        f"({decided.drifted_share:.0%}; drift from {result.thresholds.drifted_share:.0%}"
        + (f"; beyond the critical value: {critical}" if critical else "")
        + f"). Model age: {decided.model_age_days} days.",
        f"Scores: {result.scores.served} as served (inference log), "
        f"{result.scores.scored_now} scored now.",
        "",
        "| column | method | value | threshold | drifted |",
        "|---|---|---:|---:|---|",
    ]
    for name, column in result.columns.items():
        mark = "❌" if column.drifted else "✅"
        lines.append(
            f"| {text(name)} | {column.method} | {column.value:.4f} "
            f"| {column.threshold:g} | {mark} |"
        )
    quality = "; ".join(map(text, result.quality)) or "no problems"
    lines += ["", f"Data quality: {quality}.", "", *_expected_lines(result.expected)]
    lines += ["", *_attribution_lines(result.attribution)]
    return "\n".join(lines) + "\n"


def _figures(values: dict[str, float]) -> str:
    if not values:
        return "undefined"
    return f"ROC AUC {values['roc_auc']:.3f}, F1 {values['f1']:.3f}"


def _expected_lines(expected: Expected) -> list[str]:
    return [
        "Expected performance without labels (CBPE: each score taken as the chance of the "
        f"positive class): {_figures(expected.batch)} on this batch. On the evaluation rows the "
        f"estimate is {_figures(expected.evaluation)} and their labels say "
        f"{_figures(expected.evaluation_realised)}: the estimate holds as far as the scores are "
        "calibrated, and cannot see a change in what the inputs mean (only labels can)."
    ]


def _attribution_lines(attribution: Attribution) -> list[str]:
    agreement = attribution.agreement
    if agreement is None:
        return [
            "What the model relies on: not measured (no batch rows the model could take, or "
            "no contribution on the evaluation rows to rank by)."
        ]
    below = agreement < AGREEMENT_LINE
    said = (
        f"What the model relies on: the batch ranks its columns with an agreement (nDCG) of "
        f"{agreement:.3f} to the evaluation rows' ranking "
        f"({'⚠️ below' if below else 'at or above'} {AGREEMENT_LINE}, where SageMaker Clarify "
        f"alerts; measured on {attribution.rows} rows)."
    )
    then, now = (", ".join(text(name) for name, _ in ranked[:5]) for ranked in (
        attribution.reference, attribution.current
    ))  # fmt: skip
    return [said, f"Most relied on, evaluation rows: {then}; this batch: {now}."]


def undecided_summary(reason: str) -> str:
    return f"## ⛔ Drift check could not decide\n\n- {text(reason)}\n"


def reason(decided: Decision, thresholds: DriftSettings) -> str:
    """Why the check raised an alert, in a few words (the retraining PR's title says it)."""
    reasons = []
    if decided.drift and decided.drifted_columns:
        reasons.append(f"drift in {', '.join(decided.drifted_columns)}")
    if decided.prediction_drifted:
        reasons.append("prediction drift")
    if decided.stale:
        reasons.append(f"model older than {thresholds.max_staleness_days} days")
    if decided.invalid:
        reasons.append(f"{decided.invalid_share:.0%} of rows break the data contract")
    return "; ".join(reasons) or "no drift"


def issue_body(summary_text: str) -> str:
    return f"{DRIFT_REPORT_MARKER}\n{summary_text}"


def _write(report: dict[str, Any], summary_text: str, settings: DriftSettings) -> None:
    settings.report.parent.mkdir(parents=True, exist_ok=True)
    settings.report.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", "utf-8")
    settings.summary.write_text(summary_text, encoding="utf-8")


def write_outputs(result: DriftResult, snapshot: Any, settings: DriftSettings) -> None:
    """drift.json, drift.md and Evidently's own drift.html."""
    _write(result.as_json(), summary(result), settings)
    snapshot.save_html(str(settings.html))


def write_undecided(error: Exception, settings: DriftSettings) -> str:
    """drift.json and the summary for a check that could not decide: the reason (credentials
    kept out: the files are for people), no verdict. Returns the summary."""
    reason = without_secrets(str(error))
    said = undecided_summary(reason)
    _write({"error": reason, "retrain": False, "alert": False}, said, settings)
    return said
