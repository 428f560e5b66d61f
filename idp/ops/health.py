"""/healthz (the process answers), /readyz (the database answers), /metrics (Prometheus)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp import workers
from idp.provider import ProviderDep

router = APIRouter()

RESPONSES = Counter("idp_responses_total", "Responses sent, by status class", ["status"])


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(provider: ProviderDep) -> JSONResponse:
    """Ready when every service a sign-in needs answers: the database, and Redis if used."""
    try:
        with provider.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    if not provider.throttle.is_available():
        return JSONResponse({"status": "redis unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics() -> Response:
    """This process's metrics; with several workers (idp/workers.py), all workers' added up."""
    registry = REGISTRY
    if os.environ.get(workers.METRICS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
