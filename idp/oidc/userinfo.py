"""UserInfo endpoint: OIDC Core §5.3, bearer tokens per RFC 6750."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from idp.audit import access as audit_access
from idp.errors import InvalidRequest, InvalidToken
from idp.http import NO_STORE
from idp.oidc import claims
from idp.oidc.params import Params, read_query_or_body
from idp.oidc.tokens import verify_citizen_token
from idp.provider import Provider

router = APIRouter()


def bearer_token(request: Request, params: Params) -> str:
    """RFC 6750 §2.1 header, or §2.2 form body on POST; exactly one of them."""
    header = request.headers.get("authorization")
    body_token = params.get("access_token") if request.method == "POST" else None
    if header and body_token:
        raise InvalidRequest("Send the access token one way only.")
    if body_token:
        return body_token
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("")  # §3.1: no error details when no credentials were sent
    return token.strip()


async def userinfo_params(request: Request) -> Params:
    """POST bodies may be empty or form-encoded; GET takes no parameters."""
    if request.method == "POST" and request.headers.get("content-type"):
        return await read_query_or_body(request)
    return Params(values={}, repeated=frozenset())


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> JSONResponse:
    # no dependencies to solve: on the busiest database route that is 4 % of a request's CPU
    # (docs/benchmarks.md, fourth round)
    provider: Provider = request.app.state.provider
    token = bearer_token(request, await userinfo_params(request))
    body = await run_in_threadpool(released, provider=provider, token=token)
    return JSONResponse(body, headers=NO_STORE)


def released(*, provider: Provider, token: str) -> dict[str, Any]:
    """What the access token's holder may read now: the consented claims, and `sub`. Read
    in one statement on a connection that commits it on its own (no BEGIN or COMMIT round
    trip); the first use of a token is audited, in a transaction of its own, before anything
    is released."""
    with provider.reader.connect() as connection:
        token_claims, row, current = verify_citizen_token(
            connection, provider.settings, provider.keys.get(), token
        )
    names = (row.requested or {}).get("userinfo", {})
    body: dict[str, Any] = {
        **claims.release(
            row,
            scopes=str(token_claims.get("scope", "")).split(),
            names=names,
            consented=current.claims,
        ),
        "sub": token_claims["sub"],
    }
    audit_access.record_first_use(  # once per access token; no query for a token seen before
        provider.sessions,
        jti=str(token_claims["jti"]),
        exp=int(token_claims["exp"]),
        citizen_id=row.citizen_id,
        client_id=row.client_id,
        claims=sorted(body),
    )
    return body
