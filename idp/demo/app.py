"""A sample agency app at /demo: signs in through the provider with code + PKCE, over HTTP,
as any agency would, and shows the verified ID token claims and the userinfo response."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx2
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from idp.crypto import jwt
from idp.demo.seed import DEMO_CLIENT_ID
from idp.provider import Provider, ProviderDep
from idp.web.i18n import pick_locale
from idp.web.render import render

router = APIRouter(prefix="/demo")
COOKIE = "demo_rp"


def _seal(provider: Provider, data: dict[str, str]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    mac = hmac.new(provider.csrf_key, b"demo:" + payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def _unseal(provider: Provider, value: str | None) -> dict[str, str] | None:
    payload, _, mac = (value or "").partition(".")
    expected = hmac.new(provider.csrf_key, b"demo:" + payload.encode(), hashlib.sha256).hexdigest()
    if not payload or not hmac.compare_digest(mac, expected):
        return None
    data: dict[str, str] = json.loads(base64.urlsafe_b64decode(payload))
    return data


@router.get("")
def home(request: Request, provider: ProviderDep) -> Response:
    return render(
        request, provider, "demo.html", locale=pick_locale(request), result=None, error=None
    )


@router.get("/login")
def start(provider: ProviderDep) -> Response:
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43 to 128 characters
    challenge = jwt.b64url(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": provider.settings.endpoint("/demo/callback"),
            "scope": "openid profile email phone",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(
        f"{provider.settings.endpoint('/authorize')}?{query}", status_code=303
    )
    sealed = _seal(provider, {"state": state, "nonce": nonce, "verifier": verifier})
    response.set_cookie(COOKIE, sealed, httponly=True, samesite="lax", path="/demo", max_age=900)
    return response


async def _exchange(provider: Provider, code: str, verifier: str) -> dict[str, Any]:
    settings = provider.settings
    async with httpx2.AsyncClient(timeout=10) as http:
        tokens = (
            await http.post(
                settings.endpoint("/token"),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": settings.endpoint("/demo/callback"),
                    "client_id": DEMO_CLIENT_ID,
                    "code_verifier": verifier,
                },
            )
        ).json()
        if "id_token" not in tokens:
            return {"error": tokens.get("error", "token request failed")}
        jwks = (await http.get(settings.endpoint("/jwks.json"))).json()
        userinfo = (
            await http.get(
                settings.endpoint("/userinfo"),
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
        ).json()
    keys = {k["kid"]: jwt.verify_key(k) for k in jwks["keys"]}
    claims = jwt.verify(
        tokens["id_token"], keys=keys, issuer=settings.issuer, audience=DEMO_CLIENT_ID
    )
    return {"id_token": claims, "userinfo": userinfo}


@router.get("/callback")
async def callback(request: Request, provider: ProviderDep) -> Response:
    sealed = _unseal(provider, request.cookies.get(COOKIE))
    params = request.query_params
    locale = pick_locale(request)
    if sealed is None or params.get("state") != sealed["state"]:
        return render(
            request, provider, "demo.html", locale=locale, result=None, error="state mismatch"
        )
    if "error" in params or "code" not in params:
        error = params.get("error", "no code")
        return render(request, provider, "demo.html", locale=locale, result=None, error=error)
    try:
        result = await _exchange(provider, params["code"], sealed["verifier"])
    except (httpx2.HTTPError, jwt.JwtRejected, ValueError) as exc:
        result = {"error": type(exc).__name__}
    if "error" not in result and result["id_token"].get("nonce") != sealed["nonce"]:
        result = {"error": "nonce mismatch"}
    response = render(
        request,
        provider,
        "demo.html",
        locale=locale,
        error=result.get("error"),
        result={
            k: json.dumps(v, indent=2, ensure_ascii=False)
            for k, v in result.items()
            if k != "error"
        },
    )
    response.delete_cookie(COOKIE, path="/demo")
    return response
