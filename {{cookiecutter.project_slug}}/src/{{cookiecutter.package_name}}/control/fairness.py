"""The risk gate's measures: how a model's decisions differ between groups of a sensitive column.

- Disparate impact: the lowest group's selection rate (share predicted positive) divided by the
  highest's. The common "four-fifths rule" asks for at least 0.8.
- Equal-opportunity difference: the largest gap between groups in true positive rate (recall),
  i.e. in how often people who really are positive are recognised as such.

In this model "positive" means "predicted to default", so a low selection rate is the favourable
outcome; both measures are symmetric and read the same either way.

Every evaluation row is counted: groups are named by the column's values as the data writes them
(a yes/no column's groups are "yes" and "no", not 1.0 and 0.0), and rows without a value form the
group "(missing)", or, where `fairness.missing_values` is `refuse`, block the gate with their count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

DIGITS = 9  # measures are compared with their limits after rounding off float noise
MISSING_GROUP = "(missing)"  # the group of rows whose sensitive value is missing
MissingValues = Literal["group", "refuse"]


@dataclass(frozen=True)
class GroupRates:
    size: int
    share: float  # of the evaluation rows
    positives: int
    selection_rate: float
    true_positive_rate: float | None  # None when the group has no actual positives


@dataclass(frozen=True)
class RiskResult:
    column: str
    rows: int = 0  # evaluation rows; the groups' sizes add up to it
    missing: int = 0  # rows without a sensitive value
    groups: dict[str, GroupRates] = field(default_factory=dict)
    disparate_impact: float | None = None
    equal_opportunity_difference: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def group_names(values: pd.Series) -> pd.Series:
    """Each row's group: the value as the data writes it (stripped), MISSING_GROUP when empty."""
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), MISSING_GROUP).astype(object)


def group_rates(
    groups: pd.Series, target: pd.Series, probability: pd.Series, threshold: float
) -> dict[str, GroupRates]:
    """Selection rate and true positive rate for every group present in the data (missing
    values as the group MISSING_GROUP)."""
    names = group_names(groups)
    predicted = probability >= threshold
    rates = {}
    for name in sorted(names.unique()):
        member = names == name
        actual = target[member] == 1
        positives = int(actual.sum())
        rates[name] = GroupRates(
            size=int(member.sum()),
            share=round(float(member.mean()), 4),
            positives=positives,
            selection_rate=float(predicted[member].mean()),
            true_positive_rate=float(predicted[member][actual].mean()) if positives else None,
        )
    return rates


def disparate_impact(selection_rates: list[float]) -> float | None:
    """The lowest selection rate over the highest; None when nobody is selected."""
    if not selection_rates or max(selection_rates) <= 0:
        return None
    # Rounded so that a ratio of exactly 4/5 is 0.8 and not 0.7999999999999999.
    return round(min(selection_rates) / max(selection_rates), DIGITS)


def assess(
    column: str,
    groups: pd.Series,
    target: pd.Series,
    probability: pd.Series,
    threshold: float,
    min_disparate_impact: float,
    max_equal_opportunity_difference: float,
    min_group_size: int,
    missing_values: MissingValues = "group",
) -> RiskResult:
    """Measure the model on each group and judge it against the thresholds. Anything that
    makes a measure undefined (one group only, a tiny group, a group with no positives, nobody
    selected at all) is a failure with its reason: the risk gate cannot decide, so it blocks.
    `groups` holds the column's values as the data writes them."""
    rates = group_rates(groups, target, probability, threshold)
    missing = rates[MISSING_GROUP].size if MISSING_GROUP in rates else 0
    counted = RiskResult(column=column, rows=len(groups), missing=missing)
    problems = []
    if missing and missing_values == "refuse":
        problems.append(
            f"{column}: {missing} of {len(groups)} evaluation rows have no value "
            "(fairness.missing_values: refuse)"
        )
        del rates[MISSING_GROUP]
    if len(rates) < 2:
        problems.append(f"{column}: fewer than two groups in the evaluation set ({list(rates)})")
    small = [f"{name} ({r.size})" for name, r in rates.items() if r.size < min_group_size]
    if small:
        problems.append(f"{column}: groups smaller than {min_group_size}: {', '.join(small)}")
    if problems:
        return replace(counted, groups=rates, problems=problems)

    impact = disparate_impact([r.selection_rate for r in rates.values()])
    if impact is None:
        problems.append(f"{column}: the model selects nobody, disparate impact is undefined")
    elif impact < min_disparate_impact:
        problems.append(
            f"{column}: disparate impact {impact:.3f} is below {min_disparate_impact:.2f}"
        )

    recalls = [r.true_positive_rate for r in rates.values()]
    if any(rate is None for rate in recalls):
        without = [name for name, r in rates.items() if r.true_positive_rate is None]
        problems.append(f"{column}: no actual positives in group(s) {', '.join(without)}")
        gap = None
    else:
        known = [rate for rate in recalls if rate is not None]
        gap = round(max(known) - min(known), DIGITS)
        if gap > max_equal_opportunity_difference:
            problems.append(
                f"{column}: equal-opportunity difference {gap:.3f} exceeds "
                f"{max_equal_opportunity_difference:.2f}"
            )
    return replace(
        counted,
        groups=rates,
        disparate_impact=impact,
        equal_opportunity_difference=gap,
        problems=problems,
    )
