"""How long the gate's bootstrap takes, and how much memory, on an evaluation set of ROWS rows
(two models' scores, made up): `uv run python tests/bench_bootstrap.py --rows 7500000`.
Prints one JSON line: the rows, the path taken (rows, or cells past EXACT_BOOTSTRAP_ROWS),
the cells, the seconds, the process's peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from {{ cookiecutter.package_name }}.control import comparison

METRICS = ("roc_auc", "pr_auc", "f1", "brier")


def made_up_scores(rows: int, agreement: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A target and two models' scores that share `agreement` of their noise (real models of
    the same data agree closely: fewer cells)."""
    rng = np.random.default_rng(0)
    target = (rng.random(rows) < 0.25).astype(np.int64)
    shared = rng.normal(0, 1, rows)
    scores = []
    for lift in (1.2, 1.3):
        noise = agreement * shared + (1 - agreement**2) ** 0.5 * rng.normal(0, 1, rows)
        scores.append(1 / (1 + np.exp(-(lift * target + noise - 1))))
    return target, scores[0], scores[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--agreement", type=float, default=0.9)
    args = parser.parse_args()
    target, champion, challenger = made_up_scores(args.rows, args.agreement)
    models = {"challenger": (challenger, METRICS), "champion": (champion, METRICS[:1])}
    started = time.perf_counter()
    values = comparison.resampled_values(models, target, 0.5, args.resamples, 7)
    interval = comparison.paired_interval(
        "roc_auc", values, target, champion, challenger, 0.5, args.resamples, 0.95
    )
    seconds = time.perf_counter() - started
    by_cells = args.rows > comparison.EXACT_BOOTSTRAP_ROWS
    cells = len(comparison.cells([challenger, champion], target, 0.5)[1]) if by_cells else None
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "rows": args.rows, "resamples": args.resamples, "path": "cells" if by_cells else "rows",
        "cells": cells, "seconds": round(seconds, 1), "peak_mib": round(peak_mib),
        "roc_auc_improvement": [interval.low, interval.high],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
