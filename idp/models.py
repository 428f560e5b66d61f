"""Every idp model, imported once so Base.metadata knows all tables (Alembic, tests)."""

from idp.accounts.models import Citizen
from idp.agencies.models import Client
from idp.authn.models import AuthFailure, LoginSession
from idp.crypto.models import SigningKey
from idp.oidc.models import (
    AuthorizationCode,
    Grant,
    PendingAuthorization,
    RefreshToken,
    RevokedAccessToken,
)

__all__ = [
    "AuthFailure",
    "AuthorizationCode",
    "Citizen",
    "Client",
    "Grant",
    "LoginSession",
    "PendingAuthorization",
    "RefreshToken",
    "RevokedAccessToken",
    "SigningKey",
]
