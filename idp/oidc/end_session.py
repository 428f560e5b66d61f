"""RP-Initiated Logout 1.0: end the sign-in session, then return to the client if trusted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from idp.agencies.models import Client
from idp.authn import sessions
from idp.crypto import jwt
from idp.db import DbSession
from idp.errors import InvalidRequest, PageError
from idp.oidc.auth_request import redirect_to_client
from idp.oidc.params import Params, read_query_or_body
from idp.provider import Provider, ProviderDep
from idp.web import csrf
from idp.web.i18n import pick_locale
from idp.web.render import render

router = APIRouter()


async def read_params(request: Request) -> Params:
    """Malformed parameters get an error page: this is a page a browser opens."""
    try:
        return await read_query_or_body(request)
    except InvalidRequest as exc:
        raise PageError("logout_error_title", "logout_bad_hint") from exc


def hinted_claims(session: Session, provider: Provider, hint: str | None) -> dict[str, Any] | None:
    """Claims of an ID token we issued (expired ones too: §2), or None; a bad hint is an error."""
    if hint is None:
        return None
    try:
        return jwt.verify(
            hint,
            keys=provider.keys.get(session).verifying,
            issuer=provider.settings.issuer,
            audience=None,
            verify_exp=False,
        )
    except jwt.JwtRejected as exc:
        raise PageError("logout_error_title", "logout_bad_hint") from exc


def logout_client(session: Session, params: Params, claims: dict[str, Any] | None) -> Client | None:
    client_id = params.get("client_id")
    if claims is not None:
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if client_id is not None and client_id not in audiences:
            raise PageError("logout_error_title", "logout_client_mismatch")
        client_id = client_id or str(audiences[0])
    if client_id is None or len(client_id) > 64:
        return None
    client = session.get(Client, client_id)
    if client is None:
        raise PageError("logout_error_title", "unknown_client")
    return client


def finish(provider: Provider, client: Client | None, params: Params, request: Request) -> Response:
    target = params.get("post_logout_redirect_uri")
    if target is not None and client is not None:
        return redirect_to_client(target, {"state": params.get("state")}, issuer=None)
    locale = pick_locale(request, params.get("ui_locales"))
    return render(request, provider, "logged_out.html", locale=locale)


@router.api_route("/logout", methods=["GET", "POST"])
def end_session(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    params: Annotated[Params, Depends(read_params)],
) -> Response:
    if params.repeated:
        raise PageError("logout_error_title", "repeated_parameters")
    claims = hinted_claims(session, provider, params.get("id_token_hint"))
    client = logout_client(session, params, claims)
    target = params.get("post_logout_redirect_uri")
    if target is not None and (client is None or target not in client.post_logout_redirect_uris):
        raise PageError("logout_error_title", "logout_redirect_mismatch")
    cookie = request.cookies.get(sessions.COOKIE)
    login = sessions.current_session(session, cookie, policy=provider.session_policy)
    confirmed = request.method == "POST" and csrf.is_valid(
        request, provider.csrf_key, params.get(csrf.FIELD)
    )
    # The request is trusted when its hint names this very session, or when nobody is signed
    # in; anything else could be a forged link, so the citizen confirms (§2, §6).
    trusted = login is None or (claims is not None and claims.get("sid") == login.sid)
    if not (trusted or confirmed):
        locale = pick_locale(request, params.get("ui_locales"))
        return render(
            request,
            provider,
            "logout.html",
            locale=locale,
            client=client,
            params={k: v for k, v in params.values.items() if k != csrf.FIELD},
        )
    sessions.end_session(session, cookie)
    response = finish(provider, client, params, request)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
