"""Every idp model, imported once so Base.metadata knows all tables (Alembic, tests)."""

from idp.accounts.models import Citizen
from idp.agencies.models import Client
from idp.audit.models import AuditEvent
from idp.authn.models import AuthFailure, LoginSession, SmsChallenge
from idp.crypto.models import SigningKey
from idp.events.models import OutboundEvent
from idp.oidc.models import (
    AuthorizationCode,
    Grant,
    PendingAuthorization,
    RefreshToken,
    RevokedAccessToken,
)
from idp.sms.models import SmsMessage

__all__ = [
    "AuditEvent",
    "AuthFailure",
    "AuthorizationCode",
    "Citizen",
    "Client",
    "Grant",
    "LoginSession",
    "OutboundEvent",
    "PendingAuthorization",
    "RefreshToken",
    "RevokedAccessToken",
    "SigningKey",
    "SmsChallenge",
    "SmsMessage",
]
