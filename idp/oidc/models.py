"""Protocol state: pending requests, grants, codes, refresh tokens, revoked access tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Row, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp, utcnow


class PendingAuthorization(Base):
    """A validated authorization request waiting for the citizen (login, consent)."""

    __tablename__ = "pending_authorizations"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class Grant(Base):
    """What one authorization gave one client: the root of its codes and tokens."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # OIDC Core §5.5 request
    sid: Mapped[str] = mapped_column(String(43), index=True)
    auth_time: Mapped[Timestamp]
    acr: Mapped[str] = mapped_column(String(100))
    amr: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
    revoked_at: Mapped[Timestamp | None]


def is_live(grant: Grant | Row[Any]) -> bool:
    """A grant (or a row with its revoked_at and expires_at) not revoked and not expired: its
    tokens still work."""
    return grant.revoked_at is None and bool(grant.expires_at > utcnow())


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # never the code
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[Timestamp]
    used_at: Mapped[Timestamp | None]


class RefreshToken(Base):
    """One link of a rotating family: the grant is the family."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[Timestamp]
    used_at: Mapped[Timestamp | None]


class RevokedAccessToken(Base):
    """An access token revoked before its expiry (RFC 7009); kept until it would expire."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(43), primary_key=True)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
