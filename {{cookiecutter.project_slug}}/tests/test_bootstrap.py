"""The gate's paired bootstrap scores all resamples at once, as weights: it must give exactly
what scoring each resample's rows one by one gives, for every metric the gate decides on."""

from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.control import comparison
from {{ cookiecutter.package_name }}.pipeline import evaluation

METRICS = ["roc_auc", "pr_auc", "f1"]
# How far an end of the interval on cells may be from the row-by-row one's, as a share of the
# interval's width. Measured on 60,000 rows (base rates 0.25 and 0.02, two seeds each): at most
# 0.10 (F1 at 0.02, seed 5), mostly under 0.05: the two bootstraps' own draws (the bins' bias
# is taken out by comparison._recentre).
CELL_TOLERANCE = 0.1


def scores(rows: int, base_rate: float, seed: int) -> tuple[np.ndarray, ...]:
    """A target and two models' scores; the champion's are rounded, so ties abound."""
    rng = np.random.default_rng(seed)
    target = (rng.random(rows) < base_rate).astype(int)
    champion = np.clip(target * 0.3 + rng.random(rows) * 0.7, 0, 1).round(2)
    challenger = np.clip(target * 0.25 + rng.random(rows) * 0.75, 0, 1)
    return target, champion, challenger


def one_by_one(
    metric: str, target: np.ndarray, champion: np.ndarray, challenger: np.ndarray, seed: int
) -> tuple[float, float, int]:
    """The bootstrap as it was first written: draw each resample's rows, score them, repeat."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(1000):
        pick = rng.integers(0, len(target), len(target))
        if target[pick].min() == target[pick].max():
            continue
        differences.append(
            evaluation.score(metric, target[pick], challenger[pick], 0.5)
            - evaluation.score(metric, target[pick], champion[pick], 0.5)
        )
    low, high = np.quantile(differences, [0.025, 0.975])
    return round(float(low), 6), round(float(high), 6), len(differences)


@pytest.mark.parametrize("metric", METRICS)
def test_resampled_scores_equal_scoring_the_drawn_rows(metric: str) -> None:
    """Scored as weights, each resample's metric equals the metric of its drawn rows (to
    1e-12), ties and rows never drawn included."""
    target, champion, _ = scores(400, 0.3, seed=1)
    rng = np.random.default_rng(2)
    picks = [rng.integers(0, 400, 400) for _ in range(25)]
    counts = np.stack([np.bincount(pick, minlength=400) for pick in picks]).astype(float)
    weighted = evaluation.resampled_scores(metric, target, champion, counts, 0.5)
    drawn = [evaluation.score(metric, target[pick], champion[pick], 0.5) for pick in picks]
    np.testing.assert_allclose(weighted, drawn, rtol=0, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("rows", "base_rate"), [(2001, 0.24), (60, 0.1)], ids=["large", "tiny"])
def test_the_interval_is_the_one_scoring_resamples_one_by_one_gives(
    metric: str, rows: int, base_rate: float
) -> None:
    """Same seed, same interval as the one-resample-at-a-time bootstrap, to 6 decimals, also
    when small sets make some resamples single-class (they are skipped alike)."""
    target, champion, challenger = scores(rows, base_rate, seed=rows)
    low, high, usable = one_by_one(metric, target, champion, challenger, seed=7)
    if usable < comparison.MIN_USABLE_SHARE * 1000:
        with pytest.raises(ValueError, match="resamples hold both classes"):
            comparison.paired_bootstrap(metric, target, champion, challenger, 0.5, 1000, 7, 0.95)
        return
    interval = comparison.paired_bootstrap(metric, target, champion, challenger, 0.5, 1000, 7, 0.95)
    assert (interval.low, interval.high) == (low, high)


def test_memory_stays_bounded_by_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring the resamples in small chunks gives the same interval as all at once."""
    target, champion, challenger = scores(500, 0.3, seed=5)
    whole = comparison.paired_bootstrap("roc_auc", target, champion, challenger, 0.5, 1000, 7, 0.95)
    monkeypatch.setattr(comparison, "BOOTSTRAP_CELLS", 500 * 37)  # 37 resamples per chunk
    chunked = comparison.paired_bootstrap(
        "roc_auc", target, champion, challenger, 0.5, 1000, 7, 0.95
    )
    assert chunked == whole


def continuous_scores(rows: int, seed: int, base_rate: float = 0.25) -> tuple[np.ndarray, ...]:
    """A target and two models' scores without ties, as a large evaluation set has them."""
    rng = np.random.default_rng(seed)
    target = (rng.random(rows) < base_rate).astype(int)
    offset = np.log(base_rate / (1 - base_rate))
    champion = 1 / (1 + np.exp(-(2.0 * target + rng.normal(0, 1, rows) + offset)))
    challenger = 1 / (1 + np.exp(-(2.2 * target + rng.normal(0, 1, rows) + offset)))
    return target, champion, challenger


def paired_intervals(target: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> dict:
    """The paired interval of every metric, all on one set of resamples."""
    metrics = (*METRICS, "brier")
    models = {"challenger": (challenger, metrics), "champion": (champion, metrics)}
    values = comparison.resampled_values(models, target, 0.5, 1000, 7)
    return {
        metric: comparison.paired_interval(
            metric, values, target, champion, challenger, 0.5, 1000, 0.95
        )
        for metric in metrics
    }


@pytest.mark.parametrize("base_rate", [0.25, 0.02])
def test_a_large_set_resampled_by_cells_gives_the_exact_interval_within_its_tolerance(
    base_rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past EXACT_BOOTSTRAP_ROWS, the resamples are drawn over cells of rows (a class and a
    score bin per model): on a set where both run, each end of every metric's interval is
    within CELL_TOLERANCE of the row-by-row bootstrap's (other draws: the difference is the
    two bootstraps' own noise), and its estimate is the exact one; rare positives too."""
    target, champion, challenger = continuous_scores(60_000, seed=3, base_rate=base_rate)
    exact = paired_intervals(target, champion, challenger)
    monkeypatch.setattr(comparison, "EXACT_BOOTSTRAP_ROWS", 50_000)
    by_cells = paired_intervals(target, champion, challenger)
    for metric, interval in by_cells.items():
        assert interval.estimate == exact[metric].estimate
        allowed = CELL_TOLERANCE * (exact[metric].high - exact[metric].low)
        assert abs(interval.low - exact[metric].low) <= allowed, (interval, exact[metric])
        assert abs(interval.high - exact[metric].high) <= allowed, (interval, exact[metric])
        assert interval != exact[metric]  # the cells' own draws were taken


def test_cells_keep_the_threshold_and_the_classes() -> None:
    """No cell holds rows on both sides of the decision threshold or of both classes, and
    every row is in one: F1 at the threshold is the rows' own on the cells."""
    target, champion, challenger = continuous_scores(20_000, seed=4)
    cell_target, sizes, views = comparison.cells([champion, challenger], target, 0.5)
    assert sizes.sum() == len(target)
    assert cell_target @ sizes == target.sum()
    for scores, view in zip((champion, challenger), views, strict=True):
        weights = view.weights(sizes[None, :].astype(float))
        f1 = evaluation.resampled_scores("f1", view.target, view.scores, weights, 0.5)
        assert f1[0] == pytest.approx(evaluation.score("f1", target, scores, 0.5), abs=1e-12)
        assert len(view.target) <= 2 * (comparison.SCORE_BINS + 1)
