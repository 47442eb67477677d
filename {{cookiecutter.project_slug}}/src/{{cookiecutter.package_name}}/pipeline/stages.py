"""The pipeline stages that dvc.yaml runs (`python -m <package>.pipeline.stages train`): each
reads its inputs, calls the pure functions of the other modules, and writes its outputs. Paths
come from the settings, never from here.

dvc.yaml runs this module, not the project's command line: editing a command's help re-runs
no stage. Each stage imports the modules it runs inside its own function: so a stage runs (and
dvc.yaml lists as its dependencies) only the code it needs, and validate never waits for
XGBoost or MLflow to import. tests/test_pipeline_deps.py checks dvc.yaml against these
imports.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EXPECTED_ERRORS
from ..settings import Settings, load_settings
from .contract import Contract, ContractError, load_contract

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client
    from xgboost import XGBClassifier

    from . import tracking
    from .validation import ValidationResult


def _write_json(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check_settings_against(contract: Contract, settings: Settings) -> None:
    """The columns params.yaml names must be the contract's: said at validation, not when
    training or the gate trips over them."""
    sensitive = settings.fairness.sensitive_column
    if sensitive and sensitive not in contract.columns:
        raise ContractError(
            f"fairness.sensitive_column {sensitive!r} is not a column of {settings.data.contract}: "
            "make param KEY=fairness.sensitive_column VALUE=<column> (or VALUE='' to switch "
            "the risk gate off)"
        )
    unknown = [name for name in settings.train.exclude_columns if name not in contract.columns]
    if unknown:
        raise ContractError(
            f"train.exclude_columns names {', '.join(unknown)}, not columns of "
            f"{settings.data.contract}"
        )


@contextmanager
def engine(settings: Settings) -> Iterator[Client | None]:
    """The dask engine's cluster client for the block (one cluster for the split and the fit),
    or None on the pandas engine."""
    if settings.engine.name == "pandas":
        yield None
        return
    from .cluster import connected

    with connected(settings.engine, threads=settings.train.n_jobs) as client:
        yield client


def validate(settings: Settings, source: Path | None = None) -> ValidationResult:
    """Check a CSV (the training data by default: on the cluster, on the dask engine) against
    the contract.

    The report is written only for the training data, where it is the DVC stage's output;
    on failure no report is left behind, so the next stage cannot run on bad data.
    """
    from .validation import validate_file

    contract = load_contract(settings.data.contract)
    check_settings_against(contract, settings)
    path = source or settings.data.raw
    if source is None and settings.engine.name == "dask":
        from .validation import validate_on_cluster

        with engine(settings) as client:
            result = validate_on_cluster(client, path, contract, settings.engine.partitions)
    else:
        result = validate_file(path, contract)
    if source is None:
        report = settings.data.validation_report
        if result.passed:
            _write_json({"file": str(path), **result.as_dict()}, report)
        else:
            report.unlink(missing_ok=True)
    return result


def split(settings: Settings, client: Client | None = None) -> tuple[int, int]:
    """Cut the validated data into the train split and the frozen evaluation split: on the
    cluster, partition by partition, when given one (each row lands where pandas puts it)."""
    from . import data

    contract = load_contract(settings.data.contract)
    if client is not None:
        from .dask_training import split_on_cluster

        return split_on_cluster(client, settings, contract)
    frame = data.read_raw(settings.data.raw, contract)
    train, evaluation_set = data.split_frame(
        frame, contract.key_columns, settings.split.eval_fraction, settings.split.seed
    )
    data.write_csv(train, settings.split.train)
    data.write_csv(evaluation_set, settings.split.eval)
    return len(train), len(evaluation_set)


def fit(
    settings: Settings, contract: Contract, client: Client | None = None
) -> tuple[XGBClassifier, pd.DataFrame]:
    """The model fitted on the train split (on the cluster, when given one), and the split's
    first rows as the model takes them (MLflow's input example)."""
    from . import data, training

    if client is not None:
        from .dask_training import train_on_cluster

        names = data.feature_names(contract, settings.excluded_from_model)
        return train_on_cluster(
            client, settings.split.train, contract, names, settings.train, settings.engine
        )
    frame = data.read_typed(settings.split.train, contract)
    features, target = data.features_and_target(frame, contract, settings.excluded_from_model)
    return training.train_model(features, target, settings.train), features.head(5)


def train(
    settings: Settings, client: Client | None = None
) -> tuple[tracking.RunInfo, dict[str, float]]:
    """Fit the model on the train split, save its bytes for DVC, score those bytes on the
    frozen evaluation split (metrics and plots), and record it all as one MLflow run with its
    lineage. The splits are read back from their files: what trains is what DVC recorded."""
    from . import data, evaluation, lineage, plots, tracking, training

    contract = load_contract(settings.data.contract)
    fitted, example = fit(settings, contract, client)
    training.save_model(fitted, settings.train.model)
    model = training.load_model(settings.train.model)  # what is scored is what was saved
    held_out = data.read_typed(settings.split.eval, contract)
    eval_features, eval_target = data.features_and_target(
        held_out, contract, settings.excluded_from_model
    )
    probability = training.predict_proba(model, eval_features)
    threshold = settings.evaluate.decision_threshold
    values = evaluation.compute_metrics(eval_target, probability, threshold)
    plot_files = plots.save_plots(
        eval_target, probability, threshold, model, settings.evaluate.plots
    )
    _write_json({**values, "eval_rows": len(held_out)}, settings.evaluate.metrics)
    tracking.configure()
    run = tracking.log_training_run(
        experiment=tracking.training_experiment(settings.tracking.experiment),
        model=model,
        params=settings.train.model_dump(mode="json", exclude={"model", "run_info"}),
        tags=lineage.lineage_tags(settings),
        example=example,
        metrics=values,
        plots=plot_files,
    )
    run.write(settings.train.run_info)
    return run, values


# -- what each stage says, and the entry point dvc.yaml runs --------------------------------


def run_validate(settings: Settings, source: Path | None = None) -> int:
    result = validate(settings, source)
    if not result.passed:
        for problem in result.problems:
            print(f"invalid data: {problem}", file=sys.stderr)
        return 1
    print(f"data valid: {result.rows} rows passed {result.expectations} expectations")
    return 0


def run_split(settings: Settings, client: Client | None = None) -> int:
    train_rows, eval_rows = split(settings, client)
    print(f"split: {train_rows} training rows, {eval_rows} evaluation rows")
    return 0


def run_train(settings: Settings) -> int:
    """The train stage: split, then train, after checking the tracking server answers (a down
    server is reported in seconds, before any work is done).

    One stage, one process: a stage of its own for the split, or for the scoring, would cost a
    process that imports pandas and the package again (and XGBoost, scikit-learn and MLflow,
    seconds, for the scoring) for work that takes a fraction of a second."""
    from . import tracking

    tracking.check_tracking(tracking.tracking_uri())
    with engine(settings) as client:
        run_split(settings, client)
        run, values = train(settings, client)
    print(f"trained: {settings.train.model} (MLflow run {run.run_id})")
    print("  ".join(f"{name}={value:.4f}" for name, value in values.items()))
    return 0


STAGES: dict[str, Callable[[Settings], int]] = {
    "validate": run_validate,
    "train": run_train,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.stages", description="Run one DVC stage (dvc.yaml runs it)."
    )
    parser.add_argument("stage", choices=list(STAGES))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    try:
        return STAGES[args.stage](load_settings(args.params))
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
