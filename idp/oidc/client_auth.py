"""Client authentication at the token, revocation and introspection endpoints: RFC 6749 §2.3
(client_secret_basic, client_secret_post, `none` for public clients) and private_key_jwt
(RFC 7523 §2.2, OIDC Core §9)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from urllib.parse import unquote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.agencies.models import Client, SpentAssertion
from idp.agencies.service import secret_matches
from idp.crypto import jwt
from idp.db import utcnow
from idp.errors import InvalidClient, InvalidRequest
from idp.oidc.params import Params
from idp.provider import Provider

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_SECONDS = 300  # an assertion must expire within five minutes


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise InvalidClient("Unsupported Authorization scheme.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("Malformed Basic credentials.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("Malformed Basic credentials.")
    # §2.3.1: both parts are form-urlencoded before Basic encoding
    return unquote(client_id), unquote(secret)


def _client(session: Session, client_id: str, method: str) -> Client:
    if not client_id or len(client_id) > 64 or "\x00" in client_id:
        raise InvalidClient("Client authentication failed.")
    client = session.get(Client, client_id)
    if client is None or not client.is_active or client.token_endpoint_auth_method != method:
        raise InvalidClient("Client authentication failed.")
    return client


def authenticate_client(
    session: Session,
    provider: Provider,
    params: Params,
    authorization: str | None,
    *,
    endpoint: str,
) -> Client:
    """The client that made this back-channel request to `endpoint` (a path such as
    "/token"), whose parameters may each appear once (RFC 6749 §3.2).
    Raises InvalidClient (401) or InvalidRequest."""
    if params.repeated:
        raise InvalidRequest("Each parameter may appear only once.")
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    assertion = params.get("client_assertion")
    used = [bool(authorization), bool(body_secret), bool(assertion)]
    if sum(used) > 1:
        raise InvalidRequest("Use one client authentication method, not two.")
    if assertion is not None:
        if params.get("client_assertion_type") != ASSERTION_TYPE:
            raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}.")
        return authenticate_assertion(session, provider, assertion, body_id, endpoint=endpoint)
    if authorization:
        client_id, secret = _basic_credentials(authorization)
        method = "client_secret_basic"
        if body_id and body_id != client_id:
            raise InvalidClient("client_id does not match the credentials.")
    elif body_secret:
        client_id, secret, method = body_id or "", body_secret, "client_secret_post"
    else:
        client_id, secret, method = body_id or "", "", "none"
    client = _client(session, client_id, method)
    if method != "none" and not secret_matches(client, secret):
        raise InvalidClient("Client authentication failed.")
    return client


def authenticate_assertion(
    session: Session, provider: Provider, assertion: str, body_id: str | None, *, endpoint: str
) -> Client:
    """RFC 7523 §3: iss = sub = client_id, aud this provider, short exp, jti used once,
    signed with one of the client's registered keys (RS256 or ES256 only)."""
    try:
        unverified = jwt.unverified_claims(assertion)
        client_id = str(unverified.get("sub", ""))
        if body_id is not None and body_id != client_id:
            raise InvalidClient("client_id does not match the assertion.")
        client = _client(session, client_id, "private_key_jwt")
        keys = provider.client_keys.keys_for(client, kid=jwt.unverified_kid(assertion))
        claims = jwt.verify(
            assertion, keys=keys, issuer=client_id, audience=None, require_iat=False, leeway=10
        )
    except jwt.JwtRejected as exc:
        raise InvalidClient(f"The client assertion was rejected: {exc}.") from exc
    settings = provider.settings
    audience = claims.get("aud")
    listed = audience if isinstance(audience, list) else [audience]
    audiences = {a for a in listed if isinstance(a, str)}  # anything else is no audience
    if not audiences & {settings.issuer, settings.endpoint(endpoint)}:
        raise InvalidClient("The client assertion's aud must be the issuer or this endpoint.")
    if claims.get("sub") != client_id:
        raise InvalidClient("The client assertion's sub must be the client_id.")
    # compared as numbers first: a far-off exp is beyond any date
    if int(claims["exp"]) - utcnow().timestamp() > MAX_ASSERTION_SECONDS:
        raise InvalidClient("The client assertion must expire within five minutes.")
    expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 200:
        raise InvalidClient("The client assertion needs a jti.")
    try:
        with session.begin_nested():
            session.add(SpentAssertion(client_id=client_id, jti=jti, expires_at=expires))
    except IntegrityError as exc:
        raise InvalidClient("The client assertion was already used.") from exc
    return client
