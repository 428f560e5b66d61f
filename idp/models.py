"""Every idp model, imported once so Base.metadata knows all tables (Alembic, tests)."""

from idp.accounts.models import Citizen
from idp.agencies.models import Client
from idp.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditTokenUse
from idp.authn.models import (
    AuthFailure,
    LoginSession,
    Passkey,
    PasskeyAfterPassword,
    PasskeyChallenge,
    SmsChallenge,
)
from idp.crypto.models import SigningKey
from idp.events.models import OutboundEvent
from idp.oidc.models import (
    AuthorizationCode,
    Grant,
    PendingAuthorization,
    RefreshToken,
    RevokedAccessToken,
)
from idp.proofing.models import ProofingCase
from idp.sms.models import SmsMessage

__all__ = [
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditTokenUse",
    "AuthFailure",
    "AuthorizationCode",
    "Citizen",
    "Client",
    "Grant",
    "LoginSession",
    "OutboundEvent",
    "Passkey",
    "PasskeyAfterPassword",
    "PasskeyChallenge",
    "PendingAuthorization",
    "ProofingCase",
    "RefreshToken",
    "RevokedAccessToken",
    "SigningKey",
    "SmsChallenge",
    "SmsMessage",
]
