"""Token introspection: RFC 7662, for the client the token was issued to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

import consent.api
from idp.agencies.models import Client
from idp.db import DbSession, utcnow
from idp.errors import InvalidToken
from idp.http import NO_STORE
from idp.oidc import grants
from idp.oidc.client_auth import authenticate_client
from idp.oidc.params import Params, read_body
from idp.oidc.tokens import verify_access_token
from idp.provider import Provider, ProviderDep

router = APIRouter()

INACTIVE = {"active": False}


def describe(session: DbSession, provider: Provider, client: Client, token: str) -> dict[str, Any]:
    """What an active token means; inactive for anything invalid, revoked, consent-less or
    issued to another client (§2.2: say nothing more about it)."""
    grant = grants.find_refresh_grant(session, token, unspent=True)  # a spent one is inactive
    if grant is not None:
        if grant.client_id != client.client_id or grant.revoked_at or grant.expires_at <= utcnow():
            return INACTIVE
        body: dict[str, Any] = {
            "token_type": "refresh_token",
            "scope": " ".join(grant.scopes),
            "exp": int(grant.expires_at.timestamp()),
            "iat": int(grant.created_at.timestamp()),
            "sub": provider.subject_for(client, grant.citizen_id),
        }
    else:
        try:
            access, grant = verify_access_token(
                session, provider.settings, provider.keys.get(session), token
            )
        except InvalidToken:
            return INACTIVE
        if str(access.get("client_id")) != client.client_id:
            return INACTIVE
        body = {
            "token_type": "Bearer",
            **{k: access[k] for k in ("scope", "exp", "iat", "sub", "jti", "aud") if k in access},
        }
    if (
        grant is not None
        and consent.api.active(session, subject=grant.citizen_id, recipient=grant.client_id) is None
    ):
        return INACTIVE
    return {"active": True, "client_id": client.client_id, "iss": provider.settings.issuer, **body}


@router.post("/introspect")
def introspect(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    params: Annotated[Params, Depends(read_body)],
) -> JSONResponse:
    client = authenticate_client(
        session, provider, params, request.headers.get("authorization"), endpoint="/introspect"
    )
    token = params.require("token")
    return JSONResponse(describe(session, provider, client, token), headers=NO_STORE)
