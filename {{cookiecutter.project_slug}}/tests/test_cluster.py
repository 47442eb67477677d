"""The dask engine on a real cluster: a `dask scheduler` and `dask worker` processes on
loopback, started from this environment as a team's cluster runs the project's (README:
"Beyond one machine")."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import free_port
from distributed import Client
from sklearn.metrics import roc_auc_score
from test_parquet_data import parquet_folder
from test_validation import BAD_INPUTS

from {{ cookiecutter.package_name }}.pipeline import cluster, data, lineage, stages, training
from {{ cookiecutter.package_name }}.pipeline.cluster import ClusterError
from {{ cookiecutter.package_name }}.pipeline.contract import Contract, load_contract
from {{ cookiecutter.package_name }}.pipeline.validation import validate_file, validate_on_cluster
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

DASK = str(Path(sys.executable).parent / "dask")


@contextmanager
def running_cluster(
    workers: int, logs: Path
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A scheduler and `workers` worker processes (one thread each, 1 GiB each), each in its
    own process group; yields the scheduler's address and the workers once all are connected,
    stops all after."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    loopback = ["--host", "127.0.0.1", "--no-dashboard"]
    commands = [[DASK, "scheduler", "--port", str(port), *loopback]]
    commands += [
        [DASK, "worker", address, "--nthreads", "1", "--memory-limit", "1GiB", *loopback]
    ] * workers
    processes = []
    try:
        for number, command in enumerate(commands):
            with (logs / f"dask-{number}.log").open("w") as log:
                processes.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        with Client(address, timeout=120) as client:  # started: a loaded machine takes time
            client.wait_for_workers(workers, timeout=120)
        yield address, processes[1:]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


def dask_settings(params: Path, scheduler: str, raw: Path | None = None, **engine: Any) -> Settings:
    """The tests' settings on the dask engine (reading `raw`, when given), with the training
    split cut."""
    base = load_settings(params)
    if raw is not None:
        base = base.model_copy(update={"data": base.data.model_copy(update={"raw": raw})})
    update = {"name": "dask", "scheduler": scheduler, "timeout_seconds": 30, **engine}
    settings = base.model_copy(update={"engine": base.engine.model_copy(update=update)})
    stages.split(settings)
    return settings


def fitted_bytes(settings: Settings) -> bytes:
    with stages.engine(settings) as client:
        model, _ = stages.fit(settings, load_contract(settings.data.contract), client)
    return bytes(model.get_booster().save_raw("ubj"))


def test_the_same_data_gives_the_same_bytes_on_another_cluster(
    tmp_params: Path, tmp_path: Path
) -> None:
    """Fitted on two workers of a scheduler, and again on a local cluster of two workers the
    stage starts itself (other names, other ports): byte for byte the same model, as good as
    the single-process one, and the lineage says how it was made."""
    with running_cluster(2, tmp_path) as (address, _):
        settings = dask_settings(tmp_params, address)
        on_the_scheduler = fitted_bytes(settings)
    local = dask_settings(tmp_params, "")
    assert hashlib.sha256(fitted_bytes(local)).digest() == hashlib.sha256(on_the_scheduler).digest()

    contract = load_contract(settings.data.contract)
    held_out = data.read_typed(settings.split.eval, contract)
    features, target = data.features_and_target(held_out, contract, settings.excluded_from_model)
    on_dask = training.model_from_bytes(on_the_scheduler)
    single, _ = stages.fit(settings, contract)  # no cluster: in this process
    auc_dask = roc_auc_score(target, training.predict_proba(on_dask, features))
    auc_single = roc_auc_score(target, training.predict_proba(single, features))
    assert auc_dask == pytest.approx(auc_single, abs=0.02)
    assert lineage.engine_facts(settings) == {
        "lineage.engine": "dask",
        "lineage.engine_workers": "2",
        "lineage.engine_partitions": "4",
    }


def test_a_cluster_short_of_workers_is_refused(tmp_params: Path, tmp_path: Path) -> None:
    """engine.workers 3 on a two-worker cluster: refused, naming the setting, not fitted on
    the workers there are (other bytes)."""
    with running_cluster(2, tmp_path) as (address, _):
        settings = dask_settings(tmp_params, address, workers=3, timeout_seconds=5)
        with pytest.raises(ClusterError, match=r"has 2 workers .* engine.workers is 3"):
            fitted_bytes(settings)


def test_a_scheduler_that_does_not_answer_is_named_in_one_line(
    tmp_params: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An address with no scheduler behind it (taken from DASK_SCHEDULER_ADDRESS over the
    setting): refused at once (dask's client alone would retry for engine.timeout_seconds),
    naming the address and what to do."""
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    nobody = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv(cluster.SCHEDULER_VARIABLE, nobody)
    settings = load_settings(tmp_params)
    on_dask = settings.engine.model_copy(update={"name": "dask", "scheduler": "tcp://elsewhere:1"})
    with pytest.raises(ClusterError) as refused:
        fitted_bytes(settings.model_copy(update={"engine": on_dask}))
    said = str(refused.value)
    assert said.startswith(f"no dask scheduler answers at {nobody} (")
    assert said.endswith(
        "start it, or empty engine.scheduler and DASK_SCHEDULER_ADDRESS for a local cluster"
    )
    assert "refused" in said and "\n" not in said


def _kill_once_training(address: str, worker: subprocess.Popen[bytes]) -> threading.Thread:
    """A thread that kills `worker` (its whole process group) once the scheduler shows
    XGBoost's tasks on the workers (named fn-...) running, two seconds into them."""
    from distributed import Client

    def watch() -> None:
        with Client(address, timeout=30) as client:
            while not any(
                str(key).startswith("fn-") for keys in client.processing().values() for key in keys
            ):
                time.sleep(0.05)
            time.sleep(2.0)
            os.killpg(worker.pid, signal.SIGKILL)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_mid_fit_fails_the_stage_and_saves_nothing(
    tmp_params: Path, tmp_path: Path
) -> None:
    """The survivor would wait for the lost worker forever: the stage fails with a clear
    error within engine.timeout_seconds instead, and no model file is left for the gate."""
    with running_cluster(2, tmp_path) as (address, workers):
        settings = dask_settings(tmp_params, address, timeout_seconds=10)
        long_fit = settings.train.model_copy(update={"n_estimators": 3_000})
        settings = settings.model_copy(update={"train": long_fit})
        killer = _kill_once_training(address, workers[1])
        with (
            pytest.raises(ClusterError, match="fit on the dask cluster failed") as failed,
            stages.engine(settings) as client,
        ):
            stages.train(settings, client)
        assert "\n" not in str(failed.value)  # one line, without XGBoost's stack trace
        killer.join(timeout=5)
        assert not killer.is_alive()
    assert not settings.train.model.exists()


def test_the_split_on_the_cluster_puts_every_row_where_pandas_does(
    tmp_params: Path, tmp_path: Path
) -> None:
    """The split cut partition by partition on the workers: the same rows in each split, in
    the same order, as the pandas engine's, and every cell as the data's text."""
    settings = dask_settings(tmp_params, "")
    contract = load_contract(settings.data.contract)
    paths = (settings.split.train, settings.split.eval)
    by_pandas = [data.read_text(path) for path in paths]
    with stages.engine(settings) as client:
        counts = stages.split(settings, client)
    by_dask = [data.read_text(path) for path in paths]
    assert counts == (len(by_pandas[0]), len(by_pandas[1]))
    key = contract.key_columns
    for ours, theirs in zip(by_dask, by_pandas, strict=True):
        assert ours[key].equals(theirs[key])
    rows = sorted(map(tuple, pd.concat(by_dask).to_numpy().tolist()))
    assert rows == sorted(map(tuple, data.read_text(settings.data.raw).to_numpy().tolist()))


def _nulls_in_the_first_quarter(frame: pd.DataFrame, contract: Contract) -> str:
    """15% of employment_years missing (the contract allows 20%), all in the first quarter of
    the rows: that quarter alone is 60% missing, the whole passes."""
    missing = np.arange(len(frame)) < 0.15 * len(frame)
    changed = frame.assign(employment_years=frame["employment_years"].mask(missing))
    return changed.to_csv(index=False)


def _exactly_the_floor(frame: pd.DataFrame, contract: Contract) -> str:
    """As many rows as the contract's floor: each partition holds a quarter of it."""
    return frame.head(contract.min_rows).to_csv(index=False)


def test_validation_on_the_cluster_says_what_the_single_process_says(
    tmp_params: Path,
    sample_frame: pd.DataFrame,
    contract: Contract,
    raw_data_path: Path,
    tmp_path: Path,
) -> None:
    """Each kind of bad data checked in four partitions on the workers: the same problems, word
    for word, as the whole file in one process; and the floor and the shares of missing values
    are the whole's (data a partition alone would fail passes). The data as Parquet files, each
    row group a part: the same result, and every row in the single process's split. (One test:
    a worker's first check imports Great Expectations, some 20 s.)"""
    settings = dask_settings(tmp_params, "")
    folder = parquet_folder(data.read_text(raw_data_path), tmp_path / "loans", files=2, group=4000)
    in_folder = dask_settings(tmp_params, "", raw=folder)
    split_paths = (in_folder.split.train, in_folder.split.eval)
    split_by_pandas = [data.read_text(path) for path in split_paths]
    cases = [(case, build) for case, build, _ in BAD_INPUTS]
    cases += [("nulls in one partition", _nulls_in_the_first_quarter)]
    cases += [("exactly the floor", _exactly_the_floor)]
    with stages.engine(settings) as client:
        for case, build in cases:
            path = tmp_path / f"{case}.csv"
            path.write_text(build(sample_frame, contract), encoding="utf-8")
            alone = validate_file(path, contract)
            on_dask = validate_on_cluster(client, path, contract, partitions=4)
            assert (on_dask.problems, on_dask.rows) == (alone.problems, alone.rows), case
            passes = case in ("nulls in one partition", "exactly the floor")
            assert on_dask.passed is passes, (case, on_dask.problems)
        on_dask = validate_on_cluster(client, folder, contract, partitions=4)
        assert on_dask.as_dict() == validate_file(folder, contract).as_dict()
        assert on_dask.passed
        stages.split(in_folder, client)
    key = contract.key_columns
    split_by_dask = [data.read_text(path) for path in split_paths]
    for ours, theirs in zip(split_by_dask, split_by_pandas, strict=True):
        assert ours[key].equals(theirs[key])
    assert stages.validate(settings).passed  # the stage: on a local cluster of its own
    assert settings.data.validation_report.exists()


def test_a_whole_number_column_missing_only_late_in_the_file_trains(tmp_params: Path) -> None:
    """Dask guesses a column's type from the file's first block: a whole-number column whose
    only missing value is in the last row must still be read (as the contract says), not fail
    halfway through the data."""
    settings = dask_settings(tmp_params, "")
    train = data.read_text(settings.split.train)
    whole = pd.to_numeric(train["employment_years"]).fillna(0).round().astype("int64").astype(str)
    train["employment_years"] = whole.where(train.index < len(train) - 1, "")
    data.write_csv(train, settings.split.train)
    model = training.model_from_bytes(fitted_bytes(settings))
    assert "employment_years" in training.model_columns(model)
