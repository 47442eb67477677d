"""The names other systems keep for us, each written once: the MLflow tag keys on training runs
and registered versions (a version's lineage, its digest, its gate verdict, its approvals), and
the hidden markers by which the bot finds its own comment and issues again.

A tag is a record for people and for lineage queries; what serves is decided by git's
deploy/production.yaml and the bytes' sha256, never by a tag (control/production.py).
"""

from __future__ import annotations

# -- a training run's lineage, copied onto the version registration makes -------------------
GIT_SHA = "lineage.git_sha"
GIT_DIRTY = "lineage.git_dirty"
GIT_COMMIT_TIME = "lineage.git_commit_time"  # drift's model age
DATA_MD5 = "lineage.data_md5"
TRAIN_MD5 = "lineage.train_md5"
EVAL_MD5 = "lineage.eval_md5"
PARAMS_HASH = "lineage.params_hash"
LOCK_HASH = "lineage.lock_hash"
LIBRARY_VERSION = "lineage.version."  # + a library's name
ENGINE = "lineage.engine"  # pandas or dask (params.yaml: engine)
ENGINE_WORKERS = "lineage.engine_workers"  # dask: the workers and partitions the bytes came from
ENGINE_PARTITIONS = "lineage.engine_partitions"

# -- a registered version -------------------------------------------------------------------
MODEL_SHA256 = "model.sha256"  # the bytes the gate scored
REGISTERED_FROM_RUN = "registered_from_run"  # on its registration run: the training run
GATE_VERDICT = "gate.verdict"
GATE_OVERRIDE_BY = "gate.override_by"
OWNER_MODEL = "owner.model"
OWNER_RISK = "owner.risk"
GITHUB_PR = "github.pr"
ROLLBACK_AT = "rollback.at"
ROLLBACK_BY = "rollback.by"
ROLLBACK_REASON = "rollback.reason"
ROLLBACK_EMERGENCY = "rollback.emergency"
ROLLBACK_FROM_VERSION = "rollback.from_version"
ROLLED_BACK_AT = "rolled_back.at"  # on the version a rollback took out of production
ROLLED_BACK_REASON = "rolled_back.reason"
# The record groups `make lineage` shows in full.
RECORD_PREFIXES = ("promotion.", "rollback.", "rolled_back.", "github.")


def promotion(alias: str, what: str) -> str:
    """promotion.<alias>.<what>: when a version was put on an alias (at), who approved it
    (approved_by), from which pull request (pr) and commit (commit)."""
    return f"promotion.{alias}.{what}"


# -- hidden markers: how the bot finds its own comment and issues again ----------------------
GATE_REPORT_MARKER = "<!-- {{ cookiecutter.project_slug }}:gate-report -->"
DRIFT_REPORT_MARKER = "<!-- {{ cookiecutter.project_slug }}:drift-report -->"
RECONCILE_REPORT_MARKER = "<!-- {{ cookiecutter.project_slug }}:reconcile-report -->"
ROLLOUT_REPORT_MARKER = "<!-- {{ cookiecutter.project_slug }}:rollout-report -->"
OUTCOMES_PERFORMANCE_MARKER = "<!-- {{ cookiecutter.project_slug }}:outcomes-performance -->"
OUTCOMES_FAIRNESS_MARKER = "<!-- {{ cookiecutter.project_slug }}:outcomes-fairness -->"
