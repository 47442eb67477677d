"""Splitting and fitting on the dask engine's cluster: the split by row key per partition, and
xgboost.dask.

Three facts measured on a real scheduler and worker processes shape the fit:
- The bytes depend on which rows each worker holds, and the scheduler places partitions as it
  sees fit: so each partition is placed here, on the worker of its rank, and a fit whose data
  did not stay where it was placed is refused.
- A worker lost before the fit leaves a model trained on the others (other bytes, no error): so
  the worker count is checked before, and the placement once the data is loaded.
- A worker lost during the fit leaves the others waiting for it forever: so the workers' joint
  steps time out (engine.timeout_seconds), and the fit fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..settings import EngineSettings, Settings, TrainSettings
from . import contract as contracts
from .cluster import ClusterError
from .contract import Contract

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, Future
    from xgboost import XGBClassifier


def rank_key(name: object, address: str) -> str:
    """How xgboost.dask orders workers into ranks: by this text (its task id for the worker)."""
    return f"[xgboost.dask-{name}]:{address}"


def ranked_workers(client: Client, engine: EngineSettings) -> list[str]:
    """engine.workers workers' addresses, in xgboost's rank order; refused when the cluster
    does not have that many within engine.timeout_seconds."""
    try:
        client.wait_for_workers(engine.workers, timeout=engine.timeout_seconds)
    except TimeoutError:
        found = len(client.scheduler_info(n_workers=-1)["workers"])
        raise ClusterError(
            f"the dask cluster has {found} workers after {engine.timeout_seconds} s, and "
            f"engine.workers is {engine.workers}: other counts give other model bytes; start "
            "the workers, or change engine.workers (a change the gate judges as any other)"
        ) from None
    workers = client.scheduler_info(n_workers=-1)["workers"]
    ranked = sorted(workers, key=lambda address: rank_key(workers[address]["name"], address))
    return ranked[: engine.workers]


def owners(workers: list[str], per_worker: int) -> list[str]:
    """The worker of each partition: the first `per_worker` to the first worker, and so on."""
    return [worker for worker in workers for _ in range(per_worker)]


def _model_part(
    part: pd.DataFrame, contract: Contract, features: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """One partition as the model learns from it (contract.typed, on the worker)."""
    typed = contracts.typed(part, contract, [*features, contract.target.name])
    return typed[features], typed[contract.target.name]


def placed_training_data(
    client: Client,
    path: Path,
    contract: Contract,
    features: list[str],
    workers: list[str],
    per_worker: int,
) -> tuple[Any, Any, list[str]]:
    """The training split read lazily and cut into len(workers) x per_worker partitions (by
    its bytes: the same file, the same cut), each typed on the worker that owns it. Returns
    the features and the target as dask collections, and each partition's owner."""
    import dask.dataframe as dd
    from dask.delayed import delayed

    # Numbers as float64 by name: dask would guess a type from the file's first block, and a
    # whole-number column whose first missing value comes later would fail there.
    text = contract.text_dtypes()
    dtypes = {name: text.get(name, "float64") for name in contract.all_columns}
    raw = dd.read_csv(path, dtype=dtypes, **contracts.MISSING_IS_EMPTY)
    raw = raw.repartition(npartitions=len(workers) * per_worker)
    owner_of = owners(workers, per_worker)
    meta_x, meta_y = _model_part(raw._meta, contract, features)
    feature_parts: list[Future[Any]] = []
    target_parts: list[Future[Any]] = []
    for part, owner in zip(raw.to_delayed(), owner_of, strict=True):
        pair = delayed(_model_part, nout=2)(part, contract, features)
        x, y = client.compute([pair[0], pair[1]], workers=[owner], allow_other_workers=True)
        feature_parts.append(x)
        target_parts.append(y)
    return (
        dd.from_delayed(feature_parts, meta=meta_x, verify_meta=False),
        dd.from_delayed(target_parts, meta=meta_y, verify_meta=False),
        owner_of,
    )


def check_placement(
    worker_map: dict[str, list[Any]], order: dict[Any, int], owner_of: list[str]
) -> None:
    """Refuse a fit whose partitions are not on the workers they were placed on (a worker
    lost and its partitions recomputed elsewhere, say): the bytes would not be this data's."""
    held = {order[part.key]: worker for worker, parts in worker_map.items() for part in parts}
    moved = [index for index, owner in enumerate(owner_of) if held.get(index) != owner]
    if moved:
        raise ClusterError(
            f"partitions {moved} of the training data are not on the workers they were placed "
            "on (a worker lost or replaced before the fit): a model from them would have other "
            "bytes; run the stage again"
        )


def reason(error: Exception) -> str:
    """XGBoost's error in one line: its own reasons (the lines "- [file:line|time]: ..."),
    without the native stack trace that follows them."""
    lines = str(error).splitlines()
    reasons = [line.split("]:", 1)[-1].strip() for line in lines if line.startswith("- [")]
    return " ".join(reasons) or (lines[0] if lines else type(error).__name__)


def fit(
    client: Client,
    features: Any,
    target: Any,
    owner_of: list[str],
    params: TrainSettings,
    engine: EngineSettings,
) -> XGBClassifier:
    """The model fitted by xgboost.dask with the single-node model's parameters, as an ordinary
    XGBoost classifier: everything after it (digest, registry, server) is unchanged."""
    import xgboost
    import xgboost.dask  # not imported by `import xgboost`

    from .training import make_model, model_from_bytes

    matrix = xgboost.dask.DaskDMatrix(client, features, target, enable_categorical=True)
    check_placement(matrix.worker_map, matrix.partition_order, owner_of)
    timeout = engine.timeout_seconds
    try:
        output = xgboost.dask.train(
            client,
            make_model(params).get_xgb_params(),
            matrix,
            num_boost_round=params.n_estimators,
            coll_cfg=xgboost.collective.Config(timeout=timeout, tracker_timeout=timeout),
        )
    except (xgboost.core.XGBoostError, RuntimeError, OSError) as error:
        raise ClusterError(
            f"the fit on the dask cluster failed (a worker lost or unreachable?): {reason(error)}; "
            "no model was saved: run the stage again once the cluster has its workers"
        ) from None
    return model_from_bytes(bytes(output["booster"].save_raw("ubj")))


def train_on_cluster(
    client: Client,
    path: Path,
    contract: Contract,
    features: list[str],
    params: TrainSettings,
    engine: EngineSettings,
) -> tuple[XGBClassifier, pd.DataFrame]:
    """The model fitted on the cluster from the training split at `path`, and the split's first
    rows as the model takes them (MLflow's input example)."""
    workers = ranked_workers(client, engine)
    x, y, owner_of = placed_training_data(
        client, path, contract, features, workers, engine.partitions_per_worker
    )
    return fit(client, x, y, owner_of, params, engine), x.head(5)


def _raw_as_text(path: Path) -> dd.DataFrame:
    """The training data lazily, every cell as its text: a CSV's blocks, a folder's parts."""
    import dask.dataframe as dd
    import pandas as pd

    from . import raw_data

    if not raw_data.is_parquet(path):
        return dd.read_csv(path, dtype=str, keep_default_na=False)
    meta = pd.DataFrame({name: pd.Series(dtype=object) for name in raw_data.columns(path)})
    return dd.from_map(raw_data.read_text_part, raw_data.parts(path), meta=meta)


def split_on_cluster(client: Client, settings: Settings, contract: Contract) -> tuple[int, int]:
    """The split (data.in_evaluation, the pandas engine's rule) on the workers, partition by
    partition, each split written as one file in the data's row order; its row counts. Every
    cell is copied as the file's text: the split needs only the key, and nothing is re-typed."""
    import dask.dataframe as dd

    from . import data

    raw = _raw_as_text(settings.data.raw)
    key, split = contract.key_columns, settings.split
    held_out = raw.map_partitions(
        data.in_evaluation, key, split.eval_fraction, split.seed, meta=("held_out", bool)
    )
    writes = []
    for rows, path in ((raw[~held_out], split.train), (raw[held_out], split.eval)):
        path.parent.mkdir(parents=True, exist_ok=True)
        csv = {"single_file": True, "index": False, "lineterminator": "\n"}
        writes.append(rows.to_csv(path, compute=False, **csv))
    client.gather(client.compute(writes))  # both files in one pass over the data
    # Counted from the files (one column parsed), not by hashing every key a second time.
    counts = [
        dd.read_csv(path, usecols=key[:1], dtype=str, keep_default_na=False).shape[0]
        for path in (split.train, split.eval)
    ]
    train_rows, evaluation_rows = client.gather(client.compute(counts))
    return int(train_rows), int(evaluation_rows)
