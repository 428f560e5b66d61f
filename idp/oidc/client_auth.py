"""Client authentication at the token, revocation and introspection endpoints.

RFC 6749 §2.3: client_secret_basic, client_secret_post, and `none` for public clients.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from sqlalchemy.orm import Session

from idp.agencies.models import Client
from idp.agencies.service import secret_matches
from idp.errors import InvalidClient, InvalidRequest
from idp.oidc.params import Params


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


def authenticate_client(session: Session, params: Params, authorization: str | None) -> Client:
    """The client that made this request. Raises InvalidClient (401) or InvalidRequest."""
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if authorization:
        if body_secret:
            raise InvalidRequest("Use one client authentication method, not two.")
        client_id, secret = _basic_credentials(authorization)
        method = "client_secret_basic"
        if body_id and body_id != client_id:
            raise InvalidClient("client_id does not match the credentials.")
    elif body_secret:
        client_id, secret, method = body_id or "", body_secret, "client_secret_post"
    else:
        client_id, secret, method = body_id or "", "", "none"
    if not client_id or len(client_id) > 64 or "\x00" in client_id:
        raise InvalidClient("Client authentication failed.")
    client = session.get(Client, client_id)
    if client is None or not client.is_active or client.token_endpoint_auth_method != method:
        raise InvalidClient("Client authentication failed.")
    if method != "none" and not secret_matches(client, secret):
        raise InvalidClient("Client authentication failed.")
    return client
