"""The model server: it answers only with bytes git declares and verified, checks rows with the
batch path's contract code, routes by request id, follows deploy/production.yaml (a rollout's
canary and shadow included) without a restart or a failed request, logs every answer, and falls
back, never to unverified bytes, when no model can answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from conftest import Lab, free_port, loans_frame, logged

from {{ cookiecutter.package_name }}.control import deploy, desired_state, registry
from {{ cookiecutter.package_name }}.control.desired_state import Declared, DesiredStateError, Rollout
from {{ cookiecutter.package_name }}.monitoring import inference_log, scoring
from {{ cookiecutter.package_name }}.pipeline.contract import Contract
from {{ cookiecutter.package_name }}.serving import analysis, progress, rollout_status, routing
from {{ cookiecutter.package_name }}.serving.progress import Move
from {{ cookiecutter.package_name }}.settings import Analysis, Step

CLI = Path(sys.executable).parent / "{{ cookiecutter.project_slug }}"
PROJECT = Path(__file__).resolve().parents[1]
SHA = "a" * 64


def test_a_request_id_keeps_its_route_and_the_shares_are_exact() -> None:
    """The same id, the same route, whichever worker asks; over 20,000 ids the canary's share
    is within 1 percentage point of its weight, and the shadow's draw is its own."""
    ids = [f"request-{n}" for n in range(20_000)]
    routes = [routing.route(i, 10) for i in ids]
    assert routes == [routing.route(i, 10) for i in ids]
    assert abs(routes.count(routing.CANARY) / len(ids) - 0.10) < 0.01
    assert {routing.route(i, 0) for i in ids} == {routing.STABLE}
    assert {routing.route(i, 100) for i in ids} == {routing.CANARY}
    shadowed = [routing.shadowed(i, 0.25) for i in ids]
    assert abs(sum(shadowed) / len(ids) - 0.25) < 0.01
    both = sum(s and r == routing.CANARY for s, r in zip(shadowed, routes, strict=True))
    assert abs(both / len(ids) - 0.025) < 0.005  # independent draws


def rollout_text(**rollout: Any) -> str:
    state = {
        "model": "m",
        "aliases": {"production": {"version": 1, "sha256": SHA}},
        "rollout": {"candidate": {"version": 2, "sha256": "b" * 64}, **rollout},
    }
    return json.dumps(state)


@pytest.mark.parametrize(
    ("rollout", "problem"),
    [
        ({"steps": [{"weight": 50, "hold_minutes": 5}, {"weight": 10, "hold_minutes": 5}]},
         "weights must rise"),
        ({"steps": [{"weight": 10, "hold_minutes": 5}]}, "the last step must take all traffic"),
        ({"steps": [{"weight": 100, "hold_minutes": 0}], "step": 1}, "step 1 is not one of"),
        ({"steps": [{"weight": 100, "hold_minutes": 0}], "shadow": 1.5}, "shadow"),
        ({"steps": [{"weight": 100, "hold_minutes": 0}], "pause": True}, "unknown key"),
        ({"steps": []}, "steps"),
    ],
    ids=["falling", "never-all", "no-such-step", "shadow-share", "unknown-key", "no-steps"],
)  # fmt: skip
def test_the_rollout_is_validated_strictly(rollout: dict[str, Any], problem: str) -> None:
    with pytest.raises(DesiredStateError, match=problem):
        desired_state.parse(rollout_text(**rollout), "deploy/production.yaml")


def test_a_rollout_reads_as_its_weight_now() -> None:
    """Shadow only before the first step, the step's weight after, nothing once aborted; a
    rollout needs a production to roll from, and another version than it."""
    steps = [{"weight": 10, "hold_minutes": 30}, {"weight": 100, "hold_minutes": 0}]
    assert desired_state.parse(rollout_text(steps=steps), "f").rollout.weight == 0  # type: ignore[union-attr]
    live = desired_state.parse(rollout_text(steps=steps, step=0, shadow=0.5), "f").rollout
    assert live is not None and (live.weight, live.shadow) == (10, 0.5)
    gone = desired_state.parse(rollout_text(steps=steps, step=1, aborted="slow"), "f").rollout
    assert gone is not None and gone.weight == 0
    with pytest.raises(DesiredStateError, match="candidate is production's version 1"):
        desired_state.parse(rollout_text(steps=steps).replace('"version": 2', '"version": 1'), "f")


CHECKS = {"error_rate": 0.05, "latency_p99_ms": 20.0, "score_psi": 0.2, "disparate_impact": 0.8}


def log_window(
    route: str, version: int, scores: list[float], latency: float, groups: list[str]
) -> pd.DataFrame:
    return pd.DataFrame({
        "model_version": str(version), "route": route,
        "request_id": [f"{route}-{n}" for n in range(len(scores))], "probability": scores,
        "latency_ms": latency, "sensitive": groups,
    })  # fmt: skip


def judged(
    candidate: pd.DataFrame, errors: float = 0.0, min_rows: int = 50, broken: int | None = None
) -> analysis.Verdict:
    rng = np.random.default_rng(0)
    stable = log_window("stable", 1, list(rng.beta(2, 5, 400)), 2.0, ["a", "b"] * 200)
    settings = Analysis(
        interval_seconds=30, failure_limit=2, min_rows=min_rows, checks=CHECKS, outcomes=True
    )
    answered = analysis.Counts(answered=100.0, errors=errors)
    return analysis.analyse(
        pd.concat([stable, candidate]), answered, analysis.Counts(), 2, 1, settings, 0.25,
        outcome_rules_broken=broken,
    )  # fmt: skip


def test_the_analysis_judges_the_candidate_against_production() -> None:
    """A candidate like production passes every check; one whose scores collapse, one that is
    slow, one that fails requests, and one that selects one group only fail theirs, by name;
    too few rows decide nothing (never a pass, never an abort)."""
    rng = np.random.default_rng(1)
    alike = list(rng.beta(2, 5, 200))
    groups = ["a", "b"] * 100
    healthy = judged(log_window("canary", 2, alike, 3.0, groups))
    assert healthy.healthy and not healthy.failed and healthy.candidate_rows == 200

    collapsed = judged(log_window("shadow", 2, [0.01] * 200, 3.0, groups))
    assert [c.name for c in collapsed.failed] == ["score_psi"]
    slow = judged(log_window("canary", 2, alike, 45.0, groups))
    assert [c.name for c in slow.failed] == ["latency_p99_ms"]
    assert "latency_p99_ms 45 (at most 20): FAILED" in slow.reason()
    failing = judged(log_window("canary", 2, alike, 3.0, groups), errors=20.0)
    assert [c.name for c in failing.failed] == ["error_rate"]
    one_sided = [0.9 if g == "a" else 0.05 for g in groups]
    unfair = judged(log_window("canary", 2, one_sided, 3.0, groups))
    assert "disparate_impact" in [c.name for c in unfair.failed]

    few = judged(log_window("canary", 2, [0.01] * 10, 45.0, groups[:10]))
    assert not few.failed and not few.healthy

    # Outcomes: a rule the candidate's own outcomes fire fails the interval; none counted yet
    # (no outcomes within a hold) is undecided and holds nothing back.
    worse = judged(log_window("canary", 2, alike, 3.0, groups), broken=1)
    assert [c.name for c in worse.failed] == ["outcomes"] and not worse.healthy
    assert "outcomes 1 (at most 0): FAILED" in worse.reason()
    assert judged(log_window("canary", 2, alike, 3.0, groups), broken=0).healthy
    undecided = {c.name for c in few.checks if c.passed is None}
    assert undecided == set(CHECKS) - {"error_rate"} | {"outcomes"}


def test_at_100_percent_rollout_status_judges_scores_against_productions_latest(
    tmp_path: Path,
) -> None:
    """Where the candidate answers every request, the last interval holds no production
    answer: make rollout-status compares the candidate's scores with production's latest
    ones, as the server does, rather than calling the check undecided."""
    log, now = tmp_path / "inference_log", datetime.now(UTC)
    rng = np.random.default_rng(3)

    def answered(seconds_ago: float, version: int, route: str, scores: np.ndarray) -> None:
        when = (now - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds")
        inference_log.append_records(
            [[when, "m", version, route, f"{route}-{n}", 0, "", "", p, "yes", 2.0, ""]
             for n, p in enumerate(scores)],
            log,
        )  # fmt: skip

    answered(20, 1, "stable", rng.beta(2, 5, 300))  # before the step to 100%
    answered(1, 2, "canary", rng.beta(2, 5, 300))
    window, before = rollout_status.last_interval(log, 5, now)
    assert set(window["route"]) == {"canary"} and set(before["route"]) == {"stable"}
    checks = Analysis(interval_seconds=5, failure_limit=1, min_rows=50, checks={"score_psi": 0.25})

    def psi(reference: pd.DataFrame | None) -> float | None:
        verdict = analysis.analyse(
            window, analysis.Counts(), analysis.Counts(), 2, 1, checks, 0.5, reference
        )
        return verdict.checks[0].value

    assert psi(None) is None  # the last interval alone cannot decide
    decided = psi(before)
    assert decided is not None and decided < 0.25


def test_the_counters_are_read_per_version() -> None:
    text = "\n".join([
        '# TYPE model_requests_total counter',
        'model_requests_total{route="canary",status="200",version="2"} 40.0',
        'model_requests_total{route="shadow",status="200",version="2"} 10.0',
        'model_requests_total{route="stable",status="200",version="1"} 400.0',
        '# TYPE model_errors_total counter',
        'model_errors_total{route="canary",version="2"} 5.0',
    ]) + "\n"  # fmt: skip
    assert analysis.counts(text, 2) == analysis.Counts(answered=50.0, errors=5.0)
    assert analysis.counts(text, 1) == analysis.Counts(answered=400.0, errors=0.0)


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Who commits a local rollout's moves (a person's own git identity, in a real project)."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Lab")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "lab@localhost")


def server_view(percent: int = 10, healthy: bool | None = True, **view: Any) -> dict[str, Any]:
    """What a server's /rollout says: candidate 7 answering `percent`, its last analysis."""
    checks = [] if healthy else ["score_psi 0.4 (at most 0.2): FAILED"]
    judged = None if healthy is None else {"healthy": healthy, "checks": checks}
    return {"candidate": 7, "canary_percent": percent, "shadow": 0.0, "problem": None,
            "stopped": None, "analysis": judged, **view}  # fmt: skip


def test_the_rollout_moves_only_on_what_the_server_decided() -> None:
    """rollout.yml's decision: an abort the server made is recorded; a step advances (or
    completes) only once the server serves it, its last analysis is healthy and its hold has
    passed; anything else holds."""
    checks = Analysis(interval_seconds=60, failure_limit=2, checks={"score_psi": 0.2})
    steps = [Step(weight=10, hold_minutes=30), Step(weight=100, hold_minutes=0)]

    def at(step: int, **more: Any) -> Rollout:
        declared = {"analysis": checks, "shadow_hold_minutes": 5, **more}
        return Rollout(candidate=Declared(version=7, sha256=SHA), steps=steps, step=step,
                       **declared)  # fmt: skip

    stopped = server_view(0, candidate=None, stopped={"version": 7, "reason": "psi 0.4"})
    assert progress.decide(at(0), stopped, 0) == Move("abort", "psi 0.4")
    other = server_view(stopped={"version": 6, "reason": "an earlier candidate"})
    assert progress.decide(at(0), other, 30) == Move("advance", "every check passed")
    assert progress.decide(at(-1), server_view(0), 5).kind == "advance"
    assert progress.decide(at(1), server_view(100), 0).kind == "complete"
    holds = {
        "held 29.0 of 30 minutes": progress.decide(at(0), server_view(), 29),
        "last interval: score_psi 0.4 (at most 0.2): FAILED": progress.decide(
            at(0), server_view(healthy=False), 60
        ),
        "no analysis interval of this step has ended yet": progress.decide(
            at(0), server_view(healthy=None), 60
        ),
        "the server does not serve this step yet (50% to 7)": progress.decide(
            at(0), server_view(50), 60
        ),
        "no analysis declared: the rollout moves only by a pull request": progress.decide(
            at(0, analysis=None), server_view(), 60
        ),
    }
    assert {why: move for why, move in holds.items()} == {why: Move("hold", why) for why in holds}


def test_a_rollout_s_own_moves_are_exactly_these() -> None:
    """A step, the abort and, after the last step only, the completion: the commits that need
    no review of their own, because the rollout's pull request approved them in advance."""
    steps = [Step(weight=50, hold_minutes=0), Step(weight=100, hold_minutes=0)]
    rollout = Rollout(candidate=Declared(version=7, sha256=SHA), steps=steps)
    production = {"production": Declared(version=6, sha256="b" * 64)}
    start = desired_state.DesiredState(model="m", aliases=production, rollout=rollout)
    shadow_over = start.rollout_advanced()
    last = shadow_over.rollout_advanced()
    done = last.rollout_completed()
    assert done.rollout is None and done.aliases["production"] == rollout.candidate
    for before, after in [(start, shadow_over), (shadow_over, last), (last, done),
                          (shadow_over, shadow_over.rollout_aborted("latency"))]:  # fmt: skip
        assert after.is_rollout_move_from(before)
    skipped = start.with_alias("production", rollout.candidate).model_copy(update={"rollout": None})
    for before, after in [(start, last), (start, skipped), (last, shadow_over), (done, start)]:
        assert not after.is_rollout_move_from(before)
    with pytest.raises(desired_state.DeployError, match="at step -1: it completes after its last"):
        start.rollout_completed()
    with pytest.raises(desired_state.DeployError, match="no rollout is under way"):
        done.rollout_advanced()


def rows(contract: Contract, count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Rows as a caller sends them: the contract's columns, JSON values, no target."""
    frame = loans_frame(contract, count, seed).drop(columns=[contract.target.name])
    return json.loads(frame.to_json(orient="records"))


def image_command() -> list[str]:
    """The command the Dockerfile's image runs (its CMD), the program found in this project."""
    lines = (PROJECT / "Dockerfile").read_text().splitlines()
    line = next(line for line in lines if line.startswith("CMD "))
    program, *arguments = json.loads(line.removeprefix("CMD "))
    return [str(PROJECT / program), *arguments]


def cli_serve(params: Path, workers: int) -> list[str]:
    return [str(CLI), "--params", str(params), "serve", "--workers", str(workers)]


@contextmanager
def running_server(
    lab: Lab, tmp_path: Path, command: list[str], until: str = "/ready"
) -> Iterator[str]:
    """A real server (uvicorn, its worker processes) started by `command` in the lab's project
    on a loopback port (SERVE_PORT); yields its URL once `until` answers 200, and stops it
    cleanly after."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        command, cwd=lab.repository, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "SERVE_PORT": str(port)}, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}{until}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "server.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def declare_rollout(
    lab: Lab, candidate: int, sha256: str, hold_minutes: float = 30, **rollout: Any
) -> None:
    """Change deploy/production.yaml as a merged rollout pull request does (a local project
    reads its working tree's file), apply it as deploy does, and commit it."""
    state = desired_state.read()
    steps = [Step(weight=weight, hold_minutes=hold_minutes) for weight in (10, 50, 100)]
    declared = Rollout(candidate=Declared(version=candidate, sha256=sha256), steps=steps, **rollout)
    desired_state.write(state.model_copy(update={"rollout": declared}))
    deploy.deploy(lab.settings, github=False, approved_by=("owner", "risk"))
    lab.git("add", str(desired_state.DEPLOY_FILE))
    lab.git("commit", "--quiet", "-m", f"Roll out version {candidate}")


def wait_for(url: str, seen: Any, seconds: float = 15) -> float:
    """Seconds until 20 /ready answers in a row (any worker's) satisfy `seen`."""
    started = time.monotonic()
    agreed = 0
    while agreed < 20:
        agreed = agreed + 1 if seen(httpx.get(f"{url}/ready").json()) else 0
        assert time.monotonic() - started < seconds, httpx.get(f"{url}/ready").json()
        time.sleep(0.02)
    return time.monotonic() - started


def test_the_server_answers_with_git_s_model_and_follows_a_rollout(
    lab: Lab, contract: Contract, tmp_path: Path
) -> None:
    """A real server, started as the image starts it (two worker processes): answers as batch
    scoring scores, refuses what batch scoring refuses with the same reason, then follows a
    declared canary with shadow within seconds, with no failed request across the switch, and
    an abort likewise."""
    stable = lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    candidate = lab.register(lab.candidate(lab.commit(2), lab.commit_time(2), max_depth=2), "pass")
    batch = rows(contract, 50)
    lab.params_file(lab.repository / "params.yaml")  # the image reads the project's params.yaml
    lab.params_file(tmp_path / "lab.yaml")
    assert lab.settings.serve.workers == 2
    with running_server(lab, tmp_path, image_command()) as url:
        ready = httpx.get(f"{url}/ready").json()
        assert ready["production"] == {"version": stable.number, "sha256": stable.digest}

        one = httpx.post(f"{url}/predict", json=batch[0], headers={"X-Request-ID": "r-1"})
        assert one.status_code == 200 and one.headers["X-Request-ID"] == "r-1"
        answer = one.json()
        assert (answer["route"], answer["model_version"]) == ("stable", stable.number)
        many = httpx.post(f"{url}/predict", json=batch).json()["predictions"]
        model = scoring.resolve(lab.settings, lab.client(), None).model
        threshold = lab.settings.evaluate.decision_threshold
        expected = scoring.score(pd.DataFrame(batch), contract, model, stable, threshold)
        batch_scores = expected.predictions["probability"].tolist()
        # Both keep 6 decimals (batch rounds XGBoost's float32, the server its float64 value).
        assert [p["probability"] for p in many] == pytest.approx(batch_scores, abs=2e-6)
        assert [p["label"] for p in many] == expected.predictions["predicted_class"].tolist()
        assert many[0] == answer["predictions"][0]
        # ?explain=3: the same answer, each row with its reasons, as batch scoring names them.
        explained = httpx.post(f"{url}/predict", params={"explain": 3}, json=batch).json()
        reasons = [prediction.pop("reasons") for prediction in explained["predictions"]]
        assert explained["predictions"] == many
        named = scoring.score(pd.DataFrame(batch), contract, model, stable, threshold, explain=3)
        columns = named.predictions[["reason_1", "reason_2", "reason_3"]].to_numpy().tolist()
        assert [[r["column"] for r in said] for said in reasons] == [
            [name for name in row if name] for row in columns
        ]
        too_many = httpx.post(f"{url}/predict", params={"explain": 11}, json=batch[0])
        assert too_many.status_code == 422

        refused = {
            "below the contract's minimum": ({**batch[0], "age": 7}, 422, "age is below 18"),
            "a string in a number": ({**batch[0], "age": "old"}, 422, "age is not a number"),
            "an unknown column": ({**batch[0], "nickname": "x"}, 422, "nickname are not in"),
            "a required value left out": (
                {k: v for k, v in batch[0].items() if k != "credit_score"}, 422,
                "credit_score is missing"),
            "a nested value": ({**batch[0], "age": {"x": 1}}, 422, "age"),
        }  # fmt: skip
        for case, (body, status, reason) in refused.items():
            said = httpx.post(f"{url}/predict", json=body)
            assert (said.status_code, reason in said.text) == (status, True), (case, said.text)
        as_json = {"content-type": "application/json"}
        not_json = httpx.post(f"{url}/predict", content=b"{age: 1", headers=as_json)
        assert not_json.status_code == 422
        huge = httpx.post(f"{url}/predict", content=b"[" + b" " * 5_000_000 + b"]")
        assert huge.status_code == 413 and "at most" in huge.json()["detail"]
        assert httpx.get(f"{url}/health").json() == {"status": "alive"}

        # A declaration deploy has not applied (its checks not passed) is not served.
        state = desired_state.read()
        unapplied = Declared(version=candidate.number, sha256=candidate.digest)
        desired_state.write(state.model_copy(update={"aliases": {"production": unapplied}}))
        wait_for(url, lambda r: "deploy has not applied it" in (r["problem"] or ""))
        assert httpx.post(f"{url}/predict", json=batch[0]).json()["model_version"] == stable.number
        desired_state.write(state)

        # Traffic from another thread across every switch: no request may fail.
        failures: list[str] = []
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(base_url=url) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    said = client.post("/predict", json=batch[n % 50])
                    if said.status_code != 200:
                        failures.append(said.text)

        sender = threading.Thread(target=traffic)
        sender.start()
        declare_rollout(lab, candidate.number, candidate.digest, step=0, shadow=1.0)
        switch = wait_for(url, lambda r: r.get("candidate", {}).get("canary_percent") == 10)
        assert switch < 10 + 1  # follow_seconds is 5 in the tests' params

        ids = [f"caller-{n}" for n in range(200)]
        with httpx.Client(base_url=url) as client:
            routes = {
                i: client.post("/predict", json=batch[0], headers={"X-Request-ID": i}).json()
                for i in ids
            }
        assert all(a["route"] == routing.route(i, 10) for i, a in routes.items())
        canary = [a for a in routes.values() if a["route"] == routing.CANARY]
        assert canary and {a["model_version"] for a in canary} == {candidate.number}

        pd.DataFrame(batch).to_csv(tmp_path / "rows.csv", index=False)
        loaded = subprocess.run(
            [str(CLI), "--params", str(tmp_path / "lab.yaml"), "load-test", "--server", url,
             "--rows-from", str(tmp_path / "rows.csv"), "--requests", "300", "--batch", "5"],
            cwd=lab.repository, capture_output=True, text=True,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        said = json.loads(loaded.stdout)
        assert said["requests"] == 300 and said["failed"] == 0 and said["p99_ms"] > 0
        assert set(said["route_shares"]) == {routing.STABLE, routing.CANARY}

        state = desired_state.read()
        assert state.rollout is not None
        aborted = state.rollout.model_copy(update={"aborted": "test"})
        desired_state.write(state.model_copy(update={"rollout": aborted}))
        wait_for(url, lambda r: "candidate" not in r and "aborted" in (r["problem"] or ""))
        stop.set()
        sender.join()
        assert failures == []
        metrics = httpx.get(f"{url}/metrics").text
        labels = f'route="canary",status="200",version="{candidate.number}"'
        assert "model_requests_total{" + labels + "}" in metrics

    log = logged(lab.settings.predict.log)
    assert list(log.columns) == inference_log.LOG_COLUMNS
    assert {"stable", "canary", "shadow"} <= set(log["route"])
    shadow = log[log["route"] == "shadow"]
    assert set(shadow["model_version"]) == {candidate.number}
    assert set(shadow["request_id"]) <= set(log.loc[log["route"] == "stable", "request_id"])
    one_request = log[log["request_id"] == "r-1"]
    assert one_request["probability"].round(6).tolist() == [answer["predictions"][0]["probability"]]
    # The same input hashes alike from a request and from a batch: drift finds served scores.
    as_batch = scoring.model_view(pd.DataFrame(batch[:1]), contract, model)
    assert one_request["input_sha256"].tolist() == scoring.input_hashes(as_batch.inputs).tolist()


def test_without_verified_bytes_it_answers_503_or_the_declared_fallback(
    lab: Lab, contract: Contract, tmp_path: Path
) -> None:
    """Bytes that do not match git's digest are never served: /ready says why, /predict
    answers 503, or, where params declare a fallback label, that label marked as fallback."""
    stable = lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    state = desired_state.read()
    wrong = Declared(version=stable.number, sha256="0" * 64)
    desired_state.write(state.model_copy(update={"aliases": {"production": wrong}}))
    row = rows(contract, 1)[0]
    params = lab.params_file(tmp_path / "params.yaml")
    with running_server(lab, tmp_path, cli_serve(params, 1), until="/health") as url:
        ready = httpx.get(f"{url}/ready")
        assert ready.status_code == 503 and "sha256" in ready.json()["reason"]
        said = httpx.post(f"{url}/predict", json=row)
        assert said.status_code == 503 and "no verified model" in said.json()["detail"]
    lab.with_settings(serve={"fallback_label": "review"})
    params = lab.params_file(tmp_path / "params.yaml")
    with running_server(lab, tmp_path, cli_serve(params, 1), until="/health") as url:
        said = httpx.post(f"{url}/predict", json=row)
        assert said.status_code == 200
        assert said.json()["fallback"] is True
        fallback = {"probability": None, "label": "review", "model_version": None}
        assert said.json()["predictions"] == [fallback]


def test_a_bad_candidate_is_aborted_by_the_analysis(
    lab: Lab, contract: Contract, tmp_path: Path
) -> None:
    """A candidate whose scores collapse (one shallow tree) is judged on live traffic and taken
    out of the canary by the server itself within an analysis interval; rollout-status says
    why."""
    lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    weak = lab.candidate(lab.commit(2), lab.commit_time(2), n_estimators=1, max_depth=1)
    candidate = lab.register(weak, "pass")
    checks = Analysis(interval_seconds=2, failure_limit=1, min_rows=20, checks={"score_psi": 0.2})
    declare_rollout(lab, candidate.number, candidate.digest, step=0, shadow=1.0, analysis=checks)
    batch = rows(contract, 50, seed=9)
    params = lab.params_file(tmp_path / "params.yaml")
    with running_server(lab, tmp_path, cli_serve(params, 2)) as url:
        assert httpx.get(f"{url}/ready").json()["candidate"]["canary_percent"] == 10
        started, agreed = time.monotonic(), 0
        with httpx.Client(base_url=url) as client:
            while agreed < 20:  # every worker stopped it (any worker answers any request)
                assert time.monotonic() - started < 30, client.get("/rollout").json()
                client.post("/predict", json=batch)
                ready = client.get("/ready").json()
                agreed = agreed + 1 if "candidate" not in ready else 0
        assert "analysis failed 1 interval(s) in a row: score_psi" in ready["problem"]
        said = subprocess.run(
            [str(CLI), "--params", str(params), "rollout-status", "--server", url],
            cwd=lab.repository, capture_output=True, text=True,
        )  # fmt: skip
        recorded = subprocess.run(
            [str(CLI), "--params", str(params), "rollout-progress", "--server", url],
            cwd=lab.repository, capture_output=True, text=True,
        )  # fmt: skip
    assert said.returncode == 1, said.stderr
    assert f"version {candidate.number} rolling out" in said.stdout
    assert "server: analysis failed 1 interval(s) in a row: score_psi" in said.stdout
    assert recorded.returncode == 0, recorded.stderr
    subject = lab.git("log", "-1", "--format=%s", "--", str(desired_state.DEPLOY_FILE))
    assert subject.startswith(
        f"Rollout of {lab.name} version {candidate.number} aborted by its analysis: "
        "analysis failed 1 interval(s) in a row: score_psi"
    )
    assert recorded.stdout.strip() == f"committed: {subject}"
    aborted = desired_state.read().rollout
    assert aborted is not None and aborted.aborted is not None and "score_psi" in aborted.aborted


def test_a_healthy_candidate_becomes_production_step_by_step_in_git(
    lab: Lab, contract: Contract, tmp_path: Path
) -> None:
    """Under live traffic, rollout-progress moves a healthy candidate from shadow through its
    steps to production, one commit of deploy/ each, as the server judged it; deploy applies
    the last, and the server answers with it, no request failing on the way."""
    stable = lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    healthy = lab.register(lab.candidate(lab.commit(2), lab.commit_time(2), max_depth=4), "pass")
    checks = Analysis(
        interval_seconds=1, failure_limit=3, min_rows=20,
        checks={"score_psi": 2.0, "error_rate": 0.01},
    )  # fmt: skip
    declare_rollout(
        lab, healthy.number, healthy.digest, hold_minutes=0, shadow=1.0, analysis=checks
    )
    batch = rows(contract, 40, seed=11)
    params = lab.params_file(tmp_path / "params.yaml")
    said: list[str] = []
    with (
        running_server(lab, tmp_path, cli_serve(params, 2)) as url,
        httpx.Client(base_url=url) as client,
    ):
        started = time.monotonic()
        while desired_state.read().rollout is not None:
            assert time.monotonic() - started < 120, said
            for _ in range(4):
                assert client.post("/predict", json=batch).status_code == 200
            said += progress.progress(lab.settings, url, github=False)
            time.sleep(0.3)
        assert deploy.deploy(lab.settings, github=False, approved_by=("owner", "risk"))[0] == (
            f"production: {healthy.label} (was version {stable.number}); approved by owner, risk"
        )
        wait_for(url, lambda ready: ready["production"]["version"] == healthy.number)
        assert client.post("/predict", json=batch[0]).json()["model_version"] == healthy.number
    moves = [line.removeprefix("committed: ") for line in said if line.startswith("committed")]
    version = f"Rollout of {lab.name} version {healthy.number}"
    assert [move.split(":")[0] for move in moves] == [
        f"{version} to step 1 of 3 (10%)",
        f"{version} to step 2 of 3 (50%)",
        f"{version} to step 3 of 3 (100%)",
        f"{version} complete",
    ]
    log = lab.git("log", "--format=%s", "--", str(desired_state.DEPLOY_FILE)).splitlines()
    assert log[: len(moves)] == moves[::-1]


def test_a_local_promotion_beside_production_rolls_out_where_a_server_is_named(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make promote TO=production without GitHub proposes what the promotion pull request
    would: with MODEL_SERVER_URL set, params.yaml's rollout, applied at once as the candidate
    beside production."""
    stable = lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    later = lab.register(lab.candidate(lab.commit(2), lab.commit_time(2), max_depth=2), "pass")
    monkeypatch.setenv("MODEL_SERVER_URL", "http://127.0.0.1:8080")
    said = deploy.declare_and_deploy(lab.settings, later.number, ("owner",))
    assert said[0].startswith(f"deploy/production.yaml: Rolls {later.label} out beside")
    assert registry.aliases(lab.client(), lab.name) == {
        "production": stable.number, "candidate": later.number,
    }  # fmt: skip
    declared = desired_state.read()
    assert declared.rollout is not None and declared.rollout.step == -1


def test_deploy_applies_a_rollout_after_production_s_checks(lab: Lab) -> None:
    """deploy sets the `candidate` alias the server requires only for a candidate that holds
    the declared bytes and passed the gate; an aborted rollout puts it to rest on production
    (deleting an alias takes MANAGE in MLflow, which may delete versions too)."""
    lab.champion(lab.candidate(lab.commit(1), lab.commit_time(1)))
    failed = lab.register(lab.candidate(lab.commit(2), lab.commit_time(2), max_depth=2), "fail")
    with pytest.raises(desired_state.DeployError, match="did not pass the gate"):
        declare_rollout(lab, failed.number, failed.digest, step=0)
    assert registry.CANDIDATE not in registry.aliases(lab.client(), lab.name)
    passed = lab.register(lab.candidate(lab.commit(3), lab.commit_time(3), max_depth=3), "pass")
    with pytest.raises(registry.RegistryError, match="sha256"):
        declare_rollout(lab, passed.number, "0" * 64, step=0)
    declare_rollout(lab, passed.number, passed.digest, step=0)
    assert registry.aliases(lab.client(), lab.name)[registry.CANDIDATE] == passed.number
    state = desired_state.read()
    assert state.rollout is not None
    aborted = state.rollout.model_copy(update={"aborted": "latency"})
    desired_state.write(state.model_copy(update={"rollout": aborted}))
    said = deploy.deploy(lab.settings, github=False, approved_by=())
    gone = f"rollout: version {passed.number} is no longer a candidate (aborted: latency)"
    assert said[-1].startswith(gone)
    assert registry.aliases(lab.client(), lab.name)[registry.CANDIDATE] == 1  # at rest
