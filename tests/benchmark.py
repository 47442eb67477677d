"""How close the pull-request loop runs to the physical limit: `make bench [ROWS=1000000]`.

Bakes the default project, gives it ROWS rows of the sample's generator, registers a champion
from it, then times every step the way a person or a workflow runs it (a make target or a
`dvc repro` of one stage, a fresh process each) beside its bare limit measured in the same run:
one plain process that imports what the step needs once and does the same work
(tests/bench_bare.py). Each figure is the median of REPEAT runs; peak memory is the largest
process's resident set. Prints a table and writes it as JSON. Not a test: the README's
"Benchmark" section says how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from cookiecutter.main import cookiecutter

# Run as a script: the demo's sample-data generator is imported by name, from demo/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "demo"))
from baked import TEMPLATE, Project, run_in  # noqa: E402
from sample_data import SHIPPED_SEED, make_loans, to_csv  # noqa: E402
from servers import free_port  # noqa: E402

BARE = Path(__file__).resolve().parent / "bench_bare.py"
RUN = ["uv", "run", "--locked"]
STAGES = ("validate", "train")
REBUILD = "dvc repro -f (make rebuild)"
LONG = 3600  # seconds a setup step may take at a million rows and more


# Runs one command and writes the peak resident memory of its largest process (KiB) to a
# file. A process's peak counts the memory of the one that started it (Linux keeps it across
# fork and exec), so the bench, which holds the generated rows, never starts a step itself.
LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds and peak resident MiB of the command's largest process, and its stdout."""
    with tempfile.NamedTemporaryFile(suffix=".peak") as peak:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, peak.name, *command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        kib = int(Path(peak.name).read_text() or 0)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}")
    return seconds, kib / 1024, done.stdout


class Bench:
    """The baked project under measurement, and the rows of the table so far."""

    def __init__(self, project: Project, repeat: int) -> None:
        self.project, self.repeat = project, repeat
        self.python = str(project.root / ".venv/bin/python")
        self.rows: list[dict[str, Any]] = []

    def median(self, command: list[str]) -> tuple[float, float, str]:
        runs = [timed(command, self.project.root, self.project.env) for _ in range(self.repeat)]
        seconds = statistics.median(run[0] for run in runs)
        return seconds, max(run[1] for run in runs), runs[-1][2]

    def measure(self, step: str, command: list[str], bare: str | None, *args: str) -> str:
        """Time the step REPEAT times, then its bare limit REPEAT times; keep the row."""
        seconds, mib, output = self.median(command)
        row: dict[str, Any] = {"step": step, "seconds": round(seconds, 2), "peak_mib": round(mib)}
        if bare:
            bare_seconds, bare_mib, bare_output = self.median(
                [self.python, str(BARE), bare, str(self.project.root), *args]
            )
            row.update(
                bare_seconds=round(bare_seconds, 2),
                bare_peak_mib=round(bare_mib),
                ratio=round(seconds / bare_seconds, 2),
                memory_ratio=round(mib / bare_mib, 2),
                bare_result=json.loads(bare_output.strip().splitlines()[-1]),
            )
        self.rows.append(row)
        print(table_line(row), flush=True)
        return output


def table_line(row: dict[str, Any]) -> str:
    bare = (
        f"{row['bare_seconds']:8.2f} {row['bare_peak_mib']:7d}  {row['ratio']:5.2f}x "
        f"{row['memory_ratio']:5.2f}x"
        if "bare_seconds" in row
        else f"{'-':>8} {'-':>7}  {'-':>6} {'-':>6}"
    )
    return f"{row['step']:<30} {row['seconds']:8.2f} {row['peak_mib']:7d}  {bare}"


HEADER = (
    f"{'step':<30} {'seconds':>8} {'MiB':>7}  {'bare s':>8} {'bare MiB':>7}  "
    f"{'time':>6} {'memory':>6}"
)


def bake(folder: Path, rows: int) -> Project:
    """The default project with `rows` rows of the sample's generator, set up and committed,
    its MLflow server started."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(folder)))
    (root / "data/raw/loans.csv").write_text(to_csv(make_loans(rows, SHIPPED_SEED)))
    batch = folder / "batch.csv"
    batch.write_text(to_csv(make_loans(rows, SHIPPED_SEED + 1)))
    project = Project(root, free_port(), folder / "dvc-remote")
    # What the project's Makefile exports (for the steps run without make and for the bare
    # ones), and the OpenMP wait policy the package sets for XGBoost (for the bare ones).
    project.env.update(
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{project.port}",
        MLFLOW_DISABLE_TELEMETRY="true",
        OMP_WAIT_POLICY="PASSIVE",
    )
    project.run("make", "setup", timeout=LONG)
    project.run("git", "add", "-A")
    project.run("git", "commit", "--quiet", "-m", f"{rows} rows")
    project.make("mlflow-server")
    return project


def champion(bench: Bench) -> None:
    """This commit's model, registered and in production: the gate's champion. Then a deeper
    model is committed, so the gate compares two different models."""
    bench.project.run("make", "release", timeout=LONG)
    bench.project.make("promote")
    bare = bench.project.root.parent / "bare"
    bare.mkdir(exist_ok=True)
    shutil.copyfile(bench.project.root / "models/model.ubj", bare / "champion.ubj")
    bench.project.make("param", "KEY=train.max_depth", "VALUE=5")
    bench.project.run("git", "commit", "--quiet", "-am", "A deeper model")


def same_interval(bench: Bench) -> bool:
    gate = json.loads((bench.project.root / "reports/gate.json").read_text())
    interval = gate["interval"]
    bare = next(row for row in bench.rows if row["step"] == "gate")["bare_result"]
    return bool(interval["low"] == bare["low"] and interval["high"] == bare["high"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=TEMPLATE / "build/bench")
    parser.add_argument(
        "--log-rows", type=int, default=10_000_000,
        help="the inference log make outcomes judges a day of (then ten times as long); 0: none",
    )  # fmt: skip
    parser.add_argument(
        "--engine", choices=("pandas", "dask"), default="pandas",
        help="dask: time the train stage on each engine, the dask one beside a bare "
        "xgboost.dask script (README: Beyond one machine), and nothing else",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rows < 2_000:
        raise SystemExit(
            "--rows: the sample's contract asks for at least 1000 rows, and the evaluation "
            "split holds a quarter of them; use 2000 or more"
        )
    project = bake(args.folder, args.rows)
    root = project.root
    batch = str(args.folder / "batch.csv")
    bench = Bench(project, args.repeat)
    try:
        champion(bench)
        print(f"{args.rows} rows, median of {args.repeat}\n{HEADER}", flush=True)
        if args.engine == "dask":
            engine_rows(bench)
            return
        bench.measure("<cli> --help", [str(root / ".venv/bin" / root.name), "--help"], None)
        for stage in STAGES:
            bench.measure(f"stage {stage}", [*RUN, "dvc", "repro", "-f", "-s", stage], stage)
        bench.measure(REBUILD, ["make", "rebuild"], "pipeline")
        # The command itself where make would turn its verdict (exit 1) into make's exit 2.
        cli = [*RUN, root.name]
        bench.measure("gate", [*cli, "gate"], "gate")
        bench.measure("report", ["make", "report"], "report")
        bench.measure("predict", ["make", "predict", f"INPUT={batch}"], "predict", batch)
        bench.measure("drift", [*cli, "drift", batch], "drift", batch)
        serving = serving_rows(bench, Path(batch))
        serving += rollout_rows(bench, Path(batch))
        if args.log_rows:
            outcome_rows(bench, args.log_rows)
    finally:
        project.make("mlflow-stop", check=False)
    summary = pr_loop(bench)
    print(table_line(summary))
    print(f"gate interval as the bare bootstrap's: {'yes' if same_interval(bench) else 'NO'}")
    result = {
        "rows": args.rows, "repeat": args.repeat, "steps": [*bench.rows, summary],
        "serving": serving,
    }  # fmt: skip
    out = args.folder / f"bench-{args.rows}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


# Requests per measurement, by rows per request: enough for a stable 99th percentile.
SERVING_LOADS = {1: 4000, 100: 600}
SERVING_CONCURRENCY = 8
LOAD_FIGURES = ("p50_ms", "p99_ms", "per_second")


def started_server(command: list[str], cwd: Path, env: dict[str, str], port: int) -> Any:
    """A server process (its own process group), once its /health answers."""
    log = (cwd.parent / f"server-{port}.log").open("w")
    server = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while not answers(f"http://127.0.0.1:{port}/health"):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server on port {port} did not start: see {log.name}")
        time.sleep(0.5)
    return server


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def load(
    bench: Bench,
    url: str,
    batch: Path,
    rows: int,
    requests: int,
    concurrency: int = SERVING_CONCURRENCY,
) -> dict[str, Any]:
    """The project's own load test (the same client for both servers), after a warm-up."""
    command = [
        str(bench.project.root / ".venv/bin" / bench.project.root.name), "load-test",
        "--server", url, "--rows-from", str(batch), "--batch", str(rows),
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    run = bench.project.run
    run(*command, "--requests", "200")
    said: dict[str, Any] = json.loads(run(*command, "--requests", str(requests)).stdout)
    return said


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Load-test figures over several runs: the median of each, every failure counted."""
    figures = {key: statistics.median(run[key] for run in runs) for key in LOAD_FIGURES}
    return {**figures, "failed": sum(run["failed"] for run in runs)}


def serving_rows(bench: Bench, batch: Path) -> list[dict[str, Any]]:
    """The model server (make serve) beside a bare ASGI app doing only inplace_predict, same
    model, workers and client: latency p50/p99 and requests per second, 1 and 100 rows, each
    the median of REPEAT runs taken in turn with the bare app's."""
    project = bench.project
    workers = "2"
    ours, bare = free_port(), free_port()
    env = {**project.env, "SERVE_PORT": str(ours)}
    servers = [started_server(["make", "serve"], project.root, env, ours)]
    bare_env = {
        **project.env,
        "BARE_PROJECT": str(project.root),
        "BARE_MODEL": str(project.root.parent / "bare/champion.ubj"),
    }
    bare_command = [
        bench.python, "-m", "uvicorn", "--app-dir", str(BARE.parent), "bench_bare:bare_app",
        "--factory", "--workers", workers, "--port", str(bare), "--log-level", "warning",
    ]  # fmt: skip
    servers.append(started_server(bare_command, project.root, bare_env, bare))
    rows = []
    ours_url, bare_url = f"http://127.0.0.1:{ours}", f"http://127.0.0.1:{bare}"
    try:
        for size, requests in SERVING_LOADS.items():
            ours_runs, bare_runs = [], []
            for _ in range(bench.repeat):  # turn about: a slow spell falls on both sides
                ours_runs.append(load(bench, ours_url, batch, size, requests))
                bare_runs.append(load(bench, bare_url, batch, size, requests))
            measured, limit = median_run(ours_runs), median_run(bare_runs)
            row = {
                "step": f"serve {size} row{'s' if size > 1 else ''}/request",
                **{key: measured[key] for key in ("p50_ms", "p99_ms", "per_second", "failed")},
                **{f"bare_{key}": limit[key] for key in ("p50_ms", "p99_ms", "per_second")},
                "p99_ratio": round(measured["p99_ms"] / limit["p99_ms"], 2),
                "throughput_ratio": round(measured["per_second"] / limit["per_second"], 2),
            }
            rows.append(row)
            print(
                f"{row['step']:<30} p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
                f"{row['per_second']:8.1f}/s   bare: p50 {row['bare_p50_ms']:7.2f}  p99 "
                f"{row['bare_p99_ms']:7.2f}  {row['bare_per_second']:8.1f}/s   p99 "
                f"{row['p99_ratio']:.2f}x, throughput {row['throughput_ratio']:.2f}x",
                flush=True,
            )
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    return rows


# deploy/production.yaml's rollout, changed as a reviewed pull request would, with the
# project's own code: to its first step judged by a check no model passes (an abort), and to
# the candidate as production all at once (a switch).
FAILING_STEP = """
from {package}.control import desired_state
from {package}.settings import Analysis
state = desired_state.read()
judged = Analysis(
    interval_seconds=1, failure_limit=1, min_rows=1, checks={{"latency_p99_ms": 0.001}}
)
rollout = state.rollout.model_copy(update={{"step": 0, "analysis": judged}})
desired_state.write(state.model_copy(update={{"rollout": rollout}}))
"""
CANDIDATE_TO_PRODUCTION = """
from {package}.control import desired_state
from {package}.control.desired_state import Declared
state = desired_state.read()
candidate = state.rollout.candidate
state = state.with_alias("production", Declared(version=candidate.version, sha256=candidate.sha256))
desired_state.write(state.model_copy(update={{"rollout": None}}))
"""
ROLLOUT_PLAN = {"shadow": 1.0, "shadow_hold_minutes": 0, "steps": [
    {"weight": 10, "hold_minutes": 0}, {"weight": 100, "hold_minutes": 0}]}  # fmt: skip


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def post_route(url: str, row: bytes) -> str:
    request = urllib.request.Request(
        f"{url}/predict", data=row, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["route"])


def until(url: str, seen: Any, seconds: float = 60) -> float:
    """Seconds until 20 /ready answers in a row (any worker's) satisfy `seen`."""
    started, agreed = time.monotonic(), 0
    while agreed < 20:
        agreed = agreed + 1 if seen(get_json(f"{url}/ready")) else 0
        if time.monotonic() - started > seconds:
            raise SystemExit(f"the server at {url} did not get there in {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


def rollout_rows(bench: Bench, batch: Path) -> list[dict[str, Any]]:
    """A candidate beside production on one server (make serve): the cost of shadow at 100%
    (p50 beside none), an abort of a 10% canary (ms from the last worker's decision to the
    last canary answer), and production switched under load (failed requests, seconds)."""
    project = bench.project
    project.make("release", timeout=LONG)  # champion()'s deeper model: version 2, gated
    params = project.root / "params.yaml"
    settings = yaml.safe_load(params.read_text())
    settings["deploy"]["rollout"].update(ROLLOUT_PLAN)
    params.write_text(yaml.safe_dump(settings, sort_keys=False))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**project.env, "SERVE_PORT": str(port), "MODEL_SERVER_URL": url}
    server = started_server(["make", "serve"], project.root, env, port)
    package = project.root.name.replace("-", "_")
    try:
        # One request at a time: what shadow adds to an answer, not to a saturated machine
        # (where it costs throughput, as a second model's work must).
        plain = load(bench, url, batch, 1, 1000, concurrency=1)
        run_in(project.root, env, "make", "promote", "TO=production", "APPROVED_BY=bench")
        until(url, lambda ready: "candidate" in ready)
        shadowed = load(bench, url, batch, 1, 1000, concurrency=1)
        shadow = {
            "step": "serve 1 row, one at a time, shadow 100%",
            **{key: shadowed[key] for key in ("p50_ms", "p99_ms", "per_second", "failed")},
            "without_p50_ms": plain["p50_ms"],
            "p50_ratio": round(shadowed["p50_ms"] / plain["p50_ms"], 2),
        }
        project.python(FAILING_STEP.format(package=package))
        abort = aborted_canary(url, first_row(project, batch))
        project.python(CANDIDATE_TO_PRODUCTION.format(package=package))
        switch = switched_under_load(bench, url, batch, env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    for row in (shadow, abort, switch):
        print(f"{row['step']:<38} " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "step"))
    return [shadow, abort, switch]


def first_row(project: Project, batch: Path) -> bytes:
    """The batch's first row as a caller sends it (the target left out), typed as JSON."""
    frame = f"pd.read_csv({str(batch)!r}, nrows=1).drop(columns='defaulted')"
    code = f"import pandas as pd; print({frame}.to_json(orient='records')[1:-1])"
    return project.python(code).strip().encode()


def aborted_canary(url: str, row: bytes) -> dict[str, Any]:
    """Requests one after another while the server takes the failing canary in and aborts it:
    how long after the last worker decided the last canary answer came."""
    answers: list[tuple[float, str]] = []
    decided: set[str] = set()
    started = time.monotonic()
    while time.monotonic() - started < 60:
        answers.append((time.time(), post_route(url, row)))
        if len(answers) % 10 == 0:
            stopped = get_json(f"{url}/rollout")["stopped"]
            if stopped:
                decided.add(stopped["at"])
        canary_since = [route for _, route in answers[-300:] if route == "canary"]
        if len(decided) >= 2 and len(answers) > 300 and not canary_since:
            break
    else:
        raise SystemExit("the failing canary was not aborted by every worker within 60 s")
    last_decision = max(datetime.fromisoformat(at).timestamp() for at in decided)
    canary = [when for when, route in answers if route == "canary"]
    after = max(0.0, (max(canary, default=0.0) - last_decision) * 1000)
    return {"step": "abort a 10% canary", "canary_answers": len(canary),
            "ms_after_the_decision": round(after, 1)}  # fmt: skip


def switched_under_load(bench: Bench, url: str, batch: Path, env: dict[str, str]) -> dict[str, Any]:
    """Production declared anew and deployed while the load test runs: seconds until every
    worker answers with it, and the load test's failed requests."""
    command = [
        str(bench.project.root / ".venv/bin" / bench.project.root.name), "load-test",
        "--server", url, "--rows-from", str(batch), "--requests", "6000",
        "--concurrency", str(SERVING_CONCURRENCY),
    ]  # fmt: skip
    loading = subprocess.Popen(command, cwd=bench.project.root, env=env, stdout=subprocess.PIPE)
    time.sleep(1)
    run_in(bench.project.root, env, "make", "deploy", "APPROVED_BY=bench")
    seconds = until(url, lambda ready: ready["production"]["version"] == 2)
    said, _ = loading.communicate(timeout=600)
    result = json.loads(said)
    return {"step": "switch production under load", "seconds": round(seconds, 2),
            "failed": result["failed"], "requests": result["requests"]}  # fmt: skip


# The inference log make outcomes judges a day of: LOG_DAYS closed days of LOG_ROWS in all,
# then ten times as many days of the same size (the day judged is the same).
LOG_DAYS = 30
JUDGE_A_DAY = {"outcomes.window": "daily", "outcomes.alert_after": "1", "outcomes.of_last": "1",
               "outcomes.max_delay_days": "1"}  # fmt: skip


def outcome_rows(bench: Bench, log_rows: int) -> None:
    """make outcomes on yesterday's served decisions and their outcomes (stored, then judged in
    daily windows), with a log of log_rows and of ten times as many, beside one process reading
    that day's Parquet, joining and computing the same figures (bench_bare.py outcomes)."""
    project = bench.project
    for key, value in JUDGE_A_DAY.items():
        project.make("param", f"KEY={key}", f"VALUE={value}")
    labels = str(project.root.parent / "outcomes.csv")
    store = project.root / yaml.safe_load((project.root / "params.yaml").read_text())[
        "outcomes"]["store"]  # fmt: skip
    # A fresh store each run: the same outcomes stored again would be read again.
    command = ["sh", "-c", f'rm -rf "{store}" && exec {" ".join(RUN)} {project.root.name} '
               f'outcomes "{labels}"']  # fmt: skip
    rows_a_day = log_rows // LOG_DAYS
    for days in (LOG_DAYS, 10 * LOG_DAYS):
        project.run(bench.python, str(BARE), "outcome-log", str(project.root), str(days),
                    str(rows_a_day), timeout=LONG)  # fmt: skip
        step = f"outcomes, 1 day of {days * rows_a_day / 1e6:.3g}M"
        bench.measure(step, command, "outcomes", labels)


def engine_rows(bench: Bench) -> None:
    """The train stage on the pandas engine, then on the dask engine (a local cluster of
    engine.workers processes, started and stopped by the stage) beside the bare xgboost.dask
    script; written as JSON."""
    train_stage = [*RUN, "dvc", "repro", "-f", "-s", "train"]
    bench.measure("stage train (pandas)", train_stage, "train")
    bench.project.make("param", "KEY=engine.name", "VALUE=dask")
    bench.project.run("git", "commit", "--quiet", "-am", "The dask engine")
    bench.measure("stage train (dask)", train_stage, "train-dask")
    rows = len(bench.project.root.joinpath("data/split/train.csv").read_text().splitlines()) - 1
    out = bench.project.root.parent / f"bench-dask-{rows}.json"
    out.write_text(json.dumps({"train_rows": rows, "steps": bench.rows}, indent=2) + "\n")
    print(f"written: {out}")


def pr_loop(bench: Bench) -> dict[str, Any]:
    """What a pull request waits for (rebuild, gate, report), beside ONE process doing all of
    that work (bench_bare.py loop): splitting the loop into processes (each importing pandas,
    the package, MLflow again), DVC and the MLflow logging count against the loop, where the
    sum of the steps' own limits counted them on both sides."""
    parts = [row for row in bench.rows if row["step"] in (REBUILD, "gate", "report")]
    seconds = sum(row["seconds"] for row in parts)
    mib = max(row["peak_mib"] for row in parts)
    bare, bare_mib, _ = bench.median([bench.python, str(BARE), "loop", str(bench.project.root)])
    return {
        "step": "PR loop (rebuild+gate+report)",
        "seconds": round(seconds, 2),
        "peak_mib": mib,
        "bare_seconds": round(bare, 2),
        "bare_peak_mib": round(bare_mib),
        "ratio": round(seconds / bare, 2),
        "memory_ratio": round(mib / bare_mib, 2),
    }


if __name__ == "__main__":
    sys.exit(main())
