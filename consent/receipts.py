"""Consent receipts: the claims of a receipt JWT, modelled on the Kantara Initiative Consent
Receipt Specification v1.1. Signing belongs to the caller, with the provider's keys."""

from __future__ import annotations

from typing import Any

from consent.models import GRANT, ConsentRecord

VERSION = "KI-CR-v1.1.0"


def receipt_claims(
    record: ConsentRecord,
    *,
    issuer: str,
    principal_id: str,
    jurisdiction: str,
    service: str,
) -> dict[str, Any]:
    """What a receipt says. `principal_id` is the citizen's identifier as the recipient knows
    it (the pairwise `sub`), so the receipt links the citizen to nothing else."""
    granted = record.action == GRANT
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": principal_id,
        "jti": record.receipt_id,
        "iat": int(record.recorded_at.timestamp()),
        "version": VERSION,
        "jurisdiction": jurisdiction,
        "consentTimestamp": int(record.recorded_at.timestamp()),
        "collectionMethod": record.method,
        "consentReceiptID": record.receipt_id,
        "language": record.language,
        "piiPrincipalId": principal_id,
        "piiControllers": [{"piiController": record.controller, "onBehalf": False}],
        "policyUrl": record.policy_url or "",
        "services": [
            {
                "service": service,
                "purposes": [
                    {
                        "purpose": record.purpose,
                        "purposeVersion": record.purpose_version,
                        "consentType": "EXPLICIT",
                        "piiCategory": record.claims,
                        "primaryPurpose": True,
                        "termination": "withdrawn by the citizen or at expiry",
                        "thirdPartyDisclosure": False,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        # beyond Kantara: what this record did, and its terms
        "action": record.action,
        "scopes": record.scopes,
        "essentialClaims": record.essential_claims,
        "declined": record.declined,
        "acr": record.acr,
    }
    if granted and record.expires_at is not None:
        claims["expires"] = int(record.expires_at.timestamp())
    if not granted:
        claims["withdrawalReason"] = record.reason or ""
        claims["supersedes"] = record.supersedes
    return claims
