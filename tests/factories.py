"""Test data, committed through the provider's own sessions (the app reads it over HTTP)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.admin.access import ADMIN
from idp.agencies.models import AgencyMember
from idp.agencies.service import create_client
from idp.provider import Provider

PASSWORD = "rice fields at dawn"


@dataclass(frozen=True)
class MadeCitizen:
    id: str
    phone_number: str
    password: str


@dataclass(frozen=True)
class MadeClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str


_issued_phones: set[str] = set()


def unique_phone() -> str:
    """A valid Cambodian mobile number (+855 12 xxx xxx) not used before in this run."""
    # remembered: among a thousand random numbers of 900 000, two are alike about one run in two
    while (phone := f"+85512{secrets.randbelow(900000) + 100000}") in _issued_phones:
        pass
    _issued_phones.add(phone)
    return phone


def make_citizen(provider: Provider, **fields: str) -> MadeCitizen:
    phone = fields.pop("phone_number", None) or unique_phone()
    with provider.sessions.begin() as session:
        citizen = accounts.create_citizen(
            session,
            hasher=provider.hasher,
            phone_number=phone,
            password=PASSWORD,
            email=fields.pop("email", "citizen@example.com"),
            given_name=fields.pop("given_name", "Dara"),
            family_name=fields.pop("family_name", "Sok"),
            given_name_km=fields.pop("given_name_km", "ដារា"),
            family_name_km=fields.pop("family_name_km", "សុខ"),
            phone_number_verified=True,
        )
        return MadeCitizen(id=citizen.id, phone_number=phone, password=PASSWORD)


def make_client(
    provider: Provider,
    *,
    auth_method: str = "client_secret_basic",
    redirect_uri: str = "https://agency.example.gov.kh/callback",
    post_logout_redirect_uri: str = "https://agency.example.gov.kh/",
    id_token_alg: str = "RS256",
    **metadata: Any,
) -> MadeClient:
    """An active client; `metadata` adds registration fields (purpose, policy_uri,
    consent_event_uri, consent_ttl_days ...)."""
    with provider.sessions.begin() as session:
        client, secret = create_client(
            session,
            client_name="Ministry of Examples",
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[post_logout_redirect_uri],
            token_endpoint_auth_method=auth_method,
            id_token_signed_response_alg=id_token_alg,
            **metadata,
        )
        return MadeClient(client.client_id, secret, redirect_uri)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_staff(provider: Provider, *roles: str) -> MadeCitizen:
    """A citizen holding staff `roles` (as `idp users create --role ...` makes one)."""
    made = make_citizen(provider)
    with provider.sessions.begin() as session:
        citizen = session.get(Citizen, made.id)
        assert citizen is not None
        citizen.roles = list(roles)
    return made


def make_admin(provider: Provider) -> MadeCitizen:
    return make_staff(provider, ADMIN)


def make_member(provider: Provider, agency_id: str) -> MadeCitizen:
    """A citizen who manages the clients of the agency in the agency portal."""
    made = make_citizen(provider)
    with provider.sessions.begin() as session:
        session.add(AgencyMember(agency_id=agency_id, citizen_id=made.id))
    return made
