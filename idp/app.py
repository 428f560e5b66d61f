"""create_app(settings): the provider's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from idp.admin import api as admin_api
from idp.admin import audit_log as admin_audit_log
from idp.admin import pages as admin_pages
from idp.admin import proofing as admin_proofing
from idp.audit import sealer
from idp.crypto.master import load_master_key
from idp.db import make_engine
from idp.errors import InvalidClient, InvalidRequest, InvalidToken, OAuthError, PageError
from idp.events import outbox
from idp.http import NO_STORE, server_error
from idp.oidc import (
    authorize,
    discovery,
    end_session,
    introspection,
    registration,
    revocation,
    token,
    userinfo,
)
from idp.ops import health, sweeper
from idp.provider import Provider
from idp.settings import Settings
from idp.sms import outbox as sms_outbox
from idp.web import (
    account,
    activity,
    admin,
    codes,
    consent,
    consents,
    identity,
    login,
    passkey_account,
    passkey_signup,
    passkeys,
    phone,
    portal,
    recovery,
    second_factor,
    sms_login,
    uploads,
)
from idp.web.i18n import pick_locale
from idp.web.middleware import BodyTooLarge, Guard
from idp.web.render import render

log = logging.getLogger("idp")


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 and RFC 6750 §3: JSON, no-store, WWW-Authenticate on 401."""
    if exc.debug:
        log.info("oauth error %s: %s", exc.error, exc.debug)
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="citizen-idp"'
    elif isinstance(exc, InvalidToken):
        challenge = 'Bearer realm="citizen-idp"'
        if exc.description:  # RFC 6750 §3.1: no error code when no token was sent
            challenge += f', error="invalid_token", error_description="{exc.description}"'
        headers["WWW-Authenticate"] = challenge
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, title: str, message: str, status_code: int) -> Response:
    provider: Provider = request.app.state.provider
    return render(
        request,
        provider,
        "error.html",
        locale=pick_locale(request),
        status_code=status_code,
        title=title,
        message=message,
    )


def server_error_response(request: Request) -> Response:
    """The answer to a fault of ours (sent by Guard, which logs the fault): what to do next,
    never a trace."""
    if wants_html(request):
        return error_page(request, "server_error_title", "server_error", 500)
    return server_error()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OAuthError)
    async def on_oauth_error(request: Request, exc: OAuthError) -> Response:
        return oauth_error_response(exc)

    @app.exception_handler(PageError)
    async def on_page_error(request: Request, exc: PageError) -> Response:
        return error_page(request, exc.title, exc.message, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            return error_page(request, "invalid_request_title", "repeated_parameters", 400)
        return oauth_error_response(InvalidRequest("A parameter is missing or malformed."))

    @app.exception_handler(BodyTooLarge)
    async def on_too_large(request: Request, exc: BodyTooLarge) -> Response:
        # only a chunked body gets here (a declared length is refused at the edge); browsers
        # send forms with a length, so this is a program and it reads JSON
        body = {"error": "invalid_request", "error_description": "The request body is too large."}
        return JSONResponse(body, status_code=413, headers=NO_STORE)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> Response:
        if wants_html(request):
            key = "not_found" if exc.status_code == 404 else "method"
            return error_page(request, f"{key}_title", key, exc.status_code)
        return JSONResponse(
            {"error": "not_found" if exc.status_code == 404 else "invalid_request"},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def create_app(settings: Settings, *, extra_routers: tuple[Any, ...] = ()) -> FastAPI:
    """Build the app. The database must already be at the current schema (see idp.migrate)."""
    engine = make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    provider = Provider.build(settings, engine, load_master_key(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # as many request threads as pooled connections: under load no thread waits for a
        # connection, and the pool does not open and close overflow connections all the time
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        tasks = [
            asyncio.create_task(sweeper.run(provider)),
            asyncio.create_task(outbox.run(provider)),
            asyncio.create_task(sms_outbox.run(provider)),
            asyncio.create_task(sealer.run(provider)),
        ]
        yield
        for task in tasks:
            task.cancel()
        # a cancelled worker's database call runs on in its thread: let it hand its
        # connection back before the pool closes
        await asyncio.get_running_loop().shutdown_default_executor()
        engine.dispose()

    app = FastAPI(
        title="Citizen IdP", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.provider = provider
    app.state.engine = engine
    install_error_handlers(app)
    for module in (
        discovery,
        authorize,
        token,
        userinfo,
        revocation,
        introspection,
        end_session,
        registration,
        login,
        sms_login,
        codes,
        recovery,
        consent,
        consents,
        account,
        activity,
        second_factor,
        phone,
        passkeys,
        passkey_account,
        passkey_signup,
        portal,
        admin_api,
        admin_audit_log,  # before admin, like the other /admin/... routers
        admin_proofing,  # before admin: /admin/proofing/... are not agency routes
        admin_pages,
        admin,
        identity,
        health,
    ):
        app.include_router(module.router)
    for router in extra_routers:
        app.include_router(router)
    static = resources.files("idp.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    photo_body = settings.proofing_photo_max_bytes + 64 * 1024  # the photo and the fields
    app.add_middleware(
        Guard,
        on_error=server_error_response,
        uploads=dict.fromkeys(uploads.UPLOAD_PATHS, photo_body),
    )
    return app
