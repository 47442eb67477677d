"""The risk gate's measures on small examples worked out by hand: fair treatment passes, a gap
beyond a threshold fails with its number, and anything that leaves a measure undefined blocks."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.control.fairness import (
    MISSING_GROUP,
    GroupRates,
    MissingValues,
    RiskResult,
    assess,
    group_rates,
)

THRESHOLD = 0.5
MIN_DISPARATE_IMPACT = 0.8
MAX_EQUAL_OPPORTUNITY_DIFFERENCE = 0.1


Group = tuple[list[int], list[float]]  # (actual target, predicted probability) per row


def risk(
    groups: dict[str, Group],
    min_group_size: int = 1,
    min_disparate_impact: float = MIN_DISPARATE_IMPACT,
    max_equal_opportunity_difference: float = MAX_EQUAL_OPPORTUNITY_DIFFERENCE,
    missing_values: MissingValues = "group",
) -> RiskResult:
    """assess() on the column "gender", the rows of each group given separately."""
    names = [name for name, (target, _) in groups.items() for _ in target]
    target = [value for rows, _ in groups.values() for value in rows]
    probability = [value for _, rows in groups.values() for value in rows]
    return assess(
        "gender",
        pd.Series(names),
        pd.Series(target),
        pd.Series(probability),
        THRESHOLD,
        min_disparate_impact,
        max_equal_opportunity_difference,
        min_group_size,
        missing_values,
    )


# Two groups of four, each with two actual positives; predicted positive means p >= 0.5.
# Both: 2 of 4 selected, and 1 of the 2 actual positives among them.
EQUAL = {"f": ([1, 1, 0, 0], [0.9, 0.2, 0.7, 0.1]), "m": ([1, 1, 0, 0], [0.8, 0.3, 0.6, 0.4])}


def test_equal_treatment_passes() -> None:
    """Groups selected at the same rate with the same recall pass with impact 1 and gap 0."""
    result = risk(EQUAL)
    assert result.passed
    assert result.problems == []
    assert result.disparate_impact == 1.0
    assert result.equal_opportunity_difference == 0.0


def test_half_the_selection_rate_fails_disparate_impact() -> None:
    """A group selected half as often as the other fails on disparate impact 0.500."""
    # f: 2 of 4 selected (0.5); m: 1 of 4 selected (0.25). Recall is 1 of 2 in both.
    result = risk(
        {"f": ([1, 1, 0, 0], [0.9, 0.1, 0.8, 0.1]), "m": ([1, 1, 0, 0], [0.9, 0.1, 0.1, 0.1])}
    )
    assert not result.passed
    assert result.disparate_impact == 0.5
    assert result.equal_opportunity_difference == 0.0
    assert len(result.problems) == 1
    assert "gender" in result.problems[0]
    assert "disparate impact 0.500" in result.problems[0]
    assert "0.80" in result.problems[0]


def test_true_positive_rate_gap_fails_equal_opportunity() -> None:
    """Recognising every defaulter in one group but half in the other fails on a 0.500 gap."""
    # Both groups: 2 of 4 selected. f: both positives selected (1.0); m: one of two (0.5).
    result = risk(
        {"f": ([1, 1, 0, 0], [0.9, 0.9, 0.1, 0.1]), "m": ([1, 1, 0, 0], [0.9, 0.1, 0.9, 0.1])}
    )
    assert not result.passed
    assert result.disparate_impact == 1.0
    assert result.equal_opportunity_difference == 0.5
    assert len(result.problems) == 1
    assert "equal-opportunity difference 0.500" in result.problems[0]
    assert "0.10" in result.problems[0]


def test_both_measures_failing_report_both() -> None:
    """A model unfair on both measures gets both reasons, not just the first one found."""
    # f: 3 of 4 selected, recall 2 of 2; m: 1 of 4 selected, recall 1 of 2.
    result = risk(
        {"f": ([1, 1, 0, 0], [0.9, 0.9, 0.9, 0.1]), "m": ([1, 1, 0, 0], [0.9, 0.1, 0.1, 0.1])}
    )
    assert result.disparate_impact == pytest.approx(1 / 3)
    assert result.equal_opportunity_difference == 0.5
    assert len(result.problems) == 2
    assert "disparate impact 0.333" in result.problems[0]
    assert "equal-opportunity difference 0.500" in result.problems[1]


def test_thresholds_are_inclusive() -> None:
    """A model exactly at the allowed impact and gap passes: the limits themselves are allowed."""
    # f: 2 of 4 selected, recall 1.0; m: 1 of 4 selected, recall 0.5. Impact 0.5, gap 0.5.
    result = risk(
        {"f": ([1, 1, 0, 0], [0.9, 0.9, 0.1, 0.1]), "m": ([1, 1, 0, 0], [0.9, 0.1, 0.1, 0.1])},
        min_disparate_impact=0.5,
        max_equal_opportunity_difference=0.5,
    )
    assert result.disparate_impact == 0.5
    assert result.equal_opportunity_difference == 0.5
    assert result.passed, result.problems


@pytest.mark.parametrize(
    ("groups", "min_group_size", "reason"),
    [
        pytest.param({"f": EQUAL["f"]}, 1, "fewer than two groups", id="single-group"),
        pytest.param(
            {"f": EQUAL["f"], "m": ([1, 0, 0], [0.8, 0.6, 0.1])}, 4,
            "groups smaller than 4: m (3)", id="group-too-small",
        ),
        pytest.param(
            {"f": ([1, 1, 0, 0], [0.1] * 4), "m": ([1, 1, 0, 0], [0.4] * 4)}, 1,
            "the model selects nobody, disparate impact is undefined", id="nobody-selected",
        ),
        pytest.param(
            {"f": EQUAL["f"], "m": ([0, 0, 0, 0], EQUAL["m"][1])}, 1,
            "no actual positives in group(s) m", id="group-without-positives",
        ),
    ],
)  # fmt: skip
def test_undecidable_risk_blocks_with_its_reason(
    groups: dict[str, Group], min_group_size: int, reason: str
) -> None:
    """When a measure is undefined the risk gate cannot decide, so it fails and says why."""
    result = risk(groups, min_group_size=min_group_size)
    assert not result.passed
    assert len(result.problems) == 1
    assert result.problems[0].startswith("gender: ")
    assert reason in result.problems[0]


def test_small_group_leaves_the_measures_unset() -> None:
    """Too small a group reports no impact or gap at all rather than numbers nobody should trust."""
    result = risk(EQUAL, min_group_size=5)
    assert result.problems == ["gender: groups smaller than 5: f (4), m (4)"]
    assert result.disparate_impact is None
    assert result.equal_opportunity_difference is None
    assert set(result.groups) == {"f", "m"}


def test_group_rates_match_hand_computation() -> None:
    """Size, positives, selection rate and recall per group are what counting by hand gives."""
    groups = pd.Series(["a", "a", "a", "a", "a", "b", "b", "b"])
    target = pd.Series([1, 1, 1, 0, 0, 1, 0, 0])
    # a: selected rows 0, 1, 3 (3 of 5); of its 3 positives, rows 0 and 1 are selected (2 of 3).
    # b: selected row 6 only (1 of 3); its one positive (row 5) is missed (0 of 1).
    # A probability equal to the threshold (row 3) counts as selected, as in the metrics.
    probability = pd.Series([0.9, 0.6, 0.2, 0.5, 0.1, 0.4, 0.7, 0.3])
    rates = group_rates(groups, target, probability, THRESHOLD)
    assert rates == {
        "a": GroupRates(
            size=5, share=0.625, positives=3, selection_rate=0.6, true_positive_rate=2 / 3
        ),
        "b": GroupRates(
            size=3, share=0.375, positives=1, selection_rate=1 / 3, true_positive_rate=0.0
        ),
    }


def test_group_without_positives_has_no_recall() -> None:
    """A group with no actual defaulters has no true positive rate, not a rate of zero."""
    rates = group_rates(pd.Series(["a", "a", "b"]), pd.Series([1, 0, 0]), pd.Series([0.9] * 3), 0.5)
    assert rates["b"].positives == 0
    assert rates["b"].true_positive_rate is None
    assert rates["b"].selection_rate == 1.0


def test_numeric_group_codes_become_string_names() -> None:
    """A column coded 1 and 2 gives groups named "1" and "2", as they appear in gate.json."""
    target, probability = pd.Series([1, 0, 1, 0]), pd.Series([0.9, 0.1, 0.9, 0.1])
    rates = group_rates(pd.Series([1, 1, 2, 2]), target, probability, THRESHOLD)
    assert set(rates) == {"1", "2"}


def test_rows_without_a_value_form_their_own_group() -> None:
    """Rows with no value in the sensitive column (missing or empty) are the group "(missing)":
    every row is counted, and the sizes add up to the rows."""
    groups = pd.Series(["f", "f", "m", "m", None, " "])
    target = pd.Series([1, 0, 1, 0, 1, 0])
    rates = group_rates(groups, target, pd.Series([0.9, 0.1, 0.9, 0.1, 0.9, 0.1]), THRESHOLD)
    assert {name: r.size for name, r in rates.items()} == {MISSING_GROUP: 2, "f": 2, "m": 2}
    assert rates[MISSING_GROUP].share == round(2 / 6, 4)


def test_missing_values_are_measured_as_a_group() -> None:
    """A "(missing)" group is judged like any other: here the model selects it far more often,
    and the disparate impact says so."""
    result = risk({**EQUAL, "": ([1, 1, 0, 0], [0.9, 0.9, 0.9, 0.9])})
    assert result.missing == 4 and result.rows == 12
    assert result.disparate_impact == 0.5
    assert any("disparate impact 0.500" in problem for problem in result.problems)


def test_refusing_missing_values_blocks_with_their_count() -> None:
    """With `missing_values: refuse` (the risk approver's setting), rows without a value block
    the gate, counted, and form no group."""
    result = risk({**EQUAL, "": ([1], [0.9])}, missing_values="refuse")
    assert result.problems == [
        "gender: 1 of 9 evaluation rows have no value (fairness.missing_values: refuse)"
    ]
    assert MISSING_GROUP not in result.groups
    assert risk(EQUAL, missing_values="refuse").passed


def test_rows_are_matched_by_index() -> None:
    """Rows are paired by their index label, so a split's shuffled index never mixes one
    person's group with another's prediction."""
    index = [7, 3, 9, 1]
    groups = pd.Series(["a", "a", "b", "b"], index=index)
    target = pd.Series([1, 0, 1, 0], index=index)
    # By label: 7 -> 0.9, 3 -> 0.1, 9 -> 0.2, 1 -> 0.8. Read by position, a's recall would be 0.
    probability = pd.Series([0.1, 0.8, 0.9, 0.2], index=[3, 1, 7, 9])
    rates = group_rates(groups, target, probability, THRESHOLD)
    assert rates["a"].true_positive_rate == 1.0
    assert rates["b"].true_positive_rate == 0.0


def test_result_dict_is_what_the_gate_writes() -> None:
    """The gate's JSON gets plain per-group numbers and a passed flag that follows the problems."""
    failing = risk({"f": EQUAL["f"]}).as_dict()
    assert failing["passed"] is False
    assert failing["column"] == "gender"
    assert failing["groups"]["f"] == {
        "size": 4,
        "share": 1.0,
        "positives": 2,
        "selection_rate": 0.5,
        "true_positive_rate": 0.5,
    }
    assert risk(EQUAL).as_dict()["passed"] is True


def test_a_ratio_of_exactly_four_fifths_passes() -> None:
    """Selection rates 30/40 and 18/30 are exactly 4/5: that meets a 0.80 limit, float noise
    (0.6 / 0.75 = 0.7999999999999999) notwithstanding."""
    result = risk(
        {
            "f": ([1] * 40, [0.9] * 30 + [0.1] * 10),
            "m": ([1] * 30, [0.9] * 18 + [0.1] * 12),
        },
        max_equal_opportunity_difference=1.0,
    )
    assert result.disparate_impact == 0.8
    assert result.passed, result.problems


def test_a_gap_of_exactly_the_limit_passes() -> None:
    """True positive rates 0.4 and 0.3 differ by exactly 0.1: that meets a 0.10 limit."""
    result = risk(
        {
            "f": ([1] * 10, [0.9] * 4 + [0.1] * 6),
            "m": ([1] * 10, [0.9] * 3 + [0.1] * 7),
        },
        min_disparate_impact=0.01,
    )
    assert result.equal_opportunity_difference == 0.1
    assert result.passed, result.problems
