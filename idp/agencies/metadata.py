"""Client metadata (RFC 7591 §2, OIDC Dynamic Client Registration 1.0 §2): every rule in one
place, each error saying what to fix (`invalid_redirect_uri` or `invalid_client_metadata`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.agencies.fetch import Fetcher, FetchFailed
from idp.agencies.models import Agency
from idp.authn.assurance import SUPPORTED_ACR_VALUES
from idp.crypto import jwt
from idp.errors import IdpError

AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
CITIZEN_SCOPES = frozenset({"openid", "profile", "email", "phone", "address", "offline_access"})
DEFAULT_SCOPE = "openid profile email phone address offline_access"
API_SCOPE = re.compile(r"^[a-z][a-z0-9_.:-]{1,63}$")  # an agency's own API, client_credentials
LANGUAGES = ("en", "km")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")


class InvalidClientMetadata(IdpError):
    """Client metadata that cannot be registered (RFC 7591 §3.2.2); says what to fix."""

    def __init__(self, description: str, *, error: str = "invalid_client_metadata") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Registration:
    """Validated metadata: typed fields the protocol reads, and the normalised document."""

    client_name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    scope: str
    id_token_signed_response_alg: str
    subject_type: str
    sector_identifier: str
    document: dict[str, Any]


def is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "[::1]")


def _url_problem(uri: str) -> str | None:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not a valid URL"
    if len(uri) > 2000:
        return "is longer than 2000 characters"
    if parts.fragment or "#" in uri:
        return "has a fragment"
    if "*" in uri:
        return "has a wildcard"
    if parts.username or parts.password:
        return "has a user name or password"
    return None


def is_web_url(url: str) -> bool:
    """https, or http on loopback; no user name, password, wildcard or fragment."""
    if not isinstance(url, str) or _url_problem(url):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and is_loopback(parts.hostname)


def require_valid_redirect_uri(uri: str, *, public: bool, name: str = "redirect_uri") -> None:
    """Exact URIs: https, or http on loopback (RFC 8252 §7.3); private-use schemes in
    reverse-domain form only for public native clients (RFC 8252 §7.1)."""
    problem = _url_problem(uri) if isinstance(uri, str) else "is not a string"
    if problem is None and not is_web_url(uri):
        scheme = urlsplit(uri).scheme
        native = public and scheme not in ("http", "https", "") and "." in scheme
        problem = None if native else "must use https (http only on localhost)"
    if problem:
        raise InvalidClientMetadata(
            f"{name} {str(uri)[:200]!r} {problem}", error="invalid_redirect_uri"
        )


def _strings(
    doc: dict[str, Any], name: str, *, limit: int = 20, error: str = "invalid_client_metadata"
) -> list[str]:
    value = doc.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadata(f"{name} must be an array of strings", error=error)
    if len(value) > limit:
        raise InvalidClientMetadata(f"{name} may have at most {limit} entries", error=error)
    return list(dict.fromkeys(value))


def _text(doc: dict[str, Any], name: str, *, limit: int, required: bool = False) -> str | None:
    value = doc.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise InvalidClientMetadata(f"{name} must be text of 1 to {limit} characters")
    return value.strip()


def _web_url(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is not None and not is_web_url(value):
        raise InvalidClientMetadata(f"{name} must be an https URL (http only on localhost)")
    return value


def _choice(doc: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.get(name, default)
    if value not in allowed:
        raise InvalidClientMetadata(f"{name} must be one of: {', '.join(allowed)}")
    return str(value)


def _scope(doc: dict[str, Any], grant_types: list[str]) -> str:
    raw = doc.get("scope", DEFAULT_SCOPE if "authorization_code" in grant_types else "")
    if not isinstance(raw, str) or len(raw) > 1000:
        raise InvalidClientMetadata("scope must be a space-separated string")
    scopes = set(raw.split())
    unknown = {s for s in scopes - CITIZEN_SCOPES if not API_SCOPE.fullmatch(s)}
    if unknown:
        raise InvalidClientMetadata(f"unknown scope values: {' '.join(sorted(unknown))}")
    if "authorization_code" in grant_types:
        scopes.add("openid")
    return " ".join(sorted(scopes))


def _grant_types(doc: dict[str, Any], method: str) -> list[str]:
    grant_types = _strings(doc, "grant_types") or ["authorization_code"]
    if not set(grant_types) <= set(GRANT_TYPES):
        raise InvalidClientMetadata(f"grant_types may only be: {', '.join(GRANT_TYPES)}")
    response_types = _strings(doc, "response_types") or (
        ["code"] if "authorization_code" in grant_types else []
    )
    if response_types not in ([], ["code"]):
        raise InvalidClientMetadata('response_types may only be ["code"]')
    if ("code" in response_types) != ("authorization_code" in grant_types):
        raise InvalidClientMetadata(
            "response_types code and grant_types authorization_code go together (RFC 7591 §2.1)"
        )
    if "client_credentials" in grant_types and method == "none":
        raise InvalidClientMetadata("client_credentials needs a confidential client")
    return grant_types


def _keys(doc: dict[str, Any], method: str) -> tuple[dict[str, Any] | None, str | None]:
    jwks, jwks_uri = doc.get("jwks"), _web_url(doc, "jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise InvalidClientMetadata("give jwks or jwks_uri, not both (RFC 7591 §2)")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise InvalidClientMetadata("private_key_jwt needs jwks or jwks_uri")
    if jwks is not None:
        try:
            jwt.client_keys(jwks)
        except jwt.JwtRejected as exc:
            raise InvalidClientMetadata(f"jwks: {exc}") from exc
    return jwks, jwks_uri


def _purposes(doc: dict[str, Any]) -> dict[str, Any]:
    """Our own fields: `purpose` {"en", "km"}, and `purposes` per scope or claim."""
    found: dict[str, Any] = {}
    general = doc.get("purpose")
    if general is not None:
        found["purpose"] = _languages(general, "purpose")
    per_item = doc.get("purposes")
    if per_item is not None:
        if not isinstance(per_item, dict) or len(per_item) > 30:
            raise InvalidClientMetadata("purposes maps scope or claim names to {en, km} texts")
        found["purposes"] = {
            str(k)[:64]: _languages(v, f"purposes.{str(k)[:64]}") for k, v in per_item.items()
        }
    return found


def _languages(value: Any, name: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or not value
        or not set(value) <= set(LANGUAGES)
        or not all(isinstance(t, str) and 1 <= len(t.strip()) <= 500 for t in value.values())
    ):
        raise InvalidClientMetadata(f"{name} must map en and/or km to texts of 1 to 500 characters")
    return {k: v.strip() for k, v in value.items()}


def _sector(
    doc: dict[str, Any], redirect_uris: list[str], agency: Agency | None, fetcher: Fetcher
) -> str:
    """OIDC Core §8.1: the host of sector_identifier_uri (which must list every redirect
    URI), else the agency's sector, else the one host of the redirect URIs."""
    uri = _web_url(doc, "sector_identifier_uri")
    if uri is not None:
        try:
            listed = fetcher.json(uri)
        except FetchFailed as exc:
            raise InvalidClientMetadata(f"sector_identifier_uri: {exc}") from exc
        # a JSON array may hold anything: only its strings can name a redirect URI
        strings = {u for u in listed if isinstance(u, str)} if isinstance(listed, list) else None
        if strings is None or not set(redirect_uris) <= strings:
            raise InvalidClientMetadata(
                "sector_identifier_uri must return a JSON array holding every redirect_uri"
            )
        return str(urlsplit(uri).hostname)
    if agency is not None and agency.sector:
        return agency.sector
    # a private-use scheme names the app (RFC 8252 §7.1); what follows it ("://callback") is
    # no host, and apps of unrelated agencies often share it
    parts = [urlsplit(u) for u in redirect_uris]
    hosts = {(p.hostname or "") if p.scheme in ("http", "https") else p.scheme for p in parts}
    if len(hosts) != 1:
        raise InvalidClientMetadata(
            "redirect_uris on several hosts need a sector_identifier_uri (OIDC Core §8.1)"
        )
    return hosts.pop()


def validate(doc: Any, *, agency: Agency | None, fetcher: Fetcher) -> Registration:
    """Check a registration document; raise InvalidClientMetadata naming the first problem."""
    if not isinstance(doc, dict):
        raise InvalidClientMetadata("the registration must be a JSON object")
    method = _choice(doc, "token_endpoint_auth_method", AUTH_METHODS, "client_secret_basic")
    grant_types = _grant_types(doc, method)
    redirect_uris = _strings(doc, "redirect_uris", error="invalid_redirect_uri")
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidClientMetadata("redirect_uris is required", error="invalid_redirect_uri")
    for uri in redirect_uris:
        require_valid_redirect_uri(uri, public=method == "none")
    post_logout = _strings(doc, "post_logout_redirect_uris", error="invalid_redirect_uri")
    for uri in post_logout:
        require_valid_redirect_uri(uri, public=method == "none", name="post_logout_redirect_uri")
    jwks, jwks_uri = _keys(doc, method)
    subject_type = _choice(doc, "subject_type", ("pairwise", "public"), "pairwise")
    if subject_type == "public" and not (agency is not None and agency.allows_public_subjects):
        raise InvalidClientMetadata("subject_type public needs an administrator's permission")
    contacts = _strings(doc, "contacts", limit=10)
    if not all(EMAIL.fullmatch(c) for c in contacts):
        raise InvalidClientMetadata("contacts must be e-mail addresses")
    default_max_age = doc.get("default_max_age")
    if default_max_age is not None and (
        not isinstance(default_max_age, int)
        or isinstance(default_max_age, bool)
        or not 0 <= default_max_age <= 10**8
    ):
        raise InvalidClientMetadata("default_max_age must be a number of seconds")
    if not isinstance(doc.get("require_auth_time", False), bool):
        raise InvalidClientMetadata("require_auth_time must be true or false")
    default_acr = _strings(doc, "default_acr_values")
    if not set(default_acr) <= set(SUPPORTED_ACR_VALUES):
        raise InvalidClientMetadata(f"default_acr_values may be: {' '.join(SUPPORTED_ACR_VALUES)}")
    ttl = doc.get("consent_ttl_days")
    if ttl is not None and (
        not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 3650
    ):
        raise InvalidClientMetadata("consent_ttl_days must be 1 to 3650")
    scope = _scope(doc, grant_types)
    names = {name: _text(doc, name, limit=200) for name in ("client_name#en", "client_name#km")}
    client_name = _text(doc, "client_name", limit=200, required=True) or ""
    document: dict[str, Any] = {
        "client_name": client_name,
        **{k: v for k, v in names.items() if v},
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout,
        "grant_types": grant_types,
        "response_types": ["code"] if "authorization_code" in grant_types else [],
        "token_endpoint_auth_method": method,
        "id_token_signed_response_alg": _choice(
            doc, "id_token_signed_response_alg", jwt.ALGORITHMS, "RS256"
        ),
        "subject_type": subject_type,
        "scope": scope,
        "contacts": contacts,
        "default_acr_values": default_acr,
        "require_auth_time": bool(doc.get("require_auth_time", False)),
        **({"default_max_age": default_max_age} if default_max_age is not None else {}),
        **({"consent_ttl_days": ttl} if ttl is not None else {}),
        **{
            name: url
            for name in (
                "logo_uri",
                "policy_uri",
                "tos_uri",
                "client_uri",
                "backchannel_logout_uri",
                "consent_event_uri",
                "sector_identifier_uri",
            )
            if (url := _web_url(doc, name)) is not None
        },
        **({"jwks": jwks} if jwks is not None else {}),
        **({"jwks_uri": jwks_uri} if jwks_uri is not None else {}),
        **_purposes(doc),
    }
    return Registration(
        client_name=client_name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout,
        grant_types=grant_types,
        token_endpoint_auth_method=method,
        jwks=jwks,
        jwks_uri=jwks_uri,
        scope=scope,
        id_token_signed_response_alg=document["id_token_signed_response_alg"],
        subject_type=subject_type,
        sector_identifier=_sector(doc, redirect_uris, agency, fetcher)
        if redirect_uris
        else (agency.sector if agency is not None and agency.sector else "machine"),
        document=document,
    )
