"""Token endpoint: OIDC Core §3.1.3, RFC 6749 §4.1.3 and §6, with refresh rotation."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

import consent.api
from idp.accounts.models import Citizen
from idp.agencies.metadata import CITIZEN_SCOPES
from idp.agencies.models import Client
from idp.audit import service as audit
from idp.db import in_session, utcnow
from idp.errors import (
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from idp.http import NO_STORE
from idp.oidc import claims, grants, tokens
from idp.oidc.client_auth import authenticate_client
from idp.oidc.params import Params, read_body
from idp.provider import Provider, ProviderDep

router = APIRouter()


def consented_scopes(
    session: Session, spent: grants.Spent
) -> tuple[list[str], consent.api.Consent]:
    """The grant's scopes that the active consent still covers; no consent at all ends the
    grant."""
    current = spent.consent
    if current is None:
        grants.revoke_grant(session, spent.grant.id)
        raise InvalidGrant("Consent for this client was withdrawn.", keep_changes=True)
    return [s for s in spent.grant.scopes if s == "openid" or s in current.scopes], current


def token_response(
    session: Session,
    provider: Provider,
    *,
    client: Client,
    spent: grants.Spent,
    scopes: list[str],
    current: consent.api.Consent,
    refresh_token: str | None,
    grant_type: str,
) -> JSONResponse:
    settings, keys, now = provider.settings, provider.keys.get(session), utcnow()
    grant = spent.grant
    sub = provider.subject_for(client, grant.citizen_id)
    access_token, _ = tokens.mint_access_token(
        settings, keys, grant=grant, sub=sub, scopes=scopes, now=now
    )
    id_token_claims: dict[str, Any] = {}
    if grant.claims and "id_token" in grant.claims:  # the citizen is read only for these
        citizen = session.get(Citizen, grant.citizen_id)
        if citizen is None:
            raise InvalidGrant("The account no longer exists.")
        id_token_claims = claims.release(
            citizen,
            scopes=(),
            names=grant.claims["id_token"],
            consented=current.claims,
        )
    id_token = tokens.mint_id_token(
        settings,
        keys,
        grant=grant,
        sub=sub,
        alg=client.id_token_signed_response_alg,
        nonce=spent.nonce,
        access_token=access_token,
        extra=id_token_claims,
        now=now,
    )
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "id_token": id_token,
        "scope": " ".join(scopes),
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    audit.record(  # what was released to whom; never the token values
        session,
        "token.issued",
        actor="client",
        citizen_id=grant.citizen_id,
        client_id=client.client_id,
        grant_type=grant_type,
        grant_id=grant.id,
        scopes=scopes,
        id_token_claims=sorted(id_token_claims),
        refresh_token=refresh_token is not None,
    )
    return JSONResponse(body, headers=NO_STORE)


def authorization_code_grant(
    session: Session, provider: Provider, client: Client, params: Params
) -> JSONResponse:
    spent = grants.redeem_code(
        session,
        client_id=client.client_id,
        code=params.require("code"),
        redirect_uri=params.get("redirect_uri"),
        verifier=params.get("code_verifier"),
    )
    scopes, current = consented_scopes(session, spent)
    refreshable = "offline_access" in scopes and "refresh_token" in client.grant_types
    refresh = grants.issue_refresh_token(session, spent.grant) if refreshable else None
    return token_response(
        session,
        provider,
        client=client,
        spent=spent,
        scopes=scopes,
        current=current,
        refresh_token=refresh,
        grant_type="authorization_code",
    )


def refresh_token_grant(
    session: Session, provider: Provider, client: Client, params: Params
) -> JSONResponse:
    spent = grants.rotate_refresh_token(
        session, client_id=client.client_id, token=params.require("refresh_token")
    )
    scopes, current = consented_scopes(session, spent)
    asked = params.get("scope")
    if asked is not None:
        narrowed = asked.split()
        if not set(narrowed) <= set(scopes):  # RFC 6749 §6: never more than granted
            raise InvalidScope("The requested scope exceeds the grant.")
        scopes = [s for s in scopes if s in narrowed]
    return token_response(
        session,
        provider,
        client=client,
        spent=spent,
        scopes=scopes,
        current=current,
        refresh_token=spent.refresh_token,
        grant_type="refresh_token",
    )


def client_credentials_grant(
    session: Session, provider: Provider, client: Client, params: Params
) -> JSONResponse:
    """RFC 6749 §4.4: the agency's own API scopes, never a citizen's data."""
    allowed = client.allowed_scopes - CITIZEN_SCOPES
    asked = params.get("scope")
    scopes = sorted(allowed if asked is None else set(asked.split()))
    if not set(scopes) <= allowed:
        raise InvalidScope("Only the client's registered API scopes can be requested here.")
    settings, keys = provider.settings, provider.keys.get(session)
    token = tokens.mint_client_token(
        settings, keys, client_id=client.client_id, scopes=scopes, now=utcnow()
    )
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "scope": " ".join(scopes),
    }
    audit.record(
        session,
        "token.issued",
        actor="client",
        client_id=client.client_id,
        grant_type="client_credentials",
        scopes=scopes,
    )
    return JSONResponse(body, headers=NO_STORE)


GRANT_TYPES = {
    "authorization_code": authorization_code_grant,
    "refresh_token": refresh_token_grant,
    "client_credentials": client_credentials_grant,
}


@router.post("/token")
async def token(
    request: Request,
    provider: ProviderDep,
    params: Annotated[Params, Depends(read_body)],
) -> JSONResponse:
    return await in_session(
        request, functools.partial(issue, request=request, provider=provider, params=params)
    )


def issue(
    session: Session, *, request: Request, provider: Provider, params: Params
) -> JSONResponse:
    client = authenticate_client(
        session, provider, params, request.headers.get("authorization"), endpoint="/token"
    )
    grant_type = params.require("grant_type")
    handler = GRANT_TYPES.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"grant_type {grant_type[:40]!r} is not supported.")
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"This client is not registered for {grant_type}.")
    return handler(session, provider, client, params)
