"""The agency portal: an agency's staff register and manage its clients, under the same rules
as dynamic registration (RFC 7591); new clients wait for an administrator's approval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service
from idp.agencies.metadata import InvalidClientMetadata
from idp.agencies.models import ACTIVE, PENDING, Agency, Client
from idp.audit import service as audit
from idp.db import DbSession
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.client_form import (
    FIELDS,
    LANGUAGES,
    METHODS,
    SCOPES,
    document_from,
    form_from,
    typed_values,
)
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.render import render
from idp.web.signed_in import signed_in

router = APIRouter(prefix="/agency")

Form = Annotated[Params, Depends(read_form)]


def to_login(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?{urlencode({'next': path})}", status_code=303)


def not_found() -> PageError:
    return PageError("not_found_title", "not_found", status_code=404)


@dataclass(frozen=True)
class Member:
    citizen_id: str
    agencies: list[Agency]

    def agency(self, agency_id: str) -> Agency:
        """One of the member's agencies; another agency's id is not found (404)."""
        found = next((a for a in self.agencies if a.id == agency_id), None)
        if found is None:
            raise not_found()
        return found

    def client(self, session: Session, client_id: str) -> Client:
        """A client of one of the member's agencies; any other client is not found (404)."""
        client = known_client(session, client_id)
        if client.agency_id not in {a.id for a in self.agencies}:
            raise not_found()
        return client


def known_client(session: Session, client_id: str) -> Client:
    """The client with this id; any other id is not found (404)."""
    client = session.get(Client, client_id) if len(client_id) <= 64 else None
    if client is None:
        raise not_found()
    return client


def require_member(
    request: Request, session: Session, provider: Provider, form: Params | None = None
) -> Member | None:
    """The signed-in citizen and their agencies, checked on every request; None when nobody
    is signed in; a 403 page for a citizen who is no agency's member. With `form`, its CSRF
    token is checked first."""
    if form is not None:
        require_csrf(request, provider, form)
    login = signed_in(request, session, provider)
    if login is None:
        return None
    agencies = service.agencies_of(session, login.citizen_id)
    if not agencies:
        raise PageError("forbidden_title", "not_agency_member", status_code=403)
    return Member(login.citizen_id, sorted(agencies, key=lambda a: a.name))


def client_path(client: Client, suffix: str = "") -> str:
    return f"/agency/clients/{quote(client.client_id, safe='')}{suffix}"


def secret_page(
    request: Request,
    provider: Provider,
    client: Client,
    *,
    secret: str | None,
    event: str,
    status_code: int = 200,
    back_to_pending: bool = False,
) -> Response:
    """The client's new secret, shown this once."""
    return render(
        request,
        provider,
        "portal_secret.html",
        locale=pick_locale(request),
        status_code=status_code,
        client=client,
        secret=secret,
        event=event,
        back_to_pending=back_to_pending,
    )


def form_page(
    request: Request,
    provider: Provider,
    *,
    agency: Agency,
    form: dict[str, str],
    client: Client | None = None,
    error: str | None = None,
) -> Response:
    return render(
        request,
        provider,
        "portal_form.html",
        locale=pick_locale(request),
        status_code=400 if error else 200,
        agency=agency,
        client=client,
        form=form,
        error=error,
        scopes=SCOPES,
        methods=METHODS,
        purposes_given=any(form[f"purpose_{s}_{lang}"] for s in SCOPES for lang in LANGUAGES),
    )


@router.get("")
def overview(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    member = require_member(request, session, provider)
    if member is None:
        return to_login("/agency")
    ids = [a.id for a in member.agencies]
    clients = session.scalars(
        select(Client).where(Client.agency_id.in_(ids)).order_by(Client.client_name)
    ).all()
    return render(
        request,
        provider,
        "portal.html",
        locale=pick_locale(request),
        agencies=member.agencies,
        clients={a.id: [c for c in clients if c.agency_id == a.id] for a in member.agencies},
    )


@router.get("/{agency_id}/clients/new")
def new_client(
    agency_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    member = require_member(request, session, provider)
    if member is None:
        return to_login("/agency")
    form = dict.fromkeys(FIELDS, "") | {"token_endpoint_auth_method": "private_key_jwt"}
    return form_page(request, provider, agency=member.agency(agency_id), form=form)


@router.post("/{agency_id}/clients/new")
def register(
    agency_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    member = require_member(request, session, provider, form)
    if member is None:
        return to_login("/agency")
    agency, values = member.agency(agency_id), typed_values(form)
    try:
        issued = service.register_client(
            session,
            document_from(values, base={}),
            agency=agency,
            status=PENDING,
            fetcher=provider.fetcher,
        )
    except InvalidClientMetadata as exc:
        return form_page(request, provider, agency=agency, form=values, error=exc.description)
    client = issued.client
    audit.record(
        session,
        "client.registered",
        actor="agency_member",
        citizen_id=member.citizen_id,
        client_id=client.client_id,
        agency_id=agency.id,
    )
    return secret_page(
        request, provider, client, secret=issued.client_secret, event="registered", status_code=201
    )


@router.get("/clients/{client_id}")
def show_client(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    member = require_member(request, session, provider)
    if member is None:
        return to_login("/agency")
    client = member.client(session, client_id)
    return render(
        request,
        provider,
        "portal_client.html",
        locale=pick_locale(request),
        client=client,
        saved=request.query_params.get("saved"),
    )


@router.get("/clients/{client_id}/edit")
def edit_client(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    member = require_member(request, session, provider)
    if member is None:
        return to_login("/agency")
    client = member.client(session, client_id)
    agency = member.agency(client.agency_id or "")
    return form_page(request, provider, agency=agency, client=client, form=form_from(client))


@router.post("/clients/{client_id}/edit")
def update(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    member = require_member(request, session, provider, form)
    if member is None:
        return to_login("/agency")
    client, values = member.client(session, client_id), typed_values(form)
    agency = member.agency(client.agency_id or "")
    was = client.status
    try:
        document = document_from(values, base=client.metadata_)
        secret = service.update_client(session, client, document, fetcher=provider.fetcher)
    except InvalidClientMetadata as exc:
        return form_page(
            request,
            provider,
            agency=agency,
            client=client,
            form=values,
            error=exc.description,
        )
    back_to_pending = was == ACTIVE and client.status == PENDING
    audit.record(
        session,
        "client.updated",
        actor="agency_member",
        citizen_id=member.citizen_id,
        client_id=client.client_id,
        back_to_pending=back_to_pending,
    )
    if secret is None:
        saved = "pending" if back_to_pending else "1"
        return RedirectResponse(client_path(client, f"?saved={saved}"), status_code=303)
    return secret_page(
        request, provider, client, secret=secret, event="updated", back_to_pending=back_to_pending
    )


@router.get("/clients/{client_id}/secret")
def confirm_rotation(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    member = require_member(request, session, provider)
    if member is None:
        return to_login("/agency")
    client = member.client(session, client_id)
    if client.client_secret_hash is None:
        raise PageError("no_secret_title", "no_secret")
    return render(
        request, provider, "portal_rotate.html", locale=pick_locale(request), client=client
    )


@router.post("/clients/{client_id}/secret")
def rotate(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    member = require_member(request, session, provider, form)
    if member is None:
        return to_login("/agency")
    client = member.client(session, client_id)
    secret = service.rotate_secret(session, client)
    if secret is None:
        raise PageError("no_secret_title", "no_secret")
    audit.record(
        session,
        "client.secret_rotated",
        actor="agency_member",
        citizen_id=member.citizen_id,
        client_id=client.client_id,
    )
    return secret_page(request, provider, client, secret=secret, event="rotated")
