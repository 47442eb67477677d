"""A synthetic loan-default population: the project's sample data, and its tests' own data.

The tests build every data set they use from here, in their own temporary folders, so that
they never read or write the project's data (which, once you bring your own, looks nothing
like this). `shift` makes a drifted batch of the same population.
"""

from __future__ import annotations

import csv
import io

import numpy as np

PURPOSES = [
    "debt_consolidation",
    "car",
    "home_improvement",
    "education",
    "medical",
    "small_business",
    "other",
]
HOME_OWNERSHIP = ["rent", "own", "mortgage"]
GENDERS = ["female", "male"]

COLUMNS = [
    "age",
    "annual_income",
    "loan_amount",
    "term_months",
    "interest_rate",
    "credit_score",
    "employment_years",
    "debt_to_income",
    "open_accounts",
    "delinquencies_2y",
    "home_ownership",
    "purpose",
    "gender",
    "defaulted",
]


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_loans(rows: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    """Return `rows` loan applications with a `defaulted` target.

    `shift` (0 = the reference population) lowers credit scores, raises debt-to-income and
    moves the purpose mix towards small businesses, as a recession would.
    """
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41 - 3 * shift, 12, rows), 18, 75).round().astype(int)
    gender = rng.choice(GENDERS, rows, p=[0.48, 0.52])
    income = np.exp(rng.normal(10.9 + 0.06 * (gender == "male"), 0.55, rows))
    annual_income = np.clip(income, 8_000, 500_000).round(2)
    loan_amount = np.clip(rng.gamma(2.2, 6_000, rows), 1_000, 50_000).round(2)
    term_months = rng.choice([36, 60], rows, p=[0.7, 0.3])
    credit_score = np.clip(rng.normal(690 - 60 * shift, 70, rows), 300, 850).round().astype(int)
    employment_years = np.clip(rng.gamma(2.0, 3.5, rows), 0, 45).round(1)
    missing_employment = rng.random(rows) < 0.03
    debt_to_income = np.clip(rng.beta(2.5, 7.0, rows) + 0.15 * shift, 0, 1.5).round(3)
    open_accounts = rng.poisson(7, rows).clip(0, 40)
    delinquencies = rng.poisson(0.3 + 0.4 * shift, rows).clip(0, 20)
    home_ownership = rng.choice(HOME_OWNERSHIP, rows, p=[0.4, 0.15, 0.45])
    purpose_mix = np.array([0.45, 0.15, 0.12, 0.08, 0.06, 0.06 + 0.2 * shift, 0.08])
    purpose = rng.choice(PURPOSES, rows, p=purpose_mix / purpose_mix.sum())
    interest_rate = np.clip(
        28 - 0.028 * (credit_score - 300) + rng.normal(0, 1.5, rows) + 1.5 * (term_months == 60),
        3,
        30,
    ).round(2)

    risk = (
        -2.4
        - 0.012 * (credit_score - 690)
        + 3.2 * (debt_to_income - 0.27)
        + 0.55 * delinquencies
        + 0.09 * (interest_rate - 12)
        + 0.35 * (term_months == 60)
        - 0.25 * np.log(annual_income / 55_000)
        + 0.6 * (loan_amount / annual_income)
        - 0.02 * np.where(missing_employment, 0, employment_years)
        + 0.5 * (purpose == "small_business")
        + 0.3 * (home_ownership == "rent")
        - 0.008 * (age - 41)
    )
    defaulted = (rng.random(rows) < _logistic(risk)).astype(int)

    records = []
    for i in range(rows):
        records.append(
            {
                "age": int(age[i]),
                "annual_income": f"{annual_income[i]:.2f}",
                "loan_amount": f"{loan_amount[i]:.2f}",
                "term_months": int(term_months[i]),
                "interest_rate": f"{interest_rate[i]:.2f}",
                "credit_score": int(credit_score[i]),
                "employment_years": "" if missing_employment[i] else f"{employment_years[i]:.1f}",
                "debt_to_income": f"{debt_to_income[i]:.3f}",
                "open_accounts": int(open_accounts[i]),
                "delinquencies_2y": int(delinquencies[i]),
                "home_ownership": str(home_ownership[i]),
                "purpose": str(purpose[i]),
                "gender": str(gender[i]),
                "defaulted": int(defaulted[i]),
            }
        )
    return records


def to_csv(records: list[dict[str, object]]) -> str:
    """Render records as CSV text with Unix line endings, so the bytes (and DVC md5) are stable."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
