"""The model server in the demo, as a team runs it beside its runners: `serve` in a clean clone of
the repository (serve.fetch: it follows deploy/production.yaml on origin's main), with MLflow's
read credential only, and callers sending it requests the whole time, whose answers are counted
(routes, versions, failures) so that the demo can say what the traffic saw across a rollout."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REQUESTS_PER_SECOND = 20  # little for the runner
ROWS_PER_REQUEST = 10  # a 10% canary answers ~100 rows in a 5 s interval: enough to judge scores
CALLER_ROWS = 200  # distinct rows the callers send, from the project's own data


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def caller_rows(project: Path, rows: int = CALLER_ROWS) -> list[bytes]:
    """Request bodies of ROWS_PER_REQUEST rows each: rows of the project's training data, the
    target left out, numbers as numbers and empty cells left out (a missing value)."""
    contract = yaml.safe_load((project / "data/contract.yaml").read_text(encoding="utf-8"))
    target = contract["target"]["name"]
    with (project / "data/raw/loans.csv").open(encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        sent = [
            {k: _typed(v) for k, v in row.items() if k != target and v != ""}
            for row, _ in zip(reader, range(rows), strict=False)
        ]
    return [
        json.dumps(sent[start : start + ROWS_PER_REQUEST]).encode()
        for start in range(0, len(sent), ROWS_PER_REQUEST)
    ]


def _typed(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class Traffic:
    """Callers at a steady pace; each answer counted by route and version, each failure kept."""

    url: str
    bodies: list[bytes]
    routes: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="callers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sent = 0
        while not self._stop.wait(1 / REQUESTS_PER_SECOND):
            body = self.bodies[sent % len(self.bodies)]
            headers = {"content-type": "application/json", "x-request-id": f"caller-{sent}"}
            request = urllib.request.Request(f"{self.url}/predict", body, headers)
            sent += 1
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
            except OSError as error:  # HTTPError (a 4xx or 5xx answer) is one too
                self.failures.append(str(error))
                continue
            self.routes[answer["route"]] += 1
            self.versions[str(answer["model_version"])] += 1

    def seen(self) -> dict[str, Any]:
        """The answers since the last look, by route and version (counted anew from here on),
        and every failure since the callers started."""
        said = {
            "answered": sum(self.routes.values()),
            "routes": dict(self.routes),
            "versions": dict(self.versions),
            "failed": len(self.failures),
        }
        self.routes, self.versions = Counter(), Counter()
        return said

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


@dataclass
class ModelServer:
    url: str
    process: subprocess.Popen[bytes]
    traffic: Traffic
    log: Path

    def ready(self) -> dict[str, Any]:
        try:
            said: dict[str, Any] = get_json(f"{self.url}/ready")
        except urllib.error.HTTPError as error:  # 503: nothing verified to serve, and why
            said = json.loads(error.read())
        except OSError as error:  # not listening (yet)
            said = {"ready": False, "reason": str(error)}
        return said

    def wait_for(self, holds: Any, seconds: float = 60) -> dict[str, Any]:
        """The server's /ready once `holds(ready)`: it follows git every few seconds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            ready = self.ready()
            if holds(ready):
                return ready
            time.sleep(0.5)
        said = "stopped" if self.process.poll() is not None else self.ready()
        raise RuntimeError(f"the model server did not get there: {said} (see {self.log})")

    def judged_healthy(self, weight: int, seconds: float = 60) -> None:
        """Until /rollout says, 6 times in a row (any worker's), that an analysis interval of
        the candidate at `weight` percent passed every check."""
        deadline, agreed = time.monotonic() + seconds, 0
        while agreed < 6:
            view = get_json(f"{self.url}/rollout")
            healthy = (view.get("analysis") or {}).get("healthy")
            agreed = agreed + 1 if view["canary_percent"] == weight and healthy else 0
            if time.monotonic() > deadline:
                raise RuntimeError(f"no healthy analysis at {weight}%: {view} (see {self.log})")
            time.sleep(0.2)

    def stop(self) -> None:
        self.traffic.stop()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def start(project: Path, origin: Path, folder: Path, port: int, env: dict[str, str]) -> ModelServer:
    """`serve` in a clean clone of origin, following its main, with the callers started once
    it answers. It runs the project's installed command (the same code as the clone's)."""
    clone = folder / "server"
    clone_main = ["git", "clone", "--quiet", "--branch", "main", str(origin), str(clone)]
    subprocess.run(clone_main, check=True)
    command = str(project / ".venv/bin" / project.name)
    for key, value in (("serve.fetch", "true"), ("serve.follow_seconds", "2")):
        subprocess.run([command, "param", "--", key, value], cwd=clone, check=True,
                       capture_output=True)  # fmt: skip
    log = folder / "server.log"
    process = subprocess.Popen(
        [command, "serve"], cwd=clone, env={**env, "SERVE_PORT": str(port)},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = ModelServer(url, process, Traffic(url, caller_rows(project)), log)
    server.wait_for(lambda ready: ready.get("ready") is True, seconds=120)
    server.traffic.start()
    return server
