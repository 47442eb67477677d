"""The serving commands: the model server, where a rollout is, and a load test against a server."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from ..commands import Commands, arg, input_file, settings_of
from ..errors import ProjectError

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


@COMMANDS.add(
    "rollout-progress",
    "Record in git what the live rollout's analysis decided (rollout.yml, on a schedule): "
    "an abort the server made, a step held long enough with every check passing, the "
    "candidate made production after the last step. In GitHub Actions (--github) the commit "
    "is pushed to the default branch with $ROLLOUT_PUSH_TOKEN and an abort opens ONE issue.",
    arg("--server", default=None, help="the server's URL (default: http://127.0.0.1:serve.port)"),
    arg("--github", action="store_true", help="push the commit and report in GitHub"),
)
def rollout_progress(args: argparse.Namespace) -> int:
    from . import progress

    settings = settings_of(args)
    server = args.server or f"http://127.0.0.1:{settings.serve.port}"
    token = os.environ.get("ROLLOUT_PUSH_TOKEN", "")
    print("\n".join(progress.progress(settings, server, args.github, token)))
    return 0


@COMMANDS.add(
    "load-test",
    "Send many requests to a model server and say how it answered: latency p50/p99, requests "
    "per second, failures, the share of each route; exit 1 past a limit.",
    arg("--server", default=None, help="the server's URL (default: http://127.0.0.1:serve.port)"),
    arg(
        "--rows-from",
        type=input_file,
        default=None,
        help="CSV of rows to send (default: data.raw, the training data)",
    ),
    arg("--requests", type=int, default=2000, help="default: %(default)s"),
    arg("--concurrency", type=int, default=8, help="requests in flight at once (%(default)s)"),
    arg("--batch", type=int, default=1, help="rows per request (default: %(default)s)"),
    arg("--max-failed", type=int, default=0, help="failed requests allowed (%(default)s)"),
    arg("--max-p99-ms", type=float, default=None, help="latency limit at the 99th percentile"),
)
def load_test(args: argparse.Namespace) -> int:
    import json

    from ..pipeline.contract import load_contract
    from . import load_test as load

    settings = settings_of(args)
    source = args.rows_from or settings.data.raw
    if not source.exists():
        raise ProjectError(f"{source}: no such file; name rows to send: --rows-from (ROWS_FROM)")
    rows = load.request_rows(source, load_contract(settings.data.contract))
    server = args.server or f"http://127.0.0.1:{settings.serve.port}"
    result = load.run(server, rows, args.requests, args.concurrency, args.batch)
    summary = result.summary()
    print(json.dumps(summary, indent=2))
    p99 = summary["p99_ms"]
    too_slow = args.max_p99_ms is not None and (p99 is None or p99 > args.max_p99_ms)
    return 1 if result.failed > args.max_failed or too_slow else 0
