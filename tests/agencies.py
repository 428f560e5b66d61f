"""Agencies and their clients as an administrator and the agencies' developers make them,
committed through the provider's own sessions (the app reads them over HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.agencies import service
from idp.agencies.fetch import Fetcher
from idp.agencies.models import ACTIVE, PENDING, Agency, Client
from idp.provider import Provider
from tests.factories import MadeClient

CALLBACK = "https://tax.example.gov.kh/callback"
LOOPBACK = Fetcher(allow_http_loopback=True)  # documents served by tests on 127.0.0.1


@dataclass(frozen=True)
class Registered:
    """A client and what registration handed out once."""

    client_id: str
    client_secret: str | None
    registration_access_token: str
    redirect_uri: str

    @property
    def made(self) -> MadeClient:
        """The same client as the shared flows in tests/flows.py take it."""
        return MadeClient(self.client_id, self.client_secret, self.redirect_uri)


def make_agency(
    provider: Provider,
    *,
    name: str = "Ministry of Economy and Finance",
    sector: str | None = None,
    allows_public_subjects: bool = False,
) -> Agency:
    with provider.sessions.begin() as session:
        agency = service.create_agency(
            session, name=name, sector=sector, contacts=["it@mef.example.gov.kh"]
        )
        agency.allows_public_subjects = allows_public_subjects
        return agency


def document(**fields: Any) -> dict[str, Any]:
    """A registration document for a web application; `fields` add or replace members."""
    return {
        "client_name": "Tax Office",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email phone offline_access",
        **fields,
    }


def register(
    provider: Provider,
    *,
    agency: Agency | None = None,
    status: str = ACTIVE,
    **fields: Any,
) -> Registered:
    """Register `document(**fields)` for `agency`, with the given status."""
    doc = document(**fields)
    with provider.sessions.begin() as session:
        issued = service.register_client(
            session, doc, agency=agency, status=status, fetcher=LOOPBACK
        )
        return Registered(
            issued.client.client_id,
            issued.client_secret,
            issued.registration_access_token,
            doc["redirect_uris"][0] if doc["redirect_uris"] else "",
        )


def register_pending(provider: Provider, **fields: Any) -> Registered:
    return register(provider, status=PENDING, **fields)


def set_client_status(provider: Provider, client_id: str, status: str) -> None:
    with provider.sessions.begin() as session:
        client = session.get(Client, client_id)
        assert client is not None
        service.set_client_status(session, client, status)


def set_agency_status(provider: Provider, agency_id: str, status: str) -> None:
    with provider.sessions.begin() as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        service.set_agency_status(session, agency, status)


def client_status(provider: Provider, client_id: str) -> str | None:
    with provider.sessions.begin() as session:
        client = session.get(Client, client_id)
        return None if client is None else client.status
