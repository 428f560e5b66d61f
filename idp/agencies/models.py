"""Relying agencies, their members and clients (RFC 7591 / OIDC Dynamic Client Registration
metadata), initial access tokens, and spent client-assertion ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.db import Base, Timestamp, utcnow

PENDING, ACTIVE, SUSPENDED = "pending", "active", "suspended"


class Agency(Base):
    """A ministry or department: it owns clients, and suspending it stops them all."""

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_km: Mapped[str | None] = mapped_column(String(200))
    contacts: Mapped[list[str]] = mapped_column(JSON, default=list)  # e-mail addresses
    sector: Mapped[str | None] = mapped_column(String(255))  # pairwise sector for all clients
    allows_public_subjects: Mapped[bool] = mapped_column(default=False)  # set by an admin
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class AgencyMember(Base):
    """A citizen account that may manage the agency's clients in the portal."""

    __tablename__ = "agency_members"

    agency_id: Mapped[str] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True
    )
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Client(Base):
    """A client: typed columns for what the protocol reads on every request; `metadata_` is
    the whole registration document as last accepted (RFC 7591 §2)."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 hex
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))  # RFC 7592
    client_name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))  # the scopes the client may request
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    subject_type: Mapped[str] = mapped_column(String(16), default="pairwise")
    sector_identifier: Mapped[str] = mapped_column(String(255))  # host for pairwise `sub`
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency | None] = relationship(lazy="joined")

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def allowed_scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def is_active(self) -> bool:
        """Approved, and its agency (if any) not suspended."""
        return self.status == ACTIVE and (self.agency is None or self.agency.status == ACTIVE)


class InitialAccessToken(Base):
    """RFC 7591 §3: lets an agency register clients (they start pending) until it expires."""

    __tablename__ = "initial_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    created_at: Mapped[Timestamp]
    expires_at: Mapped[Timestamp]


class SpentAssertion(Base):
    """A client assertion's `jti`, kept until the assertion expires: each is accepted once."""

    __tablename__ = "spent_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
