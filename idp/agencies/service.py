"""Agencies and their clients: registration, updates, approval, suspension, secrets and the
tokens of RFC 7591 (initial access) and RFC 7592 (registration access)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idp.agencies.fetch import Fetcher
from idp.agencies.metadata import DEFAULT_SCOPE, Registration, validate
from idp.agencies.models import (
    ACTIVE,
    PENDING,
    SUSPENDED,
    Agency,
    AgencyMember,
    Client,
    InitialAccessToken,
)
from idp.crypto.digest import digest
from idp.db import utcnow
from idp.oidc import grants

LOCAL = Fetcher(allow_http_loopback=True)  # operators' and tests' own documents


def secret_matches(client: Client, secret: str) -> bool:
    if client.client_secret_hash is None:
        return False
    return hmac.compare_digest(client.client_secret_hash, digest(secret))


def _new_secret(method: str) -> str | None:
    return (
        secrets.token_urlsafe(32)
        if method in ("client_secret_basic", "client_secret_post")
        else None
    )


@dataclass(frozen=True)
class Issued:
    """What registration hands out once: only hashes are kept."""

    client: Client
    client_secret: str | None
    registration_access_token: str


def _apply(client: Client, registration: Registration) -> None:
    client.client_name = registration.client_name
    client.redirect_uris = registration.redirect_uris
    client.post_logout_redirect_uris = registration.post_logout_redirect_uris
    client.grant_types = registration.grant_types
    client.token_endpoint_auth_method = registration.token_endpoint_auth_method
    client.jwks = registration.jwks
    client.jwks_uri = registration.jwks_uri
    client.scope = registration.scope
    client.id_token_signed_response_alg = registration.id_token_signed_response_alg
    client.subject_type = registration.subject_type
    client.sector_identifier = registration.sector_identifier
    client.metadata_ = registration.document


def register_client(
    session: Session,
    document: dict[str, Any],
    *,
    agency: Agency | None,
    status: str,
    fetcher: Fetcher,
    client_id: str | None = None,
) -> Issued:
    """Validate and store a client (raises InvalidClientMetadata); the secret and the
    registration access token are returned once."""
    registration = validate(document, agency=agency, fetcher=fetcher)
    secret = _new_secret(registration.token_endpoint_auth_method)
    token = secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id or secrets.token_hex(16),  # never a leading "-" (a CLI flag)
        agency_id=agency.id if agency else None,
        client_secret_hash=digest(secret) if secret else None,
        registration_token_hash=digest(token),
        status=status,
    )
    _apply(client, registration)
    session.add(client)
    session.flush()
    return Issued(client, secret, token)


def update_client(
    session: Session, client: Client, document: dict[str, Any], *, fetcher: Fetcher
) -> str | None:
    """Replace a client's metadata (RFC 7592 §2.2). A new redirect URI (after sign-in or
    logout), scope, grant type or sector goes back to an administrator: the client is pending
    again. Returns a new secret when the change of authentication method needs one."""
    registration = validate(document, agency=client.agency, fetcher=fetcher)
    widened = (
        not set(registration.redirect_uris) <= set(client.redirect_uris)
        or not set(registration.post_logout_redirect_uris) <= set(client.post_logout_redirect_uris)
        or not set(registration.scope.split()) <= client.allowed_scopes
        or not set(registration.grant_types) <= set(client.grant_types)
        or registration.sector_identifier != client.sector_identifier
    )
    secret = None
    if registration.token_endpoint_auth_method != client.token_endpoint_auth_method:
        secret = _new_secret(registration.token_endpoint_auth_method)
        client.client_secret_hash = digest(secret) if secret else None
    _apply(client, registration)
    if widened and client.status == ACTIVE:
        client.status = PENDING
    session.flush()
    return secret


def rotate_secret(session: Session, client: Client) -> str | None:
    """A new secret; the old one stops working at once. None for clients without secrets."""
    secret = _new_secret(client.token_endpoint_auth_method)
    if secret is not None:
        client.client_secret_hash = digest(secret)
        session.flush()
    return secret


def set_client_status(session: Session, client: Client, status: str) -> None:
    client.status = status
    if status != ACTIVE:
        grants.revoke_grants_of(session, client_id=client.client_id)
    session.flush()


def set_agency_status(session: Session, agency: Agency, status: str) -> None:
    """Suspending an agency stops all its clients at once, tokens included."""
    agency.status = status
    if status == SUSPENDED:
        for client_id in session.scalars(
            select(Client.client_id).where(Client.agency_id == agency.id)
        ):
            grants.revoke_grants_of(session, client_id=client_id)
        # the clients' own tokens (client_credentials) end too: see verify_access_token
        session.execute(
            update(Client).where(Client.agency_id == agency.id).values(updated_at=utcnow())
        )
    session.flush()


def delete_client(session: Session, client: Client) -> None:
    session.execute(delete(Client).where(Client.client_id == client.client_id))


def create_agency(
    session: Session, *, name: str, sector: str | None = None, contacts: list[str] | None = None
) -> Agency:
    agency = Agency(
        id=secrets.token_hex(8),
        name=name.strip()[:200],
        sector=sector,
        contacts=contacts or [],
        status=ACTIVE,
    )
    session.add(agency)
    session.flush()
    return agency


def add_member(session: Session, *, agency: Agency, citizen_id: str) -> None:
    if session.get(AgencyMember, (agency.id, citizen_id)) is None:
        session.add(AgencyMember(agency_id=agency.id, citizen_id=citizen_id))
        session.flush()


def agencies_of(session: Session, citizen_id: str) -> list[Agency]:
    query = select(Agency).join(AgencyMember).where(AgencyMember.citizen_id == citizen_id)
    return list(session.scalars(query))


def issue_initial_token(session: Session, *, agency: Agency, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        InitialAccessToken(
            token_hash=digest(token), agency_id=agency.id, created_at=now, expires_at=now + ttl
        )
    )
    return token


def agency_of_initial_token(session: Session, token: str) -> Agency | None:
    row = session.get(InitialAccessToken, digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    agency = session.get(Agency, row.agency_id)
    return agency if agency is not None and agency.status == ACTIVE else None


def client_of_registration_token(session: Session, client_id: str, token: str) -> Client | None:
    client = session.get(Client, client_id) if len(client_id) <= 64 else None
    if client is None or client.registration_token_hash is None:
        return None
    if not hmac.compare_digest(client.registration_token_hash, digest(token)):
        return None
    return client


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
    agency: Agency | None = None,
    **extra: Any,
) -> tuple[Client, str | None]:
    """An operator's client, active at once (`idp clients create`): the same rules as a
    registration. `extra` holds further metadata (purpose, policy_uri, consent_event_uri ...)."""
    document = {
        "client_name": client_name,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris or [],
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "scope": scope,
        "id_token_signed_response_alg": id_token_signed_response_alg,
        "grant_types": ["authorization_code", "refresh_token"],
        **{k: v for k, v in extra.items() if v is not None},
    }
    issued = register_client(
        session, document, agency=agency, status=ACTIVE, fetcher=LOCAL, client_id=client_id
    )
    return issued.client, issued.client_secret
