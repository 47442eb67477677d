"""A data set that looks nothing like the shipped sample, for the bring-your-own-data test.

Customer churn for a subscription service: other column names, a yes/no target, a string id,
free text, a date, a yes/no feature, a 40-level category whose levels include words YAML would
read as booleans, missing values in several columns, and a sensitive attribute that the outcome
does not depend on. Deterministic for a seed; a later seed gives new customers (new ids, new
notes), as held-out rows would be.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np

PLANS = ["basic", "plus", "premium"]
CHANNELS = ["web", "app", "partner", "on", "no"]  # "on" and "no": YAML 1.1 would say true/false
REGIONS = [f"region-{i:02d}" for i in range(40)]
WORDS = "late bill refund slow app great price call wifi outage upgrade cancel support".split()
COLUMNS = [
    "customer_ref",
    "plan",
    "signup_channel",
    "region",
    "monthly_fee",
    "tenure_months",
    "support_calls",
    "satisfaction",
    "paperless",
    "last_login",
    "agent_notes",
    "sex",
    "churned",
]


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_customers(rows: int, seed: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, rows, p=[0.5, 0.3, 0.2])
    fee = np.array([{"basic": 19.0, "plus": 39.0, "premium": 69.0}[p] for p in plan])
    fee = (fee + rng.normal(0, 3, rows)).round(2)
    tenure = rng.gamma(2.0, 14.0, rows).round().astype(int)
    calls = rng.poisson(1.5, rows)
    satisfaction = rng.normal(3.4, 0.9, rows).clip(1, 5).round(1)
    channel = rng.choice(CHANNELS, rows, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    region = rng.choice(REGIONS, rows)
    paperless = rng.choice(["Yes", "No"], rows, p=[0.6, 0.4])
    sex = rng.choice(["F", "M"], rows)
    risk = (
        -0.9
        - 0.045 * tenure
        + 0.45 * calls
        - 0.9 * (satisfaction - 3.4)
        + 0.02 * (fee - 35)
        + 0.5 * (channel == "partner")
        - 0.3 * (paperless == "Yes")
    )
    churned = np.where(rng.random(rows) < _logistic(risk), "yes", "no")
    start = date(2026, 1, 1)
    records = []
    for i in range(rows):
        notes = " ".join(rng.choice(WORDS, rng.integers(2, 6)))
        records.append(
            {
                "customer_ref": f"C{seed % 1000:03d}-{i:06d}",
                "plan": str(plan[i]),
                "signup_channel": str(channel[i]),
                "region": str(region[i]),
                "monthly_fee": f"{fee[i]:.2f}",
                "tenure_months": str(tenure[i]),
                "support_calls": "" if rng.random() < 0.08 else str(calls[i]),
                "satisfaction": "" if rng.random() < 0.15 else f"{satisfaction[i]:.1f}",
                "paperless": str(paperless[i]),
                "last_login": (start - timedelta(days=int(rng.integers(0, 400)))).isoformat(),
                "agent_notes": f"{notes} #{rng.integers(0, 10_000)}",
                "sex": str(sex[i]),
                "churned": str(churned[i]),
            }
        )
    return records


def to_csv(records: list[dict[str, str]], columns: list[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
