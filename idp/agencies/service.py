"""Clients of relying agencies: registration rules and secrets."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from idp.agencies.models import Client
from idp.errors import IdpError

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
DEFAULT_SCOPE = "openid profile email phone address offline_access"
SUPPORTED_SCOPES = frozenset(DEFAULT_SCOPE.split())


class InvalidClientMetadata(IdpError):
    """Client metadata that cannot be registered (RFC 7591 §3.2.2); says what to fix."""

    def __init__(self, description: str, *, error: str = "invalid_client_metadata") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def hash_secret(secret: str) -> str:
    """Secrets are 256-bit random: a fast hash is enough, nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    if client.client_secret_hash is None:
        return False
    return hmac.compare_digest(client.client_secret_hash, hash_secret(secret))


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def is_web_url(url: str) -> bool:
    """https, or http on loopback; no user name, password or fragment; at most 2000 chars."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if len(url) > 2000 or parts.fragment or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and is_loopback(parts.hostname)


def require_valid_redirect_uri(uri: str, *, public: bool) -> None:
    """Exact URIs only: https, or http on loopback; no fragment, wildcard or userinfo."""
    problem = None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        problem = "is not a valid URL"
    else:
        if len(uri) > 2000:
            problem = "is longer than 2000 characters"
        elif parts.fragment or "#" in uri:
            problem = "has a fragment"
        elif "*" in uri:
            problem = "has a wildcard"
        elif parts.username or parts.password:
            problem = "has a user name or password"
        elif (parts.scheme == "https" and parts.hostname) or (
            parts.scheme == "http" and is_loopback(parts.hostname)
        ):
            problem = None
        elif public and parts.scheme not in ("http", "https", "") and "." in parts.scheme:
            problem = None  # RFC 8252 §7.1: a private-use scheme in reverse-domain form
        else:
            problem = "must use https (http only on localhost)"
    if problem:
        raise InvalidClientMetadata(
            f"redirect_uri {uri[:200]!r} {problem}", error="invalid_redirect_uri"
        )


def sector_of(redirect_uris: list[str]) -> str:
    """OIDC Core §8.1: the host of the redirect URIs, which must then share one host."""
    hosts = {urlsplit(uri).hostname or urlsplit(uri).scheme for uri in redirect_uris}
    if len(hosts) != 1:
        raise InvalidClientMetadata(
            "redirect_uris on several hosts need a sector_identifier_uri, not yet supported"
        )
    return hosts.pop()


def create_client(
    session: Session,
    *,
    client_name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    token_endpoint_auth_method: str = "client_secret_basic",
    scope: str = DEFAULT_SCOPE,
    id_token_signed_response_alg: str = "RS256",
    client_id: str | None = None,
    purpose: dict[str, str] | None = None,
    policy_uri: str | None = None,
    consent_event_uri: str | None = None,
    consent_ttl_days: int | None = None,
) -> tuple[Client, str | None]:
    """Register an active client; return it and its secret (shown once, stored hashed)."""
    if token_endpoint_auth_method not in AUTH_METHODS:
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
    if id_token_signed_response_alg not in ("RS256", "ES256"):
        raise InvalidClientMetadata("id_token_signed_response_alg must be RS256 or ES256")
    if not client_name.strip() or len(client_name) > 200:
        raise InvalidClientMetadata("client_name must have 1 to 200 characters")
    if not redirect_uris:
        raise InvalidClientMetadata(
            "at least one redirect_uri is required", error="invalid_redirect_uri"
        )
    public = token_endpoint_auth_method == "none"
    for uri in [*redirect_uris, *(post_logout_redirect_uris or [])]:
        require_valid_redirect_uri(uri, public=public)
    scopes = set(scope.split()) | {"openid"}
    if not scopes <= SUPPORTED_SCOPES | {"openid"}:
        raise InvalidClientMetadata(f"unknown scopes: {sorted(scopes - SUPPORTED_SCOPES)}")
    for language, text in (purpose or {}).items():
        if language not in ("km", "en") or not 1 <= len(text.strip()) <= 500:
            raise InvalidClientMetadata("purpose must be 1 to 500 characters, in km and/or en")
    for name, url in (("policy_uri", policy_uri), ("consent_event_uri", consent_event_uri)):
        if url is not None and not is_web_url(url):
            raise InvalidClientMetadata(f"{name} must be an https URL (http only on localhost)")
    if consent_ttl_days is not None and not 1 <= consent_ttl_days <= 3650:
        raise InvalidClientMetadata("consent_ttl_days must be 1 to 3650")
    extras = {
        "purpose": purpose,
        "policy_uri": policy_uri,
        "consent_event_uri": consent_event_uri,
        "consent_ttl_days": consent_ttl_days,
    }
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id or secrets.token_urlsafe(18),
        client_secret_hash=hash_secret(secret) if secret else None,
        client_name=client_name.strip(),
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris or []),
        token_endpoint_auth_method=token_endpoint_auth_method,
        scope=" ".join(sorted(scopes)),
        id_token_signed_response_alg=id_token_signed_response_alg,
        sector_identifier=sector_of(redirect_uris),
        status="active",
        metadata_={k: v for k, v in extras.items() if v},
    )
    session.add(client)
    session.flush()
    return client, secret
