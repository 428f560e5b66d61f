"""Token revocation: RFC 7009. Refresh tokens end their whole grant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from idp.db import DbSession
from idp.errors import InvalidToken, UnsupportedTokenType
from idp.http import NO_STORE
from idp.oidc import grants
from idp.oidc.client_auth import authenticate_client
from idp.oidc.params import Params, read_body
from idp.oidc.tokens import verify_access_token
from idp.provider import ProviderDep

router = APIRouter()

TOKEN_TYPES = ("access_token", "refresh_token")


@router.post("/revoke")
def revoke(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    params: Annotated[Params, Depends(read_body)],
) -> Response:
    client = authenticate_client(
        session, provider, params, request.headers.get("authorization"), endpoint="/revoke"
    )
    token = params.require("token")
    hint = params.get("token_type_hint")
    if hint is not None and hint not in TOKEN_TYPES:
        raise UnsupportedTokenType("token_type_hint must be access_token or refresh_token.")
    refresh_grant = grants.find_refresh_grant(session, token)
    if refresh_grant is not None:
        if refresh_grant.client_id == client.client_id:
            grants.revoke_grant(session, refresh_grant.id)
        return Response(status_code=200, headers=NO_STORE)
    try:
        claims, _ = verify_access_token(
            session, provider.settings, provider.keys.get(session), token
        )
    except InvalidToken:
        pass  # §2.2: an invalid or unknown token is not an error
    else:
        if str(claims.get("client_id")) == client.client_id:
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            grants.revoke_access_token(session, jti=str(claims["jti"]), expires_at=expires)
    return Response(status_code=200, headers=NO_STORE)
