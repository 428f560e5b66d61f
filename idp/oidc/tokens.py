"""Minting ID tokens (OIDC Core §2) and JWT access tokens (RFC 9068)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, exists, select
from sqlalchemy.orm import Session

import consent.api
from idp.accounts.models import Citizen
from idp.agencies.models import Client
from idp.crypto import jwt
from idp.crypto.keys import KeySet
from idp.errors import InvalidToken
from idp.oidc import grants
from idp.oidc.claims import CITIZEN_COLUMNS
from idp.oidc.models import Grant, RevokedAccessToken, is_live
from idp.settings import Settings

# Access tokens are ES256: the token endpoint signs one per request, and a P-256 signature
# costs about a sixth of an RS256 one (~45 against ~280 µs here); every JOSE library verifies
# it. ID tokens stay RS256 by default, as OIDC Core requires (ES256 per client on request).
ACCESS_TOKEN_ALG = "ES256"


def mint_access_token(
    settings: Settings, keys: KeySet, *, grant: Grant, sub: str, scopes: list[str], now: datetime
) -> tuple[str, str]:
    """(token, jti). `aud` is the issuer: the provider's own APIs (userinfo) accept it."""
    iat = int(now.timestamp())
    jti = secrets.token_urlsafe(24)
    claims = {
        "iss": settings.issuer,
        "sub": sub,
        "aud": settings.issuer,
        "client_id": grant.client_id,
        "iat": iat,
        "exp": iat + settings.access_token_ttl_seconds,
        "jti": jti,
        "scope": " ".join(scopes),
        "auth_time": int(grant.auth_time.timestamp()),
        "acr": grant.acr,
        "amr": grant.amr,
        "gid": grant.id,  # the grant, so revoking it reaches every token it issued
    }
    return jwt.sign(claims, keys.signing[ACCESS_TOKEN_ALG], typ="at+jwt"), jti


def mint_id_token(
    settings: Settings,
    keys: KeySet,
    *,
    grant: Grant,
    sub: str,
    alg: str,
    nonce: str | None,
    access_token: str | None,
    extra: dict[str, Any],
    now: datetime,
) -> str:
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        **extra,
        "iss": settings.issuer,
        "sub": sub,
        "aud": grant.client_id,
        "iat": iat,
        "exp": iat + settings.id_token_ttl_seconds,
        "auth_time": int(grant.auth_time.timestamp()),
        "acr": grant.acr,
        "amr": grant.amr,
        "sid": grant.sid,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = jwt.token_hash(access_token)
    return jwt.sign(claims, keys.signing[alg])


def mint_client_token(
    settings: Settings, keys: KeySet, *, client_id: str, scopes: list[str], now: datetime
) -> str:
    """An access token of the client itself (client_credentials): no citizen, no grant."""
    iat = int(now.timestamp())
    claims = {
        "iss": settings.issuer,
        "sub": client_id,
        "aud": settings.issuer,
        "client_id": client_id,
        "iat": iat,
        "exp": iat + settings.access_token_ttl_seconds,
        "jti": secrets.token_urlsafe(24),
        "scope": " ".join(scopes),
    }
    return jwt.sign(claims, keys.signing[ACCESS_TOKEN_ALG], typ="at+jwt")


def _signed_claims(settings: Settings, keys: KeySet, token: str) -> dict[str, Any]:
    try:
        return jwt.verify(
            token,
            keys=keys.verifying,
            issuer=settings.issuer,
            audience=settings.issuer,
            typ="at+jwt",
        )
    except jwt.JwtRejected as exc:
        raise InvalidToken("The access token is not valid.") from exc


def _require_live(grant: Grant | None) -> Grant:
    if grant is None or not is_live(grant):
        raise InvalidToken("The access token was revoked.")
    return grant


# Columns, not ORM objects, for a plain connection: no session, no identity map, no objects
# to build (the userinfo read costs a fifth less CPU, docs/benchmarks.md). Built once:
# constructing it per request costs more than running it.
_CITIZEN_TOKEN = (
    select(
        Grant.citizen_id,
        Grant.client_id,
        Grant.claims.label("requested"),
        Grant.revoked_at,
        Grant.expires_at,
        *CITIZEN_COLUMNS,
        exists().where(RevokedAccessToken.jti == bindparam("jti")).label("jti_revoked"),
        *grants.LATEST_CONSENT.columns,
    )
    .join(Citizen, Citizen.id == Grant.citizen_id)
    .outerjoin(grants.LATEST_CONSENT.target, grants.LATEST_CONSENT.on)
    .where(Grant.id == bindparam("gid"))
)


def verify_citizen_token(
    connection: Connection, settings: Settings, keys: KeySet, token: str
) -> tuple[dict[str, Any], Row[Any], consent.api.Consent]:
    """Claims, a row of the live grant (citizen_id, client_id, the `requested` claims) with
    the citizen's CITIZEN_COLUMNS, and the active consent of an access token issued for a
    citizen, in one query (the userinfo path). Raises InvalidToken (RFC 6750)."""
    claims = _signed_claims(settings, keys, token)
    if "gid" not in claims:
        raise InvalidToken("This token was issued to a client, not for a citizen.")
    row = connection.execute(
        _CITIZEN_TOKEN, {"gid": str(claims["gid"]), "jti": str(claims.get("jti"))}
    ).first()
    if row is None or row.jti_revoked or not is_live(row):
        raise InvalidToken("The access token was revoked.")
    current = grants.LATEST_CONSENT.active(row)
    if current is None:
        raise InvalidToken("Consent for this client was withdrawn.")
    return claims, row, current


def verify_access_token(
    session: Session, settings: Settings, keys: KeySet, token: str
) -> tuple[dict[str, Any], Grant | None]:
    """Claims and live grant of one of our access tokens; the grant is None for a client's
    own token (client_credentials). Raises InvalidToken (RFC 6750)."""
    claims = _signed_claims(settings, keys, token)
    if grants.is_access_token_revoked(session, str(claims.get("jti"))):
        raise InvalidToken("The access token was revoked.")
    if "gid" not in claims:
        client = session.get(Client, str(claims.get("client_id")))
        if client is None or not client.is_active:
            raise InvalidToken("The client of this token is not active.")
        # older than the client's last change (a suspension, its agency's, a new secret):
        # over for good, reactivation revives no token (to the second, as tokens are dated)
        if int(claims["iat"]) < int(client.updated_at.timestamp()):
            raise InvalidToken("The client changed after this token was issued.")
        return claims, None
    return claims, _require_live(session.get(Grant, str(claims.get("gid"))))
