"""The ASGI entry point for uvicorn workers: settings from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from idp.app import create_app
from idp.logs import configure_logging
from idp.settings import Settings


def app_from_env() -> FastAPI:
    configure_logging()
    settings = Settings()
    if settings.demo:
        from idp.demo.app import router as demo_router  # noqa: PLC0415 - only when asked for

        return create_app(settings, extra_routers=(demo_router,))
    return create_app(settings)
