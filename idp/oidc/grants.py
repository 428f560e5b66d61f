"""Grants and what hangs from them: single-use codes (RFC 6749 §4.1.2) and rotating refresh
tokens (RFC 9700 §4.14). Revoking a grant ends every token it issued."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, delete, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

import consent.api
from idp.authn.models import LoginSession
from idp.crypto.digest import digest
from idp.db import utcnow
from idp.errors import InvalidGrant
from idp.oidc import pkce
from idp.oidc.models import (
    AuthorizationCode,
    Grant,
    RefreshToken,
    RevokedAccessToken,
    is_live,
)

# the latest consent record of a grant's citizen and client, to read with the grant
LATEST_CONSENT = consent.api.latest_record(Grant.citizen_id, Grant.client_id)


def start_grant(
    session: Session,
    *,
    client_id: str,
    login: LoginSession,
    scopes: list[str],
    claims: dict[str, Any] | None,
    ttl: timedelta,
) -> Grant:
    now = utcnow()
    grant = Grant(
        id=secrets.token_hex(16),
        client_id=client_id,
        citizen_id=login.citizen_id,
        scopes=scopes,
        claims=claims,
        sid=login.sid,
        auth_time=login.auth_time,
        acr=login.acr,
        amr=login.amr,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(grant)
    session.flush()
    return grant


def create_code(
    session: Session,
    *,
    grant: Grant,
    redirect_uri: str,
    code_challenge: str | None,
    nonce: str | None,
    ttl: timedelta,
) -> str:
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            grant_id=grant.id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            nonce=nonce,
            expires_at=utcnow() + ttl,
        )
    )
    return code


def revoke_grant(session: Session, grant_id: str) -> None:
    session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_grants_of(session: Session, *, client_id: str, citizen_id: str | None = None) -> None:
    """End every grant a client holds (for one citizen, or for all): its refresh tokens and
    access tokens stop working at once."""
    query = update(Grant).where(Grant.client_id == client_id, Grant.revoked_at.is_(None))
    if citizen_id is not None:
        query = query.where(Grant.citizen_id == citizen_id)
    session.execute(query.values(revoked_at=utcnow()))


@dataclass(frozen=True)
class Spent:
    """What spending a code or a refresh token yields."""

    grant: Grant
    consent: consent.api.Consent | None  # the active consent, if any
    nonce: str | None = None  # codes only
    refresh_token: str | None = None  # refresh only: its successor


def _require_live(grant: Grant | None, client_id: str) -> Grant:
    if grant is None or grant.client_id != client_id:
        raise InvalidGrant("The grant is not valid for this client.")
    if not is_live(grant):
        raise InvalidGrant("The grant was revoked or has expired.")
    return grant


def _read_with_grant(
    model: type[AuthorizationCode] | type[RefreshToken], key: InstrumentedAttribute[str]
) -> Select[Any]:
    """What spending a code or refresh token reads, in one round trip: the row (by its hash),
    its grant and the latest consent of the grant's citizen and client. Not the citizen: a
    grant cannot outlive it (ON DELETE CASCADE), and the ID token rarely needs more than its
    id (token.token_response). Built once: building it costs more than running it."""
    return (
        select(model, Grant, *LATEST_CONSENT.columns)
        .join(Grant, Grant.id == model.grant_id)
        .outerjoin(LATEST_CONSENT.target, LATEST_CONSENT.on)
        .where(key == bindparam("hash"))
    )


def _spend(
    model: type[AuthorizationCode] | type[RefreshToken], key: InstrumentedAttribute[str]
) -> Update:
    """Marks a row used, once: rowcount 0 means it already was. Nothing loaded is synced."""
    return (
        update(model)
        .where(key == bindparam("hash"), model.used_at.is_(None))
        .values(used_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )


_CODE = _read_with_grant(AuthorizationCode, AuthorizationCode.code_hash)
_SPEND_CODE = _spend(AuthorizationCode, AuthorizationCode.code_hash)
_REFRESH = _read_with_grant(RefreshToken, RefreshToken.token_hash)
_SPEND_REFRESH = _spend(RefreshToken, RefreshToken.token_hash)


def redeem_code(
    session: Session, *, client_id: str, code: str, redirect_uri: str | None, verifier: str | None
) -> Spent:
    """Spend a code. A second redemption revokes what the first issued."""
    found = session.execute(_CODE, {"hash": digest(code)}).first()
    if found is None:
        raise InvalidGrant("The authorization code is not valid.")
    row = found[0]
    spent = session.execute(_SPEND_CODE, {"hash": row.code_hash, "now": utcnow()})
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        revoke_grant(session, row.grant_id)  # RFC 6749 §4.1.2: code replay
        raise InvalidGrant("The authorization code was already used.", keep_changes=True)
    if row.expires_at <= utcnow():
        raise InvalidGrant("The authorization code has expired.")
    grant = _require_live(found[1], client_id)
    if redirect_uri != row.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request.")
    if row.code_challenge is not None:
        if verifier is None or not pkce.verifier_matches(verifier, row.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge.")
    elif verifier is not None:
        raise InvalidGrant("code_verifier given but no code_challenge was sent.")
    return Spent(grant, LATEST_CONSENT.active(found), nonce=row.nonce)


# a plain table INSERT: no unit of work at the commit
_INSERT_REFRESH = insert(cast(Table, RefreshToken.__table__))


def issue_refresh_token(session: Session, grant: Grant) -> str:
    token = secrets.token_urlsafe(32)  # 256 bits
    row = {"token_hash": digest(token), "grant_id": grant.id, "created_at": utcnow()}
    session.connection().execute(_INSERT_REFRESH, row)
    return token


def rotate_refresh_token(session: Session, *, client_id: str, token: str) -> Spent:
    """Spend a refresh token for a new one. A spent token replayed revokes the family."""
    found = session.execute(_REFRESH, {"hash": digest(token)}).first()
    if found is None:
        raise InvalidGrant("The refresh token is not valid.")
    row, grant = found[0], _require_live(found[1], client_id)
    spent = session.execute(_SPEND_REFRESH, {"hash": row.token_hash, "now": utcnow()})
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        revoke_grant(session, grant.id)
        raise InvalidGrant(
            "The refresh token was already used; its grant is revoked.", keep_changes=True
        )
    active = LATEST_CONSENT.active(found)
    return Spent(grant, active, refresh_token=issue_refresh_token(session, grant))


def find_refresh_grant(session: Session, token: str, *, unspent: bool = False) -> Grant | None:
    """The grant of a refresh token; with `unspent`, only while the token itself is usable."""
    row = session.get(RefreshToken, digest(token))
    if row is None or (unspent and row.used_at is not None):
        return None
    return session.get(Grant, row.grant_id)


def revoke_access_token(session: Session, *, jti: str, expires_at: datetime) -> None:
    if session.get(RevokedAccessToken, jti) is None:
        session.add(RevokedAccessToken(jti=jti, expires_at=expires_at))


def is_access_token_revoked(session: Session, jti: str) -> bool:
    return session.get(RevokedAccessToken, jti) is not None


def sweep(session: Session) -> None:
    """Delete what has expired (run by the sweeper)."""
    now = utcnow()
    session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < now))
    session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now))
    expired = select(Grant.id).where(Grant.expires_at < now - timedelta(days=1))
    session.execute(delete(RefreshToken).where(RefreshToken.grant_id.in_(expired)))
    session.execute(delete(Grant).where(Grant.expires_at < now - timedelta(days=1)))
