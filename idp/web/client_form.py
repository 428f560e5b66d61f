"""The client form of the agency portal: the form's fields, the registration document
(RFC 7591 §2) a filled-in form makes, and the form a client's metadata fills in."""

from __future__ import annotations

import json
from typing import Any

from idp.agencies.metadata import InvalidClientMetadata
from idp.agencies.models import Client
from idp.oidc.params import Params

SCOPES = ("profile", "email", "phone", "address", "offline_access")  # the form's checkboxes
METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post", "none")
LANGUAGES = ("en", "km")
FIELDS = (
    "client_name",
    "client_name_km",
    "redirect_uris",
    "post_logout_redirect_uris",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "policy_uri",
    "consent_event_uri",
    *(f"scope_{s}" for s in SCOPES),
    *(f"purpose_{lang}" for lang in LANGUAGES),
    *(f"purpose_{s}_{lang}" for s in SCOPES for lang in LANGUAGES),
)
# metadata the form shows; anything else a client has (contacts, logo_uri ...) stays as it is
OWNED = frozenset(
    {
        "client_name",
        "client_name#km",
        "redirect_uris",
        "post_logout_redirect_uris",
        "token_endpoint_auth_method",
        "jwks",
        "jwks_uri",
        "policy_uri",
        "consent_event_uri",
        "scope",
        "grant_types",
        "purpose",
        "purposes",
    }
)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _texts(form: dict[str, str], prefix: str) -> dict[str, str]:
    return {lang: text for lang in LANGUAGES if (text := form[f"{prefix}_{lang}"].strip())}


def document_from(form: dict[str, str], *, base: dict[str, Any]) -> dict[str, Any]:
    """The registration document for a filled-in form; `base` is the client's metadata so
    far (empty for a new client). The validator judges the result, not this function."""
    doc = {k: v for k, v in base.items() if k not in OWNED}
    scopes = [s for s in SCOPES if form[f"scope_{s}"]]
    scopes += [s for s in str(base.get("scope", "")).split() if s not in SCOPES]  # API scopes
    grant_types = [
        g for g in base.get("grant_types", ["authorization_code"]) if g != "refresh_token"
    ]
    if "offline_access" in scopes:
        grant_types.append("refresh_token")  # refresh tokens need both (idp/oidc/token.py)
    doc |= {
        "client_name": form["client_name"].strip(),
        "redirect_uris": _lines(form["redirect_uris"]),
        "post_logout_redirect_uris": _lines(form["post_logout_redirect_uris"]),
        "token_endpoint_auth_method": form["token_endpoint_auth_method"] or "private_key_jwt",
        "scope": " ".join(scopes),
        "grant_types": grant_types,
    }
    optional = ("client_name#km", "jwks_uri", "policy_uri", "consent_event_uri")
    doc |= {k: v for k in optional if (v := form[k.replace("#", "_")].strip())}
    if form["jwks"].strip():
        try:
            doc["jwks"] = json.loads(form["jwks"])
        except ValueError as exc:
            raise InvalidClientMetadata("jwks is not valid JSON") from exc
    if purpose := _texts(form, "purpose"):
        doc["purpose"] = purpose
    purposes = {k: v for k, v in base.get("purposes", {}).items() if k not in SCOPES}
    purposes |= {s: texts for s in SCOPES if (texts := _texts(form, f"purpose_{s}"))}
    if purposes:
        doc["purposes"] = purposes
    return doc


def form_from(client: Client) -> dict[str, str]:
    """The form as the client's metadata fills it in."""
    meta = client.metadata_
    form = dict.fromkeys(FIELDS, "")
    form |= {
        "client_name": client.client_name,
        "client_name_km": meta.get("client_name#km", ""),
        "redirect_uris": "\n".join(client.redirect_uris),
        "post_logout_redirect_uris": "\n".join(client.post_logout_redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "jwks": json.dumps(client.jwks, indent=2) if client.jwks else "",
        "jwks_uri": client.jwks_uri or "",
        "policy_uri": meta.get("policy_uri", ""),
        "consent_event_uri": meta.get("consent_event_uri", ""),
    }
    form |= {f"scope_{s}": "1" for s in SCOPES if s in client.allowed_scopes}
    form |= {f"purpose_{lang}": t for lang, t in meta.get("purpose", {}).items()}
    for scope, texts in meta.get("purposes", {}).items():
        if scope in SCOPES:
            form |= {f"purpose_{scope}_{lang}": t for lang, t in texts.items()}
    return form


def typed_values(form: Params) -> dict[str, str]:
    return {name: form.values.get(name, "")[:16_384] for name in FIELDS}
