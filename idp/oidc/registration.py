"""Dynamic client registration (RFC 7591, OIDC Registration 1.0) with an initial access token
an administrator gave the agency, and client management (RFC 7592) with the registration
access token. Registered clients wait for an administrator's approval."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from idp.agencies import service
from idp.agencies.metadata import InvalidClientMetadata
from idp.agencies.models import PENDING, Client
from idp.audit import service as audit
from idp.db import DbSession
from idp.errors import InvalidRequest, InvalidToken
from idp.http import NO_STORE
from idp.provider import Provider, ProviderDep

router = APIRouter()

MAX_DOCUMENT = 32 * 1024

# what the provider issues or decides: a client never sets these (RFC 7592 §2.2)
UNCHANGEABLE = frozenset(
    {
        "client_id",
        "client_secret",
        "client_id_issued_at",
        "client_secret_expires_at",
        "registration_access_token",
        "registration_client_uri",
        "status",
    }
)


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise InvalidToken("")  # RFC 6750 §3.1
    return token.strip()


async def read_document(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidRequest("The body must be application/json.")
    body = await request.body()
    if len(body) > MAX_DOCUMENT:
        raise InvalidRequest("The registration is too large.")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past any need
        raise InvalidRequest("The body is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return document


def metadata_error(exc: InvalidClientMetadata) -> JSONResponse:
    """RFC 7591 §3.2.2."""
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=400, headers=NO_STORE)


def client_information(
    provider: Provider,
    client: Client,
    *,
    secret: str | None = None,
    registration_token: str | None = None,
) -> dict[str, Any]:
    """RFC 7591 §3.2.1 / RFC 7592 §3: the metadata as registered, and what to manage it by."""
    info: dict[str, Any] = {
        **client.metadata_,
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        "registration_client_uri": provider.settings.endpoint(f"/register/{client.client_id}"),
        "status": client.status,  # not in RFC 7591: pending until an administrator approves
    }
    if secret is not None:
        info |= {"client_secret": secret, "client_secret_expires_at": 0}
    if registration_token is not None:
        info["registration_access_token"] = registration_token
    return info


def managed_client(session: Session, request: Request, client_id: str) -> Client:
    client = service.client_of_registration_token(session, client_id, bearer(request))
    if client is None:
        raise InvalidToken("The registration access token is not valid for this client.")
    return client


@router.post("/register")
async def register(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    agency = service.agency_of_initial_token(session, bearer(request))
    if agency is None:
        raise InvalidToken("The initial access token is not valid.")
    document = await read_document(request)
    try:
        issued = service.register_client(
            session, document, agency=agency, status=PENDING, fetcher=provider.fetcher
        )
    except InvalidClientMetadata as exc:
        return metadata_error(exc)
    audit.record(
        session,
        "client.registered",
        actor="agency",
        client_id=issued.client.client_id,
        agency_id=agency.id,
        via="registration_endpoint",
    )
    body = client_information(
        provider,
        issued.client,
        secret=issued.client_secret,
        registration_token=issued.registration_access_token,
    )
    return JSONResponse(body, status_code=201, headers=NO_STORE)


@router.get("/register/{client_id}")
def read_client(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    client = managed_client(session, request, client_id)
    # RFC 7592 §3: the response names the registration access token; only its hash is kept,
    # so it is the one this request presented
    info = client_information(provider, client, registration_token=bearer(request))
    return JSONResponse(info, headers=NO_STORE)


@router.put("/register/{client_id}")
async def update_client(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    client = managed_client(session, request, client_id)
    document = await read_document(request)
    if document.get("client_id", client_id) != client_id:
        raise InvalidRequest("client_id in the body must match the URL (RFC 7592 §2.2).")
    fields = {k: v for k, v in document.items() if k not in UNCHANGEABLE}
    try:
        secret = service.update_client(session, client, fields, fetcher=provider.fetcher)
    except InvalidClientMetadata as exc:
        return metadata_error(exc)
    audit.record(
        session,
        "client.updated",
        actor="agency",
        client_id=client.client_id,
        via="registration_endpoint",
        secret_rotated=secret is not None,
    )
    info = client_information(provider, client, secret=secret, registration_token=bearer(request))
    return JSONResponse(info, headers=NO_STORE)


@router.delete("/register/{client_id}")
def delete_client(client_id: str, request: Request, session: DbSession) -> Response:
    client = managed_client(session, request, client_id)
    service.delete_client(session, client)
    audit.record(
        session,
        "client.deleted",
        actor="agency",
        client_id=client_id,
        via="registration_endpoint",
    )
    return Response(status_code=204, headers=NO_STORE)


@router.post("/register/{client_id}/secret")
def rotate_secret(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    """Not in RFC 7592: a new client_secret now; the old one stops working at once."""
    client = managed_client(session, request, client_id)
    secret = service.rotate_secret(session, client)
    if secret is None:
        raise InvalidRequest("This client authenticates without a secret.")
    audit.record(
        session,
        "client.secret_rotated",
        actor="agency",
        client_id=client.client_id,
        via="registration_endpoint",
    )
    return JSONResponse(client_information(provider, client, secret=secret), headers=NO_STORE)
