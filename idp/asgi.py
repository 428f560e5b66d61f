"""The ASGI entry point for uvicorn workers: settings from the environment."""

from __future__ import annotations

import gc

from fastapi import APIRouter, FastAPI

from idp.app import create_app
from idp.logs import configure_logging
from idp.settings import Settings


def app_from_env() -> FastAPI:
    configure_logging()
    settings = Settings()
    extra_routers: tuple[APIRouter, ...] = ()
    if settings.demo:
        from idp.demo.app import router as demo_router  # noqa: PLC0415 - only when asked for

        extra_routers = (demo_router,)
    app = create_app(settings, extra_routers=extra_routers)
    settle_collector()
    return app


# A request allocates thousands of objects, nearly all freed by reference counting as it
# ends. With the default threshold (700) the young generation is collected every few
# requests, while 64 requests are in flight: their objects are promoted, and the growing
# old generation triggers full collections.
YOUNG_THRESHOLD = 10_000


def settle_collector() -> None:
    """Keep the cyclic collector from stalling a worker under load. What is built by now
    (modules, the app, SQLAlchemy's mappers: about 150,000 objects) lives as long as the
    process: frozen, no full collection walks it again. Unfrozen, with the default
    threshold, full collections ran every few seconds under load and stalled the worker for
    100 to 145 ms each (docs/benchmarks.md, "Fourth round")."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
