"""The model server's HTTP side (FastAPI, run by uvicorn: `make serve`).

POST /predict  one row (a JSON object) or a batch (a list of them); per row the probability,
               the label, the model version that answered; the request id (the caller's
               X-Request-ID, else a new one) routes it and comes back.
GET  /health   the process is alive.
GET  /ready    a verified model is loaded (503 and why, when none is).
GET  /rollout  this worker's view of a rollout: the candidate's share, its last analysis.
GET  /metrics  Prometheus' format: requests, errors, latency and scores per version and route.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Body, FastAPI, Header, Query, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..pipeline.contract import Contract, load_contract
from ..pipeline.explanations import MAX_REASONS
from ..settings import Settings, load_settings
from . import answer, metrics, routing
from .analyst import Analyst
from .answer import RequestRefused, Row, Scores, Table
from .live import Live, LiveState
from .log_buffer import LogBuffer
from .shadow import Job, ShadowQueue

PARAMS_VARIABLE = "MODEL_SERVER_PARAMS"  # the settings file each worker process reads


class BodyLimit:
    """Refuses a request body larger than the settings allow before any of it is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length", b"")
            problem = None
            if not length.isdigit():
                problem = 411, "send the body with a Content-Length"
            elif int(length) > self.max_bytes:
                problem = 413, f"the body is {int(length)} bytes; at most {self.max_bytes}"
            if problem:
                refusal = JSONResponse({"detail": problem[1]}, status_code=problem[0])
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Server:
    """What the routes share: the settings, the contract, the live models and the log."""

    def __init__(self, settings: Settings, live: Live | None = None) -> None:
        self.settings = settings
        self.contract: Contract = load_contract(settings.data.contract)
        self.live = live or Live(settings)
        self.analyst = Analyst(self.live, settings)
        self.log = LogBuffer(
            settings.predict.log,
            settings.serve.log_flush_seconds,
            answer.HASH_AT,
            settings.predict.log_retention_days,
        )
        self.shadow = ShadowQueue(self._shadow)
        self.threshold = settings.evaluate.decision_threshold
        self.sensitive = settings.fairness.sensitive_column

    def predict(self, rows: list[Row], request_id: str, explain: int = 0) -> Response:
        state = self.live.state
        try:
            table = answer.rows_table(rows, self.contract, self.settings.serve.max_rows)
            scores = self._scores(state, table, request_id, explain)
        except RequestRefused as refused:
            metrics.REQUESTS.labels("", "", str(refused.status)).inc()
            return JSONResponse({"detail": refused.detail}, status_code=refused.status)
        if scores is None:
            return self._fallback(state, len(rows), request_id)
        self._measure(scores, 200)
        self.log.add(scores.inputs, answer.log_records(scores, table, request_id, self.sensitive))
        candidate = state.candidate
        shadowed = scores.route == routing.STABLE and routing.shadowed(request_id, state.shadow)
        if candidate and shadowed:
            self.shadow.submit(candidate, table, request_id)
        version = scores.loaded.version.number
        predictions: list[dict[str, Any]] = [
            {"probability": round(float(p), 6), "label": str(label), "model_version": version}
            for p, label in zip(scores.probability, scores.labels, strict=True)
        ]
        for prediction, reasons in zip(predictions, scores.reasons or [], strict=False):
            prediction["reasons"] = reasons
        body = {"request_id": request_id, "route": scores.route, "model_version": version,
                "fallback": False, "predictions": predictions}  # fmt: skip
        return JSONResponse(body, headers={"X-Request-ID": request_id})

    def _scores(
        self, state: LiveState, table: Table, request_id: str, explain: int
    ) -> Scores | None:
        """The answering model's scores; production's when the canary fails (counted as its
        error); None when no verified model can answer."""
        loaded, route = answer.answering(state, request_id)
        if loaded is not None and route == routing.CANARY:
            try:
                return answer.score(loaded, table, self.contract, self.threshold, route, explain)
            except Exception:  # whatever the candidate fails on, production answers instead
                metrics.ERRORS.labels(str(loaded.version.number), route).inc()
                loaded, route = state.stable, routing.STABLE
        if loaded is None:
            return None
        try:
            return answer.score(loaded, table, self.contract, self.threshold, route, explain)
        except RequestRefused:
            raise
        except Exception:  # a model that raises: the fallback answers, never unverified bytes
            metrics.ERRORS.labels(str(loaded.version.number), route).inc()
            return None

    def _fallback(self, state: LiveState, rows: int, request_id: str) -> Response:
        label = self.settings.serve.fallback_label
        why = state.problem or "the model failed to answer"
        metrics.REQUESTS.labels("", routing.FALLBACK, "200" if label else "503").inc()
        if not label:
            return JSONResponse({"detail": f"no verified model can answer: {why}"}, 503)
        predictions = [{"probability": None, "label": label, "model_version": None}] * rows
        body = {"request_id": request_id, "route": routing.FALLBACK, "model_version": None,
                "fallback": True, "reason": why, "predictions": predictions}  # fmt: skip
        return JSONResponse(body, headers={"X-Request-ID": request_id})

    def _measure(self, scores: Scores, status: int) -> None:
        version, route = str(scores.loaded.version.number), scores.route
        metrics.REQUESTS.labels(version, route, str(status)).inc()
        metrics.ROWS.labels(version, route).inc(len(scores.probability))
        metrics.LATENCY.labels(version, route).observe(scores.seconds)
        histogram = metrics.SCORES.labels(version, route)
        for probability in scores.probability:
            histogram.observe(float(probability))

    def _shadow(self, jobs: list[Job]) -> None:
        """The candidate scores copies of requests (in the shadow thread, after their answers
        were sent), several in one call: logged and measured per request, never returned."""
        candidate = jobs[0][0]
        tables = [table for _, table, _ in jobs]
        try:
            table = answer.stacked(tables)
            scores = answer.score(candidate, table, self.contract, self.threshold, routing.SHADOW)
        except Exception:  # a row only the candidate refuses, or it raises: each on its own
            if len(jobs) > 1:
                for job in jobs:
                    self._shadow([job])
            else:
                metrics.ERRORS.labels(str(candidate.version.number), routing.SHADOW).inc()
            return
        parts = answer.split(scores, [answer.size(rows) for rows in tables])
        records: list[list[object]] = []
        for part, (_, rows, request_id) in zip(parts, jobs, strict=True):
            self._measure(part, 200)
            records += answer.log_records(part, rows, request_id, self.sensitive)
        self.log.add(scores.inputs, records)

    def ready(self) -> Response:
        state = self.live.state
        if state.stable is None:
            return JSONResponse({"ready": False, "reason": state.problem}, status_code=503)
        body: dict[str, Any] = {
            "ready": True,
            "production": {"version": state.stable.version.number, "sha256": state.stable.sha256},
            "source": state.source,
            "problem": state.problem,
        }
        if state.candidate is not None:
            body["candidate"] = {
                "version": state.candidate.version.number,
                "sha256": state.candidate.sha256,
                "canary_percent": state.canary_percent,
                "shadow": state.shadow,
            }
        if state.standby is not None:
            body["standby"] = {"version": state.standby.version.number}
        return JSONResponse(body)

    def rollout(self) -> dict[str, Any]:
        """This worker's view of the rollout: the candidate's share and its last analysis."""
        state, verdict = self.live.state, self.analyst.last
        return {
            "candidate": state.candidate.version.number if state.candidate else None,
            "canary_percent": state.canary_percent,
            "shadow": state.shadow,
            "problem": state.problem,
            "stopped": None if state.stopped is None else asdict(state.stopped),
            "analysis": None
            if verdict is None
            else {"healthy": verdict.healthy, "checks": [str(c) for c in verdict.checks]},
        }


def create_app(settings: Settings | None = None, live: Live | None = None) -> FastAPI:
    """The app, for uvicorn's --factory: settings from MODEL_SERVER_PARAMS (default params.yaml)."""
    if settings is None:
        settings = load_settings(Path(os.environ.get(PARAMS_VARIABLE, "params.yaml")))
    server = Server(settings, live)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server.log.start()
        server.live.start()
        server.analyst.start()
        server.shadow.start()
        # What is loaded by now (libraries, the models) lives as long as the worker: out of
        # the collector's sight, a full collection no longer walks a million objects in the
        # middle of an answer (the slowest answers' main cause under load).
        gc.freeze()
        # One answer at a time per worker, in the order they came (as many workers as cores
        # answer side by side): answers sharing one GIL in threads each take as long as all of
        # them together, and the slowest took twice the bare app's. The other routes are
        # async, answered between two answers, never queued behind them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        yield
        server.shadow.close()
        server.analyst.close()
        server.live.close()
        server.log.close()

    app = FastAPI(title=settings.tracking.model_name, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=int(settings.serve.max_body_mb * 1_000_000))
    app.state.server = server

    @app.post("/predict")
    def predict(
        body: Annotated[Row | list[Row], Body()],
        x_request_id: Annotated[str | None, Header(max_length=200)] = None,
        explain: Annotated[int, Query(ge=0, le=MAX_REASONS)] = 0,
    ) -> Response:
        """Score the rows; `?explain=N`: each prediction also names up to N columns that
        pushed its score toward the positive class, with their contributions (log-odds)."""
        rows = [body] if isinstance(body, dict) else body
        return server.predict(rows, x_request_id or uuid.uuid4().hex, explain)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready")
    async def ready() -> Response:
        return server.ready()

    @app.get("/rollout")
    async def rollout() -> dict[str, Any]:
        return server.rollout()

    @app.get("/metrics")
    async def prometheus() -> Response:
        content, media_type = metrics.exposition()
        return Response(content, media_type=media_type)

    return app
