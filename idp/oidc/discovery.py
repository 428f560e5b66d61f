"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414) and the JWKS (RFC 7517)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from idp.agencies.metadata import AUTH_METHODS, CITIZEN_SCOPES, GRANT_TYPES
from idp.authn.assurance import SUPPORTED_ACR_VALUES
from idp.crypto.jwt import ALGORITHMS
from idp.oidc.claims import CLAIMS_IN_VERIFIED_CLAIMS, CLAIMS_SUPPORTED, TRUST_FRAMEWORK
from idp.provider import ProviderDep
from idp.settings import Settings
from idp.web.i18n import LOCALES

router = APIRouter()

CACHEABLE = {"Cache-Control": "public, max-age=300"}


def metadata(settings: Settings) -> dict[str, Any]:
    at = settings.endpoint
    client_auth = list(AUTH_METHODS)
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": at("/authorize"),
        "token_endpoint": at("/token"),
        "userinfo_endpoint": at("/userinfo"),
        "jwks_uri": at("/jwks.json"),
        "revocation_endpoint": at("/revoke"),
        "introspection_endpoint": at("/introspect"),
        "end_session_endpoint": at("/logout"),
        "registration_endpoint": at("/register"),
        "scopes_supported": sorted(CITIZEN_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "claim_types_supported": ["normal"],
        "acr_values_supported": list(SUPPORTED_ACR_VALUES),
        # OpenID Connect for Identity Assurance 1.0 §9 (docs/proofing.md)
        "verified_claims_supported": True,
        "trust_frameworks_supported": [TRUST_FRAMEWORK],
        "evidence_supported": ["document"],
        "documents_supported": ["idcard"],
        "documents_methods_supported": ["pipp", "uripp"],
        "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS),
        "ui_locales_supported": list(LOCALES),
        "claims_locales_supported": list(LOCALES),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


_rendered: dict[str, bytes] = {}  # issuer -> document; it changes only with the settings


@router.get("/.well-known/openid-configuration")
async def openid_configuration(provider: ProviderDep) -> Response:
    issuer = provider.settings.issuer
    if issuer not in _rendered:
        _rendered[issuer] = json.dumps(metadata(provider.settings)).encode()
    return Response(_rendered[issuer], media_type="application/json", headers=CACHEABLE)


@router.get("/jwks.json")
async def jwks(provider: ProviderDep) -> Response:
    return Response(provider.keys.get().jwks_json, media_type="application/json", headers=CACHEABLE)
