"""The serving command: the model server, with as many worker processes as the settings say."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from ..commands import Commands, arg, settings_of

COMMANDS = Commands()


@COMMANDS.add(
    "serve",
    "Serve the model deploy/ declares over HTTP (bytes checked against git's sha256), "
    "following deploy/production.yaml as it changes.",
    arg("--port", type=int, default=None, help="default: $SERVE_PORT, else serve.port in params"),
    arg("--host", default=None, help="default: serve.host in params"),
    arg("--workers", type=int, default=None, help="default: serve.workers in params"),
)
def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import PARAMS_VARIABLE

    settings = settings_of(args).serve
    os.environ[PARAMS_VARIABLE] = str(Path(args.params).resolve())
    # Every worker writes its metrics here and /metrics adds them up; a fresh folder per start.
    metrics_dir = Path(tempfile.mkdtemp(prefix="model-server-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run(
            f"{__package__}.app:create_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or int(os.environ.get("SERVE_PORT") or settings.port),
            workers=args.workers or settings.workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


@COMMANDS.add(
    "rollout-status",
    "Where the rollout deploy/ declares is, and how its candidate does: the analysis of the "
    "last interval, from the inference log and the server's counters; exit 1 if a check fails.",
    arg("--server", default=None, help="the server's URL (default: http://127.0.0.1:serve.port)"),
)
def rollout_status(args: argparse.Namespace) -> int:
    from . import rollout_status as status

    settings = settings_of(args)
    server = args.server or f"http://127.0.0.1:{settings.serve.port}"
    lines, failed = status.report(settings, server)
    print("\n".join(lines))
    return 1 if failed else 0
