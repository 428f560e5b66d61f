"""Relying agencies' clients (RFC 7591 metadata, the part this release uses)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp, utcnow


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 hex
    client_name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(500))  # the scopes the client may request
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    sector_identifier: Mapped[str] = mapped_column(String(255))  # host for pairwise `sub`
    status: Mapped[str] = mapped_column(String(16), default="active")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def allowed_scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def is_active(self) -> bool:
        return self.status == "active"
