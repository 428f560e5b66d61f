"""Claims: pairwise `sub` (OIDC Core §8.1) and what scopes and claims requests release (§5)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any, TypeAlias

from sqlalchemy import Row

from idp.accounts.models import Citizen
from idp.crypto.jwt import b64url
from idp.errors import InvalidRequest

# OIDC Core §5.4, with Khmer-script names as language-tagged claims (§5.2)
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "name#km",
        "given_name#km",
        "family_name#km",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
# OIDC for Identity Assurance 1.0: released only when the claims parameter names it
VERIFIED_CLAIMS = "verified_claims"
TRUST_FRAMEWORK = "kh_citizen_idp"  # a project value (docs/proofing.md), not OIDF-registered
CLAIMS_IN_VERIFIED_CLAIMS = (
    "given_name",
    "family_name",
    "given_name#km",
    "family_name#km",
    "birthdate",
    "gender",
    "address",
)
CLAIMS_SUPPORTED = tuple(
    sorted({"sub", VERIFIED_CLAIMS, *(c for cs in SCOPE_CLAIMS.values() for c in cs)})
)


def pairwise_sub(key: bytes, *, sector: str, citizen_id: str) -> str:
    """Same citizen and sector: same `sub`; another sector: unrelated. Never the internal id."""
    mac = hmac.new(key, f"{sector}\x1f{citizen_id}".encode(), hashlib.sha256).digest()
    return b64url(mac)


def parse_claims_request(raw: str | None) -> dict[str, Any] | None:
    """OIDC Core §5.5: a JSON object with optional `userinfo` and `id_token` members."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("The claims parameter is not valid JSON.") from exc
    if not isinstance(value, dict) or not set(value) <= {"userinfo", "id_token"}:
        raise InvalidRequest("The claims parameter must hold userinfo and/or id_token objects.")
    for member in value.values():
        if not isinstance(member, dict) or not all(
            v is None or isinstance(v, dict) for v in member.values()
        ):
            raise InvalidRequest("Each claims member must map claim names to null or objects.")
        if VERIFIED_CLAIMS in member:
            require_verified_claims_request(member[VERIFIED_CLAIMS])
    return value


def require_verified_claims_request(spec: dict[str, Any] | None) -> None:
    """OIDC4IDA §6: an object with a `verification` object and a non-empty `claims` object
    (an array of such requests is not supported)."""
    if (
        not isinstance(spec, dict)
        or not isinstance(spec.get("verification", {}), dict)
        or not isinstance(spec.get("claims"), dict)
        or not spec["claims"]
        or not all(v is None or isinstance(v, dict) for v in spec["claims"].values())
    ):
        raise InvalidRequest(
            "verified_claims must be an object with verification and a non-empty claims object."
        )


def requested_claim_names(claims_request: dict[str, Any] | None) -> frozenset[str]:
    """Individual claims asked for that we know how to release."""
    if not claims_request:
        return frozenset()
    names = {name for member in claims_request.values() for name in member}
    return frozenset(names) & frozenset(CLAIMS_SUPPORTED) - {"sub"}


def essential_claim_names(claims_request: dict[str, Any] | None) -> frozenset[str]:
    """Claims the request marks {"essential": true} (OIDC Core §5.5.1)."""
    if not claims_request:
        return frozenset()
    names = {
        name
        for member in claims_request.values()
        for name, spec in member.items()
        if isinstance(spec, dict) and spec.get("essential") is True
    }
    return frozenset(names) & frozenset(CLAIMS_SUPPORTED) - {"sub"}


# what the claims below are made of: what a read for release must select
CITIZEN_COLUMNS = (
    Citizen.given_name,
    Citizen.family_name,
    Citizen.given_name_km,
    Citizen.family_name_km,
    Citizen.locale,
    Citizen.updated_at,
    Citizen.email,
    Citizen.email_verified,
    Citizen.phone_number,
    Citizen.phone_number_verified,
    Citizen.address,
    Citizen.verification,
)
Holder: TypeAlias = Citizen | Row[Any]  # a citizen, or a row with its CITIZEN_COLUMNS


def _values(citizen: Holder) -> dict[str, Any]:
    """The citizen's standard claims, each None when it has no value."""
    latin = " ".join(p for p in (citizen.given_name, citizen.family_name) if p) or None
    khmer = " ".join(p for p in (citizen.family_name_km, citizen.given_name_km) if p) or None
    return {
        "name": latin,
        "given_name": citizen.given_name,
        "family_name": citizen.family_name,
        "name#km": khmer,
        "given_name#km": citizen.given_name_km,
        "family_name#km": citizen.family_name_km,
        "locale": citizen.locale,
        "updated_at": int(citizen.updated_at.timestamp()),
        "email": citizen.email,
        "email_verified": citizen.email_verified if citizen.email else None,
        "phone_number": citizen.phone_number,
        "phone_number_verified": citizen.phone_number_verified,
        "address": citizen.address,
    }


def _trust_frameworks(spec: dict[str, Any]) -> list[Any]:
    """The trust frameworks a verified_claims request accepts (§6.3 `value`/`values`)."""
    asked = (spec.get("verification") or {}).get("trust_framework")
    if not isinstance(asked, dict) or not ("value" in asked or "values" in asked):
        return [TRUST_FRAMEWORK]  # null or no constraint: ours is fine
    values = asked.get("values")
    return values if isinstance(values, list) else [asked.get("value")]


def verified_claims(citizen: Holder, spec: Any) -> dict[str, Any] | None:
    """OIDC4IDA §5: what proofing verified, limited to the claims the request names; None
    when the citizen is not verified or the request wants another trust framework."""
    verification = citizen.verification
    if not verification or not isinstance(spec, dict):
        return None
    if verification["trust_framework"] not in _trust_frameworks(spec):
        return None
    values = verification["claims"]
    released = {n: values[n] for n in spec["claims"] if n in values and values[n] is not None}
    if not released:
        return None
    return {
        "verification": {
            "trust_framework": verification["trust_framework"],
            "assurance_level": verification["assurance_level"],
            "time": verification["time"],
            "verification_process": verification["txn"],
            "evidence": [
                {
                    "type": "document",
                    "method": verification["method"],
                    "time": verification["time"],
                    "document_details": {"type": "idcard"},
                    "verifier": {
                        "organization": verification["organization"],
                        "txn": verification["txn"],
                    },
                }
            ],
        },
        "claims": released,
    }


def claims_of(scopes: Iterable[str]) -> set[str]:
    return {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}


def release(
    citizen: Holder, *, scopes: Iterable[str], names: Iterable[str] = (), consented: frozenset[str]
) -> dict[str, Any]:
    """The claims that `scopes` and `names` ask for, the consent grants (claim by claim) and
    the citizen has."""
    wanted = (claims_of(scopes) | set(names)) & consented
    values = _values(citizen)
    released = {}
    for name in sorted(wanted):
        if name == VERIFIED_CLAIMS:  # asked for by name only, with what it should hold
            value = verified_claims(citizen, names.get(name) if isinstance(names, dict) else None)
        else:
            value = values.get(name)
        if value is not None:
            released[name] = value
    return released
