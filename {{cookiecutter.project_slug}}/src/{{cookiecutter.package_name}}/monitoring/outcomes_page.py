"""The outcomes as one page people look at (`outcomes.html`): per figure, each version's
windows over time with their interval and the line the figure must not cross; the estimate
from the scores beside the realised ROC AUC; fairness; label coverage. Self-contained: inline
SVG, no script and nothing fetched, so the page opens anywhere (an artifact, a mail)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from ..settings import LOWER_IS_BETTER, OUTCOME_METRICS, Settings
from .outcomes import Judgement, Window

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 680, 230, 50, 40, 15
LABEL_WIDTH = 72
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1", "brier": "Brier score"}


Point = tuple[float, float | None, float | None]  # a value, and its interval where it has one


@dataclass
class Series:
    label: str
    colour: str
    points: dict[str, Point]  # by window
    hollow: bool = False


@dataclass
class Chart:
    title: str
    series: list[Series] = field(default_factory=list)
    lines: list[tuple[float, str, str]] = field(default_factory=list)  # value, colour, label


def _y(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / span)


def svg(chart: Chart, windows: list[str]) -> str:
    """One chart: windows along x, each series' points (an interval as a vertical line), the
    limit lines dashed."""
    values = [v for s in chart.series for p in s.points.values() for v in p if v is not None]
    values += [value for value, _, _ in chart.lines]
    if not values or not windows:
        return f"<p>{escape(chart.title)}: nothing to show yet.</p>"
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or 0.05
    low, high = low - pad, high + pad
    step = (WIDTH - LEFT - 10) / max(len(windows), 1)
    x = {window: LEFT + step * (n + 0.5) for n, window in enumerate(windows)}
    parts = [f'<text x="{LEFT}" y="11" class="title">{escape(chart.title)}</text>']
    for tick in (low + pad, (low + high) / 2, high - pad):
        parts.append(f'<text x="4" y="{_y(tick, low, high) + 4:.1f}">{tick:.3f}</text>')
    every = math.ceil(LABEL_WIDTH / step)  # a date label is ~70 px wide: no two overlap
    for window in windows[::every]:
        parts.append(
            f'<text x="{x[window]:.1f}" y="{HEIGHT - 22}" text-anchor="middle">{window}</text>'
        )
    for value, colour, label in chart.lines:
        at = _y(value, low, high)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{at:.1f}" y2="{at:.1f}" stroke="{colour}" '
            f'stroke-dasharray="5,4"><title>{escape(label)}</title></line>'
        )
    for series in chart.series:
        for window, (value, lower, upper) in series.points.items():
            cx, cy = x[window], _y(value, low, high)
            if lower is not None and upper is not None:
                parts.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{_y(lower, low, high):.1f}" '
                    f'y2="{_y(upper, low, high):.1f}" stroke="{series.colour}"/>'
                )
            fill = "white" if series.hollow else series.colour
            parts.append(
                f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{fill}" '
                f'stroke="{series.colour}"><title>{escape(series.label)} {window}: '
                f"{value:.4f}</title></circle>"
            )
    legend = " ".join(
        f'<span style="color:{s.colour}">{"&#9675;" if s.hollow else "&#9679;"} '
        f"{escape(s.label)}</span>"
        for s in chart.series
    )
    body = "".join(parts)
    return (
        f'<figure><svg width="{WIDTH}" height="{HEIGHT}" role="img">{body}</svg>'
        f"<figcaption>{legend}</figcaption></figure>"
    )


def _day(window: Window) -> str:
    return f"{window.start:%Y-%m-%d}"


def _realised(window: Window, metric: str) -> Point | None:
    figure = window.realised.get(metric)
    return None if figure is None else (figure.estimate, figure.low, figure.high)


def charts(judged: list[Judgement], settings: Settings) -> list[Chart]:
    """The page's charts, in reading order."""
    found = [
        Chart(f"{NAMES[m]} on the outcomes ({settings.gate.confidence:.0%} interval)")
        for m in OUTCOME_METRICS
    ]
    expected = Chart("ROC AUC: expected from the scores (hollow) beside realised (filled)")
    impact = Chart("Disparate impact (lowest group's selection rate / highest's)")
    gap = Chart("Equal-opportunity difference (largest gap in true positive rate)")
    coverage = Chart("Label coverage (share of decisions with an outcome)")
    fair = settings.fairness
    impact.lines.append((fair.min_disparate_impact, "#555", "the risk gate's minimum"))
    gap.lines.append((fair.max_equal_opportunity_difference, "#555", "the risk gate's maximum"))
    coverage.lines.append((settings.outcomes.min_coverage, "#555", "a window counts from here"))
    for n, judgement in enumerate(judged):
        colour, label = COLOURS[n % len(COLOURS)], f"version {judgement.version}"
        windows = judgement.windows
        for chart, metric in zip(found, OUTCOME_METRICS, strict=True):
            points = {_day(w): p for w in windows if (p := _realised(w, metric))}
            chart.series.append(Series(label, colour, points))
            if metric in judgement.baseline and metric in settings.outcomes.tolerance:
                tolerance = settings.outcomes.tolerance[metric]
                sign = 1 if metric in LOWER_IS_BETTER else -1
                limit = judgement.baseline[metric] + sign * tolerance
                chart.lines.append((limit, colour, f"{label}: evaluation figure and tolerance"))
        realised = {_day(w): p for w in windows if (p := _realised(w, "roc_auc"))}
        estimate: dict[str, Point] = {
            _day(w): (w.expected["roc_auc"], None, None) for w in windows if "roc_auc" in w.expected
        }
        expected.series += [
            Series(label, colour, realised),
            Series(f"{label} expected", colour, estimate, hollow=True),
        ]
        for chart, name in ((impact, "disparate_impact"), (gap, "equal_opportunity_difference")):
            measured: dict[str, Point] = {}
            for w in windows:
                value = getattr(w.fairness, name) if w.fairness else None
                if value is not None:
                    measured[_day(w)] = (value, None, None)
            chart.series.append(Series(label, colour, measured))
        shares: dict[str, Point] = {_day(w): (w.coverage, None, None) for w in windows}
        coverage.series.append(Series(label, colour, shares))
    charts_ = [*found, expected, coverage]
    return [*charts_, impact, gap] if fair.sensitive_column else charts_


def page(judged: list[Judgement], alerts: list[str], settings: Settings) -> str:
    windows = sorted({_day(w) for j in judged for w in j.windows})
    name = escape(settings.tracking.model_name)
    said = "".join(f"<li>{escape(line)}</li>" for line in alerts) or "<li>No alert.</li>"
    figures = "".join(svg(chart, windows) for chart in charts(judged, settings))
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:760px}"
        "svg text{font-size:11px;fill:#333}svg .title{font-weight:bold}"
        "figure{margin:1.5em 0}figcaption{font-size:13px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Outcomes of {name}</title>"
        f"<style>{style}</style></head><body><h1>Outcomes of {name}</h1>"
        f"<p>{settings.outcomes.window.capitalize()} windows by the time of the decision "
        f"(UTC). The tables and each window's verdict: outcomes.md.</p>"
        f"<ul>{said}</ul>{figures}</body></html>\n"
    )
