"""The FastAPI application: authenticate, parse, predict, detect, commit the audit row, answer.

One prediction request goes through, in order:

1. the key (``Authorization: Bearer``; 401 without or with a wrong one, 403 revoked);
2. the body (413 over the size or batch limit, 415 another type, 422 malformed);
3. a quota pre-check from the key record (429 early, before any model work);
4. the model, through the key's output policy; PRADA observes the true labels;
5. the group commit (:mod:`bastion.serve.commit`): quota and rate debited and the audit row
   appended in one durable transaction; 429 if the quota or rate says no, 503 if the store
   cannot write (fail closed: nothing is answered unlogged);
6. the answer.

Errors are JSON ``{"error": code, "detail": message}``; unexpected failures answer 500
without a trace. Keys never reach a log line: the access log is bastion's own (no query
strings) and every bastion/uvicorn log record passes :class:`~bastion.serve.keys.RedactKeys`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, unquote

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bastion.defenses.prada import PRADA
from bastion.exceptions import BastionError
from bastion.models.base import LABELS, SCORES, BaseModel
from bastion.serve import keys, policies
from bastion.serve.commit import GroupCommitter
from bastion.serve.metrics import CONTENT_TYPE, GatewayMetrics
from bastion.serve.payload import JSON, NPY, PayloadError, parse_inputs
from bastion.serve.store import BLOCKED, OK, QUOTA, RATE, REVOKED, Charge, KeyRecord, StoreUnavailableError
from bastion.validation import check_choice, check_scalar

try:  # the serve extra installs orjson; the standard library's json is the fallback
    import orjson
except ImportError:  # pragma: no cover - exercised only without the extra
    orjson = None

logger = logging.getLogger("bastion.serve")
ENVIRONMENT_VARIABLE = "BASTION_SERVE_CONFIG"
KEY_PARAMETERS = {"api_key", "apikey", "key", "token", "access_token", "auth", "authorization"}
QUOTA_RETRY_AFTER_S = 86400
UNAVAILABLE_RETRY_AFTER_S = 5
# How long the prediction path trusts a key record read from the store (see RecordCache).
RECORD_TTL_S = 1.0
# Bodies this small (a few inputs) are answered on the event loop: a thread hop costs more.
INLINE_BODY_BYTES = 16384


@dataclass(frozen=True)
class GatewayConfig:
    """How a gateway serves its model.

    Attributes:
        max_body_bytes: the largest request body (413 beyond).
        max_batch: the most inputs in one request (413 beyond).
        prada: run the PRADA detector on every key's queries.
        prada_delta: PRADA's Shapiro-Wilk threshold.
        on_alert: ``"log"`` (record and export the alert) or ``"block"`` (also revoke the key).
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 1024
    prada: bool = True
    prada_delta: float = 0.9
    on_alert: str = "log"

    def __post_init__(self) -> None:
        check_scalar(self.max_body_bytes, "max_body_bytes", kind=int, low=1024)
        check_scalar(self.max_batch, "max_batch", kind=int, low=1)
        check_scalar(self.prada_delta, "prada_delta", low=0.0, high=1.0)
        check_choice(self.on_alert, "on_alert", ("log", "block"))


class _Answered(BaseModel):
    """The model's answers to one batch, as a Model the output-policy wrappers can wrap."""

    def __init__(self, template: Any, scores: np.ndarray) -> None:
        super().__init__()
        self.n_classes, self.input_shape, self.clip = template.n_classes, tuple(template.input_shape), template.clip
        self.capabilities = frozenset({LABELS, SCORES})
        self._scores = scores

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self._scores


class RecordCache:
    """Key records of the prediction path, read from the store at most once per ``ttl_s``.

    A record only decides the early refusals (revoked: 403, quota spent: 429) made before
    any model work; the store's commit decides again, exactly, for every query (a key
    revoked by ``bastion keys revoke`` or spent by another worker a moment ago gets its 403
    or 429 from the commit, and nothing unlogged is answered). The quota this process spent
    is applied to the cached record at once.
    """

    def __init__(self, store: Any, ttl_s: float = RECORD_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._records: dict[str, tuple[float, KeyRecord]] = {}

    def find(self, key_id: str) -> KeyRecord | None:
        """The record of ``key_id`` (``None`` if unknown; unknown ids are not cached)."""
        now = time.monotonic()
        hit = self._records.get(key_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        record = self.store.find_key(key_id)
        if record is not None:
            self._records[key_id] = (now, record)
        return record

    def charged(self, record: KeyRecord, remaining: int | None) -> None:
        """Apply a committed charge (the quota ``remaining`` after it) to the cached record."""
        hit = self._records.get(record.key_id)
        if hit is not None and record.quota is not None and remaining is not None:
            self._records[record.key_id] = (hit[0], replace(hit[1], used=record.quota - remaining))


def dumps(content: Any) -> bytes:
    """``content`` as JSON bytes (orjson when installed, numpy arrays included)."""
    if orjson is not None:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(content, default=lambda value: value.tolist(), separators=(",", ":")).encode()


class FastJSONResponse(JSONResponse):
    """A JSON response rendered by :func:`dumps`."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return FastJSONResponse({"error": code, "detail": keys.redact(detail)}, status_code=status, headers=headers)


def input_digest(x: np.ndarray) -> str:
    """SHA-256 of a batch (its shape and float32 bytes), hex: what the audit log records."""
    digest = hashlib.sha256(repr(tuple(x.shape)).encode())
    digest.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return digest.hexdigest()


PREDICT_BODY = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["inputs"],
                "properties": {
                    "inputs": {
                        "type": "array",
                        "description": "A batch of samples, shape (n, *input_shape), values in the model's range.",
                        "items": {},
                    }
                },
            }
        },
        NPY: {"schema": {"type": "string", "format": "binary", "description": "A .npy array (n, *input_shape)."}},
    },
}
ERROR_RESPONSES = {
    status: {"description": text, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for status, text in {
        401: "No key, or a wrong one",
        403: "Revoked or blocked key",
        413: "Body or batch too large",
        415: "Unsupported content type",
        422: "Malformed body or inputs",
        429: "Over rate or quota (see Retry-After)",
        503: "The audit log cannot be written: nothing is answered unlogged",
    }.items()
}


def create_app(model: Any, store: Any, config: GatewayConfig | None = None) -> FastAPI:
    """The gateway in front of ``model``, with keys, quotas and the audit log in ``store``.

    Args:
        model: a bastion Model (loaded with :func:`bastion.models.io.load`).
        store: a :class:`~bastion.serve.store.Store` (a :class:`~bastion.serve.sqlite.SQLiteStore`).
        config: limits, PRADA and the alert action.

    Returns:
        A FastAPI application (run it with uvicorn).
    """
    config = config or GatewayConfig()
    metrics = GatewayMetrics(store)
    prada = PRADA(config.prada_delta) if config.prada else None
    flagged: set[str] = set()
    verified = keys.VerifiedKeys()
    cache = RecordCache(store)
    committer: dict[str, GroupCommitter] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        committer["writer"] = GroupCommitter(store)
        yield
        # uvicorn has drained in-flight requests; commit whatever is still queued, then stop.
        committer["writer"].stop()

    app = FastAPI(
        title="bastion gateway",
        version="1",
        description="A prediction API with keys, quotas, output policies, extraction detection and an audit log.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.metrics = metrics
    app.state.prada = prada
    app.state.committer = committer

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error(error.status_code, code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", "; ".join(str(e.get("msg", e)) for e in error.errors()))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        logger.error("unexpected error: %s", keys.redact(f"{type(error).__name__}: {error}"))
        return _error(500, "internal_error", "the gateway failed to answer; the error is in its log")

    def authenticate(request: Request, *, cached: bool = False) -> KeyRecord | JSONResponse:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            metrics.rejections.labels("no_key").inc()
            return _error(
                401, "unauthorized", "send your key as 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"}
            )
        parts = keys.split_key(token.strip())
        try:
            record = None if parts is None else (cache.find(parts[0]) if cached else store.find_key(parts[0]))
        except Exception as error:
            logger.error("store unreadable: %s", error)
            return _error(503, "store_unavailable", "the key store cannot be read", {"Retry-After": "5"})
        if record is None or not verified.check(record, parts[1]):
            metrics.rejections.labels("wrong_key").inc()
            return _error(401, "unauthorized", "this key is not valid", {"WWW-Authenticate": "Bearer"})
        if record.revoked_at is not None:
            metrics.rejections.labels("revoked").inc()
            return _error(403, "revoked", f"the key of {record.name!r} was revoked ({record.revoked_reason})")
        return record

    def answer(x: np.ndarray, policy: str) -> dict[str, Any]:
        if SCORES not in model.capabilities or policy == "label":
            labels = model.predict(x)
            return {"labels": labels, "true_labels": labels, "scores": None}
        scores = model.predict_proba(x)
        view = policies.apply_policy(_Answered(model, scores), policy)
        return {"labels": view.predict(x), "true_labels": scores.argmax(axis=1), "scores": view.predict_proba(x)}

    @app.post(
        "/v1/predict",
        summary="Predict a batch of inputs",
        openapi_extra={"requestBody": PREDICT_BODY},
        responses={200: {"description": "Labels, and scores unless the key's policy is label-only"}, **ERROR_RESPONSES},
    )
    async def predict(request: Request) -> Response:
        with metrics.in_flight.track_inprogress():
            return await _predict(request)

    async def _predict(request: Request) -> Response:
        started = time.perf_counter()
        arrived = time.time()
        record = authenticate(request, cached=True)
        if isinstance(record, JSONResponse):
            return record
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > config.max_body_bytes):
            metrics.rejections.labels("body_too_large").inc()
            return _error(413, "body_too_large", f"the body may hold at most {config.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body_bytes:
                metrics.rejections.labels("body_too_large").inc()
                return _error(413, "body_too_large", f"the body may hold at most {config.max_body_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)

        def work() -> tuple[np.ndarray, dict[str, Any], Any]:
            x = parse_inputs(
                body,
                request.headers.get("content-type", ""),
                sample_shape=tuple(model.input_shape),
                clip=tuple(model.clip),
                max_batch=config.max_batch,
            )
            if record.remaining is not None and len(x) > record.remaining:
                return x, {}, None
            answered = answer(x, record.policy)
            status = None if prada is None else prada.observe(x, answered["true_labels"], client=record.name)
            return x, answered, status

        try:
            x, answered, status = work() if len(body) < INLINE_BODY_BYTES else await run_in_threadpool(work)
        except PayloadError as error:
            metrics.rejections.labels(error.code).inc()
            return _error(error.status, error.code, error.message)
        except BastionError as error:
            metrics.rejections.labels("policy").inc()
            return _error(422, "invalid_inputs", str(error))
        if not answered:
            metrics.rejections.labels(QUOTA).inc()
            return _quota_error(record.remaining, len(x))

        new_alert, alerts = None, ()
        if status is not None and status.alert:
            alerts = ("prada",)
            if record.name not in flagged:
                flagged.add(record.name)
                new_alert = (
                    f"PRADA: Shapiro-Wilk W={status.shapiro_w:.3f} < {config.prada_delta} "
                    f"after {status.queries} queries"
                )
                logger.warning("extraction alert for key %r: %s", record.name, new_alert)
        charge = Charge(
            key_name=record.name,
            n_inputs=len(x),
            digest=input_digest(x),
            policy=record.policy,
            at=arrived,
            alerts=alerts,
            new_alert=new_alert,
            block=bool(alerts) and config.on_alert == "block",
        )
        try:
            outcome = await asyncio.wrap_future(committer["writer"].submit(charge))
        except StoreUnavailableError:
            metrics.rejections.labels("store_unavailable").inc()
            return _error(
                503,
                "store_unavailable",
                "the audit log cannot be written, so no answer is sent (fail closed); retry later",
                {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
            )
        if outcome.status != OK:
            metrics.rejections.labels(outcome.status).inc()
            if outcome.status == QUOTA:
                return _quota_error(outcome.remaining, len(x))
            if outcome.status == RATE:
                return _error(
                    429,
                    RATE,
                    f"over the key's rate; retry in {outcome.retry_after_s} s",
                    {"Retry-After": str(outcome.retry_after_s)},
                )
            if outcome.status == BLOCKED:
                return _error(403, BLOCKED, "the key was blocked after an extraction alert")
            return _error(403, REVOKED, "the key was revoked")
        cache.charged(record, outcome.remaining)
        metrics.inputs.labels(record.name).inc(len(x))
        metrics.latency.observe(time.perf_counter() - started)
        result: dict[str, Any] = {
            "labels": answered["labels"],
            "policy": record.policy,
            "audit_id": outcome.audit_id,
            "remaining_quota": outcome.remaining,
        }
        if answered["scores"] is not None:
            scores = answered["scores"].astype(np.float64)
            name, _, decimals = record.policy.partition(":")
            # Rounded float32 values would print as 0.11999999731779099; send what the policy means.
            result["scores"] = np.round(scores, int(decimals)) if name == "round" else scores
        return FastJSONResponse(result)

    def _quota_error(remaining: int | None, n: int) -> JSONResponse:
        return _error(
            429,
            QUOTA,
            f"the key's quota is spent: {remaining} inputs left, the batch holds {n}",
            {"Retry-After": str(QUOTA_RETRY_AFTER_S)},
        )

    @app.get("/v1/model", summary="What the model takes and what this key may see", responses=ERROR_RESPONSES)
    async def describe(request: Request) -> Response:
        record = authenticate(request)
        if isinstance(record, JSONResponse):
            return record
        return FastJSONResponse(
            {
                "input_shape": list(model.input_shape),
                "n_classes": int(model.n_classes),
                "classes": list(range(int(model.n_classes))),
                "clip": [float(v) for v in model.clip],
                "dtype": "float32",
                "policy": record.policy,
                "capabilities": sorted(policies.capabilities(record.policy)),
                "remaining_quota": record.remaining,
                "rate": record.rate,
                "max_batch": config.max_batch,
                "max_body_bytes": config.max_body_bytes,
            }
        )

    @app.get("/healthz", summary="Liveness: the model is loaded and the audit-log writer runs")
    async def healthz() -> Response:
        writer = committer.get("writer")
        if writer is None or not writer.alive:
            return _error(503, "unhealthy", "the audit-log writer is not running")
        return FastJSONResponse({"status": "ok"})

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    _add_error_schema(app)
    app.add_middleware(AccessLog, metrics=metrics)
    return app


class AccessLog:
    """Pure ASGI middleware: refuse keys in the URL, log and count every request.

    A plain ASGI wrapper rather than ``@app.middleware("http")``, whose per-request task and
    body streaming cost more than the rest of a single-input prediction. The log line holds
    the method, the path (never the query string), the status and the time taken.
    """

    def __init__(self, app: Any, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        status = [500]

        async def record_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if query and _key_in_query(query):
            self.metrics.rejections.labels("key_in_url").inc()
            await _error(
                400,
                "key_in_url",
                "send the key in the 'Authorization: Bearer' header, never in the URL (URLs end up in logs "
                "and histories); treat a key sent this way as leaked and revoke it",
            )(scope, receive, record_status)
        else:
            await self.app(scope, receive, record_status)
        logger.info("%s %s %d %.1fms", scope.get("method", ""), path, status[0], 1e3 * (time.perf_counter() - started))
        self.metrics.requests.labels(path if path in _PATHS else "other", status[0]).inc()


def _key_in_query(query: str) -> bool:
    names = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
    return bool(names & KEY_PARAMETERS) or keys.KEY_PATTERN.search(unquote(query)) is not None


_PATHS = {"/v1/predict", "/v1/model", "/healthz", "/metrics"}


def _add_error_schema(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``bastion serve`` passes to each worker process (through the environment)."""

    model: str
    db: str
    trust_code: bool = False
    trusted: tuple[str, ...] = ()
    db_max_bytes: int | None = None
    gateway: dict[str, Any] | None = None

    def to_environment(self) -> str:
        """The JSON a worker reads back with :func:`app_from_environment`."""
        return json.dumps(asdict(self))


def log_to_stderr() -> None:
    """Send the gateway's log (INFO and up: one line per request, alerts, errors) to stderr.

    What ``bastion serve`` and each of its workers do at start-up. A program that embeds the
    gateway (:func:`bastion.serve.local.local_gateway`, a test) keeps its own logging set-up.
    """
    gateway_logger = logging.getLogger("bastion.serve")
    if not gateway_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        gateway_logger.addHandler(handler)
    gateway_logger.setLevel(logging.INFO)
    gateway_logger.propagate = False


def build_app(settings: ServeSettings) -> FastAPI:
    """Scan the model file (:func:`bastion.scan.check_before_load`), load it only through
    :func:`bastion.models.io.load`, open the store and build the app.

    Raises:
        UnsafeFileError: the scan found something of high severity or worse, or the loader
            refused the file (pickle, TorchScript without ``trust_code``, ...).
    """
    import torch

    from bastion.models import io
    from bastion.scan import check_before_load
    from bastion.serve.sqlite import SQLiteStore

    torch.set_num_threads(1)  # requests run in parallel threads: one core each
    for name in ("bastion.serve", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).addFilter(keys.RedactKeys())
    # bastion scan reads the file without loading it; a finding of high severity or worse refuses it.
    check_before_load(settings.model, fail_on="high")
    model = io.load(settings.model, trust_code=settings.trust_code, trusted=settings.trusted)
    store = SQLiteStore(settings.db, max_bytes=settings.db_max_bytes)
    return create_app(model, store, GatewayConfig(**(settings.gateway or {})))


def app_from_environment() -> FastAPI:
    """The uvicorn factory of each worker: settings from ``BASTION_SERVE_CONFIG``."""
    raw = json.loads(os.environ[ENVIRONMENT_VARIABLE])
    raw["trusted"] = tuple(raw.get("trusted") or ())
    application = build_app(ServeSettings(**raw))
    log_to_stderr()
    return application
