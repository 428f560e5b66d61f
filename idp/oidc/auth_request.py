"""The authorization request (OIDC Core §3.1.2.1): parsing, checks, and the pending store."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi.responses import RedirectResponse
from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.agencies.metadata import CITIZEN_SCOPES
from idp.agencies.models import Client
from idp.authn.assurance import SUPPORTED_ACR_VALUES
from idp.db import utcnow
from idp.errors import (
    InvalidRequest,
    InvalidScope,
    OAuthError,
    PageError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnmetAuthenticationRequirements,
    UnsupportedResponseType,
)
from idp.http import NO_STORE
from idp.oidc import pkce
from idp.oidc.claims import parse_claims_request
from idp.oidc.models import PendingAuthorization
from idp.oidc.params import Params

PROMPTS = frozenset({"none", "login", "consent", "select_account"})
TX_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class AuthRequest:
    client: Client
    redirect_uri: str
    params: Params
    pkce_required: bool

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    @property
    def state(self) -> str | None:
        return self.get("state")

    @property
    def scopes(self) -> list[str]:
        """Requested scopes we know of, in a stable order; unknown ones are ignored."""
        asked = set((self.get("scope") or "").split())
        return sorted(asked & CITIZEN_SCOPES)

    @property
    def consent_scopes(self) -> list[str]:
        """The scopes consent is about (`openid` itself shares no data)."""
        return [s for s in self.scopes if s != "openid"]

    @property
    def prompt(self) -> frozenset[str]:
        return frozenset((self.get("prompt") or "").split())

    @property
    def max_age(self) -> int | None:
        """The request's max_age, else the client's registered default_max_age."""
        value = self.get("max_age")
        if value is not None:
            return int(value)
        default = self.client.metadata_.get("default_max_age")
        return int(default) if default is not None else None

    @property
    def acr_values(self) -> list[str]:
        return acr_values_of(self.get("acr_values"), self.client)

    @property
    def claims(self) -> dict[str, Any] | None:
        return parse_claims_request(self.get("claims"))


def acr_values_of(asked: str | None, client: Client | None) -> list[str]:
    """The request's acr_values, else the client's registered default_acr_values."""
    values = (asked or "").split()
    if values or client is None:
        return values
    return list(client.metadata_.get("default_acr_values", []))


def verified_client(session: Session, params: Params) -> tuple[Client, str]:
    """The client and its exact redirect_uri, or an error page: never redirect to an
    unverified URI (RFC 6749 §4.1.2.1)."""
    if {"client_id", "redirect_uri"} & params.repeated:
        raise PageError("invalid_request_title", "repeated_client_parameters")
    client_id = params.get("client_id")
    client = session.get(Client, client_id) if client_id and len(client_id) <= 64 else None
    if client is None:
        raise PageError("invalid_request_title", "unknown_client")
    if not client.is_active:
        raise PageError("invalid_request_title", "client_not_active", status_code=403)
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None or redirect_uri not in client.redirect_uris:
        raise PageError("invalid_request_title", "redirect_uri_mismatch")
    return client, redirect_uri


def require_single_values(req: AuthRequest) -> None:
    if req.params.repeated:
        raise InvalidRequest(f"Repeated parameters: {', '.join(sorted(req.params.repeated))}.")


def require_code_response_type(req: AuthRequest) -> None:
    response_type = req.get("response_type")
    if response_type is None:
        raise InvalidRequest("response_type is required.")
    if response_type != "code":
        raise UnsupportedResponseType("Only response_type=code is supported.")


def require_no_request_object(req: AuthRequest) -> None:
    if req.get("request") is not None:
        raise RequestNotSupported("Request objects are not supported.")
    if req.get("request_uri") is not None:
        raise RequestUriNotSupported("request_uri is not supported.")


def require_query_response_mode(req: AuthRequest) -> None:
    if req.get("response_mode") not in (None, "query"):
        raise InvalidRequest("Only response_mode=query is supported.")


def require_allowed_scopes(req: AuthRequest) -> None:
    if "openid" not in (req.get("scope") or "").split():
        raise InvalidScope("The openid scope is required.")
    refused = set(req.scopes) - req.client.allowed_scopes
    if refused:
        raise InvalidScope(f"Scopes not registered for this client: {' '.join(sorted(refused))}.")


def require_pkce_s256(req: AuthRequest) -> None:
    challenge, method = req.get("code_challenge"), req.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method given without code_challenge.")
        if req.pkce_required or req.client.is_public:
            raise InvalidRequest("PKCE with code_challenge_method=S256 is required.")
        return
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256.")
    if not pkce.is_valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be 43 base64url characters.")


def require_valid_prompt(req: AuthRequest) -> None:
    prompt = req.prompt
    if not prompt <= PROMPTS:
        raise InvalidRequest(f"Unknown prompt values: {' '.join(sorted(prompt - PROMPTS))}.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values.")


def require_valid_lengths(req: AuthRequest) -> None:
    max_age = req.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit() and len(max_age) < 10):
        raise InvalidRequest("max_age must be a non-negative integer.")
    limits = {"nonce": 512, "state": 2000, "login_hint": 100, "ui_locales": 100, "acr_values": 500}
    for name, limit in limits.items():
        value = req.get(name)
        if value is not None and len(value) > limit:
            raise InvalidRequest(f"{name} is longer than {limit} characters.")


def require_reachable_acr(req: AuthRequest) -> None:
    """acr_values (OIDC Core §3.1.2.1) name levels in order of preference; when none of them
    is a level this provider can reach, say so rather than sign in at a level not asked for."""
    asked = req.acr_values
    if asked and not set(asked) & set(SUPPORTED_ACR_VALUES):
        raise UnmetAuthenticationRequirements(
            f"None of the acr_values can be met; supported: {' '.join(SUPPORTED_ACR_VALUES)}."
        )


def require_valid_claims(req: AuthRequest) -> None:
    _ = req.claims  # parsing raises InvalidRequest


CHECKS: tuple[Callable[[AuthRequest], None], ...] = (
    require_single_values,
    require_code_response_type,
    require_no_request_object,
    require_query_response_mode,
    require_valid_lengths,
    require_allowed_scopes,
    require_pkce_s256,
    require_valid_prompt,
    require_reachable_acr,
    require_valid_claims,
)


def run_checks(req: AuthRequest) -> None:
    """Raise the first OAuthError; the order is the order the spec's errors are reported."""
    for check in CHECKS:
        check(req)


def redirect_to_client(
    redirect_uri: str, values: dict[str, str | None], *, issuer: str | None
) -> RedirectResponse:
    """Append response parameters to a registered URI; `issuer` adds RFC 9207 `iss` (every
    authorization response has it; a logout response has no such parameter)."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in {**values, "iss": issuer}.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return RedirectResponse(location, status_code=303, headers=NO_STORE)


def redirect_error(req: AuthRequest, exc: OAuthError, *, issuer: str) -> RedirectResponse:
    values = {"error": exc.error, "error_description": exc.description or None, "state": req.state}
    return redirect_to_client(req.redirect_uri, values, issuer=issuer)


def save_pending(session: Session, req: AuthRequest, *, ttl: timedelta) -> str:
    tx = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PendingAuthorization(
            id=tx,
            client_id=req.client.client_id,
            params=req.params.values,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return tx


def load_pending(session: Session, tx: str | None) -> PendingAuthorization:
    # only what save_pending makes reaches the database (PostgreSQL refuses NUL in text)
    row = session.get(PendingAuthorization, tx) if tx and TX_ID.fullmatch(tx) else None
    if row is None or row.expires_at <= utcnow():
        raise PageError("request_expired_title", "request_expired", status_code=400)
    return row


def drop_pending(session: Session, tx: str) -> None:
    session.execute(delete(PendingAuthorization).where(PendingAuthorization.id == tx))


def sweep(session: Session) -> None:
    session.execute(delete(PendingAuthorization).where(PendingAuthorization.expires_at < utcnow()))
