"""Registration: the bytes the gate let through become a version of the registered model,
once per commit, with the lineage this checkout computes; `staging` follows every merge."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..pipeline import tracking
from ..pipeline.lineage import DATA_KEYS, branch_history, checkout_facts
from ..settings import Settings
from ..vocabulary import GATE_OVERRIDE_BY, GATE_VERDICT, GIT_SHA, GITHUB_PR, OWNER_MODEL, OWNER_RISK
from . import aliases, model_card, registry
from .gate_result import GateResult
from .notices import read_gate

PYPROJECT = Path("pyproject.toml")


def _description() -> str:
    try:
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    except (FileNotFoundError, KeyError):
        return "(no description)"
    return str(project.get("description", "(no description)"))


def _lineage_to_register(
    settings: Settings, client: Any, gated: dict[str, str], run: tracking.RunInfo
) -> dict[str, str]:
    """The lineage written on the version, computed here, never copied from the run: the
    commit, its time, the parameters, the lock and the libraries from this checkout; the data's
    md5s from the gate's result (the job that gated held the data). The gate must have seen the
    same checkout, the run must be in the training experiment (never the pull requests' one),
    and its tags must say the same: where a server gives other users EDIT on the experiment,
    they may rewrite them between training and this registration."""
    here = checkout_facts(settings)
    missing = [key for key in (*here, *DATA_KEYS) if key not in gated]
    if missing:
        raise registry.RegistryError(
            f"gate.json records no {missing[0]}: it was made by other code; run the gate again"
        )
    differ = sorted(key for key, value in here.items() if gated[key] != value)
    if differ:
        raise registry.RegistryError(
            f"gate.json was not made from this checkout ({here[GIT_SHA][:12]}): "
            f"{', '.join(differ)} differ; run the gate again on this commit"
        )
    computed = {**here, **{key: gated[key] for key in DATA_KEYS}}
    with registry.registry_errors(f"reading run {run.run_id}"):
        logged = client.get_run(run.run_id)
        experiment = client.get_experiment(logged.info.experiment_id).name
    if experiment != settings.tracking.experiment:
        raise registry.RegistryError(
            f"run {run.run_id} was logged in experiment {experiment!r}, not in "
            f"{settings.tracking.experiment!r} where only the default branch's credential "
            "writes: refusing to register it (run the pipeline on the default branch)"
        )
    tags = dict(logged.data.tags)
    changed = sorted(key for key, value in computed.items() if tags.get(key) != value)
    if changed:
        raise registry.RegistryError(
            f"run {run.run_id}'s tag {changed[0]} is {tags.get(changed[0])!r}, not "
            f"{computed[changed[0]]!r} as this checkout and the gate show: it was changed "
            "after training; refusing to register (retrain)"
        )
    return computed


def register(
    settings: Settings, pr: str = "", gate: GateResult | None = None
) -> tuple[registry.Version, bool]:
    """Register the model the gate let through, once per commit: the run and the bytes
    gate.json names (`gate`: its text handed over by the job that gated, else the file)."""
    gate = gate if gate is not None else read_gate(settings)
    if not gate.passed:
        raise registry.RegistryError(
            f"the gate's verdict is {gate.verdict!r}: only a passing model is registered"
        )
    challenger = gate.challenger
    if challenger is None or not (challenger.model_sha256 and challenger.model_uri):
        raise registry.RegistryError(
            "gate.json names no run, model or sha256 of the model it scored: run the gate again"
        )
    digest = challenger.model_sha256
    run = tracking.RunInfo(
        run_id=challenger.run_id,
        experiment_id=challenger.experiment_id,
        model_uri=challenger.model_uri,
    )
    trained = settings.train.run_info
    if trained.exists() and tracking.RunInfo.read(trained).run_id != run.run_id:
        raise registry.RegistryError(
            f"gate.json judged run {run.run_id} but the trained model is run "
            f"{tracking.RunInfo.read(trained).run_id}: run the gate again"
        )
    client = registry.connect()
    computed = _lineage_to_register(settings, client, challenger.lineage, run)
    extra = {
        GATE_VERDICT: gate.verdict,
        GATE_OVERRIDE_BY: gate.override.requested_by or "",
        OWNER_MODEL: settings.tracking.model_owner,
        OWNER_RISK: settings.tracking.risk_approver,
    }
    pr = pr or str((gate.pull_request.number if gate.pull_request else None) or "")
    if pr:
        extra[GITHUB_PR] = pr
    name = settings.tracking.model_name
    version, created = registry.register(client, name, run, digest, computed, extra)
    if created:
        from ..pipeline import data  # pandas and the contract: only a new version's model card
        from ..pipeline.contract import load_contract

        contract = load_contract(settings.data.contract)
        features = data.feature_names(contract, settings.excluded_from_model)
        card = model_card.record(
            version.as_dict(),
            gate,
            _description(),
            features,
            contract.target.name,
            [name for name in contract.columns if name not in features],
        )
        markdown = model_card.render(card, version.tags)
        with registry.registry_errors(f"attaching the model card to version {version.number}"):
            # Both on the run registration made: the record, and the Markdown rendered from it.
            client.log_dict(version.run_id, card, "model_card.json")
            client.log_text(version.run_id, markdown, "model_card.md")
            # The figures outcomes are judged against, where only registration writes.
            for metric, value in challenger.metrics.items():
                client.log_metric(version.run_id, metric, value)
            client.update_model_version(name, str(version.number), description=markdown)
    return version, created


def stage(
    settings: Settings, number: int | None
) -> tuple[registry.Version, registry.Version | None]:
    """Point `staging` at a version (by default the newest commit's): it follows every merge,
    and is not declared in git."""
    client = registry.connect()
    history = branch_history(settings.github.default_branch)
    return aliases.stage(client, settings.tracking.model_name, number, history)
