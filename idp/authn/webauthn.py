"""Passkeys: WebAuthn Level 3 registration (§7.1) and authentication (§7.2) with py_webauthn,
the only importer of the `webauthn` library: options, and the checks of an answer.

User verification is required everywhere: a passkey sign-in is phishing-resistant on its own.
Challenges and stored credentials are in passkeys.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.authn.models import Passkey, PasskeyChallenge
from idp.errors import AuthenticationFailed
from idp.settings import Settings

CHALLENGE_TTL = timedelta(minutes=5)
TIMEOUT_MS = int(CHALLENGE_TTL.total_seconds() * 1000)
RP_NAME = "Citizen ID"
# ES256 first (every platform authenticator), then EdDSA, then RS256 (Windows Hello)
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
MAX_CREDENTIAL_JSON = 16_000


class PasskeyRejected(AuthenticationFailed):
    """A passkey answer that does not sign anyone in; `reason` is the message key shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backed_up: bool


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Raises ValueError on anything but unpadded base64url."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def new_challenge() -> bytes:
    return secrets.token_bytes(32)


def new_user_handle() -> str:
    """WebAuthn §14.6.1: a random user.id, never personal data."""
    return b64url(secrets.token_bytes(32))


# --- options ----------------------------------------------------------------------------


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=p.credential_id) for p in passkeys]


def registration_options(
    settings: Settings,
    row: PasskeyChallenge,
    *,
    user_handle: str,
    user_name: str,
    display_name: str,
    existing: list[Passkey],
) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions as JSON (WebAuthn §5.4): a discoverable credential
    with user verification, no attestation, none of the citizen's existing authenticators."""
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=RP_NAME,
        user_id=b64url_decode(user_handle),
        user_name=user_name,
        user_display_name=display_name,
        challenge=b64url_decode(row.challenge),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
        supported_pub_key_algs=ALGORITHMS,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def authentication_options(
    settings: Settings, row: PasskeyChallenge, *, allowed: list[Passkey]
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions as JSON (WebAuthn §5.5); no allowed credentials
    means any discoverable one (sign-in without a username)."""
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=b64url_decode(row.challenge),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


# --- verification -----------------------------------------------------------------------


def _credential(credential_json: str | None) -> dict[str, Any]:
    if not credential_json or len(credential_json) > MAX_CREDENTIAL_JSON:
        raise PasskeyRejected("passkey_failed")
    try:
        credential = json.loads(credential_json)
    except ValueError as exc:
        raise PasskeyRejected("passkey_failed") from exc
    if not isinstance(credential, dict) or not isinstance(credential.get("response"), dict):
        raise PasskeyRejected("passkey_failed")
    return credential


def verify_registration(
    settings: Settings, credential_json: str | None, *, challenge: bytes
) -> NewPasskey:
    """Check an attestation (§7.1: type, challenge, origin, RP ID hash, UP and UV flags,
    algorithm). Raises PasskeyRejected."""
    credential = _credential(credential_json)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.issuer,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyRejected("passkey_failed") from exc
    return NewPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )


def _assertion_ids(credential: dict[str, Any]) -> tuple[bytes, str | None]:
    """The credential id an assertion names, and its user handle (base64url) if any."""
    raw_id, handle = credential.get("rawId") or credential.get("id"), None
    response = credential["response"]
    if not isinstance(raw_id, str) or len(raw_id) > 1400:
        raise PasskeyRejected("passkey_failed")
    user_handle = response.get("userHandle")
    try:
        credential_id = b64url_decode(raw_id)
        if isinstance(user_handle, str) and user_handle:
            handle = b64url(b64url_decode(user_handle))
    except ValueError as exc:
        raise PasskeyRejected("passkey_failed") from exc
    return credential_id, handle


@dataclass(frozen=True)
class Assertion:
    credential: dict[str, Any]  # the parsed answer
    credential_id: bytes
    user_handle: str | None  # base64url, when the authenticator returned one


def read_assertion(credential_json: str | None) -> Assertion:
    """The credential an assertion names, before any check. Raises PasskeyRejected."""
    credential = _credential(credential_json)
    credential_id, user_handle = _assertion_ids(credential)
    return Assertion(credential, credential_id, user_handle)


def verify_assertion(
    settings: Settings, assertion: Assertion, *, public_key: bytes, challenge: bytes
) -> tuple[int, bool]:
    """Check an assertion (§7.2: type, challenge, origin, RP ID hash, UP and UV flags, the
    signature with the stored key); return the authenticator's counter and backed-up flag.
    The counter is the caller's to compare. Raises PasskeyRejected."""
    try:
        verified = verify_authentication_response(
            credential=assertion.credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.issuer,
            credential_public_key=public_key,
            credential_current_sign_count=0,  # compared by the caller, once this passed
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyRejected("passkey_failed") from exc
    return verified.new_sign_count, verified.credential_backed_up
