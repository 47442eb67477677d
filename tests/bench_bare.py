"""The bare limit of each step that tests/benchmark.py times: one plain process that imports
what the step really needs, once, and does the same work, with none of the project's code.

It runs in the baked project's environment (it needs XGBoost) and reads the project's own
params.yaml and data/contract.yaml, so the work is the same: the same rows, the same split
rule, the same model parameters, the same bootstrap (seed, resamples, interval). Each task
prints one JSON line; the benchmark measures the process's wall time and peak memory.

    python bench_bare.py <task> <project folder> [batch.csv]
    python bench_bare.py outcome-log <project folder> <days> <rows a day>   (setup, not a limit)
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

# What the project's steps import besides pandas, numpy and XGBoost: their import is part of
# the limit (counted once per process), their work is not.
HEAVY_IMPORTS = {
    "validate": ["great_expectations"],
    "train": ["mlflow", "sklearn.metrics"],
    "train-dask": ["mlflow", "sklearn.metrics"],
    "pipeline": ["great_expectations", "mlflow", "sklearn.metrics"],
    "loop": ["great_expectations", "mlflow", "sklearn.metrics"],
    "gate": ["mlflow", "sklearn.metrics"],
    "predict": ["mlflow"],
    "drift": ["mlflow", "evidently"],
    "outcomes": ["mlflow", "sklearn.metrics"],
}


class Project:
    """The baked project's settings and contract, read as plain YAML."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.params = yaml.safe_load((root / "params.yaml").read_text())
        self.contract = yaml.safe_load((root / self.params["data"]["contract"]).read_text())
        self.columns: dict[str, dict[str, Any]] = self.contract["columns"]
        self.target = self.contract["target"]["name"]
        skipped = {"text", "id", *self.params["train"]["exclude_columns"]}
        sensitive = self.params["fairness"]["sensitive_column"]
        self.features = [
            name
            for name, column in self.columns.items()
            if column["type"] not in skipped and name not in {sensitive, *skipped}
        ]

    def path(self, section: str, key: str) -> Path:
        return self.root / self.params[section][key]

    def read(self, path: Path) -> pd.DataFrame:
        numeric = {n for n, c in self.columns.items() if c["type"] in ("integer", "float")}
        text = {n: str for n in [*self.columns, self.target] if n not in numeric}
        return pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])

    def model_view(self, frame: pd.DataFrame) -> pd.DataFrame:
        view = {}
        for name in self.features:
            column = self.columns[name]
            if column["type"] == "category":
                view[name] = pd.Categorical(frame[name].str.strip(), categories=column["values"])
            else:
                view[name] = frame[name].astype("float64")
        return pd.DataFrame(view)

    def target_of(self, frame: pd.DataFrame) -> np.ndarray:
        positive = self.contract["target"]["positive"]
        return (frame[self.target].str.strip() == positive).to_numpy(dtype=int)


def validate(project: Project, frame: pd.DataFrame) -> int:
    """The contract's rules as column operations: nulls, ranges, category values, row count."""
    failed = 0
    for name, column in project.columns.items():
        values = frame[name]
        failed += int(values.isna().mean() > column.get("max_null_fraction", 0))
        if column["type"] in ("integer", "float"):
            failed += int((values < column.get("min", -np.inf)).any())
            failed += int((values > column.get("max", np.inf)).any())
        elif column["type"] == "category":
            failed += int((~values.dropna().isin(column["values"])).any())
    return failed + int(len(frame) < project.contract["min_rows"])


def split(project: Project, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The project's split rule: sha256 of the seed and the key text, first 4 bytes."""
    key = frame[project.contract["key"]].astype("string").fillna("")
    joined = key.iloc[:, 0].str.strip()
    for name in key.columns[1:]:
        joined = joined.str.cat(key[name].str.strip(), sep="\x1f")
    prefix = f"{project.params['split']['seed']}\x1f".encode()
    buckets = np.array(
        [int.from_bytes(hashlib.sha256(prefix + k.encode()).digest()[:4]) for k in joined],
        dtype=np.uint64,
    )
    held_out = buckets < project.params["split"]["eval_fraction"] * 2**32
    return frame[~held_out], frame[held_out]


def fit(project: Project, frame: pd.DataFrame) -> Any:
    from xgboost import XGBClassifier

    p = project.params["train"]
    model = XGBClassifier(
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        learning_rate=p["learning_rate"],
        subsample=p["subsample"],
        colsample_bytree=p["colsample_bytree"],
        min_child_weight=p["min_child_weight"],
        reg_lambda=p["reg_lambda"],
        random_state=p["seed"],
        n_jobs=p["n_jobs"],
        tree_method="hist",
        enable_categorical=True,
        eval_metric="logloss",
    )
    model.fit(project.model_view(frame), project.target_of(frame))
    return model


def load(path: Path) -> Any:
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(bytearray(path.read_bytes()))
    return model


def scores(project: Project, model: Any, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(project.model_view(frame))[:, 1])


def importance(project: Project, model: Any, frame: pd.DataFrame) -> dict[str, float]:
    """What the gate and the drift check record of a model: each column's mean absolute
    TreeSHAP contribution on at most 500 rows spread over the frame."""
    from xgboost import DMatrix

    view = project.model_view(frame)
    sample = view.iloc[:: max(1, -(-len(view) // 500))]
    contributions = model.get_booster().predict(
        DMatrix(sample, enable_categorical=True), pred_contribs=True
    )
    mean_absolute = np.abs(contributions[:, :-1]).mean(axis=0).tolist()
    return dict(zip(sample.columns, mean_absolute, strict=True))


def metrics(target: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn import metrics as m

    labels = (probability >= threshold).astype(int)
    return {
        "roc_auc": m.roc_auc_score(target, probability),
        "pr_auc": m.average_precision_score(target, probability),
        "f1": m.f1_score(target, labels, zero_division=0),
        "precision": m.precision_score(target, labels, zero_division=0),
        "recall": m.recall_score(target, labels, zero_division=0),
        "log_loss": m.log_loss(target, probability, labels=[0, 1]),
        "brier": m.brier_score_loss(target, probability),
    }


def weighted_auc(target: np.ndarray, probability: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of each resample (a row of draw counts): sorted once, ties count half."""
    order = np.argsort(probability, kind="stable")
    ordered = probability[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    pos = np.add.reduceat((counts * target)[:, order], starts, axis=1)
    neg = np.add.reduceat((counts * (1 - target))[:, order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    return np.asarray((pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(1) * neg.sum(1)))


def resampled(
    target: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    gate: dict,
    champion: np.ndarray | None = None,
) -> dict:
    """ROC AUC, PR AUC, F1 and Brier with their percentile bootstrap intervals, all four on one
    set of resamples (rows of draw counts, one draw call per resample, in order); given the
    champion's scores, the paired interval of the ROC AUC difference too (low, high), on the
    same resamples: the gate's work."""
    rng = np.random.default_rng(gate["seed"])
    names = ("roc_auc", "pr_auc", "f1", "brier", *(("difference",) if champion is not None else ()))
    rows, values = len(target), {name: [] for name in names}
    chunk = max(1, 20_000_000 // rows)
    chosen = probability >= threshold
    descending = np.argsort(-probability, kind="stable")
    for start in range(0, gate["resamples"], chunk):
        size = min(chunk, gate["resamples"] - start)
        counts = np.stack(
            [np.bincount(rng.integers(0, rows, rows), minlength=rows) for _ in range(size)]
        )
        positives = counts @ target
        counts = counts[(positives > 0) & (positives < rows)].astype(float)
        pos, neg = counts * target, counts * (1 - target)
        values["roc_auc"].append(weighted_auc(target, probability, counts))
        if champion is not None:
            values["difference"].append(
                values["roc_auc"][-1] - weighted_auc(target, champion, counts)
            )
        true_pos = np.cumsum(pos[:, descending], axis=1)  # ties broken by order: a bare bound
        drawn = true_pos + np.cumsum(neg[:, descending], axis=1)
        precision = np.divide(true_pos, drawn, out=np.zeros_like(drawn), where=drawn > 0)
        values["pr_auc"].append((pos[:, descending] * precision).sum(1) / pos.sum(1))
        hits = pos[:, chosen].sum(1)
        wrong = neg[:, chosen].sum(1) + pos[:, ~chosen].sum(1)
        values["f1"].append(2 * hits / (2 * hits + wrong))
        values["brier"].append(counts @ (probability - target) ** 2 / counts.sum(1))
    tail = (1 - gate["confidence"]) / 2
    figures: dict[str, Any] = {
        name: [round(float(q), 6) for q in np.quantile(np.concatenate(v), [tail, 1 - tail])]
        for name, v in values.items()
    }
    if champion is not None:
        figures["low"], figures["high"] = figures.pop("difference")
    return figures


def calibration_error(target: np.ndarray, probability: np.ndarray) -> float:
    bins = np.minimum((probability * 10).astype(int), 9)
    gaps = [abs(target[bins == b].mean() - probability[bins == b].mean()) * (bins == b).sum()
            for b in range(10) if (bins == b).any()]  # fmt: skip
    return float(sum(gaps) / len(target))


def outcomes(project: Project, labels_csv: Path, out: Path) -> dict[str, Any]:
    """`make outcomes`' work on a day of served decisions and their outcomes: that day of the
    log read (the columns needed), joined to the outcomes by request, the joined rows written
    as Parquet, and the window's figures: four with intervals, calibration, the scores'
    expected ROC AUC, and fairness by the sensitive column."""
    import pyarrow.parquet as pq
    from sklearn import metrics as m

    labels = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    day = datetime.fromisoformat(labels["known_at"].iloc[0]).date() - timedelta(days=1)
    columns = ["timestamp", "model_version", "route", "request_id", "row", "probability",
               "sensitive"]  # fmt: skip
    path = project.path("predict", "log") / f"day={day.isoformat()}/decisions.parquet"
    log = pq.read_table(path, columns=columns).to_pandas()
    joined = log.merge(labels, on=["request_id", "row"], how="inner")
    joined.to_parquet(out / "outcomes.parquet", index=False)
    target = project.target_of(joined)
    probability = joined["probability"].astype(float).to_numpy()
    everything = log["probability"].astype(float).to_numpy()
    threshold = project.params["evaluate"]["decision_threshold"]
    figures: dict[str, Any] = resampled(target, probability, threshold, project.params["gate"])
    figures["calibration"] = calibration_error(target, probability)
    # Each score is its row's chance of the positive class: the row counted as both classes,
    # weighted by that chance (the expected ROC AUC without labels).
    both = np.r_[np.ones(len(everything)), np.zeros(len(everything))]
    weights = np.r_[everything, 1 - everything]
    figures["expected_roc_auc"] = float(
        m.roc_auc_score(both, np.r_[everything, everything], sample_weight=weights)
    )
    approved = probability < threshold
    groups = joined["sensitive"].to_numpy()
    shares = {g: approved[groups == g].mean() for g in set(groups)}
    figures["disparate_impact"] = min(shares.values()) / max(shares.values())
    return figures


def outcome_log(project: Project, days: int, rows_a_day: int) -> dict[str, Any]:
    """Setup for the outcomes rows, not a limit: `days` closed days of the inference log,
    ending yesterday, each `rows_a_day` answers of version 1 on the stable route (Parquet, as
    the log keeps a closed day; days already there are kept), and yesterday's outcomes as an
    outcome file (each drawn with its score's probability). Every day holds the same scores
    and groups; its times and request ids are its own."""
    from importlib import import_module

    import pyarrow as pa
    import pyarrow.parquet as pq

    package = project.root.name.replace("-", "_")
    log_columns = import_module(f"{package}.monitoring.inference_log").LOG_COLUMNS
    log = project.path("predict", "log")
    rng = np.random.default_rng(1)
    probability = rng.beta(2, 5, rows_a_day).round(6)
    threshold = project.params["evaluate"]["decision_threshold"]
    target = project.contract["target"]
    positive = target["positive"]
    negative = next(name for name in target["classes"] if name != positive)
    groups = project.columns[project.params["fairness"]["sensitive_column"]]["values"]
    seconds = np.sort(rng.integers(0, 86_400_000, rows_a_day)).astype("timedelta64[ms]")
    numbers = np.arange(rows_a_day).astype(str)
    fixed = {
        "model_name": project.params["tracking"]["model_name"], "model_version": "1",
        "route": "stable", "row": "0", "row_key": "", "input_sha256": "",
        "probability": probability.astype(str),
        "label": np.where(probability >= threshold, positive, negative),
        "latency_ms": "0.5", "sensitive": rng.choice(groups, rows_a_day),
    }  # fmt: skip
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    for back in range(days):
        day = yesterday - timedelta(days=back)
        path = log / f"day={day.isoformat()}/decisions.parquet"
        if path.exists():
            continue
        times = np.datetime64(day.isoformat(), "ms") + seconds
        columns = {
            "timestamp": np.char.add(np.datetime_as_string(times, unit="ms"), "+00:00"),
            "request_id": np.char.add(f"{day:%Y%m%d}-", numbers),
            **fixed,
        }
        table = pa.table({
            name: pa.array(np.broadcast_to(columns[name], rows_a_day), pa.string())
            for name in log_columns
        })  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")
    outcome = np.where(rng.random(rows_a_day) < probability, positive, negative)
    labels = pd.DataFrame({
        "request_id": np.char.add(f"{yesterday:%Y%m%d}-", numbers), "row": "0",
        project.target: outcome, "known_at": f"{yesterday + timedelta(days=1)}T00:00:00+00:00",
    })  # fmt: skip
    labels.to_csv(project.root.parent / "outcomes.csv", index=False)
    return {"days": len(list(log.glob("day=*"))), "rows_a_day": rows_a_day}


def split_and_fit(project: Project, frame: pd.DataFrame, out: Path) -> tuple[pd.DataFrame, Any]:
    """The train stage's work: the split (both halves written), the fit (the model saved);
    the evaluation rows and the model."""
    train, held_out = split(project, frame)
    train.to_csv(out / "train.csv", index=False)
    held_out.to_csv(out / "eval.csv", index=False)
    model = fit(project, train)
    model.save_model(out / "model.ubj")
    return held_out, model


def fit_on_dask(project: Project, train_csv: Path) -> Any:
    """The dask engine's fit, as a plain script: a local cluster of engine.workers processes,
    the split file cut into workers x partitions_per_worker partitions, DaskXGBClassifier with
    the same parameters; no placement, no checks (the project's own work on top)."""
    import dask.dataframe as dd
    import xgboost.dask
    from distributed import Client, LocalCluster

    engine, p = project.params["engine"], project.params["train"]
    numeric = {n for n, c in project.columns.items() if c["type"] in ("integer", "float")}
    text = {n: str for n in [*project.columns, project.target] if n not in numeric}
    with (
        LocalCluster(
            n_workers=engine["workers"], threads_per_worker=p["n_jobs"], processes=True,
            memory_limit=engine["memory_limit"], dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        frame = dd.read_csv(train_csv, dtype=text, keep_default_na=False, na_values=[""])
        frame = frame.repartition(npartitions=engine["workers"] * engine["partitions_per_worker"])
        features = frame.map_partitions(project.model_view)
        positive = project.contract["target"]["positive"]
        target = (frame[project.target].str.strip() == positive).astype(int)
        model = xgboost.dask.DaskXGBClassifier(
            n_estimators=p["n_estimators"], max_depth=p["max_depth"],
            learning_rate=p["learning_rate"], subsample=p["subsample"],
            colsample_bytree=p["colsample_bytree"], min_child_weight=p["min_child_weight"],
            reg_lambda=p["reg_lambda"], random_state=p["seed"], n_jobs=p["n_jobs"],
            tree_method="hist", enable_categorical=True, eval_metric="logloss",
        )  # fmt: skip
        model.client = client
        model.fit(features, target)
        return model


def rebuild(project: Project, out: Path) -> tuple[int, pd.DataFrame, np.ndarray]:
    """The pipeline's work from the raw data: the contract's rules, then the train stage's;
    the failed rules, the evaluation rows and their scores."""
    frame = project.read(project.path("data", "raw"))
    failed = validate(project, frame)
    held_out, model = split_and_fit(project, frame, out)
    return failed, held_out, scores(project, model, held_out)


def run(task: str, project: Project, batch: Path | None) -> dict[str, Any]:
    threshold = project.params["evaluate"]["decision_threshold"]
    model_path = project.path("train", "model")
    out = project.root.parent / "bare"  # beside the project: its git tree stays clean
    out.mkdir(parents=True, exist_ok=True)
    if task == "validate":
        return {"failed": validate(project, project.read(project.path("data", "raw")))}
    if task == "train":
        held_out, model = split_and_fit(project, project.read(project.path("data", "raw")), out)
        probability = scores(project, model, held_out)
        return metrics(project.target_of(held_out), probability, threshold)
    if task == "train-dask":  # the train stage on the dask engine: split, fit on dask, score
        train, held_out = split(project, project.read(project.path("data", "raw")))
        train.to_csv(out / "train.csv", index=False)
        held_out.to_csv(out / "eval.csv", index=False)
        model = fit_on_dask(project, out / "train.csv")
        model.save_model(out / "model.ubj")
        probability = scores(project, load(out / "model.ubj"), held_out)
        return metrics(project.target_of(held_out), probability, threshold)
    if task == "pipeline":
        failed, held_out, challenger = rebuild(project, out)
        return {"failed": failed, **metrics(project.target_of(held_out), challenger, threshold)}
    if task == "loop":  # a pull request's whole wait (rebuild, gate, report) in one process
        failed, held_out, challenger = rebuild(project, out)
        target = project.target_of(held_out)
        champion_model = load(out / "champion.ubj")
        champion = scores(project, champion_model, held_out)
        gate = resampled(target, challenger, threshold, project.params["gate"], champion)
        importance(project, load(out / "model.ubj"), held_out)
        importance(project, champion_model, held_out)
        result = {"failed": failed, **metrics(target, challenger, threshold), **gate}
        (out / "report.md").write_text(json.dumps(result, indent=2))
        return result
    if task == "gate":
        frame = project.read(project.path("split", "eval"))
        target = project.target_of(frame)
        models = {"champion": load(out / "champion.ubj"), "challenger": load(model_path)}
        for model in models.values():
            importance(project, model, frame)
        champion, challenger = (scores(project, model, frame) for model in models.values())
        return resampled(target, challenger, threshold, project.params["gate"], champion)
    if task == "report":
        gate = json.loads(project.path("gate", "report").read_text())
        (out / "report.md").write_text(json.dumps(gate, indent=2))
        return {}
    if task == "predict":
        assert batch is not None
        frame = project.read(batch)
        frame.assign(probability=scores(project, load(model_path), frame)).to_csv(
            out / "predictions.csv", index=False
        )
        return {}
    if task == "drift":
        assert batch is not None
        from evidently import Dataset, Report
        from evidently.presets import DataDriftPreset

        reference = project.read(project.path("split", "eval"))[project.features]
        current = project.read(batch)[project.features]
        model = load(model_path)
        importance(project, model, current)
        importance(project, model, reference)
        current = current.assign(prediction=scores(project, model, current))
        reference = reference.assign(prediction=scores(project, model, reference))
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current), Dataset.from_pandas(reference)
        )
        (out / "drift.json").write_text(snapshot.json())
        return {}
    if task == "outcomes":
        assert batch is not None
        return outcomes(project, batch, out)
    raise SystemExit(f"unknown task {task!r}")


def bare_app() -> Any:
    """The serving limit (uvicorn's --factory): an ASGI app that does only what a server must,
    JSON rows into the model's typed columns and XGBoost's inplace_predict, on the champion
    (BARE_PROJECT, BARE_MODEL in the environment)."""
    import os

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    project = Project(Path(os.environ["BARE_PROJECT"]))
    booster = load(Path(os.environ["BARE_MODEL"])).get_booster()

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        frame = pd.DataFrame.from_records([body] if isinstance(body, dict) else body)
        scores = booster.inplace_predict(project.model_view(frame.astype({
            name: str for name in project.features
            if project.columns[name]["type"] == "category"
        })))  # fmt: skip
        return JSONResponse({"route": "bare", "predictions": [float(p) for p in scores]})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    return Starlette(
        routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)]
    )


def main() -> None:
    task, root = sys.argv[1], Path(sys.argv[2])
    if task == "outcome-log":
        print(json.dumps(outcome_log(Project(root), int(sys.argv[3]), int(sys.argv[4]))))
        return
    batch = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    atexit.register(gc.freeze)  # as the project's package does: no collection of the heap at exit
    for module in HEAVY_IMPORTS.get(task, []):
        __import__(module)
    print(json.dumps(run(task, Project(root), batch)))


if __name__ == "__main__":
    main()
